-- sgd.lua — stochastic gradient descent with momentum, dampening, Nesterov momentum,
-- L2 weight decay and maximize, by PyTorch's update:
--   d = g (+ weight_decay * p)                    with g = -grad when maximizing
--   buf = d on the first step, else momentum * buf + (1 - dampening) * d
--   d = d + momentum * buf (Nesterov) or buf
--   p = p - lr * d
-- Per parameter that is one fused op call (p:sgd_step_) when the tensors allow it.
local ember = require "ember"
local Optimizer = require "ember.optim.optimizer"

local defaults = {
  lr = Optimizer.required, momentum = 0, dampening = 0, weight_decay = 0,
  nesterov = false, maximize = false,
}

local function check(name, g)
  Optimizer.check_number(name, g, "lr", 0)
  Optimizer.check_number(name, g, "momentum", 0)
  Optimizer.check_number(name, g, "dampening", -math.huge)
  Optimizer.check_number(name, g, "weight_decay", 0)
  Optimizer.check_bool(name, g, "nesterov")
  Optimizer.check_bool(name, g, "maximize")
  if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
    error(name .. ": nesterov momentum needs a momentum > 0 and dampening 0", 0)
  end
end

-- The single-op update: d as above, from p, its grad and the group's options.
local function composed(p, d, s, momentum, dampening, wd, nesterov, maximize)
  if maximize then d = d:neg() end
  if wd ~= 0 then d = d:add(p, wd) end
  if momentum ~= 0 then
    local buf = s.momentum_buffer
    if buf == nil then
      buf = d:clone()
      s.momentum_buffer = buf
    else
      buf:mul_(momentum):add_(d, 1 - dampening)
    end
    if nesterov then d = d:add(buf, momentum) else d = buf end
  end
  return d
end

-- Each parameter takes one fused op (p:sgd_step_, one pass over memory) while its
-- tensors allow it: contiguous f32 or f64. The first refusal sends that parameter to
-- the single ops for good (unfused, weak keys); both compute the same update.
local unfused = setmetatable({}, { __mode = "k" })

local function update(self, group)
  local lr, momentum, dampening = group.lr, group.momentum, group.dampening
  local wd, nesterov, maximize = group.weight_decay, group.nesterov, group.maximize
  local state = self.state
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g ~= nil then
      local s = state[p]
      if s == nil and momentum ~= 0 then
        s = {}
        state[p] = s
      end
      local done = false
      if not unfused[p] then
        local buf, first = s and s.momentum_buffer, false
        if momentum ~= 0 and buf == nil then buf, first = ember.empty_like(p), true end
        done = pcall(p.sgd_step_, p, g, buf, lr, momentum, dampening, wd, nesterov, maximize, first)
        if done and first then s.momentum_buffer = buf end
        if not done then unfused[p] = true end
      end
      if not done then p:add_(composed(p, g, s or {}, momentum, dampening, wd, nesterov, maximize), -lr) end
    end
  end
end

return Optimizer.class("SGD", defaults, check, update)
