-- Vulkan cases of the view family: views move strides, not values, so on Vulkan they
-- are the cpu's own functions; these cases read the views back through kernels (a
-- copy, an add) to show every stride lands on the right element.
local ember = require "ember"
local V = require "vk_check"
local rand = V.rand

local cases, case = V.cases(5)
local x = rand({ 4, 6, 5 })

case { "view", function(a) return a:view(6, 20) + 0 end, { x } }
case { "reshape of a transposed tensor (copies)", function(a) return a:transpose(1, 3):reshape(5, 24) end, { x } }
case { "narrow", function(a) return a:narrow(2, 2, 3) * 1 end, { x } }
case { "select", function(a) return a:select(3, 4) + 0 end, { x } }
case { "slice with a step (t[{{}, {1, 6, 2}}])", function(a) return a[{ {}, { 1, 6, 2 } }] + 0 end, { x } }
case { "transpose", function(a) return a:transpose(1, 2) + 0 end, { x } }
case { "t", function(a) return a[1]:t() + 0 end, { x } }
case { "permute", function(a) return a:permute(3, 1, 2) + 0 end, { x } }
case { "expand", function(a) return a[{ {}, { 1, 1 }, {} }]:expand(4, 3, 5) + 0 end, { x } }
case { "expand_as", function(a, b) return a[{ {}, { 1, 1 }, {} }]:expand_as(b) + 0 end, { x, rand({ 4, 2, 5 }) } }
case { "squeeze", function(a) return a[{ {}, { 2, 2 }, {} }]:squeeze(2) + 0 end, { x } }
case { "unsqueeze", function(a) return a:unsqueeze(2) + 0 end, { x } }
case { "flatten", function(a) return a:flatten(2, 3) + 0 end, { x } }
case { "contiguous", function(a) return a:permute(2, 3, 1):contiguous() end, { x } }
case { "clone", function(a) return a[{ {}, { 2, 5, 3 } }]:clone() end, { x } }
case { "to f64 i64 f16 bool", function(a)
    return { a:to("f64"), (a * 10):to("i64"), a:to("f16"), a:gt(0):to("bool"), a:to("f64"):to("f32") }
  end, { x } }
case { "copy into a strided view", function(a, b) a[{ {}, 2 }]:copy_(b); return a end,
       { rand({ 4, 6 }), rand({ 4 }) } }
case { "copy converting and broadcasting", function(a, b) a:copy_(b); return a end,
       { ember.zeros(3, 4, { dtype = "i64" }), ember.tensor({ 1.5, -2.5, 3.7, 9.1 }) } }
case { "fill", function(a) a:fill_(3.25); return a end, { rand({ 3, 7 }) } }
case { "fill a transposed view", function(a) a:t()[2]:fill_(-1); return a end, { rand({ 3, 7 }) } }
case { "fill i64", function(a) a:fill_(7); return a end, { ember.zeros(9, { dtype = "i64" }) } }
case { "to moves a view's values only", function(a) return a[{ 2, { 2, 5 }, { 1, 5, 2 } }]:to("cpu"):to("vulkan") end, { x } }
return cases
