-- ddp_spec.lua — ember.dist.DDP on 1 to 4 ranks under mpirun. The worker
-- (spec/dist/ddp_train.lua) trains with DDP and, in the same process without dist, the
-- same model from the same init on the whole global batch; the truth is that single
-- process. Checked here: equal parameters after K SGD steps (plain and momentum) for
-- every bucket layout, no_sync accumulation, parameters unused on some or all ranks,
-- buffers broadcast, the buckets' order and their rebuild, a rank whose output needs
-- no parameter, a second backward over one forward, mismatched models.
local build = os.getenv("EMBER_BUILD") or "build"
local TOL = 1e-6

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Runs the worker's case on n ranks; returns each rank's results and mpirun's output.
local function launch(n, case)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  -- a rank that fails ends the job within the timeout instead of leaving the rest waiting
  local cmd = string.format("EMBER_DIST_TIMEOUT=30 " .. require("mpirun").command .. " -np %d %s/ember "
                            .. "spec/dist/ddp_train.lua %s %s >%s/log 2>&1", n, build, case, dir, dir)
  local ok = os.execute(cmd)
  local log = read(dir .. "/log") or ""
  local res = {}
  for r = 1, n do
    local path = string.format("%s/%s.%d.lua", dir, case, r)
    local chunk = loadfile(path)
    res[r] = chunk and chunk()
  end
  os.execute("rm -rf " .. dir)
  assert(ok, "mpirun failed:\n" .. log)
  for r = 1, n do assert(res[r], "rank " .. r .. " wrote no results:\n" .. log) end
  return res, log
end

local function names_of(buckets)
  local v = {}
  for k, b in ipairs(buckets) do v[k] = b.names end
  return v
end

