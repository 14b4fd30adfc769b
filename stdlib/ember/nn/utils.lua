-- utils.lua — nn.utils: gradient clipping and parameters as one flat vector.
local ember = require "ember"

local U = {}

local fmt = string.format
local raise = require("ember.nn.module").raise

-- a list of tensors from a list, a single tensor, or a module's parameters
local function tensor_list(params, who)
  if ember.is_tensor(params) then return { params } end
  if type(params) == "table" and rawget(params, "_reg") ~= nil then return params:parameters() end
  if type(params) ~= "table" then
    raise(fmt("%s: expected a list of tensors, a tensor or a Module, got %s", who, type(params)))
  end
  return params
end

-- clip_grad_norm_(parameters, max_norm, norm_type=2, error_if_nonfinite=false): scales
-- every gradient by min(1, max_norm / (total + 1e-6)), where total is the norm of all
-- gradients taken as one vector (norm_type may be math.huge); returns total as a 0-dim
-- tensor. Parameters without a gradient are left out.
function U.clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)
  local params = tensor_list(parameters, "clip_grad_norm_")
  if type(max_norm) ~= "number" then
    raise(fmt("clip_grad_norm_: max_norm must be a number, got %s", type(max_norm)))
  end
  norm_type = norm_type or 2
  return ember.no_grad(function()
    local grads = {}
    for _, p in ipairs(params) do
      local g = p.grad
      if g ~= nil then grads[#grads + 1] = g end
    end
    if #grads == 0 then return ember.zeros({}) end
    local total
    if norm_type == math.huge then
      local maxes = {}
      for i, g in ipairs(grads) do maxes[i] = g:abs():max() end
      total = #maxes == 1 and maxes[1] or ember.stack(maxes):max()
    else
      local norms = {}
      for i, g in ipairs(grads) do norms[i] = g:norm(norm_type) end
      total = #norms == 1 and norms[1] or ember.stack(norms):norm(norm_type)
    end
    if error_if_nonfinite then
      local v = total:item()
      if v ~= v or v == math.huge then
        raise(fmt("clip_grad_norm_: the total norm of order %g of the gradients is non-finite", norm_type))
      end
    end
    local coef = (max_norm / (total + 1e-6)):clamp(nil, 1)
    for _, g in ipairs(grads) do g:mul_(coef) end
    return total
  end)
end

-- clip_grad_value_(parameters, clip_value): every gradient clamped to [-v, v] in place
function U.clip_grad_value_(parameters, clip_value)
  local params = tensor_list(parameters, "clip_grad_value_")
  ember.no_grad(function()
    for _, p in ipairs(params) do
      local g = p.grad
      if g ~= nil then g:clamp_(-clip_value, clip_value) end
    end
  end)
end

-- parameters_to_vector(parameters): one 1-D tensor of every parameter, in order
function U.parameters_to_vector(parameters)
  local params = tensor_list(parameters, "parameters_to_vector")
  local flat = {}
  for i, p in ipairs(params) do flat[i] = p:reshape(-1) end
  return ember.cat(flat, 1)
end

-- vector_to_parameters(vec, parameters): copies consecutive slices of vec into them
function U.vector_to_parameters(vec, parameters)
  local params = tensor_list(parameters, "vector_to_parameters")
  local total = 0
  for _, p in ipairs(params) do total = total + p:numel() end
  if vec:dim() ~= 1 or vec:numel() ~= total then
    raise(fmt("vector_to_parameters: expected a vector of %d values, got %s", total,
              table.concat(vec:size(), "x")))
  end
  ember.no_grad(function()
    local at = 1
    for _, p in ipairs(params) do
      local n = p:numel()
      p:copy_(vec:narrow(1, at, n):view(p:size()))
      at = at + n
    end
  end)
end

return U
