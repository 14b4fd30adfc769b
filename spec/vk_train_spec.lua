-- vk_train_spec.lua — a whole training step on Vulkan: forward, backward and the
-- optimizer update run on the device without a read-back, and the parameters after
-- a few steps equal those of the same steps on the cpu.
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local data = require "ember.data"

local ok, why = ember.vk.available()
if not ok then
  describe("vulkan training", function() pending("no Vulkan device: " .. tostring(why)) end)
  return
end

-- max |a - b| over max |b|, with values below 1e-3 of the scale of the model's
-- parameters (near-zero batch means, whose relative error is amplified by
-- cancellation) judged against that scale instead
local function max_rel_diff(a, b, scale)
  local d = (a:to("cpu") - b:to("cpu")):abs():max():item()
  return d / math.max(b:to("cpu"):abs():max():item(), scale or 0, 1e-12)
end

-- two copies of one model (same initial values) and their optimizers
local function pair(make, opt_make)
  ember.manual_seed(11)
  local cpu = make()
  local vk = make()
  vk:load_state_dict(cpu:state_dict())
  vk:to("vulkan")
  return cpu, vk, opt_make(cpu:parameters()), opt_make(vk:parameters())
end

local function batches(n)
  local ds = data.digits()
  local loader = data.DataLoader(ds, { batch_size = 32, shuffle = true, seed = 3, drop_last = true })
  local out = {}
  for x, y in loader:iter() do
    out[#out + 1] = { x, y }
    if #out == n then break end
  end
  return out
end

local function step(model, opt, x, y)
  opt:zero_grad()
  local loss = nn.functional.cross_entropy(model(x), y)
  loss:backward()
  opt:step()
  return loss
end

describe("vulkan training", function()
  local cases = {
    { "MLP with Adam", function() return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)) end,
      function(p) return optim.Adam(p, { lr = 1e-3 }) end, false },
    { "MLP with SGD momentum and GELU", function()
        return nn.Sequential(nn.Linear(64, 96), nn.GELU(), nn.Linear(96, 10)) end,
      function(p) return optim.SGD(p, { lr = 0.05, momentum = 0.9, nesterov = true }) end, false },
    -- the conv before batch norm has no bias: batch norm takes its mean out, so its
    -- gradient is rounding noise, which Adam scales up to full steps of either sign
    { "CNN with BatchNorm and AdamW", function()
        return nn.Sequential(nn.Conv2d(1, 8, 3, { padding = 1, bias = false }), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10)) end,
      function(p) return optim.AdamW(p, { lr = 1e-3, weight_decay = 0.01 }) end, true },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ": 5 steps equal the cpu's", function()
      local cpu, vk, ocpu, ovk = pair(c[2], c[3])
      for _, b in ipairs(batches(5)) do
        local x, y = b[1], b[2]
        if c[4] then x = x:view(-1, 1, 8, 8) end
        local lc = step(cpu, ocpu, x, y)
        local lv = step(vk, ovk, x:to("vulkan"), y:to("vulkan"))
        assert.is_true(max_rel_diff(lv, lc) < 1e-4, "loss " .. lv:item() .. " vs " .. lc:item())
      end
      local pc, pv = cpu:state_dict(), vk:state_dict()
      local scale = 0
      for _, t in pairs(pc) do
        if t:is_floating_point() then scale = math.max(scale, 1e-3 * t:abs():max():item()) end
      end
      for name, t in pairs(pc) do
        assert.are.equal("vulkan", pv[name]:device(), name)
        if t:is_floating_point() then
          local d = max_rel_diff(pv[name], t, scale)
          assert.is_true(d < 1e-4, name .. ": relative difference " .. d)
        else
          assert.are.same(t:totable(), pv[name]:to("cpu"):totable(), name)
        end
      end
    end)
  end

  it("a step on the device reads nothing back (no submit until a value is read)", function()
    local _, vk, _, ovk = pair(function() return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)) end,
                               function(p) return optim.Adam(p, { lr = 1e-3 }) end)
    local b = batches(1)[1]
    local x, y = b[1]:to("vulkan"), b[2]:to("vulkan")
    step(vk, ovk, x, y)            -- first step: optimizer state made, pipelines built
    ember.vk.sync()
    local before = ember.vk.info().submits
    local loss = step(vk, ovk, x, y)
    assert.are.equal(before, ember.vk.info().submits)
    assert.is_true(loss:item() > 0)
    assert.are.equal(before + 1, ember.vk.info().submits)
  end)
end)
