-- lr_scheduler_spec.lua — ember.optim's schedules against torch.optim.lr_scheduler
-- (/usr/bin/python3, PyTorch 1.13): the learning rates (and cycled momenta) of 50
-- steps, rel 1e-12; state dicts resume a schedule exactly; errors.
local ember = require "ember"
local optim = require "ember.optim"
local torch_script = require "torch_script"

-- Each case: a torch constructor over `opt`, the same in ember, and the optimizer.
-- SGD has two groups (lr 0.1 and 0.05, momentum 0.9); Adam one group (lr 0.01).
local cases = {
  { "StepLR", "S.StepLR(opt, step_size=7, gamma=0.5)",
    function(opt) return optim.StepLR(opt, { step_size = 7, gamma = 0.5 }) end },
  { "StepLR positional", "S.StepLR(opt, 3)", function(opt) return optim.StepLR(opt, 3) end },
  { "MultiStepLR", "S.MultiStepLR(opt, milestones=[30, 5, 12, 12], gamma=0.3)",
    function(opt) return optim.MultiStepLR(opt, { milestones = { 30, 5, 12, 12 }, gamma = 0.3 }) end },
  { "ConstantLR", "S.ConstantLR(opt, factor=0.25, total_iters=6)",
    function(opt) return optim.ConstantLR(opt, { factor = 0.25, total_iters = 6 }) end },
  { "LinearLR warm-up", "S.LinearLR(opt, start_factor=0.1, total_iters=10)",
    function(opt) return optim.lr_scheduler.LinearLR(opt, { start_factor = 0.1, total_iters = 10 }) end },
  { "LinearLR decay", "S.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=30)",
    function(opt) return optim.LinearLR(opt, { start_factor = 1.0, end_factor = 0.05, total_iters = 30 }) end },
  { "ExponentialLR", "S.ExponentialLR(opt, gamma=0.93)",
    function(opt) return optim.ExponentialLR(opt, { gamma = 0.93 }) end },
  { "CosineAnnealingLR past T_max", "S.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)",
    function(opt) return optim.CosineAnnealingLR(opt, { T_max = 20, eta_min = 0.001 }) end },
  { "CosineAnnealingLR", "S.CosineAnnealingLR(opt, 50)",
    function(opt) return optim.CosineAnnealingLR(opt, 50) end },
  { "LambdaLR", "S.LambdaLR(opt, [lambda e: 0.95 ** e, lambda e: 1.0 / (e + 1)])",
    function(opt) return optim.LambdaLR(opt, { lr_lambda = { function(e) return 0.95 ^ e end,
                                                             function(e) return 1.0 / (e + 1) end } }) end },
  { "OneCycleLR, SGD momentum", "S.OneCycleLR(opt, max_lr=0.5, total_steps=50)",
    function(opt) return optim.OneCycleLR(opt, { max_lr = 0.5, total_steps = 50 }) end },
  { "OneCycleLR three phases, linear, per-group max_lr",
    "S.OneCycleLR(opt, max_lr=[0.4, 0.2], epochs=5, steps_per_epoch=10, pct_start=0.25, anneal_strategy='linear', three_phase=True, div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9)",
    function(opt)
      return optim.OneCycleLR(opt, { max_lr = { 0.4, 0.2 }, epochs = 5, steps_per_epoch = 10, pct_start = 0.25,
                                     anneal_strategy = "linear", three_phase = true, div_factor = 10.0,
                                     final_div_factor = 100.0, base_momentum = 0.8, max_momentum = 0.9 })
    end },
  { "OneCycleLR, Adam betas", "S.OneCycleLR(opt, max_lr=0.01, total_steps=60, pct_start=0.4)",
    function(opt) return optim.OneCycleLR(opt, { max_lr = 0.01, total_steps = 60, pct_start = 0.4 }) end, adam = true },
  { "OneCycleLR without momentum", "S.OneCycleLR(opt, max_lr=1.0, total_steps=50, cycle_momentum=False, pct_start=0.1)",
    function(opt) return optim.OneCycleLR(opt, { max_lr = 1.0, total_steps = 50, cycle_momentum = false, pct_start = 0.1 }) end },
  { "SequentialLR: linear warm-up then cosine",
    "S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(opt, T_max=45)], milestones=[5])",
    function(opt)
      return optim.SequentialLR(opt, { schedulers = { optim.LinearLR(opt, { start_factor = 0.1, total_iters = 5 }),
                                                      optim.CosineAnnealingLR(opt, { T_max = 45 }) },
                                       milestones = { 5 } })
    end },
  { "SequentialLR of three",
    "S.SequentialLR(opt, [S.ConstantLR(opt, factor=0.5, total_iters=3), S.ExponentialLR(opt, gamma=0.9), S.StepLR(opt, step_size=4, gamma=0.5)], milestones=[3, 20])",
    function(opt)
      return optim.SequentialLR(opt, { optim.ConstantLR(opt, 0.5, 3), optim.ExponentialLR(opt, 0.9),
                                       optim.StepLR(opt, 4, 0.5) }, { 3, 20 })
    end },
}

