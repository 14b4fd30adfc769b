-- norm.lua — BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, GroupNorm.
--
-- Batch norm keeps PyTorch's buffers running_mean (zeros), running_var (ones) and
-- num_batches_tracked (an i64 0-dim count), so its state dict matches PyTorch's key for
-- key. In training the batch's statistics normalise and the running ones move by
-- momentum (0.1; momentum = false gives the cumulative average, PyTorch's None, since
-- nil means "the default" in Lua); in evaluation the running ones normalise.
local ember = require "ember"
local base = require "ember.nn.module"
local F = require "ember.nn.functional"

local Module, Parameter, options = base.Module, base.Parameter, base.options
local fmt = string.format
local raise = base.raise
local batch_norm, layer_norm = F.batch_norm, ember.layer_norm

local N = {}

local function shape_str(t) return table.concat(t:size(), "x") end

-- The affine parameters: weight (ones) and bias (zeros) of the given shape, each
-- registered as nil (PyTorch's None) where it is left out: both without affine, the
-- bias alone with bias = false (LayerNorm).
local function affine_params(self, affine, bias, shape, dtype)
  if affine then
    self.weight = Parameter(ember.ones(shape, dtype))
  else
    self:register_parameter("weight", nil)
  end
  if affine and bias then
    self.bias = Parameter(ember.zeros(shape, dtype))
  else
    self:register_parameter("bias", nil)
  end
end

-- {====== batch norm

local BatchNorm = Module:extend("_BatchNorm")
local bn_args = { "num_features", "eps", "momentum", "affine", "track_running_stats", "dtype" }

function BatchNorm:init(...)
  local who = self.__name
  local o = options(who, bn_args, ...)
  local c = o.num_features
  if math.type(c) ~= "integer" or c < 1 then
    raise(fmt("%s: num_features must be a positive integer, got %s", who, tostring(c)))
  end
  self.num_features = c
  self.eps = o.eps or 1e-5
  if o.momentum == nil then self.momentum = 0.1 else self.momentum = o.momentum end
  self.affine = o.affine ~= false
  self.track_running_stats = o.track_running_stats ~= false
  local dtype = o.dtype or "f32"
  affine_params(self, self.affine, true, c, dtype)
  if self.track_running_stats then
    self:register_buffer("running_mean", ember.zeros(c, dtype))
    self:register_buffer("running_var", ember.ones(c, dtype))
    self:register_buffer("num_batches_tracked", ember.zeros({}, "i64"))
  else
    self:register_buffer("running_mean", nil)
    self:register_buffer("running_var", nil)
    self:register_buffer("num_batches_tracked", nil)
  end
end

function BatchNorm:reset_running_stats()
  if self.track_running_stats then
    self.running_mean:zero_()
    self.running_var:fill_(1)
    self.num_batches_tracked:zero_()
  end
end

function BatchNorm:reset_parameters()
  self:reset_running_stats()
  if self.affine then
    ember.no_grad(function()
      self.weight:fill_(1)
      self.bias:zero_()
    end)
  end
end

function BatchNorm:forward(x)
  self:_check_input(x)
  local training = self.training
  local factor = self.momentum
  local rm, rv = self.running_mean, self.running_var
  if training and self.track_running_stats then
    local count = self.num_batches_tracked
    if count ~= nil then
      count:add_(1)
      if factor == false then factor = 1 / count:item() end
    end
  end
  if training and not self.track_running_stats then rm, rv = nil, nil end
  return batch_norm(x, rm, rv, self.weight, self.bias, training or rm == nil, factor, self.eps)
end

function BatchNorm:extra_repr()
  local m = self.momentum == false and "false" or tostring(self.momentum)
  return fmt("%d, eps=%g, momentum=%s, affine=%s, track_running_stats=%s", self.num_features, self.eps, m,
             tostring(self.affine), tostring(self.track_running_stats))
end

local function check_dims(self, x, ok, want)
  if not ember.is_tensor(x) then
    raise(fmt("%s: expected a tensor input, got %s", self.__name, type(x)))
  end
  local nd = x:dim()
  if not ok[nd] then
    raise(fmt("%s: expected %s input, got %s", self.__name, want, shape_str(x)))
  end
  if x:size(2) ~= self.num_features then
    raise(fmt("%s: expected %d channels (dim 2), got input %s", self.__name, self.num_features, shape_str(x)))
  end
end

local BatchNorm1d = BatchNorm:extend("BatchNorm1d")
local dims_1d = { [2] = true, [3] = true }
function BatchNorm1d:_check_input(x) check_dims(self, x, dims_1d, "a 2-D (N x C) or 3-D (N x C x L)") end
N.BatchNorm1d = BatchNorm1d

local BatchNorm2d = BatchNorm:extend("BatchNorm2d")
local dims_2d = { [4] = true }
function BatchNorm2d:_check_input(x) check_dims(self, x, dims_2d, "a 4-D (N x C x H x W)") end
N.BatchNorm2d = BatchNorm2d

local BatchNorm3d = BatchNorm:extend("BatchNorm3d")
local dims_3d = { [5] = true }
function BatchNorm3d:_check_input(x) check_dims(self, x, dims_3d, "a 5-D (N x C x D x H x W)") end
N.BatchNorm3d = BatchNorm3d

-- }======

-- {====== LayerNorm

-- LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=true, bias=true, dtype="f32"):
-- normalises over the last dims, which must be normalized_shape (a number or a list)
local LayerNorm = Module:extend("LayerNorm")
local ln_args = { "normalized_shape", "eps", "elementwise_affine", "bias", "dtype" }

function LayerNorm:init(...)
  local o = options("LayerNorm", ln_args, ...)
  local shape = o.normalized_shape
  if math.type(shape) == "integer" then shape = { shape } end
  if type(shape) ~= "table" or #shape == 0 then
    raise(fmt("LayerNorm: normalized_shape must be an integer or a list of them, got %s", tostring(shape)))
  end
  self.normalized_shape = { table.unpack(shape) }
  self.eps = o.eps or 1e-5
  self.elementwise_affine = o.elementwise_affine ~= false
  affine_params(self, self.elementwise_affine, o.bias ~= false, self.normalized_shape, o.dtype or "f32")
end

function LayerNorm:forward(x)
  return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
end

function LayerNorm:extra_repr()
  return fmt("{%s}, eps=%g, elementwise_affine=%s", table.concat(self.normalized_shape, ", "), self.eps,
             tostring(self.elementwise_affine))
end
N.LayerNorm = LayerNorm

-- }======

