-- checkpoint_spec.lua — ember.checkpoint: training resumed from a checkpoint continues
-- bit-exactly for every optimizer and schedule; the file's layout, read back by an
-- independent Python reader (header JSON and metadata through Python's json); exact
-- numbers through the metadata; errors.
local ember = require "ember"
local optim = require "ember.optim"
local checkpoint = require "ember.checkpoint"
local oracle = require "oracle"
local json = require "dkjson"

local PY = "/usr/bin/python3"

local function tmpfile()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".safetensors"
end

-- A model in the shape ember.nn gives one: state_dict() names its tensors, and
-- load_state_dict(sd) copies into them (strict).
local Model = {}
Model.__index = Model

local NAMES = { "fc1.weight", "fc1.bias", "fc2.weight" }
local SHAPES = { { 3, 4 }, { 3 }, { 2, 3 } }

local function new_model(init)
  local m = setmetatable({ params = {} }, Model)
  for i, s in ipairs(SHAPES) do
    local t = init == "zeros" and ember.zeros(s) or oracle.gen(s, 40 + i, "f32", 0.9)
    t.requires_grad = true
    m.params[i] = t
  end
  return m
end

function Model:parameters() return { table.unpack(self.params) } end

function Model:state_dict()
  local sd = {}
  for i, n in ipairs(NAMES) do sd[n] = self.params[i] end
  return sd
end

function Model:load_state_dict(sd)
  for n in pairs(sd) do
    local known = false
    for _, m in ipairs(NAMES) do known = known or m == n end
    assert(known, "unexpected key " .. n)
  end
  ember.no_grad(function()
    for i, n in ipairs(NAMES) do self.params[i]:copy_((assert(sd[n], "missing " .. n))) end
  end)
end

-- Gradients by hand (g = A^T (A v - b) + v^3 for each parameter flattened to v), the
-- same every run.
local PROBLEM = {}
for i, s in ipairs(SHAPES) do
  local n = 1
  for _, d in ipairs(s) do n = n * d end
  PROBLEM[i] = { A = oracle.gen({ 5, n }, 50 + i, "f32", 0.5), b = oracle.gen({ 5 }, 60 + i, "f32", 1) }
end

local function set_grads(params, step)
  ember.no_grad(function()
    for i, p in ipairs(params) do
      if (step + i) % 5 == 0 then
        p.grad = nil                      -- now and then a parameter sits a step out
      else
        local v = p:detach():contiguous():view(-1)
        local A, b = PROBLEM[i].A, PROBLEM[i].b
        p.grad = (A:t():matmul(A:matmul(v) - b) + v * v * v):view(p:size())
      end
    end
  end)
end

local function train(model, opt, sched, from, to, lrs)
  for step = from, to do
    opt:zero_grad()
    set_grads(model.params, step)
    opt:step()
    if sched then sched:step() end
    if lrs then lrs[#lrs + 1] = opt.param_groups[#opt.param_groups].lr end
  end
end

local function values(model)
  local out = {}
  for i, p in ipairs(model.params) do out[i] = p:detach():contiguous():view(-1):totable() end
  return out
end

local function assert_bit_equal(a, b, what)
  for i = 1, #a do
    assert(#a[i] == #b[i], what .. ": sizes differ")
    for k = 1, #a[i] do
      if not (a[i][k] == b[i][k]) then
        error(string.format("%s: parameter %d element %d: %.17g ~= %.17g", what, i, k, a[i][k], b[i][k]), 2)
      end
    end
  end
end

local setups = {
  { "SGD nesterov + StepLR", function(m)
      local opt = optim.SGD(m:parameters(), { lr = 0.02, momentum = 0.9, nesterov = true, weight_decay = 0.01 })
      return opt, optim.StepLR(opt, { step_size = 4, gamma = 0.7 })
    end },
  { "SGD two groups + OneCycleLR (momentum)", function(m)
      local p = m:parameters()
      local opt = optim.SGD({ { params = { p[1], p[2] } }, { params = { p[3] }, lr = 0.01 } }, { lr = 0.02, momentum = 0.5 })
      return opt, optim.OneCycleLR(opt, { max_lr = { 0.05, 0.03 }, total_steps = 20 })
    end },
  { "Adam amsgrad + OneCycleLR (betas)", function(m)
      local opt = optim.Adam(m:parameters(), { lr = 0.01, amsgrad = true, weight_decay = 0.01 })
      return opt, optim.OneCycleLR(opt, { max_lr = 0.02, total_steps = 20, three_phase = true })
    end },
  { "AdamW + warm-up then cosine", function(m)
      local opt = optim.AdamW(m:parameters(), { lr = 0.01, weight_decay = 0.05 })
      return opt, optim.SequentialLR(opt, { optim.LinearLR(opt, { start_factor = 0.2, total_iters = 4 }),
                                            optim.CosineAnnealingLR(opt, { T_max = 12, eta_min = 1e-4 }) }, { 4 })
    end },
  { "RMSprop centered momentum + CosineAnnealingLR", function(m)
      local opt = optim.RMSprop(m:parameters(), { lr = 0.003, centered = true, momentum = 0.5, alpha = 0.9 })
      return opt, optim.CosineAnnealingLR(opt, { T_max = 7 })
    end },
  { "Adam without a scheduler", function(m)
      return optim.Adam(m:parameters(), { lr = 0.005, betas = { 0.85, 0.995 } }), nil
    end },
}

local N, M = 6, 9

describe("a run resumed from a checkpoint continues bit-exactly", function()
  for _, s in ipairs(setups) do
    it(s[1], function()
      local path = tmpfile()
      -- run A: N steps, checkpoint, M more
      local ma = new_model()
      local oa, sa = s[2](ma)
      train(ma, oa, sa, 1, N)
      checkpoint.save(path, { model = ma, optimizer = oa, scheduler = sa,
                              extra = { epoch = 3, step = N, note = "after warm-up", best = 0.1 } })
      local lra = {}
      train(ma, oa, sa, N + 1, N + M, lra)
      -- run B: a fresh model (zeros), optimizer and scheduler, loaded, the same M steps
      local mb = new_model("zeros")
      local ob, sb = s[2](mb)
      local extra = checkpoint.load(path, { model = mb, optimizer = ob, scheduler = sb })
      os.remove(path)
      assert.are.same({ epoch = 3, step = N, note = "after warm-up", best = 0.1 }, extra)
      local lrb = {}
      train(mb, ob, sb, N + 1, N + M, lrb)
      assert_bit_equal(values(ma), values(mb), s[1])
      for i = 1, M do assert.is_true(lra[i] == lrb[i], "lr at step " .. (N + i)) end
      -- and the state itself: step counts, hyperparameters
      local sda, sdb = oa:state_dict(), ob:state_dict()
      for i, g in ipairs(sda.param_groups) do
        for k, v in pairs(g) do
          if type(v) ~= "table" then assert.is_true(v == sdb.param_groups[i][k], "group " .. i .. " " .. k) end
        end
      end
      for id, st in pairs(sda.state) do
        for k, v in pairs(st) do
          if ember.is_tensor(v) then
            assert_bit_equal({ v:view(-1):totable() }, { sdb.state[id][k]:view(-1):totable() }, k)
          else
            assert.are.equal(v, sdb.state[id][k])
          end
        end
      end
    end)
  end

  it("with ember.nn modules, autograd and a schedule", function()
    local nn = require "ember.nn"
    local x = oracle.gen({ 16, 4 }, 70, "f32", 1)
    local function make()
      ember.manual_seed(7)
      return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    end
    local function run(m, opt, sched, n)
      for _ = 1, n do
        opt:zero_grad()
        local y = m(x)
        local loss = (y * y):sum()
        loss:backward()
        opt:step()
        sched:step()
      end
    end
    local path = tmpfile()
    local ma = make()
    local oa = optim.AdamW(ma:parameters(), { lr = 0.01 })
    local sa = optim.StepLR(oa, 3, 0.5)
    run(ma, oa, sa, 4)
    checkpoint.save(path, { model = ma, optimizer = oa, scheduler = sa })
    run(ma, oa, sa, 5)
    local mb = make()
    local ob = optim.AdamW(mb:parameters(), { lr = 0.01 })
    local sb = optim.StepLR(ob, 3, 0.5)
    checkpoint.load(path, { model = mb, optimizer = ob, scheduler = sb })
    os.remove(path)
    run(mb, ob, sb, 5)
    assert_bit_equal(values({ params = ma:parameters() }), values({ params = mb:parameters() }), "nn model")
  end)

  it("restores a plain table of tensors as the model", function()
    local path = tmpfile()
    local a = { w = ember.tensor({ 1.5, -2.25 }, "f32"), b = ember.tensor({ 0.125 }, "f32") }
    checkpoint.save(path, { model = a })
    local w, b = ember.zeros(2), ember.zeros(1)
    assert.is_nil(checkpoint.load(path, { model = { w = w, b = b } }))
    os.remove(path)
    assert.are.same({ 1.5, -2.25 }, w:totable())
    assert.are.same({ 0.125 }, b:totable())
  end)
end)

-- An independent look at the file: the header as JSON (Python's parser), the
-- metadata values through json.loads, tensor bytes through torch.frombuffer.
local READER = [==[
import json, struct, sys, torch
path = json.load(open(sys.argv[1]))["path"]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__", {})
def describe(v, path, out):
    if isinstance(v, bool): out.append([path, "bool", v])
    elif isinstance(v, int): out.append([path, "int", str(v)])
    elif isinstance(v, float): out.append([path, "float", v.hex() if v == v and abs(v) != float("inf") else repr(v)])
    elif isinstance(v, str): out.append([path, "str", v])
    elif isinstance(v, list):
        out.append([path, "list", len(v)])
        for i, x in enumerate(v): describe(x, path + "[" + str(i + 1) + "]", out)
    elif isinstance(v, dict):
        out.append([path, "dict", len(v)])
        for k in sorted(v): describe(v[k], path + "." + k, out)
decoded = {}
for k, v in meta.items():
    if k != "format":
        d = []
        describe(json.loads(v), k, d)
        decoded[k] = d
tensors = {}
base = 8 + n
for name, info in header.items():
    a, b = info["data_offsets"]
    t = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=torch.float32) if b > a else torch.zeros(0)
    tensors[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": t.tolist()}
json.dump({"format": meta.get("format"), "keys": sorted(meta), "decoded": decoded, "tensors": tensors},
          open(sys.argv[2], "w"))
]==]

local function read_with_python(path)
  local sp, ip, op = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(sp, "w")); f:write(READER); f:close()
  f = assert(io.open(ip, "w")); f:write(json.encode({ path = path })); f:close()
  local ok = os.execute(string.format("%s %s %s %s", PY, sp, ip, op))
  os.remove(sp); os.remove(ip)
  assert(ok, "checkpoint_spec: " .. PY .. " failed")
  f = assert(io.open(op)); local out = json.decode(f:read("a")); f:close()
  os.remove(op)
  return out
end

-- The description of a Lua value that READER's describe gives.
local function describe_value(v, path, out)
  local t = type(v)
  if t == "boolean" then out[#out + 1] = { path, "bool", v }
  elseif math.type(v) == "integer" then out[#out + 1] = { path, "int", tostring(v) }
  elseif t == "number" then out[#out + 1] = { path, "float", v }
  elseif t == "string" then out[#out + 1] = { path, "str", v }
  elseif #v > 0 then
    out[#out + 1] = { path, "list", #v }
    for i, x in ipairs(v) do describe_value(x, path .. "[" .. i .. "]", out) end
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    out[#out + 1] = { path, "dict", #keys }
    for _, k in ipairs(keys) do describe_value(v[k], path .. "." .. k, out) end
  end
  return out
end

local function python_float(s)
  if s == "inf" then return math.huge elseif s == "-inf" then return -math.huge elseif s == "nan" then return 0 / 0 end
  return assert(tonumber(s), s)
end

local function same_description(lua, py)
  assert.are.equal(#py, #lua)
  for i, e in ipairs(py) do
    local l = lua[i]
    assert.are.equal(e[1], l[1])
    assert.are.equal(e[2], l[2], e[1])
    if e[2] == "float" then
      local x = python_float(e[3])
      assert.is_true(x == l[3] or (x ~= x and l[3] ~= l[3]), string.format("%s: python %s, lua %.17g", e[1], e[3], l[3]))
      if x == 0 then assert.are.equal(1 / x, 1 / l[3], e[1] .. ": sign of zero") end
    else
      assert.are.equal(e[3], l[3], e[1])
    end
  end
end

describe("the checkpoint file", function()
  it("holds the model's tensors by name, the optimizer's by parameter number, the rest as JSON", function()
    local path = tmpfile()
    local m = new_model()
    local opt = optim.Adam({ { params = { m.params[1], m.params[2] } }, { params = { m.params[3] }, lr = 0.003 } },
                           { lr = 0.01, amsgrad = true })
    local sched = optim.StepLR(opt, { step_size = 2, gamma = 0.5 })
    train(m, opt, sched, 1, 3)
    local extra = { epoch = 7, name = "run \"7\"\n\tüñï ☃", ratio = 1 / 3, big = 1e300, tiny = 2 ^ -1074,
                    negzero = -0.0, whole = 3.0, imax = math.maxinteger, imin = math.mininteger,
                    flags = { true, false }, nested = { a = { 1, 2.5, { b = "c" } } }, inf = math.huge,
                    ninf = -math.huge, control = "\1\31" }
    checkpoint.save(path, { model = m, optimizer = opt, scheduler = sched, extra = extra })
    local r = read_with_python(path)
    os.remove(path)
    assert.are.equal("pt", r.format)
    assert.are.same({ "extra", "format", "optimizer", "scheduler" }, r.keys)
    local names = {}
    for k in pairs(r.tensors) do names[#names + 1] = k end
    table.sort(names)
    assert.are.same({ "fc1.bias", "fc1.weight", "fc2.weight",
                      "optimizer.state.1.exp_avg", "optimizer.state.1.exp_avg_sq", "optimizer.state.1.max_exp_avg_sq",
                      "optimizer.state.2.exp_avg", "optimizer.state.2.exp_avg_sq", "optimizer.state.2.max_exp_avg_sq",
                      "optimizer.state.3.exp_avg", "optimizer.state.3.exp_avg_sq", "optimizer.state.3.max_exp_avg_sq" },
                    names)
    assert.are.same({ 3, 4 }, r.tensors["fc1.weight"].shape)
    assert.are.same(m.params[1]:detach():view(-1):totable(), r.tensors["fc1.weight"].values)
    assert.are.same(opt.state[m.params[3]].exp_avg:view(-1):totable(), r.tensors["optimizer.state.3.exp_avg"].values)
    -- every number of the metadata, read by Python, is the Lua value to the bit
    same_description(describe_value(extra, "extra", {}), r.decoded.extra)
    local _, data = optim.flatten_state_dict(opt:state_dict())
    same_description(describe_value(data, "optimizer", {}), r.decoded.optimizer)
    same_description(describe_value(sched:state_dict(), "scheduler", {}), r.decoded.scheduler)
  end)

  it("gives back extra with every value and number subtype", function()
    local path = tmpfile()
    local extra = { ratio = 1 / 3, tiny = 2 ^ -1074, whole = 3.0, count = 3, negzero = -0.0, inf = math.huge,
                    nan = 0 / 0, imin = math.mininteger, s = "a\\b\"c\0d", list = { 1, { 2, { 3 } } }, empty = {},
                    yes = true, no = false }
    checkpoint.save(path, { extra = extra })
    local got = checkpoint.load(path)
    os.remove(path)
    for k, v in pairs(extra) do
      if k == "nan" then assert.is_true(got.nan ~= got.nan)
      elseif type(v) == "number" then
        assert.is_true(v == got[k], k)
        assert.are.equal(math.type(v), math.type(got[k]), k)
      else
        assert.are.same(v, got[k])
      end
    end
    assert.are.equal(-math.huge, 1 / got.negzero)
  end)

  it("with the model alone is a plain state dict", function()
    local path = tmpfile()
    local m = new_model()
    checkpoint.save(path, { model = m })
    local sd, meta = ember.load(path)
    os.remove(path)
    local names = {}
    for k in pairs(sd) do names[#names + 1] = k end
    table.sort(names)
    assert.are.same({ "fc1.bias", "fc1.weight", "fc2.weight" }, names)
    assert.are.same({ format = "pt" }, meta)
    local m2 = new_model("zeros")
    m2:load_state_dict(sd)
    assert_bit_equal(values(m), values(m2), "model")
  end)
end)

describe("checkpoint errors", function()
  local function fails(pattern, f)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find(pattern, 1, true), "error was: " .. tostring(err))
  end

  it("names what cannot be saved", function()
    local path = tmpfile()
    fails('checkpoint.save: unknown field "optimiser"', function() checkpoint.save(path, { optimiser = {} }) end)
    fails("checkpoint.save: path must be a string", function() checkpoint.save(nil, {}) end)
    fails("extra.t is a tensor; only numbers, strings, booleans and tables of them can be saved",
          function() checkpoint.save(path, { extra = { t = ember.zeros(1) } }) end)
    fails("extra.f is a function", function() checkpoint.save(path, { extra = { f = print } }) end)
    fails("extra.x mixes list entries and named entries", function() checkpoint.save(path, { extra = { x = { 1, a = 2 } } }) end)
    fails("extra is a list with holes", function() checkpoint.save(path, { extra = { 1, nil, 3 } }) end)
    local p = ember.zeros(2)
    local opt = optim.SGD({ p }, { lr = 0.1, momentum = 0.9 })
    p.grad = ember.ones(2)
    opt:step()
    fails('checkpoint.save: the model has a tensor named "optimizer.state.1.momentum_buffer"',
          function() checkpoint.save(path, { model = { ["optimizer.state.1.momentum_buffer"] = p }, optimizer = opt }) end)
    assert.is_nil(io.open(path))
  end)

  it("names what cannot be loaded", function()
    local path = tmpfile()
    local a, b = ember.zeros(2), ember.zeros(3)
    local opt = optim.SGD({ a, b }, { lr = 0.1, momentum = 0.9 })
    a.grad = ember.ones(2); b.grad = ember.ones(3)
    opt:step()
    checkpoint.save(path, { model = { a = a, b = b }, optimizer = opt })
    fails("SGD: load_state_dict: parameter group 1 has 2 parameters in the state dict, 1 in the optimizer",
          function() checkpoint.load(path, { optimizer = optim.SGD({ a }, { lr = 0.1 }) }) end)
    fails("checkpoint.load: " .. path .. " holds no scheduler state",
          function() checkpoint.load(path, { scheduler = optim.StepLR(opt, 2) }) end)
    fails('model: "b" has shape 3 in the file, 2 in the model',
          function() checkpoint.load(path, { model = { a = ember.zeros(2), b = ember.zeros(2) } }) end)
    fails('model: missing "c"; unexpected "b"',
          function() checkpoint.load(path, { model = { a = ember.zeros(2), c = ember.zeros(3) } }) end)
    fails('checkpoint.load: unknown field "sched"', function() checkpoint.load(path, { sched = 1 }) end)
    checkpoint.save(path, { model = { a = a } })
    fails("checkpoint.load: " .. path .. " holds no optimizer state",
          function() checkpoint.load(path, { optimizer = opt }) end)
    os.remove(path)
  end)
end)
