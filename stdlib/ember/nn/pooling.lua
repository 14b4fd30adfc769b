-- pooling.lua — MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (N x C x H x W or C x H x W).
local ember = require "ember"
local base = require "ember.nn.module"

local Module, options = base.Module, base.options
local fmt = string.format
local raise = base.raise
local max_pool2d, avg_pool2d, adaptive_avg_pool2d = ember.max_pool2d, ember.avg_pool2d, ember.adaptive_avg_pool2d

local P = {}

local function size_str(v)
  if type(v) == "table" then return "{" .. table.concat(v, ", ") .. "}" end
  return tostring(v)
end

-- MaxPool2d(kernel_size, stride=kernel_size, padding=0, dilation=1, return_indices=false,
-- ceil_mode=false)
local MaxPool2d = Module:extend("MaxPool2d")
local max_args = { "kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode" }

function MaxPool2d:init(...)
  local o = options("MaxPool2d", max_args, ...)
  if o.kernel_size == nil then raise("MaxPool2d: kernel_size is required") end
  if o.return_indices then raise("MaxPool2d: return_indices is not supported") end
  self.kernel_size = o.kernel_size
  self.stride = o.stride or o.kernel_size
  self.padding, self.dilation = o.padding or 0, o.dilation or 1
  self.ceil_mode = o.ceil_mode == true
end

function MaxPool2d:forward(x)
  return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
end

function MaxPool2d:extra_repr()
  return fmt("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s", size_str(self.kernel_size),
             size_str(self.stride), size_str(self.padding), size_str(self.dilation), tostring(self.ceil_mode))
end
P.MaxPool2d = MaxPool2d

-- AvgPool2d(kernel_size, stride=kernel_size, padding=0, ceil_mode=false,
-- count_include_pad=true, divisor_override)
local AvgPool2d = Module:extend("AvgPool2d")
local avg_args = { "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override" }

function AvgPool2d:init(...)
  local o = options("AvgPool2d", avg_args, ...)
  if o.kernel_size == nil then raise("AvgPool2d: kernel_size is required") end
  self.kernel_size = o.kernel_size
  self.stride = o.stride or o.kernel_size
  self.padding = o.padding or 0
  self.ceil_mode = o.ceil_mode == true
  self.count_include_pad = o.count_include_pad ~= false
  self.divisor_override = o.divisor_override
end

function AvgPool2d:forward(x)
  return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                    self.divisor_override)
end

function AvgPool2d:extra_repr()
  return fmt("kernel_size=%s, stride=%s, padding=%s", size_str(self.kernel_size), size_str(self.stride),
             size_str(self.padding))
end
P.AvgPool2d = AvgPool2d

-- AdaptiveAvgPool2d(output_size): output_size oh or {oh, ow}
local AdaptiveAvgPool2d = Module:extend("AdaptiveAvgPool2d")

function AdaptiveAvgPool2d:init(...)
  local output_size = options("AdaptiveAvgPool2d", { "output_size" }, ...).output_size
  if output_size == nil then raise("AdaptiveAvgPool2d: output_size is required") end
  self.output_size = output_size
end

function AdaptiveAvgPool2d:forward(x) return adaptive_avg_pool2d(x, self.output_size) end

function AdaptiveAvgPool2d:extra_repr() return "output_size=" .. size_str(self.output_size) end
P.AdaptiveAvgPool2d = AdaptiveAvgPool2d

return P
