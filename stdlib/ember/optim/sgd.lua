-- sgd.lua — stochastic gradient descent with momentum, dampening, Nesterov momentum,
-- L2 weight decay and maximize, by PyTorch's update:
--   d = g (+ weight_decay * p)                    with g = -grad when maximizing
--   buf = d on the first step, else momentum * buf + (1 - dampening) * d
--   d = d + momentum * buf (Nesterov) or buf
--   p = p - lr * d
-- Per parameter that is one op call without momentum and three with it.
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

local function update(self, group)
  local lr, momentum, dampening = group.lr, group.momentum, group.dampening
  local wd, nesterov, maximize = group.weight_decay, group.nesterov, group.maximize
  local state = self.state
  for _, p in ipairs(group.params) do
    local d = p.grad
    if d ~= nil then
      if maximize then d = d:neg() end
      if wd ~= 0 then d = d:add(p, wd) end
      if momentum ~= 0 then
        local s = state[p]
        local buf = s and s.momentum_buffer
        if buf == nil then
          buf = d:clone()
          if s then s.momentum_buffer = buf else state[p] = { momentum_buffer = buf } end
        else
          buf:mul_(momentum):add_(d, 1 - dampening)
        end
        if nesterov then d = d:add(buf, momentum) else d = buf end
      end
      p:add_(d, -lr)
    end
  end
end

return Optimizer.class("SGD", defaults, check, update)
