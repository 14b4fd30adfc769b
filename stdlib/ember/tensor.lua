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

function T:zero_() return self:fill_(0) end

function T:is_floating_point()
  local d = self:dtype()
  return d == "f32" or d == "f64" or d == "f16" or d == "bf16"
end

function T:element_size()
  local sizes = { f32 = 4, f64 = 8, f16 = 2, bf16 = 2, i8 = 1, i16 = 2, i32 = 4, i64 = 8,
                  u8 = 1, bool = 1 }
  return sizes[self:dtype()]
end

function T:shape() return self:size() end

-- How print(t) lays values out (stdlib/ember/format.lua): ember.set_printoptions{
-- threshold = 1000, edgeitems = 3, linewidth = 80}; returns the previous options.
function ember.set_printoptions(opts) return require("ember.format").set_options(opts) end

-- `repeat` is a Lua keyword, so t:repeat(2, 3) does not parse; Torch7's name works
T.repeatTensor = T["repeat"]

return T
