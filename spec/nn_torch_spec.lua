-- nn_torch_spec.lua — PyTorch checkpoints in ember (issue 4, item 4): an MLP and a CNN
-- with BatchNorm2d built by torch (/usr/bin/python3, fixed seed, running statistics
-- moved by training batches) and saved by it as safetensors load into the same
-- architecture built with ember.nn through load_state_dict unchanged, and give torch's
-- eval-mode outputs within 1e-5. The other way too: ember's saved state dict loads
-- into torch with strict=True and gives ember's outputs. Strict loading names every
-- missing, unexpected and mis-shaped key, with both shapes.
local ember = require "ember"
local nn = require "ember.nn"
local json = require "dkjson"
local oracle = require "oracle"
local helpers = require "spec_helpers"

local PY = "/usr/bin/python3"
local SCRIPT = "spec/support/make_torch_models.py"

local torch_dtypes = { float32 = "f32", float64 = "f64", int64 = "i64" }

local function decode(spec)
  local data = {}
  for i, v in ipairs(spec.data) do data[i] = oracle.number(v) end
  local t = ember.tensor(data, torch_dtypes[spec.dtype])
  return t:view(spec.shape)
end

local function read_json(path)
  local f = assert(io.open(path))
  local v = json.decode(f:read("a"))
  f:close()
  return v
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
assert(os.execute(string.format("%s %s make %s", PY, SCRIPT, dir)), "make_torch_models.py failed")
local models = read_json(dir .. "/models.json")

local function mlp()
  return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
end

local function cnn()
  return nn.Sequential(
    nn.Conv2d(1, 8, 3, { padding = 1 }), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, { padding = 1 }), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64, 10))
end

local builders = { mlp = mlp, cnn = cnn }

local function assert_close(t, ref, tol)
  local ok, msg = oracle.close(t, ref, tol, tol)
  assert(ok, msg)
end

local error_of, contains = helpers.error_of, helpers.contains

describe("PyTorch checkpoints", function()
  teardown(function() os.execute("rm -rf " .. dir) end)

  for _, name in ipairs({ "mlp", "cnn" }) do
    local m = models[name]

    it(name .. ": ember's state dict has torch's keys, in torch's order", function()
      local _, keys = builders[name]():state_dict()
      assert.same(m.keys, keys)
    end)

    it(name .. ": loads torch's safetensors file unchanged and matches torch's eval output within 1e-5", function()
      local sd = ember.load(dir .. "/" .. name .. ".safetensors")
      local n = 0
      for _ in pairs(sd) do n = n + 1 end
      assert.equal(#m.keys, n)
      local model = builders[name]()
      local r = model:load_state_dict(sd)
      assert.same({}, r.missing_keys)
      assert.same({}, r.unexpected_keys)
      model:eval()
      local y = ember.no_grad(function() return model(decode(m.input)) end)
      assert_close(y, m.output, 1e-5)
      -- values were copied into the model's own tensors
      local own = model:state_dict()
      for _, key in ipairs(m.keys) do
        local a, b = own[key]:contiguous():view(-1):totable(), sd[key]:contiguous():view(-1):totable()
        assert.same(b, a)
      end
      if name == "cnn" then
        assert.equal("i64", own["1.num_batches_tracked"]:dtype())
        assert.equal(3, own["1.num_batches_tracked"]:item())
        assert.equal(0, own["1.num_batches_tracked"]:dim())
      end
    end)

    it(name .. ": a state dict saved by ember loads into torch (strict) and gives ember's output", function()
      ember.manual_seed(7)
      local model = builders[name]()
      if name == "cnn" then   -- move ember's own running statistics first
        model:train()
        ember.no_grad(function()
          for _ = 1, 2 do model(ember.randn(8, 1, 8, 8) * 2 + 0.5) end
        end)
      end
      model:eval()
      local path = dir .. "/ember_" .. name .. ".safetensors"
      ember.save((model:state_dict()), path)
      local x = decode(m.input)
      local y = ember.no_grad(function() return model(x) end)
      local inpath, outpath = dir .. "/in.json", dir .. "/out.json"
      local f = assert(io.open(inpath, "w"))
      f:write(json.encode(oracle.encode(x)))
      f:close()
      assert(os.execute(string.format("%s %s eval %s %s %s %s", PY, SCRIPT, name, path, inpath, outpath)),
             "torch could not load ember's checkpoint")
      assert_close(y, read_json(outpath), 1e-5)
    end)
  end

  it("strict loading names every missing, unexpected and mis-shaped key, with both shapes", function()
    local sd = ember.load(dir .. "/cnn.safetensors")
    -- another CNN: 4 channels first (mis-shaped conv and batch norm), no second batch
    -- norm (its keys unexpected, the layers after it shift by one), two linear layers
    local other = nn.Sequential(
      nn.Conv2d(1, 4, 3, { padding = 1 }), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(4, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(64, 10), nn.ReLU(), nn.Linear(10, 10))
    local before = other[11].weight:clone()
    local msg = error_of(function() other:load_state_dict(sd) end)
    contains(msg, "missing keys: 8.weight, 8.bias, 10.weight, 10.bias")
    contains(msg, "unexpected keys: 5.bias, 5.num_batches_tracked, 5.running_mean, 5.running_var, 5.weight, 9.bias, 9.weight")
    contains(msg, "size mismatch for 0.weight: 8x1x3x3 in the state dict, 4x1x3x3 in the model")
    contains(msg, "size mismatch for 0.bias: 8 in the state dict, 4 in the model")
    contains(msg, "size mismatch for 1.weight: 8 in the state dict, 4 in the model")
    contains(msg, "size mismatch for 1.bias: 8 in the state dict, 4 in the model")
    contains(msg, "size mismatch for 1.running_mean: 8 in the state dict, 4 in the model")
    contains(msg, "size mismatch for 1.running_var: 8 in the state dict, 4 in the model")
    contains(msg, "size mismatch for 4.weight: 16x8x3x3 in the state dict, 16x4x3x3 in the model")
    local _, lines = msg:gsub("size mismatch", "")
    assert.equal(7, lines)
    -- nothing was copied
    assert.same(before:totable(), other[11].weight:totable())

    -- not strict: missing and unexpected keys are returned, mis-shaped ones still raise
    msg = error_of(function() other:load_state_dict(sd, false) end)
    assert.is_nil(msg:find("missing keys", 1, true))
    contains(msg, "size mismatch for 0.weight: 8x1x3x3 in the state dict, 4x1x3x3 in the model")
    local loose = nn.Sequential(
      nn.Conv2d(1, 8, 3, { padding = 1 }), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(8, 16, 3, { padding = 1 }), nn.ReLU(), nn.ReLU(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(64, 10), nn.Linear(10, 10))
    local r = loose:load_state_dict(sd, false)
    assert.same({ "10.weight", "10.bias" }, r.missing_keys)
    assert.same({ "5.bias", "5.num_batches_tracked", "5.running_mean", "5.running_var", "5.weight" },
                r.unexpected_keys)
    assert.same(sd["4.weight"]:totable(), loose[5].weight:totable())
    assert.same(sd["1.running_var"]:totable(), loose[2].running_var:totable())
  end)
end)
