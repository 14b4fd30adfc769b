-- conv.lua — Conv2d and ConvTranspose2d (images N x C x H x W, or C x H x W unbatched).
--
-- Sizes are kept as pairs {h, w} on the module and passed to the ops as they are, so a
-- forward makes no tables. Weights: Conv2d out x in/groups x kh x kw, ConvTranspose2d
-- in x out/groups x kh x kw (PyTorch's layouts), both initialised by PyTorch's default.
local ember = require "ember"
local base = require "ember.nn.module"
local init = require "ember.nn.initializers"
local F = require "ember.nn.functional"

local Module, Parameter, options = base.Module, base.Parameter, base.options
local fmt = string.format
local raise = base.raise
local conv2d, conv_transpose2d = ember.conv2d, ember.conv_transpose2d

local C = {}

local function pair(v, who, what)
  if math.type(v) == "integer" then return { v, v } end
  if type(v) == "table" and #v == 2 and math.type(v[1]) == "integer" and math.type(v[2]) == "integer" then
    return { v[1], v[2] }
  end
  raise(fmt("%s: %s must be an integer or a pair {h, w}, got %s", who, what, tostring(v)))
end

local function pair_str(p) return fmt("(%d, %d)", p[1], p[2]) end

local function check_channels(who, in_ch, out_ch, groups)
  if math.type(in_ch) ~= "integer" or in_ch < 1 then
    raise(fmt("%s: in_channels must be a positive integer, got %s", who, tostring(in_ch)))
  end
  if math.type(out_ch) ~= "integer" or out_ch < 1 then
    raise(fmt("%s: out_channels must be a positive integer, got %s", who, tostring(out_ch)))
  end
  if math.type(groups) ~= "integer" or groups < 1 or in_ch % groups ~= 0 or out_ch % groups ~= 0 then
    raise(fmt("%s: in_channels %d and out_channels %d must both be divisible by groups %s", who, in_ch,
              out_ch, tostring(groups)))
  end
end

-- A bias of n entries unless bias = false, which registers it as nil (PyTorch's None).
local function optional_bias(self, bias, n, dtype)
  if bias ~= false then
    self.bias = Parameter(ember.empty(n, dtype))
  else
    self:register_parameter("bias", nil)
  end
end

local padding_modes = { zeros = true, reflect = true, replicate = true, circular = true }

-- {====== Conv2d

-- Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
-- groups=1, bias=true, padding_mode="zeros", dtype="f32"); padding may be "valid" or
-- "same" (stride 1); padding_mode "reflect", "replicate" or "circular" pads the input
-- that way first.
local Conv2d = Module:extend("Conv2d")
local conv_args = { "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                    "groups", "bias", "padding_mode", "dtype" }

function Conv2d:init(...)
  local o = options("Conv2d", conv_args, ...)
  local groups = o.groups or 1
  check_channels("Conv2d", o.in_channels, o.out_channels, groups)
  self.in_channels, self.out_channels, self.groups = o.in_channels, o.out_channels, groups
  self.kernel_size = pair(o.kernel_size, "Conv2d", "kernel_size")
  self.stride = pair(o.stride or 1, "Conv2d", "stride")
  self.dilation = pair(o.dilation or 1, "Conv2d", "dilation")
  local padding = o.padding or 0
  self.padding_mode = o.padding_mode or "zeros"
  if not padding_modes[self.padding_mode] then
    raise(fmt("Conv2d: padding_mode must be zeros, reflect, replicate or circular, got %s",
              tostring(self.padding_mode)))
  end
  local kh, kw = self.kernel_size[1], self.kernel_size[2]
  local dh, dw = self.dilation[1], self.dilation[2]
  if padding == "same" then
    if self.stride[1] ~= 1 or self.stride[2] ~= 1 then
      raise("Conv2d: padding='same' is not supported for strided convolutions")
    end
    local th, tw = dh * (kh - 1), dw * (kw - 1)
    self.padding = "same"
    self._pads = { tw // 2, tw - tw // 2, th // 2, th - th // 2 }
  elseif padding == "valid" then
    self.padding = "valid"
    self._pads = { 0, 0, 0, 0 }
  else
    self.padding = pair(padding, "Conv2d", "padding")
    self._pads = { self.padding[2], self.padding[2], self.padding[1], self.padding[1] }
  end
  -- the padding the op does itself; the rest (asymmetric "same", other modes) is
  -- done by pad first
  local p = self._pads
  if self.padding_mode == "zeros" and p[1] == p[2] and p[3] == p[4] then
    self._conv_padding, self._pre_pad = { p[3], p[1] }, nil
  else
    self._conv_padding, self._pre_pad = 0, p
  end
  local dtype = o.dtype or "f32"
  self.weight = Parameter(ember.empty(o.out_channels, o.in_channels // groups, kh, kw, dtype))
  optional_bias(self, o.bias, o.out_channels, dtype)
  self:reset_parameters()
end

function Conv2d:reset_parameters() init.default_layer_(self.weight, self.bias) end

function Conv2d:forward(x)
  local pre = self._pre_pad
  if pre ~= nil then
    local mode = self.padding_mode
    x = F.pad(x, pre, mode == "zeros" and "constant" or mode)
  end
  return conv2d(x, self.weight, self.bias, self.stride, self._conv_padding, self.dilation, self.groups)
end

function Conv2d:extra_repr()
  local s = fmt("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.out_channels,
                pair_str(self.kernel_size), pair_str(self.stride))
  if type(self.padding) == "string" then s = s .. ", padding=" .. self.padding
  elseif self.padding[1] ~= 0 or self.padding[2] ~= 0 then s = s .. ", padding=" .. pair_str(self.padding) end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. pair_str(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  if self.padding_mode ~= "zeros" then s = s .. ", padding_mode=" .. self.padding_mode end
  return s
end
C.Conv2d = Conv2d

-- }======

-- {====== ConvTranspose2d

-- ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
-- output_padding=0, groups=1, bias=true, dilation=1, dtype="f32")
local ConvTranspose2d = Module:extend("ConvTranspose2d")
local convt_args = { "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
                     "groups", "bias", "dilation", "padding_mode", "dtype" }

function ConvTranspose2d:init(...)
  local o = options("ConvTranspose2d", convt_args, ...)
  local groups = o.groups or 1
  check_channels("ConvTranspose2d", o.in_channels, o.out_channels, groups)
  if o.padding_mode ~= nil and o.padding_mode ~= "zeros" then
    raise("ConvTranspose2d: only padding_mode 'zeros' is supported")
  end
  self.in_channels, self.out_channels, self.groups = o.in_channels, o.out_channels, groups
  self.kernel_size = pair(o.kernel_size, "ConvTranspose2d", "kernel_size")
  self.stride = pair(o.stride or 1, "ConvTranspose2d", "stride")
  self.padding = pair(o.padding or 0, "ConvTranspose2d", "padding")
  self.output_padding = pair(o.output_padding or 0, "ConvTranspose2d", "output_padding")
  self.dilation = pair(o.dilation or 1, "ConvTranspose2d", "dilation")
  local dtype = o.dtype or "f32"
  self.weight = Parameter(ember.empty(o.in_channels, o.out_channels // groups, self.kernel_size[1],
                                      self.kernel_size[2], dtype))
  optional_bias(self, o.bias, o.out_channels, dtype)
  self:reset_parameters()
end

ConvTranspose2d.reset_parameters = Conv2d.reset_parameters

function ConvTranspose2d:forward(x)
  return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                          self.groups, self.dilation)
end

function ConvTranspose2d:extra_repr()
  local s = fmt("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.out_channels,
                pair_str(self.kernel_size), pair_str(self.stride))
  if self.padding[1] ~= 0 or self.padding[2] ~= 0 then s = s .. ", padding=" .. pair_str(self.padding) end
  if self.output_padding[1] ~= 0 or self.output_padding[2] ~= 0 then
    s = s .. ", output_padding=" .. pair_str(self.output_padding)
  end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. pair_str(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end
C.ConvTranspose2d = ConvTranspose2d

-- }======

return C
