-- Vulkan cases of the linalg family (matmul, mm, bmm, addmm, outer, dot) and nn's
-- linear: sizes that do not divide the tiles (the tiled shader's are 8..128 wide),
-- transposed, sliced and expanded operands read in place, batch dims that broadcast
-- or fold into rows, 1-D operands, addmm's beta and alpha, every compute dtype (f32,
-- f64, i64) and f16/bf16 operands (read as stored, summed in f32), empty dims, and
-- backward through autograd.
local ember = require "ember"
local V = require "vk_check"
local rand, randint = V.rand, V.randint

ember.manual_seed(11)
local cases = {}
local function case(c) cases[#cases + 1] = c end

local function mm(a, b) return ember.matmul(a, b) end

-- matmul: square and odd sizes, m x k x n
for _, s in ipairs { { 1, 1, 1 }, { 7, 7, 7 }, { 33, 33, 33 }, { 65, 65, 65 }, { 127, 127, 127 },
                     { 130, 67, 129 }, { 3, 200, 5 }, { 1, 300, 70 }, { 70, 300, 1 }, { 9, 4, 140 },
                     { 140, 4, 9 }, { 257, 31, 66 } } do
  case { string.format("matmul %dx%dx%d", s[1], s[2], s[3]), mm,
         { rand({ s[1], s[2] }), rand({ s[2], s[3] }) } }
end
case { "matmul a:t()", function(a, b) return mm(a:t(), b) end, { rand({ 37, 45 }), rand({ 37, 29 }) } }
case { "matmul b:t()", function(a, b) return mm(a, b:t()) end, { rand({ 45, 37 }), rand({ 29, 37 }) } }
case { "matmul a:t() b:t()", function(a, b) return mm(a:t(), b:t()) end, { rand({ 66, 70 }), rand({ 9, 66 }) } }
case { "matmul sliced with steps", function(a, b) return mm(a[{ { 1, 40, 3 }, { 2, 60, 2 } }], b[{ { 1, 59, 2 }, {} }]) end,
       { rand({ 40, 60 }), rand({ 60, 19 }) } }
case { "matmul offset rows (unaligned)", function(a, b) return mm(a[{ { 2, 34 }, { 2, 33 } }], b[{ { 3, 34 }, { 2, 40 } }]) end,
       { rand({ 34, 33 }), rand({ 34, 40 }) } }
case { "matmul 1-D x 2-D", mm, { rand({ 67 }), rand({ 67, 31 }) } }
case { "matmul 2-D x 1-D", mm, { rand({ 31, 67 }), rand({ 67 }) } }
case { "matmul 1-D x 1-D", mm, { rand({ 1000 }), rand({ 1000 }) } }
case { "matmul 1-D x 3-D", mm, { rand({ 9 }), rand({ 4, 9, 13 }) } }
case { "matmul 3-D x 1-D", mm, { rand({ 4, 13, 9 }), rand({ 9 }) } }
case { "matmul 3-D x 2-D (rows fold)", mm, { rand({ 5, 21, 17 }), rand({ 17, 33 }) } }
case { "matmul 2-D x 3-D", mm, { rand({ 21, 17 }), rand({ 5, 17, 33 }) } }
case { "matmul broadcast batch 2x1 by 3", mm, { rand({ 2, 1, 11, 7 }), rand({ 3, 7, 10 }) } }
case { "matmul 5-D broadcast", mm, { rand({ 2, 1, 3, 1, 5, 6 }), rand({ 1, 2, 1, 4, 6, 3 }) } }
case { "matmul expanded batch", function(a, b) return mm(a, b:expand(6, 15, 8)) end, { rand({ 6, 9, 15 }), rand({ 1, 15, 8 }) } }
case { "matmul batch transposed", function(a, b) return mm(a:transpose(2, 3), b:transpose(1, 3)) end,
       { rand({ 4, 13, 11 }), rand({ 17, 13, 4 }) } }
case { "matmul permuted batch (no fold)", function(a, b) return mm(a:permute(2, 1, 3), b) end,
       { rand({ 10, 3, 12 }), rand({ 12, 7 }) } }
case { "matmul f64", mm, { rand({ 35, 70 }, -2, 2, "f64"), rand({ 70, 19 }, -2, 2, "f64") } }
case { "matmul f64 batched transposed", function(a, b) return mm(a, b:transpose(2, 3)) end,
       { rand({ 3, 9, 20 }, -2, 2, "f64"), rand({ 3, 11, 20 }, -2, 2, "f64") } }
case { "matmul f64 1-D x 1-D", mm, { rand({ 77 }, -2, 2, "f64"), rand({ 77 }, -2, 2, "f64") } }
case { "matmul i64", mm, { randint(-50, 50, { 13, 29 }), randint(-50, 50, { 29, 7 }) } }
case { "matmul i64 batched broadcast", mm, { randint(-9, 9, { 2, 1, 5, 6 }), randint(-9, 9, { 3, 6, 4 }) } }
case { "matmul i64 wraps", mm, { ember.tensor({ { 4611686018427387904, 3 } }, { dtype = "i64" }),
                                 ember.tensor({ { 4 }, { 5 } }, { dtype = "i64" }) } }
case { "matmul i64 1-D x 1-D", mm, { randint(-99, 99, { 300 }), randint(-99, 99, { 300 }) } }
case { "matmul i32 (computed in i64)", mm, { randint(-9, 9, { 6, 5 }, "i32"), randint(-9, 9, { 5, 4 }, "i32") } }
case { "matmul f16", mm, { rand({ 45, 70 }):to("f16"), rand({ 70, 33 }):to("f16") }, tol = 1e-2 }
case { "matmul f16 transposed", function(a, b) return mm(a:t(), b) end,
       { rand({ 70, 45 }):to("f16"), rand({ 70, 33 }):to("f16") }, tol = 1e-2 }
-- f16 sizes the cooperative-matrix kernel reads 8 halves at a time (EMBER_VK_COOPMAT_EMULATE=1
-- runs it on lavapipe); many batches take its large tiles
case { "matmul f16 aligned", mm, { rand({ 96, 128 }):to("f16"), rand({ 128, 72 }):to("f16") }, tol = 1e-2 }
case { "matmul f16 aligned a:t()", function(a, b) return mm(a:t(), b) end,
       { rand({ 128, 96 }):to("f16"), rand({ 128, 72 }):to("f16") }, tol = 1e-2 }
case { "matmul f16 aligned b:t()", function(a, b) return mm(a, b:t()) end,
       { rand({ 96, 128 }):to("f16"), rand({ 72, 128 }):to("f16") }, tol = 1e-2 }
case { "matmul f16 k = 40", mm, { rand({ 64, 40 }):to("f16"), rand({ 40, 64 }):to("f16") }, tol = 1e-2 }
case { "bmm f16 many batches", function(a, b) return ember.bmm(a, b) end,
       { rand({ 130, 20, 24 }):to("f16"), rand({ 130, 24, 18 }):to("f16") }, tol = 1e-2 }
case { "matmul bf16", mm, { rand({ 45, 70 }):to("bf16"), rand({ 70, 33 }):to("bf16") }, tol = 1e-2 }
case { "matmul bf16 batched", mm, { rand({ 3, 17, 24 }):to("bf16"), rand({ 24, 9 }):to("bf16") }, tol = 1e-2 }
case { "matmul f16 1-D x 1-D", mm, { rand({ 100 }):to("f16"), rand({ 100 }):to("f16") }, tol = 1e-2 }
case { "matmul k = 0", mm, { rand({ 5, 0 }), rand({ 0, 7 }) } }
case { "matmul m = 0", mm, { rand({ 0, 4 }), rand({ 4, 7 }) } }
case { "matmul batch 0", mm, { rand({ 0, 3, 4 }), rand({ 4, 7 }) } }
case { "matmul 1-D empty", mm, { rand({ 0 }), rand({ 0 }) } }

-- mm, bmm
case { "mm", function(a, b) return ember.mm(a, b) end, { rand({ 100, 80 }), rand({ 80, 90 }) } }
case { "mm a:t()", function(a, b) return a:t():mm(b) end, { rand({ 80, 100 }), rand({ 80, 90 }) } }
case { "mm f64", function(a, b) return ember.mm(a, b) end, { rand({ 20, 30 }, -1, 1, "f64"), rand({ 30, 10 }, -1, 1, "f64") } }
case { "mm i64", function(a, b) return ember.mm(a, b) end, { randint(-20, 20, { 9, 17 }), randint(-20, 20, { 17, 5 }) } }
case { "bmm", function(a, b) return ember.bmm(a, b) end, { rand({ 7, 19, 23 }), rand({ 7, 23, 5 }) } }
case { "bmm b transposed", function(a, b) return ember.bmm(a, b:transpose(2, 3)) end, { rand({ 4, 19, 23 }), rand({ 4, 5, 23 }) } }
case { "bmm i64", function(a, b) return ember.bmm(a, b) end, { randint(-9, 9, { 3, 4, 5 }), randint(-9, 9, { 3, 5, 6 }) } }
case { "bmm f16", function(a, b) return ember.bmm(a, b) end, { rand({ 3, 20, 40 }):to("f16"), rand({ 3, 40, 12 }):to("f16") }, tol = 1e-2 }

-- addmm: beta and alpha, broadcast inputs, beta = 0 ignoring NaN
local function addmm(...) local args = { ... }; return function(i, a, b) return ember.addmm(i, a, b, table.unpack(args)) end end
case { "addmm", addmm(), { rand({ 33, 65 }), rand({ 33, 17 }), rand({ 17, 65 }) } }
case { "addmm beta 0.5 alpha -2", addmm(0.5, -2), { rand({ 33, 65 }), rand({ 33, 17 }), rand({ 17, 65 }) } }
case { "addmm row input", addmm(2, 1), { rand({ 65 }), rand({ 33, 17 }), rand({ 17, 65 }) } }
case { "addmm column input", addmm(1, 3), { rand({ 33, 1 }), rand({ 33, 17 }), rand({ 17, 65 }) } }
case { "addmm 0-dim input", addmm(-1, 1), { ember.tensor(2.5), rand({ 9, 17 }), rand({ 17, 6 }) } }
case { "addmm transposed input and m1", function(i, a, b) return ember.addmm(i:t(), a:t(), b, 0.25, 2) end,
       { rand({ 65, 33 }), rand({ 17, 33 }), rand({ 17, 65 }) } }
case { "addmm beta 0 ignores NaN", addmm(0, 1), { ember.full({ 5, 6 }, 0 / 0), rand({ 5, 4 }), rand({ 4, 6 }) } }
case { "addmm k = 0", addmm(3, 2), { rand({ 5, 6 }), rand({ 5, 0 }), rand({ 0, 6 }) } }
case { "addmm f64", addmm(0.5, 1.5), { rand({ 8, 9 }, -1, 1, "f64"), rand({ 8, 10 }, -1, 1, "f64"), rand({ 10, 9 }, -1, 1, "f64") } }
case { "addmm i64", addmm(2, -3), { randint(-9, 9, { 6, 7 }), randint(-9, 9, { 6, 5 }), randint(-9, 9, { 5, 7 }) } }
case { "addmm f16", addmm(0.5, 2), { rand({ 20, 30 }):to("f16"), rand({ 20, 40 }):to("f16"), rand({ 40, 30 }):to("f16") }, tol = 1e-2 }

-- outer: a product with k = 1; promotes
local function outer(a, b) return ember.outer(a, b) end
case { "outer", outer, { rand({ 37 }), rand({ 130 }) } }
case { "outer strided", function(a, b) return outer(a[{ { 1, 40, 3 } }], b[{ { 2, 30, 2 } }]) end, { rand({ 40 }), rand({ 30 }) } }
case { "outer f64", outer, { rand({ 9 }, -1, 1, "f64"), rand({ 11 }, -1, 1, "f64") } }
case { "outer i64", outer, { randint(-50, 50, { 12 }), randint(-50, 50, { 7 }) } }
case { "outer promotes i64 and f32", outer, { randint(-5, 5, { 6 }), rand({ 5 }) } }
case { "outer empty", outer, { rand({ 0 }), rand({ 4 }) } }

-- dot: a two-pass reduction
local function dot(a, b) return ember.dot(a, b) end
case { "dot 7", dot, { rand({ 7 }), rand({ 7 }) } }
case { "dot 100000", dot, { rand({ 100000 }), rand({ 100000 }) } }
case { "dot strided", function(a, b) return dot(a[{ { 1, 3000, 3 } }], b[{ { 2, 2001, 2 } }]) end, { rand({ 3000 }), rand({ 2001 }) } }
case { "dot expanded", function(a, b) return dot(a, b:expand(500)) end, { rand({ 500 }), rand({ 1 }) } }
case { "dot f64", dot, { rand({ 5000 }, -1, 1, "f64"), rand({ 5000 }, -1, 1, "f64") } }
case { "dot i64", dot, { randint(-1000, 1000, { 20000 }), randint(-1000, 1000, { 20000 }) } }
case { "dot f16", dot, { rand({ 300 }):to("f16"), rand({ 300 }):to("f16") }, tol = 1e-2 }
case { "dot empty", dot, { rand({ 0 }), rand({ 0 }) } }

-- linear: input @ weight^T (+ bias), leading dims folded into rows
local function linear(x, w, b) return ember.linear(x, w, b) end
case { "linear", linear, { rand({ 33, 70 }), rand({ 45, 70 }), rand({ 45 }) } }
case { "linear without bias", function(x, w) return ember.linear(x, w) end, { rand({ 33, 70 }), rand({ 45, 70 }) } }
case { "linear 3-D input", linear, { rand({ 4, 9, 70 }), rand({ 45, 70 }), rand({ 45 }) } }
case { "linear 3-D input without bias", function(x, w) return ember.linear(x, w) end, { rand({ 4, 9, 70 }), rand({ 45, 70 }) } }
case { "linear 1-D input", linear, { rand({ 70 }), rand({ 45, 70 }), rand({ 45 }) } }
case { "linear bias of 1", linear, { rand({ 5, 7 }), rand({ 3, 7 }), rand({ 1 }) } }
case { "linear transposed input", function(x, w, b) return linear(x:transpose(1, 2), w, b) end,
       { rand({ 9, 4, 70 }), rand({ 45, 70 }), rand({ 45 }) } }
case { "linear transposed weight", function(x, w, b) return linear(x, w:t(), b) end,
       { rand({ 6, 70 }), rand({ 70, 45 }), rand({ 45 }) } }
case { "linear f64", linear, { rand({ 6, 20 }, -1, 1, "f64"), rand({ 8, 20 }, -1, 1, "f64"), rand({ 8 }, -1, 1, "f64") } }
case { "linear f16", linear, { rand({ 6, 20 }):to("f16"), rand({ 8, 20 }):to("f16"), rand({ 8 }):to("f16") }, tol = 1e-2 }
case { "linear bf16 3-D", linear, { rand({ 2, 6, 20 }):to("bf16"), rand({ 8, 20 }):to("bf16"), rand({ 8 }):to("bf16") }, tol = 2e-2 }
case { "linear i64", linear, { randint(-9, 9, { 5, 6 }), randint(-9, 9, { 4, 6 }), randint(-9, 9, { 4 }) } }
case { "linear f16", linear, { rand({ 2, 10, 64 }):to("f16"), rand({ 48, 64 }):to("f16"), rand({ 48 }):to("f16") }, tol = 1e-2 }
case { "linear f16 aligned", linear, { rand({ 16, 64 }):to("f16"), rand({ 48, 64 }):to("f16"), rand({ 48 }):to("f16") }, tol = 1e-2 }
case { "linear bf16", linear, { rand({ 10, 64 }):to("bf16"), rand({ 48, 64 }):to("bf16"), rand({ 48 }):to("bf16") }, tol = 1e-2 }
case { "linear empty rows", linear, { rand({ 0, 7 }), rand({ 3, 7 }), rand({ 3 }) } }
case { "linear k = 0", linear, { rand({ 4, 0 }), rand({ 3, 0 }), rand({ 3 }) } }

-- backward through autograd (the rules are products of the same ops)
local function grads(f)
  return function(...)
    local ins = {}
    for i, t in ipairs { ... } do ins[i] = t:clone():requires_grad_() end
    local y = f(table.unpack(ins))
    y:backward(ember.ones_like(y))
    local out = {}
    for i, t in ipairs(ins) do out[i] = t.grad end
    return out
  end
end
case { "linear backward", grads(linear), { rand({ 4, 9, 30 }), rand({ 20, 30 }), rand({ 20 }) }, tol = 2e-5 }
case { "linear backward without bias", grads(function(x, w) return ember.linear(x, w) end), { rand({ 17, 30 }), rand({ 20, 30 }) } }
case { "matmul backward broadcast", grads(mm), { rand({ 2, 1, 11, 7 }), rand({ 3, 7, 10 }) }, tol = 2e-5 }
case { "matmul backward batch x matrix", grads(mm), { rand({ 3, 11, 7 }), rand({ 7, 10 }) }, tol = 2e-5 }
case { "matmul backward 1-D x 2-D", grads(mm), { rand({ 7 }), rand({ 7, 10 }) } }
case { "mm backward", grads(function(a, b) return ember.mm(a, b) end), { rand({ 33, 20 }), rand({ 20, 41 }) } }
case { "bmm backward", grads(function(a, b) return ember.bmm(a, b) end), { rand({ 3, 13, 20 }), rand({ 3, 20, 9 }) } }
case { "addmm backward", grads(function(i, a, b) return ember.addmm(i, a, b, 0.5, 2) end),
       { rand({ 15 }), rand({ 10, 20 }), rand({ 20, 15 }) } }
case { "dot backward", grads(dot), { rand({ 50 }), rand({ 50 }) } }
case { "outer backward", grads(outer), { rand({ 12 }), rand({ 9 }) } }

return cases