local STEPS = 50

local TORCH = [==[
import json, sys, warnings, torch
import torch.optim.lr_scheduler as S
warnings.simplefilter("ignore")
req = json.load(open(sys.argv[1]))
out = []
for case in req:
    if case["adam"]:
        opt = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.01)
    else:
        opt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)]},
                               {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.05}],
                              lr=0.1, momentum=0.9)
    sched = eval(case["make"])
    seq = []
    for step in range(case["steps"]):
        if step > 0:
            opt.step()
            sched.step()
        mom = [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]
        seq.append({"lr": list(sched.get_last_lr()), "group_lr": [g["lr"] for g in opt.param_groups],
                    "momentum": mom})
    out.append(seq)
json.dump(out, open(sys.argv[2], "w"))
]==]

local function run_python(script, req) return torch_script.run(script, req, "lr_scheduler_spec") end

local function make_optimizer(adam)
  if adam then return optim.Adam({ ember.zeros(2) }, { lr = 0.01 }) end
  return optim.SGD({ { params = { ember.zeros(2) } }, { params = { ember.zeros(3) }, lr = 0.05 } },
                   { lr = 0.1, momentum = 0.9 })
end

local function record(opt, sched)
  local mom, glr = {}, {}
  for i, g in ipairs(opt.param_groups) do
    mom[i] = g.betas and g.betas[1] or g.momentum
    glr[i] = g.lr
  end
  return { lr = { table.unpack(sched:get_last_lr()) }, group_lr = glr, momentum = mom }
end

local function ember_sequence(c, steps)
  local opt = make_optimizer(c.adam)
  local sched = c[3](opt)
  local seq = {}
  for step = 1, steps do
    if step > 1 then
      opt:step()
      sched:step()
    end
    seq[step] = record(opt, sched)
  end
  return seq
end

local function close(a, b)
  return a == b or math.abs(a - b) <= 1e-12 * math.abs(b)
end

