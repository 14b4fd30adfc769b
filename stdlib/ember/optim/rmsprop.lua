-- rmsprop.lua — RMSprop, by PyTorch's update. With g the gradient (negated when
-- maximizing) plus weight_decay * p:
--   v = alpha * v + (1 - alpha) * g * g
--   centered: a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a * a) + eps
--   else:     avg = sqrt(v) + eps
--   momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
--   else:         p = p - lr * g / avg
-- The state of each parameter is step, square_avg, and grad_avg (centered) and
-- momentum_buffer (momentum > 0).
local ember = require "ember"
local Optimizer = require "ember.optim.optimizer"

local defaults = {
  lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false,
  maximize = false,
}

local function check(name, g)
  Optimizer.check_number(name, g, "lr", 0)
  Optimizer.check_number(name, g, "alpha", 0)
  Optimizer.check_number(name, g, "eps", 0)
  Optimizer.check_number(name, g, "weight_decay", 0)
  Optimizer.check_number(name, g, "momentum", 0)
  Optimizer.check_bool(name, g, "centered")
  Optimizer.check_bool(name, g, "maximize")
end

local function update(self, group)
  local lr, alpha, eps, wd = group.lr, group.alpha, group.eps, group.weight_decay
  local momentum, centered, maximize = group.momentum, group.centered, group.maximize
  local state = self.state
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g ~= nil then
      if maximize then g = g:neg() end
      local s = state[p]
      if s == nil then
        s = { step = 0, square_avg = ember.zeros_like(p) }
        state[p] = s
      end
      s.step = s.step + 1
      if wd ~= 0 then g = g:add(p, wd) end
      local v = s.square_avg:mul_(alpha):add_(g * g, 1 - alpha)
      local avg
      if centered then
        local a = s.grad_avg
        if a == nil then a = ember.zeros_like(p); s.grad_avg = a end
        a:mul_(alpha):add_(g, 1 - alpha)
        avg = v:add(a * a, -1):sqrt_()
      else
        avg = v:sqrt()
      end
      avg:add_(eps)
      if momentum > 0 then
        local buf = s.momentum_buffer
        if buf == nil then buf = ember.zeros_like(p); s.momentum_buffer = buf end
        buf:mul_(momentum):add_(g / avg)
        p:add_(buf, -lr)
      else
        p:add_(g / avg, -lr)
      end
    end
  end
end

return Optimizer.class("RMSprop", defaults, check, update)
