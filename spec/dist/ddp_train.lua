-- ddp_train.lua — the worker of spec/ddp_spec.lua: one rank of a DDP job.
--
--   mpirun --allow-run-as-root --oversubscribe -np N $EMBER_BUILD/ember \
--     spec/dist/ddp_train.lua <train|mismatch> <out_dir>
--
-- Each rank trains with ember.dist.DDP and, beside it in the same process without
-- dist, trains the same model from the same init (rank 1's) on the whole global batch:
-- the truth the DDP run must match. Ranks start from different inits, so the match
-- also shows the broadcast at construction. Every rank writes what it found to
-- <out_dir>/<case>.<rank>.lua (`return {...}`); the spec reads and checks them.
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local data = require "ember.data"
local dist = require "ember.dist"

local case, out_dir = arg[1], arg[2]
assert(case and out_dir, "usage: ddp_train.lua <train|mismatch> <out_dir>")

dist.init()
local rank, N = dist.rank(), dist.world_size()
local B, K = 8, 5                         -- rows per rank per step, steps

local mlp = dofile("scripts/digits.lua").mlp
local ds = data.digits()
local X, Y = ds.tensors[1], ds.tensors[2]

-- rows first..first+n-1 of the data set
local function rows(first, n)
  local idx = ember.arange(first, first + n)
  return X:index_select(1, idx), Y:index_select(1, idx)
end

local function max_diff(a, b)
  return (a:to("f64") - b:to("f64")):abs():max():item()
end

-- the largest difference between two lists of tensors (nil vs nil is 0)
local function list_diff(as, bs)
  local d = 0
  for i = 1, #as do
    if (as[i] == nil) ~= (bs[i] == nil) then return math.huge end
    if as[i] then d = math.max(d, max_diff(as[i], bs[i])) end
  end
  return d
end

local function params_of(m)
  local v = {}
  for _, p in ipairs(m:parameters()) do v[#v + 1] = p:detach():clone() end
  return v
end

local function grads_of(m)
  local v, n = {}, 0
  for _, p in ipairs(m:parameters()) do n = n + 1; v[n] = p.grad end
  return v, n
end

-- Folds one step's gradients into acc: the largest difference (grad_diff), and whether
-- each grad is nil on both sides or on neither (nil_ok).
local function compare_grads(acc, model, ref)
  local g, n = grads_of(model)
  local rg = grads_of(ref)
  for i = 1, n do if (g[i] == nil) ~= (rg[i] == nil) then acc.nil_ok = false end end
  acc.grad_diff = math.max(acc.grad_diff, list_diff(g, rg))
end

-- a model built by make() with rank r's init (ranks differ before the broadcast)
local function build(make, r)
  ember.manual_seed(1000 + r)
  return make()
end

local loss_fn = nn.CrossEntropyLoss()
local results = {}

-- {====== train: DDP against one process on the global batch

-- K steps of DDP on this rank's rows against the reference on all N*B rows; returns
-- the largest parameter difference, and the DDP's buckets before and after.
local function digits_run(ddp_opts, momentum)
  local ref = build(mlp, 1)
  local model = build(mlp, rank)
  local ddp = dist.DDP(model, ddp_opts)
  local init_diff = list_diff(params_of(model), params_of(ref))
  local opt = optim.SGD(ddp:parameters(), { lr = 0.1, momentum = momentum })
  local ropt = optim.SGD(ref:parameters(), { lr = 0.1, momentum = momentum })
  local before = ddp:buckets()
  for k = 1, K do
    local first = (k - 1) * N * B + 1
    local x, y = rows(first + (rank - 1) * B, B)
    opt:zero_grad()
    loss_fn(ddp(x), y):backward()
    opt:step()
    local gx, gy = rows(first, N * B)
    ropt:zero_grad()
    loss_fn(ref(gx), gy):backward()
    ropt:step()
  end
  return { diff = list_diff(params_of(model), params_of(ref)), init_diff = init_diff,
           before = before, after = ddp:buckets(), rebuilt = ddp:buckets_rebuilt(),
           final = params_of(model) }
end

local function case_train()
  -- in the same order on every rank: the collectives must match
  local configs = {
    { "default", {} },
    { "two", { first_bucket_mb = 0.001, bucket_cap_mb = 0.01 } },
    { "tiny", { first_bucket_mb = 1e-6, bucket_cap_mb = 1e-6 } },
  }
  local finals = {}
  for _, c in ipairs(configs) do
    local name, o = c[1], c[2]
    for _, momentum in ipairs({ 0, 0.9 }) do
      local r = digits_run(o, momentum)
      local key = name .. (momentum > 0 and "_momentum" or "_plain")
      finals[key] = r.final
      r.final = nil
      results[key] = r
    end
  end
  -- every bucket layout gives the same parameters
  local d = 0
  for _, m in ipairs({ "_plain", "_momentum" }) do
    d = math.max(d, list_diff(finals["default" .. m], finals["two" .. m]),
                 list_diff(finals["default" .. m], finals["tiny" .. m]))
  end
  results.caps_diff = d
end

-- no_sync: M micro-batches per rank, the first M-1 accumulated locally, equal one
-- step on all N*M*B rows
local function case_no_sync()
  local M = 2
  local ref = build(mlp, 1)
  local ddp = dist.DDP(build(mlp, rank), { first_bucket_mb = 0.001, bucket_cap_mb = 0.01 })
  local opt = optim.SGD(ddp:parameters(), { lr = 0.1, momentum = 0.9 })
  local ropt = optim.SGD(ref:parameters(), { lr = 0.1, momentum = 0.9 })
  local local_ok = true
  for k = 1, K do
    local first = 200 + (k - 1) * N * M * B + 1
    opt:zero_grad()
    for m = 1, M do
      local x, y = rows(first + ((m - 1) * N + rank - 1) * B, B)
      local function step() (loss_fn(ddp(x), y) / M):backward() end
      if m < M then
        ddp:no_sync(step)
        -- nothing reduced yet: the grads are this rank's own, as one process computes them
        local lone = build(mlp, 1)
        lone:load_state_dict(ddp.module:state_dict())
        ;(loss_fn(lone(x), y) / M):backward()
        if list_diff(grads_of(ddp.module), grads_of(lone)) > 1e-6 then local_ok = false end
      else
        step()
      end
    end
    opt:step()
    local gx, gy = rows(first, N * M * B)
    ropt:zero_grad()
    loss_fn(ref(gx), gy):backward()
    ropt:step()
  end
  results.no_sync = { diff = list_diff(params_of(ddp.module), params_of(ref)), local_ok = local_ok }
end

-- }======

-- {====== unused parameters and buffers

-- extra is used on even ranks only, never on none; scale is f64 (its own bucket);
-- the buffer steps starts as the rank number.
local Partial = nn.Module:extend("Partial")
function Partial:init()
  self.fc1 = nn.Linear(64, 16)
  self.fc2 = nn.Linear(16, 10)
  self.extra = nn.Linear(16, 10)
  self.never = nn.Parameter(ember.zeros(3))
  self.scale = nn.Parameter(ember.ones(1, "f64"))
  self:register_buffer("steps", ember.tensor({ rank }, "f32"))
end
function Partial:forward(x, r)
  local h = self.fc1(x):relu()
  local y = self.fc2(h)
  if r % 2 == 0 then y = y + self.extra(h) end
  return y * self.scale:to("f32")
end

local function case_unused(opts)
  local ref = build(Partial, 1)
  local ddp = dist.DDP(build(Partial, rank), opts)
  local model = ddp.module
  local out = { buffer_after_init = model.steps:item() }
  local opt = optim.SGD(ddp:parameters(), { lr = 0.1, momentum = 0.9 })
  local ropt = optim.SGD(ref:parameters(), { lr = 0.1, momentum = 0.9 })
  local acc = { grad_diff = 0, nil_ok = true }
  for k = 1, K do
    local first = 400 + (k - 1) * N * B + 1
    if k == 2 then ember.no_grad(function() model.steps:fill_(100 + rank) end) end
    local x, y = rows(first + (rank - 1) * B, B)
    opt:zero_grad()
    loss_fn(ddp(x, rank), y):backward()
    if k == 2 then out.buffer_after_forward = model.steps:item() end
    -- the truth: the mean over ranks of each rank's loss, each with its own forward
    ropt:zero_grad()
    local total
    for r = 1, N do
      local xr, yr = rows(first + (r - 1) * B, B)
      local l = loss_fn(ref(xr, r), yr) / N
      total = total and total + l or l
    end
    total:backward()
    compare_grads(acc, model, ref)
    out.extra_grad_nil = model.extra.weight.grad == nil
    out.never_grad_nil = model.never.grad == nil
    opt:step()
    ropt:step()
  end
  out.grad_diff, out.nil_ok = acc.grad_diff, acc.nil_ok
  out.diff = list_diff(params_of(model), params_of(ref))
  out.buckets = ddp:buckets()
  return out
end

-- no_sync where a parameter gets gradients only in the accumulated micro-batch: the
-- synced backward still reduces what it accumulated
local function case_no_sync_partial()
  local ref = build(Partial, 1)
  local ddp = dist.DDP(build(Partial, rank), { first_bucket_mb = 1e-6, bucket_cap_mb = 1e-6 })
  local model = ddp.module
  local opt = optim.SGD(ddp:parameters(), { lr = 0.1, momentum = 0.9 })
  local ropt = optim.SGD(ref:parameters(), { lr = 0.1, momentum = 0.9 })
  local acc = { grad_diff = 0, nil_ok = true }
  for k = 1, K do
    local first = 800 + (k - 1) * N * 2 * B + 1
    local x1, y1 = rows(first + (rank - 1) * B, B)
    local x2, y2 = rows(first + (N + rank - 1) * B, B)
    opt:zero_grad()
    ddp:no_sync(function() (loss_fn(ddp(x1, 2), y1) / 2):backward() end)   -- with extra
    ;(loss_fn(ddp(x2, 1), y2) / 2):backward()                              -- without
    ropt:zero_grad()
    local total
    for r = 1, N do
      local a, ya = rows(first + (r - 1) * B, B)
      local b, yb = rows(first + (N + r - 1) * B, B)
      local l = (loss_fn(ref(a, 2), ya) + loss_fn(ref(b, 1), yb)) / (2 * N)
      total = total and total + l or l
    end
    total:backward()
    compare_grads(acc, model, ref)
    opt:step()
    ropt:step()
  end
  results.no_sync_partial = { diff = list_diff(params_of(model), params_of(ref)),
                              grad_diff = acc.grad_diff, nil_ok = acc.nil_ok }
end

-- }======

-- {====== rebuilt buckets

-- Three layers summed in an order that depends on the rank, so gradients arrive in a
-- different order on each rank and in neither the parameters' order nor its reverse.
local Branchy = nn.Module:extend("Branchy")
function Branchy:init()
  self.a = nn.Linear(64, 10)
  self.b = nn.Linear(64, 10)
  self.c = nn.Linear(64, 10)
end
function Branchy:forward(x, r)
  local order = r % 2 == 1 and { "b", "a", "c" } or { "c", "b", "a" }
  local y
  for _, k in ipairs(order) do
    local v = self[k](x)
    y = y and y + v or v
  end
  return y
end

local function case_rebuild()
  local ref = build(Branchy, 1)
  local ddp = dist.DDP(build(Branchy, rank), { first_bucket_mb = 1e-6, bucket_cap_mb = 1e-6 })
  local model = ddp.module
  -- the order gradients arrive, seen by a hook of our own beside DDP's
  local arrived = {}
  for name, p in model:named_parameters() do
    p:register_post_accumulate_grad_hook(function() arrived[#arrived + 1] = name end)
  end
  local out = { before = ddp:buckets(), rebuilt_before = ddp:buckets_rebuilt() }
  local opt = optim.SGD(ddp:parameters(), { lr = 0.1, momentum = 0.9 })
  local ropt = optim.SGD(ref:parameters(), { lr = 0.1 , momentum = 0.9 })
  for k = 1, K do
    local first = 600 + (k - 1) * N * B + 1
    local x, y = rows(first + (rank - 1) * B, B)
    opt:zero_grad()
    loss_fn(ddp(x, rank), y):backward()
    if k == 1 then
      out.arrival = table.move(arrived, 1, #arrived, 1, {})
      out.after = ddp:buckets()
      out.rebuilt_after = ddp:buckets_rebuilt()
    end
    opt:step()
    ropt:zero_grad()
    local total
    for r = 1, N do
      local xr, yr = rows(first + (r - 1) * B, B)
      local l = loss_fn(ref(xr, r), yr) / N
      total = total and total + l or l
    end
    total:backward()
    ropt:step()
  end
  out.final = ddp:buckets()
  out.diff = list_diff(params_of(model), params_of(ref))
  results.rebuild = out
end

-- }======

-- {====== mismatch

-- {====== a rank with nothing to send, and a second backward

-- On rank `quiet` at step 2 the model's output depends on no parameter (only on an
-- input that requires grad): that rank fires no parameter hook, and its buckets must
-- still go out (all flags 0) or the others wait for them. Then a second backward over
-- one forward is an error on every rank, and the job goes on.
local Skip = nn.Module:extend("Skip")
function Skip:init() self.fc = nn.Linear(64, 10) end
function Skip:forward(x, use)
  if use then return self.fc(x) end
  return x:narrow(2, 1, 10) * 2
end

local function case_quiet()
  local quiet = N
  local ref = build(Skip, 1)
  local ddp = dist.DDP(build(Skip, rank), { first_bucket_mb = 1e-6, bucket_cap_mb = 1e-6 })
  local opt = optim.SGD(ddp:parameters(), { lr = 0.1 })
  local ropt = optim.SGD(ref:parameters(), { lr = 0.1 })
  local function uses(r, k) return not (k == 2 and r == quiet) end
  local acc = { grad_diff = 0, nil_ok = true }
  for k = 1, 3 do
    local first = 1200 + (k - 1) * N * B + 1
    local x, y = rows(first + (rank - 1) * B, B)
    opt:zero_grad()
    loss_fn(ddp(x:clone():requires_grad_(), uses(rank, k)), y):backward()
    ropt:zero_grad()
    local total
    for r = 1, N do
      local xr, yr = rows(first + (r - 1) * B, B)
      local l = loss_fn(ref(xr:clone():requires_grad_(), uses(r, k)), yr) / N
      total = total and total + l or l
    end
    total:backward()
    compare_grads(acc, ddp.module, ref)
    opt:step()
    ropt:step()
  end
  local out = { grad_diff = acc.grad_diff, nil_ok = acc.nil_ok,
                diff = list_diff(params_of(ddp.module), params_of(ref)) }
  -- a second synced backward over the same forward
  local x, y = rows(1 + (rank - 1) * B, B)
  opt:zero_grad()
  local loss = loss_fn(ddp(x, true), y)
  loss:backward(nil, true)
  local ok, err = pcall(loss.backward, loss, nil, true)
  out.twice = ok and "no error" or tostring(err)
  -- inside no_sync it is allowed; and the next forward and backward reduce again
  ok, err = pcall(ddp.no_sync, ddp, function() loss:backward() end)
  out.twice_no_sync = ok or tostring(err)
  opt:zero_grad()
  loss_fn(ddp(x, true), y):backward()
  out.after = ddp.module.fc.weight.grad ~= nil and "ok" or "no grad"
  results.quiet = out
end

-- }======

local function case_mismatch()
  local last = rank == N and N > 1
  local function try(make)
    local ok, err = pcall(dist.DDP, make())
    return ok and "no error" or tostring(err)
  end
  results.shape = try(function()
    return last and nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10)) or mlp()
  end)
  results.dtype = try(function() return last and mlp():double() or mlp() end)
  results.extra = try(function()
    local m = mlp()
    if last then m:add_module("3", nn.Linear(10, 2)) end
    return m
  end)
  -- the job is still usable: matching models wrap and reduce
  local ddp = dist.DDP(mlp(), {})
  local x, y = rows(1 + (rank - 1) * B, B)
  loss_fn(ddp(x), y):backward()
  results.after = ddp.module[1].weight.grad ~= nil and "ok" or "no grad"
end

-- }======

-- {====== results

local function serialize(v, ind)
  ind = ind or ""
  local t = type(v)
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    return math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif t == "string" then return string.format("%q", v)
  elseif t == "boolean" or t == "nil" then return tostring(v)
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) == "number"
    end)
    local parts = {}
    for _, k in ipairs(keys) do
      local key = type(k) == "number" and "[" .. k .. "]" or "[" .. string.format("%q", k) .. "]"
      parts[#parts + 1] = ind .. "  " .. key .. " = " .. serialize(v[k], ind .. "  ")
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. ind .. "}"
  end
  error("cannot serialize a " .. t)
end

if case == "train" then
  case_train()
  case_no_sync()
  results.unused_tiny = case_unused({ first_bucket_mb = 1e-6, bucket_cap_mb = 1e-6 })
  results.unused_default = case_unused({})
  case_no_sync_partial()
  case_rebuild()
  case_quiet()
elseif case == "mismatch" then
  case_mismatch()
else
  error("ddp_train.lua: unknown case " .. tostring(case))
end

local f = assert(io.open(string.format("%s/%s.%d.lua", out_dir, case, rank), "w"))
f:write("return ", serialize(results), "\n")
f:close()
dist.finalize()
