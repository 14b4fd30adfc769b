-- optim_spec.lua — ember.optim against torch.optim (/usr/bin/python3, PyTorch 1.13):
-- every optimizer and option combination follows torch's trajectory for 20 steps on
-- the same start and the same gradients; state dicts; errors.
local ember = require "ember"
local optim = require "ember.optim"
local oracle = require "oracle"
local torch_script = require "torch_script"

-- The gradients are computed by hand on both sides, so the specs test the optimizers
-- alone: for a parameter p, flattened to v, g = A^T (A v - b) + v^3.
local TORCH = [==[
import json, sys, torch
req = json.load(open(sys.argv[1]))
def tensor(e):
    return torch.tensor([float(x) for x in e["data"]], dtype=torch.float32).view(e["shape"])
def opts(o):
    o = dict(o)
    if "betas" in o: o["betas"] = tuple(o["betas"])
    return o
out = []
for case in req:
    params = [tensor(e).clone().requires_grad_(True) for e in case["params"]]
    As = [tensor(e) for e in case["A"]]
    bs = [tensor(e) for e in case["b"]]
    if case.get("groups"):
        target = [dict(params=[params[i - 1] for i in g["params"]], **opts(g.get("options", {})))
                  for g in case["groups"]]
    else:
        target = params
    opt = getattr(torch.optim, case["optim"])(target, **opts(case["options"]))
    skip = case.get("skip", {})
    traj = []
    for step in range(1, case["steps"] + 1):
        for i, p in enumerate(params):
            if (i + 1) in skip.get(str(step), []):
                p.grad = None
                continue
            with torch.no_grad():
                v = p.detach().reshape(-1)
                g = As[i].t() @ (As[i] @ v - bs[i]) + v * v * v
            p.grad = g.view(p.shape).clone()
        opt.step()
        traj.append([p.detach().reshape(-1).tolist() for p in params])
    out.append(traj)
json.dump(out, open(sys.argv[2], "w"))
]==]

local function run_python(script, req) return torch_script.run(script, req, "optim_spec") end

local SHAPES = { { 3, 4 }, { 5 }, { 2, 2 } }
local M = 6

local function problem()
  local params, As, bs = {}, {}, {}
  for i, s in ipairs(SHAPES) do
    local n = 1
    for _, d in ipairs(s) do n = n * d end
    params[i] = oracle.gen(s, 10 + i, "f32", 0.9)
    As[i] = oracle.gen({ M, n }, 20 + i, "f32", 0.5)
    bs[i] = oracle.gen({ M }, 30 + i, "f32", 1)
  end
  return params, As, bs
end

local function set_grads(params, As, bs, skip)
  ember.no_grad(function()
    for i, p in ipairs(params) do
      if skip and skip[i] then
        p.grad = nil
      else
        local v = p:detach():contiguous():view(-1)
        local g = As[i]:t():matmul(As[i]:matmul(v) - bs[i]) + v * v * v
        p.grad = g:view(p:size())
      end
    end
  end)
end

local function fresh_params()
  local params, As, bs = problem()
  for _, p in ipairs(params) do p.requires_grad = true end
  return params, As, bs
end

-- case: {optim = "SGD", options = {...}, groups = {{params = {1}, options = {...}}, ...},
-- skip = {[step] = {param indices without a gradient at that step}}, steps = n}
local function ember_run(case)
  local params, As, bs = fresh_params()
  local target = params
  if case.groups then
    target = {}
    for gi, g in ipairs(case.groups) do
      local list = {}
      for j, i in ipairs(g.params) do list[j] = params[i] end
      local group = { params = list }
      for k, v in pairs(g.options or {}) do group[k] = v end
      target[gi] = group
    end
  end
  local opt = optim[case.optim](target, case.options)
  local traj = {}
  for step = 1, case.steps do
    local skip = {}
    for _, i in ipairs(case.skip and case.skip[tostring(step)] or {}) do skip[i] = true end
    set_grads(params, As, bs, skip)
    opt:step()
    local snap = {}
    for i, p in ipairs(params) do snap[i] = p:detach():contiguous():view(-1):totable() end
    traj[step] = snap
  end
  return traj
end

local function torch_request(case)
  local params, As, bs = problem()
  local r = { optim = case.optim, options = case.options, groups = case.groups, skip = case.skip,
              steps = case.steps, params = {}, A = {}, b = {} }
  for i = 1, #params do
    r.params[i] = oracle.encode(params[i])
    r.A[i] = oracle.encode(As[i])
    r.b[i] = oracle.encode(bs[i])
  end
  -- dkjson writes an empty Lua table as an array; torch wants keyword dicts
  if next(r.options) == nil then r.options = setmetatable({}, { __jsontype = "object" }) end
  return r
