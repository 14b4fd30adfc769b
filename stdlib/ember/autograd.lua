-- autograd.lua — differentiable functions written in Lua.
--
--   local Exp = ember.autograd.Function{
--     forward = function(ctx, x) local y = x:exp(); ctx:save_for_backward(y); return y end,
--     backward = function(ctx, gy) local y = ctx.saved_tensors[1]; return gy * y end,
--   }
--   local y = Exp(x)          -- or Exp.apply(x)
--
-- forward runs with grad mode off and gets the arguments as given (tensors, numbers,
-- anything); it returns one or more tensors. backward gets one gradient per output
-- (nil for an output no gradient reached) and returns one value per forward argument:
-- a gradient for each tensor argument (nil for none), anything for the others.
-- ctx.needs_input_grad[i] tells whether argument i wants a gradient.
local ember = require "ember"
local autograd = ember.autograd

local Ctx = {}
Ctx.__index = Ctx

-- Saved tensors are kept without their history, so a saved output does not keep its
-- own graph alive through this context.
function Ctx:save_for_backward(...)
  local saved = table.pack(...)
  for i = 1, saved.n do
    if ember.is_tensor(saved[i]) then saved[i] = saved[i]:detach() end
  end
  self.saved_tensors = saved
end

function Ctx:mark_non_differentiable(...)
  self.non_differentiable = self.non_differentiable or {}
  for _, t in ipairs({ ... }) do self.non_differentiable[t] = true end
end

local function apply(def, ...)
  local args = table.pack(...)
  local ctx = setmetatable({ needs_input_grad = {} }, Ctx)
  local inputs, positions = {}, {}
  for i = 1, args.n do
    local a = args[i]
    local is_t = ember.is_tensor(a)
    ctx.needs_input_grad[i] = is_t and a.requires_grad or false
    if is_t then
      inputs[#inputs + 1] = a
      positions[#positions + 1] = i
    end
  end
  local outs = table.pack(ember.no_grad(def.forward, ctx, ...))
  local linked = {}
  for k = 1, outs.n do
    local o = outs[k]
    if not ember.is_tensor(o) then
      error(string.format("%s: forward must return tensors; result %d is a %s", def.name, k, type(o)), 2)
    end
    for _, x in ipairs(inputs) do      -- an input returned as is: link a fresh alias
      if rawequal(o, x) then o = o:detach(); outs[k] = o; break end
    end
    if ctx.non_differentiable and ctx.non_differentiable[outs[k]] then o = o:detach(); outs[k] = o end
    linked[k] = o
  end
  autograd._link(def.name, inputs, linked, function(...)
    local r = table.pack(def.backward(ctx, ...))
    local grads = {}
    for j, pos in ipairs(positions) do
      local g = r[pos]
      grads[j] = ember.is_tensor(g) and g or nil
    end
    return table.unpack(grads, 1, #positions)
  end)
  return table.unpack(outs, 1, outs.n)
end

function autograd.Function(def)
  assert(type(def) == "table" and type(def.forward) == "function" and type(def.backward) == "function",
         "ember.autograd.Function{forward = function(ctx, ...), backward = function(ctx, ...)}")
  def.name = def.name or "Function"
  local F = { forward = def.forward, backward = def.backward, name = def.name }
  function F.apply(...) return apply(def, ...) end
  return setmetatable(F, { __call = function(_, ...) return apply(def, ...) end })
end

-- ember.autograd.backward(tensors, grads): backward from several roots, in order
function autograd.backward(tensors, grads, retain_graph)
  if ember.is_tensor(tensors) then tensors, grads = { tensors }, { grads } end
  grads = grads or {}
  for i, t in ipairs(tensors) do
    t:backward(grads[i], retain_graph or i < #tensors)
  end
end

return autograd
