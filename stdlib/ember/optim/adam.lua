-- adam.lua — Adam and AdamW, by PyTorch's update. With g the gradient (negated when
-- maximizing) and t the parameter's own step count:
--   Adam:  g = g + weight_decay * p            AdamW:  p = p * (1 - lr * weight_decay)
--   m = beta1 * m + (1 - beta1) * g
--   v = beta2 * v + (1 - beta2) * g * g         (amsgrad: vmax = max(vmax, v), used for v)
--   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
-- The state of each parameter is step (a number), exp_avg, exp_avg_sq and, with
-- amsgrad, max_exp_avg_sq.
local ember = require "ember"
local Optimizer = require "ember.optim.optimizer"

local function check(name, g)
  Optimizer.check_number(name, g, "lr", 0)
  Optimizer.check_number(name, g, "eps", 0)
  Optimizer.check_number(name, g, "weight_decay", 0)
  Optimizer.check_bool(name, g, "amsgrad")
  Optimizer.check_bool(name, g, "maximize")
  local b = g.betas
  if type(b) ~= "table" or #b ~= 2 or type(b[1]) ~= "number" or type(b[2]) ~= "number" then
    error(name .. ": betas must be a list of two numbers like {0.9, 0.999}", 0)
  end
  for i = 1, 2 do
    if not (b[i] >= 0 and b[i] < 1) then
      error(string.format("%s: invalid beta %d: %s (must be in [0, 1))", name, i, tostring(b[i])), 0)
    end
  end
end

-- The single-op update of p from gradient g (already negated when maximizing).
local function composed(p, g, s, step, group, decoupled)
  local lr, eps, wd = group.lr, group.eps, group.weight_decay
  local beta1, beta2 = group.betas[1], group.betas[2]
  if decoupled then
    if wd ~= 0 then p:mul_(1 - lr * wd) end
  elseif wd ~= 0 then
    g = g:add(p, wd)
  end
  s.exp_avg:mul_(beta1):add_(g, 1 - beta1)
  local v = s.exp_avg_sq:mul_(beta2):add_(g * g, 1 - beta2)
  if group.amsgrad then
    v = ember.maximum(s.max_exp_avg_sq, v)
    s.max_exp_avg_sq = v
  end
  local step_size = lr / (1 - beta1 ^ step)
  local denom = v:sqrt():div_(math.sqrt(1 - beta2 ^ step)):add_(eps)
  p:add_(s.exp_avg / denom, -step_size)
end

-- Each parameter takes one fused op (p:adam_step_, one pass) while its tensors allow
-- it (contiguous f32 or f64); the first refusal sends it to the single ops for good.
local unfused = setmetatable({}, { __mode = "k" })

local function make_update(decoupled)
  return function(self, group)
    local lr, eps, wd = group.lr, group.eps, group.weight_decay
    local beta1, beta2 = group.betas[1], group.betas[2]
    local amsgrad, maximize = group.amsgrad, group.maximize
    local state = self.state
    for _, p in ipairs(group.params) do
      local g = p.grad
      if g ~= nil then
        local s = state[p]
        if s == nil then
          s = { step = 0, exp_avg = ember.zeros_like(p), exp_avg_sq = ember.zeros_like(p) }
          state[p] = s
        end
        if amsgrad and s.max_exp_avg_sq == nil then s.max_exp_avg_sq = ember.zeros_like(p) end
        local step = s.step + 1
        s.step = step
        local done = false
        if not unfused[p] then
          done = pcall(p.adam_step_, p, g, s.exp_avg, s.exp_avg_sq, amsgrad and s.max_exp_avg_sq or nil,
                       lr, beta1, beta2, eps, wd, step, maximize, decoupled)
          if not done then unfused[p] = true end
        end
        if not done then composed(p, maximize and g:neg() or g, s, step, group, decoupled) end
      end
    end
  end
end

local function defaults(weight_decay)
  return { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = weight_decay,
           amsgrad = false, maximize = false }
end

return {
  Adam = Optimizer.class("Adam", defaults(0), check, make_update(false)),
  AdamW = Optimizer.class("AdamW", defaults(1e-2), check, make_update(true)),
}