-- {====== GroupNorm

-- GroupNorm(num_groups, num_channels, eps=1e-5, affine=true, dtype="f32")
local GroupNorm = Module:extend("GroupNorm")
local gn_args = { "num_groups", "num_channels", "eps", "affine", "dtype" }

function GroupNorm:init(...)
  local o = options("GroupNorm", gn_args, ...)
  local g, c = o.num_groups, o.num_channels
  if math.type(g) ~= "integer" or math.type(c) ~= "integer" or g < 1 or c % g ~= 0 then
    raise(fmt("GroupNorm: num_channels %s must be divisible by num_groups %s", tostring(c), tostring(g)))
  end
  self.num_groups, self.num_channels = g, c
  self.eps = o.eps or 1e-5
  self.affine = o.affine ~= false
  affine_params(self, self.affine, true, c, o.dtype or "f32")
end

function GroupNorm:forward(x)
  if x:dim() < 2 or x:size(2) ~= self.num_channels then
    raise(fmt("GroupNorm: expected an input N x %d x ..., got %s", self.num_channels, shape_str(x)))
  end
  return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
end

function GroupNorm:extra_repr()
  return fmt("%d, %d, eps=%g, affine=%s", self.num_groups, self.num_channels, self.eps, tostring(self.affine))
end
N.GroupNorm = GroupNorm

-- }======

return N
