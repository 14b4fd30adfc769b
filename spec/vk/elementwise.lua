-- Vulkan cases of the elementwise family: each op on contiguous, transposed, sliced
-- and broadcast inputs, odd sizes, every compute dtype (f32, f64, i64, bool), and the
-- f16/bf16 inputs the dispatcher casts around the kernels.
local ember = require "ember"
local V = require "vk_check"
local rand, randint = V.rand, V.randint

local cases, case = V.cases(7)

local function inputs2(shape_a, shape_b, lo, hi)
  return { rand(shape_a, lo, hi), rand(shape_b, lo, hi) }
end

-- binary arithmetic: plain, broadcast, transposed, sliced, f64, i64, numbers
for _, op in ipairs { "add", "sub", "mul", "div", "maximum", "minimum", "remainder", "floor_divide" } do
  local f = function(a, b) return ember[op](a, b) end
  case { op .. " 37", f, inputs2({ 37 }, { 37 }) }
  case { op .. " broadcast 5x1x7 by 3x1", f, inputs2({ 5, 1, 7 }, { 3, 1 }) }
  case { op .. " transposed", function(a, b) return ember[op](a:t(), b) end, inputs2({ 6, 9 }, { 9, 6 }) }
  case { op .. " sliced", function(a, b) return ember[op](a[{ {}, { 2, 8, 2 } }], b) end,
         inputs2({ 5, 9 }, { 5, 4 }) }
  case { op .. " f64", f, { rand({ 4, 5 }, -3, 3, "f64"), rand({ 5 }, 0.5, 3, "f64") } }
  case { op .. " number", function(a) return ember[op](a, 1.5) end, { rand({ 3, 4 }) } }
  if op ~= "div" then
    case { op .. " i64", f, { randint(-20, 20, { 4, 6 }), randint(1, 7, { 6 }) } }
  end
end
case { "add alpha", function(a, b) return ember.add(a, b, 2.5) end, inputs2({ 8 }, { 8 }) }
case { "sub alpha i64", function(a, b) return ember.sub(a, b, 3) end,
       { randint(-9, 9, { 8 }), randint(-9, 9, { 8 }) } }
case { "div trunc", function(a, b) return ember.div(a, b, "trunc") end, inputs2({ 20 }, { 20 }, -5, 5) }
case { "div floor", function(a, b) return ember.div(a, b, "floor") end, inputs2({ 20 }, { 20 }, -5, 5) }
case { "div floor i64", function(a, b) return ember.div(a, b, "floor") end,
       { randint(-50, 50, { 30 }), randint(1, 9, { 30 }) * -1 } }
case { "div i64 gives f32", function(a, b) return a / b end, { randint(-50, 50, { 9 }), randint(1, 9, { 9 }) } }
case { "pow", function(a, b) return ember.pow(a, b) end, { rand({ 12 }, 0.1, 3), rand({ 12 }, -2, 2) } }
case { "pow negative base integer exponents", function(a, b) return ember.pow(a, b) end,
       { rand({ 10 }, -3, -0.5), ember.tensor({ 0, 1, 2, 3, -1, -2, 4, 5, 0.5, 2 }) }, tol = 1e-5 }
case { "pow square", function(a) return a ^ 2 end, { rand({ 5, 5 }) } }
case { "pow i64", function(a, b) return ember.pow(a, b) end, { randint(-4, 4, { 12 }), randint(0, 5, { 12 }) } }
case { "remainder of negatives", function(a, b) return ember.remainder(a, b) end,
       { ember.tensor({ -7, 7, -7, 7, 5.5, -5.5 }), ember.tensor({ 3, -3, -3, 3, 2, 2 }) } }
case { "maximum NaN", function(a, b) return ember.maximum(a, b) end,
       { ember.tensor({ 0 / 0, 1, 2 }), ember.tensor({ 1, 0 / 0, 3 }) } }
case { "clamp numbers", function(a) return ember.clamp(a, -0.5, 0.5) end, { rand({ 7, 3 }) } }
case { "clamp min only", function(a) return ember.clamp(a, -0.5) end, { rand({ 11 }) } }
case { "clamp max only", function(a) return ember.clamp(a, nil, 0.25) end, { rand({ 11 }) } }
case { "clamp tensors", function(a, lo, hi) return ember.clamp(a, lo, hi) end,
       { rand({ 4, 5 }), rand({ 5 }, -1, 0), rand({ 4, 1 }, 0, 1) } }
case { "clamp i64", function(a) return ember.clamp(a, -3, 4) end, { randint(-9, 9, { 13 }) } }
case { "where", function(c, a, b) return ember.where(c, a, b) end,
       { function() return rand({ 4, 6 }):gt(0) end, rand({ 4, 6 }), rand({ 6 }) } }
case { "where numbers", function(c) return ember.where(c, 1.5, -2) end, { function() return rand({ 9 }):gt(0) end } }
case { "where i64", function(c, a, b) return ember.where(c, a, b) end,
       { function() return rand({ 9 }):gt(0) end, randint(0, 9, { 9 }), randint(0, 9, { 9 }) } }

-- unary
local unary_ranges = {
  neg = { -3, 3 }, abs = { -3, 3 }, sign = { -3, 3 }, relu = { -3, 3 }, floor = { -3, 3 },
  ceil = { -3, 3 }, round = { -3, 3 }, trunc = { -3, 3 }, sqrt = { 0, 9 }, rsqrt = { 0.1, 9 },
  exp = { -5, 5 }, log = { 0.01, 9 }, log1p = { -0.9, 9 }, expm1 = { -3, 3 }, sin = { -6, 6 },
  cos = { -6, 6 }, tanh = { -5, 5 }, sigmoid = { -8, 8 }, silu = { -6, 6 }, gelu = { -6, 6 },
  softplus = { -6, 6 },
}
local float_fn = { sqrt = 1, rsqrt = 1, exp = 1, log = 1, log1p = 1, expm1 = 1, sin = 1, cos = 1,
                   tanh = 1, sigmoid = 1, silu = 1, gelu = 1, softplus = 1 }
