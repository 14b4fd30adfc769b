-- initializers.lua — nn.init: in-place weight initialisations with PyTorch's formulas.
--
-- Each function fills its tensor in place (under no_grad, so parameters may be given)
-- from ember's seeded generator and returns it. Fan-in and fan-out follow PyTorch:
-- for a weight out x in x k1 x k2 ..., fan_in = in * k1 * k2 ..., fan_out = out * k1 * k2 ...
-- (a ConvTranspose2d weight, in x out/groups x kh x kw, so gets fan_in = out/groups * kh * kw).
local ember = require "ember"

local init = {}

local fmt = string.format
local raise = require("ember.nn.module").raise
local sqrt = math.sqrt

local function check(t, who)
  if not ember.is_tensor(t) then raise(fmt("nn.init.%s: expected a tensor, got %s", who, type(t))) end
  if not t:is_floating_point() then
    raise(fmt("nn.init.%s: expected a floating tensor, got %s", who, t:dtype()))
  end
end

local function fill(t, f)
  ember.no_grad(function()
    if t:numel() > 0 then t:copy_(f()) end
  end)
  return t
end

-- calculate_gain(nonlinearity, param): the factor that keeps activations' variance
function init.calculate_gain(nonlinearity, param)
  local linear = { linear = true, conv1d = true, conv2d = true, conv3d = true, conv_transpose1d = true,
                   conv_transpose2d = true, conv_transpose3d = true, sigmoid = true }
  if linear[nonlinearity] then return 1 end
  if nonlinearity == "tanh" then return 5 / 3 end
  if nonlinearity == "relu" then return sqrt(2) end
  if nonlinearity == "selu" then return 3 / 4 end
  if nonlinearity == "leaky_relu" then
    local slope = param
    if slope == nil then slope = 0.01 end
    if type(slope) ~= "number" then
      raise(fmt("nn.init.calculate_gain: negative_slope %s is not a number", tostring(param)))
    end
    return sqrt(2 / (1 + slope * slope))
  end
  raise(fmt("nn.init.calculate_gain: unsupported nonlinearity '%s'", tostring(nonlinearity)))
end

-- fan_in, fan_out of a tensor with at least 2 dims
function init.calculate_fan_in_and_fan_out(t)
  local size = t:size()
  if #size < 2 then
    raise(fmt("nn.init: fan in and fan out need at least 2 dims, got a tensor of %d", #size))
  end
  local receptive = 1
  for d = 3, #size do receptive = receptive * size[d] end
  return size[2] * receptive, size[1] * receptive
end

local function fan(t, mode, who)
  local fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
  mode = mode or "fan_in"
  if mode == "fan_in" then return fan_in end
  if mode == "fan_out" then return fan_out end
  raise(fmt("nn.init.%s: mode must be 'fan_in' or 'fan_out', got %s", who, tostring(mode)))
end

function init.uniform_(t, a, b)
  check(t, "uniform_")
  a, b = a or 0, b or 1
  return fill(t, function() return ember.rand(t:size(), t:dtype()) * (b - a) + a end)
end

function init.normal_(t, mean, std)
  check(t, "normal_")
  mean, std = mean or 0, std or 1
  return fill(t, function() return ember.randn(t:size(), t:dtype()) * std + mean end)
end

-- normal(mean, std) redrawn outside [a, b] (truncated normal)
function init.trunc_normal_(t, mean, std, a, b)
  check(t, "trunc_normal_")
  mean, std, a, b = mean or 0, std or 1, a or -2, b or 2
  return fill(t, function()
    local r = ember.randn(t:size(), t:dtype()) * std + mean
    local bad = r:lt(a):logical_or(r:gt(b))
    while bad:any():item() do
      r = ember.where(bad, ember.randn(t:size(), t:dtype()) * std + mean, r)
      bad = r:lt(a):logical_or(r:gt(b))
    end
    return r
  end)
end

function init.constant_(t, v)
  if not ember.is_tensor(t) then raise(fmt("nn.init.constant_: expected a tensor, got %s", type(t))) end
  ember.no_grad(function() t:fill_(v) end)
  return t
end

function init.zeros_(t) return init.constant_(t, 0) end
function init.ones_(t) return init.constant_(t, 1) end

function init.xavier_uniform_(t, gain)
  check(t, "xavier_uniform_")
  local fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
  local bound = sqrt(3) * (gain or 1) * sqrt(2 / (fan_in + fan_out))
  return init.uniform_(t, -bound, bound)
end

function init.xavier_normal_(t, gain)
  check(t, "xavier_normal_")
  local fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
  return init.normal_(t, 0, (gain or 1) * sqrt(2 / (fan_in + fan_out)))
end

-- kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"): U(-bound, bound),
-- bound = gain * sqrt(3 / fan)
function init.kaiming_uniform_(t, a, mode, nonlinearity)
  check(t, "kaiming_uniform_")
  local n = fan(t, mode, "kaiming_uniform_")
  if n == 0 then return t end
  local gain = init.calculate_gain(nonlinearity or "leaky_relu", a or 0)
  local bound = sqrt(3) * gain / sqrt(n)
  return init.uniform_(t, -bound, bound)
end

function init.kaiming_normal_(t, a, mode, nonlinearity)
  check(t, "kaiming_normal_")
  local n = fan(t, mode, "kaiming_normal_")
  if n == 0 then return t end
  local gain = init.calculate_gain(nonlinearity or "leaky_relu", a or 0)
  return init.normal_(t, 0, gain / sqrt(n))
end

-- The default of Linear and the convolutions: kaiming_uniform_ with a = sqrt(5) on the
-- weight (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and the bias from the same bound.
function init.default_layer_(weight, bias)
  init.kaiming_uniform_(weight, sqrt(5))
  if bias ~= nil then
    local fan_in = init.calculate_fan_in_and_fan_out(weight)
    local bound = fan_in > 0 and 1 / sqrt(fan_in) or 0
    init.uniform_(bias, -bound, bound)
  end
end

return init