end

local RTOL, ATOL = 1e-5, 1e-6

local function compare(name, got, want)
  assert(#got == #want, name .. ": step counts differ")
  for step = 1, #want do
    for i = 1, #want[step] do
      local g, w = got[step][i], want[step][i]
      for k = 1, #w do
        local a, b = g[k], w[k]
        if not (math.abs(a - b) <= ATOL + RTOL * math.abs(b)) then
          error(string.format("%s: step %d, parameter %d, element %d: ember %.9g, torch %.9g",
                              name, step, i, k, a, b), 2)
        end
      end
    end
  end
end

local STEPS = 20
local SKIP = { ["3"] = { 2 }, ["4"] = { 1, 2 }, ["9"] = { 3 } }

local cases = {
  { "SGD plain", "SGD", { lr = 0.02 } },
  { "SGD momentum", "SGD", { lr = 0.02, momentum = 0.9 } },
  { "SGD momentum dampening", "SGD", { lr = 0.02, momentum = 0.9, dampening = 0.3 } },
  { "SGD nesterov", "SGD", { lr = 0.02, momentum = 0.9, nesterov = true } },
  { "SGD weight_decay", "SGD", { lr = 0.02, weight_decay = 0.1 } },
  { "SGD maximize", "SGD", { lr = 0.02, maximize = true } },
  { "SGD momentum dampening weight_decay maximize", "SGD",
    { lr = 0.005, momentum = 0.5, dampening = 0.1, weight_decay = 0.05, maximize = true } },
  { "SGD nesterov weight_decay", "SGD", { lr = 0.02, momentum = 0.9, nesterov = true, weight_decay = 0.01 } },
  { "SGD momentum, missing gradients", "SGD", { lr = 0.02, momentum = 0.9 }, skip = SKIP },
  { "SGD param groups", "SGD", { lr = 0.02, momentum = 0.9 },
    groups = { { params = { 1 }, options = { lr = 0.05, momentum = 0.5 } }, { params = { 2, 3 } } } },
  { "Adam defaults", "Adam", {} },
  { "Adam lr", "Adam", { lr = 0.01 } },
  { "Adam amsgrad", "Adam", { lr = 0.01, amsgrad = true } },
  { "Adam weight_decay", "Adam", { lr = 0.01, weight_decay = 0.1 } },
  { "Adam betas eps maximize", "Adam", { lr = 0.01, betas = { 0.8, 0.99 }, eps = 1e-6, maximize = true } },
  { "Adam amsgrad weight_decay, missing gradients", "Adam", { lr = 0.01, amsgrad = true, weight_decay = 0.05 },
    skip = SKIP },
  { "Adam param groups", "Adam", { lr = 0.01 },
    groups = { { params = { 3, 1 }, options = { betas = { 0.5, 0.9 } } }, { params = { 2 }, options = { lr = 0.03 } } } },
  { "AdamW defaults", "AdamW", { lr = 0.01 } },
  { "AdamW weight_decay amsgrad", "AdamW", { lr = 0.01, weight_decay = 0.1, amsgrad = true } },
  { "AdamW maximize, missing gradients", "AdamW", { lr = 0.01, maximize = true }, skip = SKIP },
  { "RMSprop defaults", "RMSprop", {} },
  { "RMSprop centered", "RMSprop", { lr = 0.005, centered = true } },
  { "RMSprop momentum", "RMSprop", { lr = 0.005, momentum = 0.9 } },
  { "RMSprop centered momentum weight_decay alpha", "RMSprop",
    { lr = 0.005, centered = true, momentum = 0.5, weight_decay = 0.1, alpha = 0.9 } },
  { "RMSprop maximize eps, missing gradients", "RMSprop", { lr = 0.001, maximize = true, eps = 1e-4 }, skip = SKIP },
}

describe("ember.optim trajectories against torch.optim (20 steps, rel 1e-5)", function()
  local want
  local function reference()
    if want == nil then
      local req = {}
      for i, c in ipairs(cases) do
        req[i] = torch_request({ optim = c[2], options = c[3], groups = c.groups, skip = c.skip, steps = STEPS })
      end
      want = run_python(TORCH, req)
    end
    return want
  end

  for i, c in ipairs(cases) do
    it(c[1], function()
      local got = ember_run({ optim = c[2], options = c[3], groups = c.groups, skip = c.skip, steps = STEPS })
      compare(c[1], got, reference()[i])
    end)
  end
end)

describe("ember.optim with autograd", function()
  it("SGD with momentum on a quadratic whose gradient comes from backward matches torch", function()
    -- loss = sum((w * x + c) * (w * x + c)) + sum(w * w): only mul, add and sum
    local w = ember.tensor({ 0.5, -1.25, 2.0, 0.75 }, "f32")
    local x = ember.tensor({ 1.5, 0.5, -1.0, 2.0 }, "f32")
    local c = ember.tensor({ -0.25, 1.0, 0.5, -1.5 }, "f32")
    w.requires_grad = true
    local opt = optim.SGD({ w }, { lr = 0.05, momentum = 0.8 })
    local losses = {}
    for step = 1, 10 do
      opt:zero_grad()
      local r = w * x + c
      local loss = (r * r):sum() + (w * w):sum()
      losses[step] = loss:item()
      loss:backward()
      opt:step()
    end
    local want = run_python([==[
import json, sys, torch
w = torch.tensor([0.5, -1.25, 2.0, 0.75], requires_grad=True)
x = torch.tensor([1.5, 0.5, -1.0, 2.0])
c = torch.tensor([-0.25, 1.0, 0.5, -1.5])
opt = torch.optim.SGD([w], lr=0.05, momentum=0.8)
losses = []
for step in range(10):
    opt.zero_grad()
    r = w * x + c
    loss = (r * r).sum() + (w * w).sum()
    losses.append(loss.item())
    loss.backward()
    opt.step()
json.dump({"w": w.detach().tolist(), "losses": losses}, open(sys.argv[2], "w"))
]==], {})
    local got = w:detach():totable()
    for k = 1, 4 do
      assert.is_true(math.abs(got[k] - want.w[k]) <= 1e-6 + 1e-5 * math.abs(want.w[k]),
                     string.format("w[%d]: ember %.9g, torch %.9g", k, got[k], want.w[k]))
    end
    for k = 1, 10 do
      assert.is_true(math.abs(losses[k] - want.losses[k]) <= 1e-5 * math.abs(want.losses[k]), "loss " .. k)
    end
    assert.is_true(losses[10] < losses[1])
  end)

  it("step(closure) evaluates the closure with grad on and returns its loss", function()
    local w = ember.tensor({ 1.0, -2.0 }, "f32")
    w.requires_grad = true
    local opt = optim.SGD({ w }, { lr = 0.1 })
    local loss = ember.no_grad(function()
      return opt:step(function()
        opt:zero_grad()
        local l = (w * w):sum()
        l:backward()
        return l
      end)
    end)
    assert.are.equal(5, loss:item())
    -- w - 0.1 * 2w = 0.8 w
    local got = w:detach():totable()
    assert.is_true(math.abs(got[1] - 0.8) < 1e-6 and math.abs(got[2] + 1.6) < 1e-6)
  end)
end)

describe("optimizer behaviour", function()
  it("skips parameters without a gradient and leaves them unchanged", function()
    local a = ember.tensor({ 1, 2 }, "f32")
    local b = ember.tensor({ 3, 4 }, "f32")
    a.requires_grad = true; b.requires_grad = true
    local opt = optim.Adam({ a, b }, { lr = 0.1 })
    a.grad = ember.tensor({ 1, -1 }, "f32")
    opt:step()
    assert.are.same({ 3, 4 }, b:detach():totable())
    assert.is_nil(opt.state[b])
    assert.are.equal(1, opt.state[a].step)
    -- Adam's first step moves each element by lr * sign(g) (up to eps)
    local got = a:detach():totable()
    assert.is_true(math.abs(got[1] - 0.9) < 1e-6 and math.abs(got[2] - 2.1) < 1e-6)
  end)

  it("zero_grad drops gradients, or zeroes them with set_to_none = false", function()
    local a = ember.tensor({ 1, 2 }, "f32")
    a.requires_grad = true
    local opt = optim.SGD({ a }, { lr = 0.1 })
    a.grad = ember.tensor({ 1, -1 }, "f32")
    opt:zero_grad(false)
    assert.are.same({ 0, 0 }, a.grad:totable())
    opt:zero_grad()
    assert.is_nil(a.grad)
  end)

  it("reads param_groups[i].lr at every step", function()
    local a = ember.tensor({ 1 }, "f32")
    a.requires_grad = true
    local opt = optim.SGD({ a }, { lr = 0.5 })
    a.grad = ember.tensor({ 1 }, "f32")
    opt:step()
    opt.param_groups[1].lr = 0.25
    opt:step()
    assert.are.same({ 0.25 }, a:detach():totable())
  end)

  it("accepts a parameter iterator and a number as lr; groups take defaults", function()
    local a = ember.tensor({ 1 }, "f32")
    local b = ember.tensor({ 1 }, "f32")
    local list = { a, b }
    local opt = optim.SGD(function() return table.remove(list, 1) end, 0.3)
    assert.are.equal(2, #opt.param_groups[1].params)
    opt = optim.RMSprop({ { params = { a }, lr = 0.5 }, { params = { b } } }, { alpha = 0.9 })
    assert.are.equal(0.5, opt.param_groups[1].lr)
    assert.are.equal(1e-2, opt.param_groups[2].lr)
    assert.are.equal(0.9, opt.param_groups[2].alpha)
    opt:add_param_group({ params = { ember.tensor({ 2 }, "f32") }, centered = true })
    assert.is_true(opt.param_groups[3].centered)
    assert.are.equal(0.9, opt.param_groups[3].alpha)
  end)

  it("gives each group its own copy of betas", function()
    local opt = optim.Adam({ { params = { ember.zeros(1) } }, { params = { ember.zeros(1) } } })
    opt.param_groups[1].betas[1] = 0.5
    assert.are.equal(0.9, opt.param_groups[2].betas[1])
    assert.are.equal(0.9, opt.defaults.betas[1])
  end)
end)

describe("optimizer state dicts", function()
  local function train(opt, params, As, bs, steps)
    for _ = 1, steps do
      set_grads(params, As, bs)
      opt:step()
    end
  end

  for _, c in ipairs({ { "SGD", { lr = 0.02, momentum = 0.9, nesterov = true } },
                      { "Adam", { lr = 0.01, amsgrad = true } },
                      { "AdamW", { lr = 0.01 } },
                      { "RMSprop", { lr = 0.005, centered = true, momentum = 0.5 } } }) do
    it(c[1] .. ": load_state_dict into a fresh optimizer continues exactly", function()
      local p1, As, bs = fresh_params()
      local o1 = optim[c[1]](p1, c[2])
      train(o1, p1, As, bs, 4)
      local sd = o1:state_dict()
      local p2 = {}
      for i, p in ipairs(p1) do p2[i] = p:detach():clone(); p2[i].requires_grad = true end
      local o2 = optim[c[1]](p2, { lr = 0.5 })
      o2:load_state_dict(sd)
      assert.are.equal(c[2].lr, o2.param_groups[1].lr)
      train(o1, p1, As, bs, 5)
      train(o2, p2, As, bs, 5)
      for i = 1, #p1 do
        local x, y = p1[i]:detach():view(-1):totable(), p2[i]:detach():view(-1):totable()
        for k = 1, #x do assert.is_true(x[k] == y[k], "element differs") end
      end
    end)
  end

  it("has torch's structure: state by parameter number, groups with parameter numbers", function()
    local params, As, bs = fresh_params()
    local opt = optim.Adam({ { params = { params[1], params[2] } }, { params = { params[3] }, lr = 0.1 } })
    set_grads(params, As, bs, { [2] = true })
    opt:step()
    local sd = opt:state_dict()
    assert.are.same({ 1, 2 }, sd.param_groups[1].params)
    assert.are.same({ 3 }, sd.param_groups[2].params)
    assert.are.equal(0.1, sd.param_groups[2].lr)
    assert.are.same({ 0.9, 0.999 }, sd.param_groups[1].betas)
    assert.is_nil(sd.state[2])
    assert.are.equal(1, sd.state[1].step)
    assert.is_true(ember.is_tensor(sd.state[3].exp_avg_sq))
    assert.are.same({ 2, 2 }, sd.state[3].exp_avg:size())
  end)

  it("flattens to named tensors and plain data, and back", function()
    local params, As, bs = fresh_params()
    local opt = optim.SGD(params, { lr = 0.1, momentum = 0.9 })
    set_grads(params, As, bs)
    opt:step()
    local tensors, data = optim.flatten_state_dict(opt:state_dict(), "optimizer.")
    local names = {}
    for k in pairs(tensors) do names[#names + 1] = k end
    table.sort(names)
    assert.are.same({ "optimizer.state.1.momentum_buffer", "optimizer.state.2.momentum_buffer",
                      "optimizer.state.3.momentum_buffer" }, names)
    assert.are.same({ { lr = 0.1, momentum = 0.9, dampening = 0, weight_decay = 0, nesterov = false,
                        maximize = false, params = { 1, 2, 3 } } }, data.param_groups)
    local sd = optim.unflatten_state_dict(tensors, data, "optimizer.")
    assert.are.equal(tensors["optimizer.state.2.momentum_buffer"], sd.state[2].momentum_buffer)
    assert.are.same({ 1, 2, 3 }, sd.param_groups[1].params)
  end)
end)

describe("optimizer errors", function()
  local p = ember.zeros(2)
  local function fails(pattern, f)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find(pattern, 1, true), "error was: " .. tostring(err))
  end

  it("names unknown options", function()
    fails('SGD: unknown option "mometum"', function() optim.SGD({ p }, { lr = 0.1, mometum = 0.9 }) end)
    fails('Adam: unknown option "foo" in a parameter group', function() optim.Adam({ { params = { p }, foo = 1 } }) end)
    fails('RMSprop: unknown option "betas"', function() optim.RMSprop({ p }, { betas = { 0.9, 0.9 } }) end)
  end)

  it("refuses bad hyperparameters", function()
    fails("SGD: invalid lr -0.1", function() optim.SGD({ p }, { lr = -0.1 }) end)
    fails("Adam: invalid lr -1", function() optim.Adam({ p }, { lr = -1 }) end)
    fails("SGD: option lr is required", function() optim.SGD({ p }) end)
    fails("SGD: invalid momentum -1", function() optim.SGD({ p }, { lr = 1, momentum = -1 }) end)
    fails("SGD: nesterov momentum needs", function() optim.SGD({ p }, { lr = 1, nesterov = true }) end)
    fails("Adam: invalid beta 2: 1", function() optim.Adam({ p }, { betas = { 0.9, 1 } }) end)
    fails("Adam: betas must be a list of two numbers", function() optim.Adam({ p }, { betas = 0.9 }) end)
    fails("AdamW: invalid eps -1", function() optim.AdamW({ p }, { eps = -1 }) end)
    fails("RMSprop: invalid alpha -0.5", function() optim.RMSprop({ p }, { alpha = -0.5 }) end)
    fails("RMSprop: centered must be a boolean", function() optim.RMSprop({ p }, { centered = 1 }) end)
  end)

  it("refuses bad parameter lists", function()
    fails("SGD: params must be a list of tensors", function() optim.SGD(p, { lr = 1 }) end)
    fails("SGD: params must be a list of tensors", function() optim.SGD(42, { lr = 1 }) end)
    fails("SGD: got an empty parameter list", function() optim.SGD({}, { lr = 1 }) end)
    fails("SGD: parameter 2 is a string, not a tensor", function() optim.SGD({ p, "w" }, { lr = 1 }) end)
    fails("SGD: parameter 2 appears twice", function() optim.SGD({ p, p }, { lr = 1 }) end)
    fails("Adam: parameter 1 has dtype i64", function() optim.Adam({ ember.tensor({ 1, 2 }) }) end)
    local w = ember.zeros(2)
    w.requires_grad = true
    fails("SGD: parameter 1 is not a leaf tensor", function() optim.SGD({ w * 2 }, { lr = 1 }) end)
    fails("Adam: parameter 1 appears twice", function()
      optim.Adam({ { params = { p } }, { params = { p } } })
    end)
    fails("SGD: options must be a table", function() optim.SGD({ p }, "fast") end)
  end)

  it("refuses a state dict for other parameters", function()
    local a, b = ember.zeros(2), ember.zeros(3)
    local o1 = optim.SGD({ a, b }, { lr = 0.1, momentum = 0.9 })
    a.grad = ember.ones(2); b.grad = ember.ones(3)
    o1:step()
    fails("SGD: load_state_dict: parameter group 1 has 2 parameters in the state dict, 1 in the optimizer",
          function() optim.SGD({ a }, { lr = 0.1 }):load_state_dict(o1:state_dict()) end)
    fails("SGD: load_state_dict: the state dict has 1 parameter groups, the optimizer 2",
          function() optim.SGD({ { params = { a } }, { params = { b } } }, { lr = 0.1 }):load_state_dict(o1:state_dict()) end)
    fails("SGD: load_state_dict: momentum_buffer of parameter 1 has shape 2, the parameter has shape 3",
          function() optim.SGD({ b, a }, { lr = 0.1 }):load_state_dict(o1:state_dict()) end)
    fails("SGD: load_state_dict expects a table", function() optim.SGD({ a }, { lr = 0.1 }):load_state_dict(5) end)
  end)
end)