for op, r in pairs(unary_ranges) do
  local f = function(a) return ember[op](a) end
  case { op .. " 1000", f, { rand({ 1000 }, r[1], r[2]) }, tol = 2e-6 }
  case { op .. " transposed 7x5", function(a) return ember[op](a:t()) end, { rand({ 5, 7 }, r[1], r[2]) }, tol = 2e-6 }
  -- the f64 variant's exp/log/sin... are shaders/math64.glsl's, within a few ulp
  case { op .. " f64", f, { rand({ 33 }, r[1], r[2], "f64") }, f64tol = float_fn[op] and 1e-14 or 1e-15 }
  if not float_fn[op] then case { op .. " i64", f, { randint(-9, 9, { 17 }) } } end
  if op ~= "gelu" and op ~= "softplus" then case { op .. "_ in place", function(a) local v = a[{ {}, { 2, 4 } }]; v[op .. "_"](v); return a end,
         { rand({ 3, 5 }, r[1], r[2]) }, tol = 2e-6 } end
end
case { "round halves to even", function(a) return ember.round(a) end, { ember.tensor({ -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 }) } }
case { "gelu tanh", function(a) return ember.gelu(a, "tanh") end, { rand({ 100 }, -6, 6) }, tol = 2e-6 }
case { "gelu tanh f64", function(a) return ember.gelu(a, "tanh") end, { rand({ 100 }, -6, 6, "f64") }, f64tol = 1e-14 }
case { "gelu tail f64", function(a) return ember.gelu(a) end, { rand({ 50 }, -30, -3, "f64") }, f64tol = 1e-13 }
case { "exp log sin cos wide range f64", function(a)
    return { a:exp(), a:abs():log(), a:sin(), a:cos(), a:tanh(), a:expm1(), (a:abs() + 0.5):pow(2.7) }
  end, { rand({ 200 }, -700, 700, "f64") }, f64tol = 1e-13 }
case { "gelu tail", function(a) return ember.gelu(a) end, { rand({ 50 }, -12, -4) }, tol = 1e-5 }
case { "softplus beta threshold", function(a) return ember.softplus(a, 2, 5) end, { rand({ 40 }, -6, 6) }, tol = 2e-6 }
case { "f16 exp", function(a) return ember.exp(a) end, { rand({ 64 }, -3, 3, "f32"):to("f16") }, tol = 1e-3 }
case { "bf16 mul", function(a, b) return a * b end, { rand({ 64 }):to("bf16"), rand({ 64 }):to("bf16") }, tol = 1e-2 }

-- comparisons and logic
for _, op in ipairs { "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor" } do
  local f = function(a, b) return ember[op](a, b) end
  case { op .. " f32", f, { randint(-2, 3, { 5, 7 }):float(), randint(-2, 3, { 7 }):float() } }
  case { op .. " i64", f, { randint(-2, 3, { 5, 7 }), randint(-2, 3, { 5, 1 }) } }
  case { op .. " number", function(a) return ember[op](a, 1) end, { randint(-2, 3, { 9 }):float() } }
end
case { "logical_and bool", function(a, b) return ember.logical_and(a, b) end,
       { function() return rand({ 21 }):gt(0) end, function() return rand({ 21 }):gt(0) end } }
case { "logical_not", function(a) return ember.logical_not(a) end, { randint(-2, 3, { 3, 7 }):float() } }
case { "logical_not bool", function(a) return ember.logical_not(a) end, { function() return rand({ 8 }):gt(0) end } }
case { "isnan", function(a) return ember.isnan(a) end, { ember.tensor({ 0 / 0, 1 / 0, -1 / 0, 0, 2 }) } }
case { "isinf", function(a) return ember.isinf(a) end, { ember.tensor({ 0 / 0, 1 / 0, -1 / 0, 0, 2 }) } }
case { "eq NaN", function(a) return ember.eq(a, a) end, { ember.tensor({ 0 / 0, 1 }) } }

-- backward kernels (through autograd)
for _, op in ipairs { "relu", "tanh", "sigmoid", "silu", "gelu", "softplus" } do
  case { op .. "_backward (through autograd)", function(x, g)
      x = x:clone():requires_grad_()
      local y = ember[op](x)
      y:backward(g)
      return x.grad
    end, { rand({ 6, 7 }, -4, 4), rand({ 6, 7 }) }, tol = 2e-6 }
end
case { "gelu_backward tanh (through autograd)", function(x, g)
    x = x:clone():requires_grad_()
    ember.gelu(x, "tanh"):backward(g)
    return x.grad
  end, { rand({ 40 }, -4, 4), rand({ 40 }) }, tol = 2e-6 }

-- in-place arithmetic into a strided view, and a 6-d broadcast past the push constants
case { "add_ into a column", function(a, b) a[{ {}, 2 }]:add_(b); return a end, { rand({ 5, 4 }), rand({ 5 }) } }
case { "mul 6-d broadcast", function(a, b) return a:permute(6, 5, 4, 3, 2, 1) * b end,
       { rand({ 2, 3, 2, 3, 2, 3 }), rand({ 3, 2, 1, 2, 3, 1 }) } }

return cases