local function flat_names(buckets)
  local v = {}
  for _, b in ipairs(buckets) do
    for _, n in ipairs(b.names) do v[#v + 1] = n end
  end
  return v
end

local function below(x, what)
  assert(x < TOL, string.format("%s: difference %.3g is not below %g", what, x, TOL))
end

describe("DDP on N ranks matches one process on the global batch", function()
  local mlp_reverse = { "2.bias", "2.weight", "0.bias", "0.weight" }

  for N = 1, 4 do
    it("N = " .. N, function()
      local res = launch(N, "train")
      for r = 1, N do
        local R = res[r]
        local at = string.format("N=%d rank %d ", N, r)
        -- K steps, plain and with momentum, under three bucket layouts
        for _, layout in ipairs({ "default", "two", "tiny" }) do
          for _, m in ipairs({ "_plain", "_momentum" }) do
            local c = R[layout .. m]
            below(c.diff, at .. layout .. m)
            assert.equal(0, c.init_diff)            -- rank 1's init, broadcast exactly
            assert.is_true(c.rebuilt)
          end
        end
        below(R.caps_diff, at .. "bucket caps")
        -- the layouts: reverse parameter order, first bucket small, then the cap
        assert.same({ mlp_reverse }, names_of(R.default_plain.before))
        assert.same({ { "2.bias", "2.weight" }, { "0.bias", "0.weight" } }, names_of(R.two_plain.before))
        assert.same({ 40 + 5120, 512 + 32768 }, { R.two_plain.before[1].bytes, R.two_plain.before[2].bytes })
        assert.same({ { "2.bias" }, { "2.weight" }, { "0.bias" }, { "0.weight" } }, names_of(R.tiny_plain.before))
        -- no_sync: accumulate locally, then one reduction equals the big batch
        below(R.no_sync.diff, at .. "no_sync")
        assert.is_true(R.no_sync.local_ok, at .. "no_sync reduced the gradients")
        -- and a parameter used only in the accumulated micro-batch is reduced too
        below(R.no_sync_partial.diff, at .. "no_sync_partial")
        below(R.no_sync_partial.grad_diff, at .. "no_sync_partial grads")
        assert.is_true(R.no_sync_partial.nil_ok)
        -- a parameter unused on some ranks gets the mean with zeros; unused everywhere: nil
        for _, key in ipairs({ "unused_tiny", "unused_default" }) do
          local U = R[key]
          below(U.diff, at .. key)
          below(U.grad_diff, at .. key .. " grads")
          assert.is_true(U.nil_ok, at .. key .. ": a grad is nil on one side only")
          assert.is_true(U.never_grad_nil)
          assert.equal(N == 1, U.extra_grad_nil)
          assert.equal(1, U.buffer_after_init)      -- rank 1's buffer, at construction
          assert.equal(101, U.buffer_after_forward) -- and again before each forward
        end
        -- one dtype per bucket: the f64 scale alone, the seven f32 parameters together
        local by = {}
        for _, b in ipairs(R.unused_default.buckets) do by[b.dtype] = #b.names end
        assert.same({ f64 = 1, f32 = 7 }, by)
        assert.equal(2, #R.unused_default.buckets)
        -- a rank whose output needed no parameter still sends its buckets
        local Q = R.quiet
        below(Q.diff, at .. "quiet rank")
        below(Q.grad_diff, at .. "quiet rank grads")
        assert.is_true(Q.nil_ok)
        -- a second backward over one forward raises on every rank; no_sync allows it
        assert.matches("DDP: a second backward over one forward", Q.twice, 1, true)
        assert.matches("ddp_train.lua", Q.twice, 1, true)   -- positioned in the caller
        assert.equal(true, Q.twice_no_sync)
        assert.equal("ok", Q.after)
        -- buckets rebuilt once, in the order rank 1's gradients arrived
        local B = R.rebuild
        below(B.diff, at .. "rebuild")
        assert.same({ "c.bias", "c.weight", "b.bias", "b.weight", "a.bias", "a.weight" }, flat_names(B.before))
        assert.is_false(B.rebuilt_before)
        assert.is_true(B.rebuilt_after)
        assert.same(res[1].rebuild.arrival, flat_names(B.after))
        assert.same(B.after, B.final)
      end
      -- the arrival orders differ (so the rebuild and its broadcast did something)
      assert.are_not.same(flat_names(res[1].rebuild.before), res[1].rebuild.arrival)
      if N > 1 then assert.are_not.same(res[1].rebuild.arrival, res[2].rebuild.arrival) end
    end)
  end
end)

describe("DDP with models that differ across ranks", function()
  it("raises the same clear error on every rank, and the job goes on", function()
    local res = launch(3, "mismatch")
    for r = 1, 3 do
      local R = res[r]
      assert.matches("DDP: the model differs across ranks: rank 1 has parameter 0.weight f32 [128x64], "
                     .. "rank 3 has parameter 0.weight f32 [100x64]", R.shape, 1, true)
      assert.matches("rank 1 has parameter 0.weight f32 [128x64], rank 3 has parameter 0.weight f64 [128x64]",
                     R.dtype, 1, true)
      assert.matches("rank 1 has nothing more, rank 3 has parameter 3.weight f32 [2x10]", R.extra, 1, true)
      assert.is_nil(R.shape:find("rank 2 has", 1, true))
      assert.equal("ok", R.after)
    end
  end)
end)

describe("DDP arguments", function()
  -- in this process: a world of one
  local ember = require "ember"
  local nn = require "ember.nn"
  local dist = require "ember.dist"

  local function err(f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok, "expected an error")
    return tostring(msg)
  end

  it("names what was wrong", function()
    local m = nn.Linear(3, 2)
    assert.matches("DDP: expected an nn.Module, got table", err(dist.DDP, {}), 1, true)
    assert.matches("DDP: unknown option 'bucket_mb'", err(dist.DDP, m, { bucket_mb = 1 }), 1, true)
    assert.matches("DDP: option bucket_cap_mb must be > 0, got -1",
                   err(dist.DDP, m, { bucket_cap_mb = -1 }), 1, true)
    assert.matches("DDP: option broadcast_buffers must be a boolean, got string",
                   err(dist.DDP, m, { broadcast_buffers = "yes" }), 1, true)
    local ddp = dist.DDP(m)
    assert.matches("DDP:no_sync: expected a function, got nil", err(ddp.no_sync, ddp), 1, true)
    ddp:remove_hooks()
  end)

  it("is a module: parameters, state_dict, train/eval, and a world of one changes nothing", function()
    ember.manual_seed(3)
    local m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    local ddp = dist.DDP(m)
    assert.equal(m, ddp.module)
    assert.equal(4, #ddp:parameters())
    assert.equal(m[1].weight, ddp:parameters()[1])
    local sd = ddp:state_dict()
    assert.is_not_nil(sd["module.0.weight"])
    ddp:eval()
    assert.is_false(m.training)
    ddp:train()
    assert.is_true(m.training)
    -- the report before any backward: one bucket, reverse parameter order
    assert.same({ { names = { "2.bias", "2.weight", "0.bias", "0.weight" }, bytes = 4 * (2 + 8 + 4 + 12),
                    dtype = "f32", device = "cpu" } }, ddp:buckets())
    -- gradients equal those of the bare module (average over one rank)
    local x = ember.randn(5, 3)
    local arrived, names, hooks = {}, {}, {}
    for name, p in m:named_parameters() do names[p] = name end
    for p, name in pairs(names) do
      hooks[#hooks + 1] = p:register_post_accumulate_grad_hook(function() arrived[#arrived + 1] = name end)
    end
    ddp(x):sum():backward()
    for _, h in ipairs(hooks) do h:remove() end
    local g = {}
    for i, p in ipairs(m:parameters()) do g[i] = p.grad:clone(); p.grad = nil end
    ddp:remove_hooks()
    m(x):sum():backward()
    for i, p in ipairs(m:parameters()) do
      assert.equal(0, (p.grad - g[i]):abs():max():item())
    end
    -- after the first backward, rebuilt in the order the gradients arrived
    assert.equal(4, #arrived)
    assert.same({ { names = arrived, bytes = 4 * (2 + 8 + 4 + 12), dtype = "f32", device = "cpu" } },
                ddp:buckets())
  end)
end)
