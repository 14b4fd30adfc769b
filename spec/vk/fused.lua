-- Vulkan cases of export's fused ops (host/ops/ops_fused.c, reached through ember._op):
-- fused_linear (the activation in the GEMM's epilogue: every activation, batch dims,
-- transposed weights, f64, f16 read as stored; with EMBER_VK_COOPMAT_EMULATE=1 the f16
-- cases run the cooperative-matrix kernel's epilogue), fused_conv2d (conv_fwd.comp's
-- store: every activation, groups, strides, f64), and fused_pointwise
-- (fused_pointwise.comp: every word, broadcasting, transposed and stepped inputs that
-- are copied dense first, numbers in the push constants, 0-dim device tensors, more
-- than 4 merged dims, seven device inputs, f64).
local ember = require "ember"
local V = require "vk_check"
local rand = V.rand

local cases, case = V.cases(23)

local fused_linear = ember._op("fused_linear")
local fused_conv2d = ember._op("fused_conv2d")
local fused_pointwise = ember._op("fused_pointwise")

local activations = { "none", "relu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid" }

-- {====== fused_linear

for _, act in ipairs(activations) do
  case { "fused_linear " .. act, function(x, w, b) return fused_linear(x, w, b, { activation = act }) end,
         { rand({ 37, 45 }), rand({ 29, 45 }, -0.3, 0.3), rand({ 29 }) } }
end
case { "fused_linear 3-D input, no bias, relu", function(x, w) return fused_linear(x, w, nil, { activation = "relu" }) end,
       { rand({ 3, 17, 20 }), rand({ 9, 20 }) } }
case { "fused_linear transposed weight, 1-D input, silu",
       function(x, w, b) return fused_linear(x, w:t(), b, { activation = "silu" }) end,
       { rand({ 33 }), rand({ 33, 70 }), rand({ 70 }) } }
case { "fused_linear f64 gelu", function(x, w, b) return fused_linear(x, w, b, { activation = "gelu" }) end,
       { rand({ 19, 40 }, -2, 2, "f64"), rand({ 11, 40 }, -0.3, 0.3, "f64"), rand({ 11 }, -1, 1, "f64") } }
case { "fused_linear f16 gelu_tanh (read as stored)",
       function(x, w, b) return fused_linear(x, w, b, { activation = "gelu_tanh" }) end,
       { rand({ 64, 96 }):to("f16"), rand({ 72, 96 }, -0.2, 0.2):to("f16"), rand({ 72 }):to("f16") }, tol = 1e-2 }

-- }======

-- {====== fused_conv2d

local function fconv(o) return function(x, w, b) return fused_conv2d(x, w, b, o) end end
for _, act in ipairs(activations) do
  case { "fused_conv2d " .. act, fconv { padding = 1, activation = act },
         { rand({ 2, 3, 7, 9 }), rand({ 4, 3, 3, 3 }), rand({ 4 }) } }
end
case { "fused_conv2d groups 2 stride 2 relu, no bias", function(x, w) return fused_conv2d(x, w, nil, { groups = 2, stride = 2, activation = "relu" }) end,
       { rand({ 2, 4, 9, 8 }), rand({ 6, 2, 3, 3 }) } }
case { "fused_conv2d unbatched dilation 2 sigmoid", fconv { dilation = 2, padding = 2, activation = "sigmoid" },
       { rand({ 3, 8, 7 }), rand({ 2, 3, 3, 3 }), rand({ 2 }) } }
case { "fused_conv2d f64 tanh", fconv { padding = 1, activation = "tanh" },
       { rand({ 1, 2, 6, 6 }, -2, 2, "f64"), rand({ 3, 2, 3, 3 }, -1, 1, "f64"), rand({ 3 }, -1, 1, "f64") } }

-- }======

-- {====== fused_pointwise

local function pw(code) return function(...)
  local args = table.pack(...)
  args[args.n + 1] = { code = code }
  return fused_pointwise(table.unpack(args, 1, args.n + 1))
end end

for _, w in ipairs({ "neg", "abs", "relu", "sigmoid", "tanh", "exp", "sin", "cos", "gelu",
                     "gelu_tanh", "silu", "square", "reciprocal" }) do
  case { "fused_pointwise " .. w, pw("%0 " .. w), { rand({ 300 }, -4, 4) } }
end
for _, w in ipairs({ "log", "sqrt", "rsqrt" }) do
  case { "fused_pointwise " .. w, pw("%0 " .. w), { rand({ 300 }, 0.01, 5) } }
end
for _, w in ipairs({ "add", "sub", "mul", "div", "maximum", "minimum" }) do
  case { "fused_pointwise " .. w, pw("%0 %1 " .. w), { rand({ 17, 13 }), rand({ 17, 13 }, 0.5, 2) } }
end
case { "fused_pointwise pow", pw("%0 %1 pow"), { rand({ 200 }, 0.1, 3), rand({ 200 }, -2, 2) } }
case { "fused_pointwise chain relu(a + b) * c", pw("%0 %1 add relu %2 mul"),
       { rand({ 33, 40 }), rand({ 33, 40 }), rand({ 33, 40 }) } }
case { "fused_pointwise broadcast rows and columns", pw("%0 %1 mul %2 add tanh"),
       { rand({ 6, 1, 50 }), rand({ 7, 1 }), rand({ 50 }) } }
case { "fused_pointwise transposed and stepped inputs (made dense)",
       function(a, b) return fused_pointwise(a:t(), b[{ { 1, 40, 2 }, {} }], { code = "%0 %1 sub %0 mul" }) end,
       { rand({ 30, 20 }), rand({ 40, 30 }) } }
case { "fused_pointwise numbers in the push constants",
       function(a) return fused_pointwise(a, ember.tensor(2.5), ember.tensor(-1), { code = "%1 %0 mul %2 add exp" }) end,
       { rand({ 5, 9 }) } }
case { "fused_pointwise 0-dim device tensor", pw("%0 %1 div"), { rand({ 4, 4 }), ember.tensor(3.0) } }
case { "fused_pointwise all 0-dim", pw("%0 %1 sub %0 mul"), { ember.tensor(1.5), ember.tensor(0.25) } }
case { "fused_pointwise 5 merged dims (all made dense)", pw("%0 %1 add"),
       { rand({ 2, 3, 2, 3, 2 }), rand({ 2, 1, 2, 1, 2 }) } }
case { "fused_pointwise seven inputs and a number",
       function(a, b, c, d, e, f, g)
         return fused_pointwise(a, b, c, d, e, f, g, ember.tensor(0.5),
                                { code = "%0 %1 add %2 mul %3 sub %4 maximum %5 minimum %6 add %7 mul" })
       end,
       { rand({ 64 }), rand({ 64 }), rand({ 64 }), rand({ 64 }), rand({ 64 }), rand({ 64 }), rand({ 64 }) } }
case { "fused_pointwise f64", pw("%0 log %1 cos mul %0 sqrt add"),
       { rand({ 40 }, 0.1, 3, "f64"), rand({ 40 }, -3, 3, "f64") } }
case { "fused_pointwise f64 with an f64 number", function(a) return fused_pointwise(a, ember.tensor(0.3, "f64"), { code = "%0 %1 pow" }) end,
       { rand({ 40 }, 0.1, 3, "f64") } }
case { "fused_pointwise 70000 elements", pw("%0 %1 mul sigmoid"), { rand({ 70000 }), rand({ 70000 }) } }
case { "fused_pointwise empty", pw("%0 %1 add"), { rand({ 0, 3 }), rand({ 3 }) } }

-- }======

return cases