local function compare(name, got, want)
  assert.are.equal(#want, #got)
  for step = 1, #want do
    for _, key in ipairs({ "lr", "group_lr", "momentum" }) do
      local g, w = got[step][key], want[step][key]
      assert(#g == #w, string.format("%s: step %d: %s has %d values, torch %d", name, step, key, #g, #w))
      for i = 1, #w do
        if not close(g[i], w[i]) then
          error(string.format("%s: step %d, group %d: %s ember %.17g, torch %.17g", name, step, i, key, g[i], w[i]), 2)
        end
      end
    end
  end
end

local want
local function reference()
  if want == nil then
    local req = {}
    for i, c in ipairs(cases) do req[i] = { make = c[2], adam = c.adam or false, steps = STEPS } end
    want = run_python(TORCH, req)
  end
  return want
end

describe("learning-rate schedules against torch (50 steps, rel 1e-12)", function()
  for i, c in ipairs(cases) do
    it(c[1], function()
      compare(c[1], ember_sequence(c, STEPS), reference()[i])
    end)
  end
end)

local function plain(v, path)
  local t = type(v)
  if t == "table" then
    assert(getmetatable(v) == nil, path .. " has a metatable")
    for k, x in pairs(v) do
      assert(type(k) == "string" or math.type(k) == "integer", path .. " has a key of type " .. type(k))
      plain(x, path .. "." .. tostring(k))
    end
  else
    assert(t == "number" or t == "string" or t == "boolean", path .. " is a " .. t)
  end
end

describe("scheduler state dicts", function()
  for i, c in ipairs(cases) do
    if not c[1]:find("LambdaLR") then
      it(c[1] .. ": resumes from state_dict at step 20 and holds only plain data", function()
        local opt = make_optimizer(c.adam)
        local sched = c[3](opt)
        local seq = { record(opt, sched) }
        for step = 2, 20 do
          opt:step(); sched:step()
          seq[step] = record(opt, sched)
        end
        local osd, ssd = opt:state_dict(), sched:state_dict()
        plain(ssd, "state_dict")
        local opt2 = make_optimizer(c.adam)
        local sched2 = c[3](opt2)
        opt2:load_state_dict(osd)
        sched2:load_state_dict(ssd)
        for step = 21, STEPS do
          opt2:step(); sched2:step()
          seq[step] = record(opt2, sched2)
        end
        compare(c[1] .. " (resumed)", seq, reference()[i])
      end)
    end
  end

  it("keeps the state of SequentialLR's schedulers", function()
    local opt = make_optimizer()
    local s = optim.SequentialLR(opt, { optim.LinearLR(opt, 0.5, 1.0, 4), optim.StepLR(opt, 2) }, { 4 })
    for _ = 1, 6 do s:step() end
    local sd = s:state_dict()
    assert.are.equal(2, #sd._schedulers)
    assert.are.equal(2, sd._schedulers[2].step_size)
    assert.are.same({ 4 }, sd._milestones)
    assert.are.equal(6, sd.last_epoch)
  end)
end)

describe("scheduler errors", function()
  local function fails(pattern, f)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find(pattern, 1, true), "error was: " .. tostring(err))
  end

  it("names unknown and missing options and bad values", function()
    local opt = make_optimizer()
    fails('StepLR: unknown option "stepsize"', function() optim.StepLR(opt, { stepsize = 3 }) end)
    fails("StepLR: option step_size is required", function() optim.StepLR(opt, { gamma = 0.5 }) end)
    fails("StepLR: step_size must be an integer >= 1, got 2.5", function() optim.StepLR(opt, 2.5) end)
    fails("StepLR: too many arguments", function() optim.StepLR(opt, 1, 0.5, -1, true) end)
    fails("CosineAnnealingLR: option T_max is required", function() optim.CosineAnnealingLR(opt) end)
    fails("LinearLR: invalid start_factor 1.5", function() optim.LinearLR(opt, { start_factor = 1.5 }) end)
    fails("LinearLR: invalid end_factor -1", function() optim.LinearLR(opt, { end_factor = -1 }) end)
    fails("ConstantLR: invalid factor 2", function() optim.ConstantLR(opt, { factor = 2 }) end)
    fails("StepLR: the first argument must be an optimizer", function() optim.StepLR(nil, 3) end)
    fails("LambdaLR: lr_lambda must be a function or a list of 2 functions",
          function() optim.LambdaLR(opt, { lr_lambda = { function() return 1 end } }) end)
  end)

  it("OneCycleLR checks its options and its step count", function()
    local opt = make_optimizer()
    fails("OneCycleLR: give total_steps, or epochs and steps_per_epoch", function() optim.OneCycleLR(opt, { max_lr = 1 }) end)
    fails('OneCycleLR: anneal_strategy must be "cos" or "linear"',
          function() optim.OneCycleLR(opt, { max_lr = 1, total_steps = 5, anneal_strategy = "cosine" }) end)
    fails("OneCycleLR: expected 2 values for max_lr (one per group), got 3",
          function() optim.OneCycleLR(opt, { max_lr = { 1, 2, 3 }, total_steps = 5 }) end)
    fails("OneCycleLR: invalid pct_start 1.5", function() optim.OneCycleLR(opt, { max_lr = 1, total_steps = 5, pct_start = 1.5 }) end)
    local fake = { param_groups = { { lr = 1, params = {} } }, defaults = { lr = 1 } }
    fails("OneCycleLR: cycle_momentum needs an optimizer with momentum or betas",
          function() optim.OneCycleLR(fake, { max_lr = 1, total_steps = 5 }) end)
    local s = optim.OneCycleLR(opt, { max_lr = 1, total_steps = 3 })
    s:step(); s:step(); s:step()
    fails("OneCycleLR: tried to step 5 times; total_steps is 3", function() s:step() end)
  end)

  it("SequentialLR checks its schedulers and milestones", function()
    local opt, other = make_optimizer(), make_optimizer()
    fails("SequentialLR: expects one milestone fewer than schedulers; got 2 schedulers and 2 milestones",
          function() optim.SequentialLR(opt, { optim.StepLR(opt, 2), optim.StepLR(opt, 3) }, { 2, 4 }) end)
    fails("SequentialLR: schedulers[2] belongs to another optimizer",
          function() optim.SequentialLR(opt, { optim.StepLR(opt, 2), optim.StepLR(other, 3) }, { 2 }) end)
    fails("SequentialLR: schedulers[1] is not a scheduler", function() optim.SequentialLR(opt, { 5 }, {}) end)
  end)

  it("load_state_dict refuses another scheduler's state", function()
    local opt = make_optimizer()
    local step = optim.StepLR(opt, 2)
    local cos = optim.CosineAnnealingLR(opt, 10)
    fails('CosineAnnealingLR: load_state_dict: unexpected keys "gamma", "step_size"', function() cos:load_state_dict(step:state_dict()) end)
    fails("StepLR: load_state_dict expects a table, got string", function() step:load_state_dict("x") end)
  end)
end)
