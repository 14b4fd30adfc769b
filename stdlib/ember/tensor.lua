-- tensor.lua — tensor methods written in Lua: conversions by Torch7's names and
-- small conveniences over the op table. Loaded by the C module when it opens.
local ember = require "ember"
local T = ember.Tensor

local conversions = {
  float = "f32", double = "f64", half = "f16", bfloat16 = "bf16", char = "i8",
  short = "i16", int = "i32", long = "i64", byte = "u8", bool = "bool",
}
for name, dtype in pairs(conversions) do
  T[name] = function(self) return self:to(dtype) end
end

-- t:to("vulkan"), t:to("f16"), t:to("f16", "vulkan"), t:to{dtype =, device =}: the op
-- takes a dtype first; a device name goes by name
local to = T.to
local devices = { cpu = true, vulkan = true }
function T:to(a, b)
  if type(a) == "string" and devices[a] then return to(self, { device = a, dtype = b }) end
  if type(b) == "string" then return to(self, { dtype = a, device = b }) end
  return to(self, a)
end
function T:cpu() return self:to("cpu") end
function T:vulkan() return self:to("vulkan") end

function T:zero_() return self:fill_(0) end

local floating = { f32 = true, f64 = true, f16 = true, bf16 = true, f8_e4m3 = true,
                   f8_e5m2 = true, f8_e8m0 = true, f8_e4m3fnuz = true, f8_e5m2fnuz = true,
                   f6_e2m3 = true, f6_e3m2 = true, f4 = true }

function T:is_floating_point() return floating[self:dtype()] == true end
function T:is_complex() return self:dtype() == "c64" end

-- bytes per element; the packed dtypes take a fraction of a byte
local sizes = { f32 = 4, f64 = 8, f16 = 2, bf16 = 2, i8 = 1, i16 = 2, i32 = 4, i64 = 8,
                u8 = 1, bool = 1, u16 = 2, u32 = 4, u64 = 8, c64 = 8, f8_e4m3 = 1,
                f8_e5m2 = 1, f8_e8m0 = 1, f8_e4m3fnuz = 1, f8_e5m2fnuz = 1,
                f6_e2m3 = 0.75, f6_e3m2 = 0.75, f4 = 0.5 }

function T:element_size() return sizes[self:dtype()] end

function T:shape() return self:size() end

-- How print(t) lays values out (stdlib/ember/format.lua): ember.set_printoptions{
-- threshold = 1000, edgeitems = 3, linewidth = 80}; returns the previous options.
function ember.set_printoptions(opts) return require("ember.format").set_options(opts) end

-- `repeat` is a Lua keyword, so t:repeat(2, 3) does not parse; Torch7's name works
T.repeatTensor = T["repeat"]

return T
