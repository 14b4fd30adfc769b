-- Vulkan cases of the reduce family (sum mean prod max min argmax argmin var std norm
-- logsumexp all any cumsum) and of the row-wise nn ops (softmax log_softmax layer_norm
-- batch_norm batch_norm_train): single, several, negative and all dims, keepdim, strided inputs
-- (transposed, sliced with steps, expanded, 6-d permuted past the push constants),
-- every kernel mode (a thread per output, a workgroup per output, runs split over
-- workgroups), f64, i64 and bool where the op takes them, f16 inputs, NaN, ties,
-- empty inputs, and backward through autograd.
local ember = require "ember"
local V = require "vk_check"
local rand, randint = V.rand, V.randint
local nan, inf = 0 / 0, math.huge

local cases, case = V.cases(11)

-- the results of several calls as one list (max and min give two tensors each)
local function flat(...)
  local r = {}
  for _, v in ipairs { ... } do
    if type(v) == "table" and getmetatable(v) == nil then
      for _, t in ipairs(v) do r[#r + 1] = t end
    else
      r[#r + 1] = v
    end
  end
  return r
end

-- small integers as floats: many ties, and sums that round alike on both devices
local function ties(shape, hi, dtype)
  return function() return randint(0, hi or 3, shape):to(dtype or "f32") end
end

-- {====== sum mean prod var std logsumexp norm: float reductions over dims

-- GLSL has no double exp/log/pow: logsumexp and norm with other p go through float in
-- the f64 variant (f64tol 1e-6 for them)
local float_ops = {
  sum = { f = function(x, ...) return x:sum(...) end },
  mean = { f = function(x, ...) return x:mean(...) end },
  prod = { f = function(x, ...) return x:prod(...) end, lo = 0.8, hi = 1.2 },
  var = { f = function(x, d, k) return x:var({ dim = d, keepdim = k }) end },
  std = { f = function(x, d, k) return x:std({ dim = d, keepdim = k }) end },
  logsumexp = { f = function(x, d, k) return x:logsumexp({ dim = d, keepdim = k }) end, f64tol = 1e-6 },
  norm = { f = function(x, d, k) if d == nil then return x:norm() end return x:norm(2, d, k) end },
}
for op, o in pairs(float_ops) do
  local f, lo, hi = o.f, o.lo or -2, o.hi or 2
  case { op .. " all 37x53", function(x) return f(x) end, { rand({ 37, 53 }, lo, hi) }, tol = 2e-5 }
  case { op .. " dim 1", function(x) return f(x, 1) end, { rand({ 5, 6, 7 }, lo, hi) } }
  case { op .. " dim -1 keepdim", function(x) return f(x, -1, true) end, { rand({ 5, 6, 7 }, lo, hi) } }
  case { op .. " dims 1,3", function(x) return f(x, { 1, 3 }) end, { rand({ 5, 6, 7 }, lo, hi) } }
  case { op .. " dims -1,1 keepdim", function(x) return f(x, { -1, 1 }, true) end,
         { rand({ 4, 3, 9 }, lo, hi) } }
  case { op .. " transposed", function(x) return f(x:t(), 2) end, { rand({ 33, 10 }, lo, hi) } }
  case { op .. " transposed all", function(x) return f(x:t()) end, { rand({ 20, 30 }, lo, hi) } }
  case { op .. " sliced", function(x) return f(x[{ { 2, 20, 3 }, { 1, 40, 2 } }], 2) end,
         { rand({ 21, 41 }, lo, hi) } }
  case { op .. " expanded", function(x) return f(x:expand(6, 5, 7), { 1, 3 }) end,
         { rand({ 1, 5, 7 }, lo, hi) } }
  case { op .. " row of 300 (a group of 256)", function(x) return f(x, 2) end, { rand({ 9, 300 }, lo, hi) } }
  case { op .. " many short rows", function(x) return f(x, 2) end, { rand({ 3000, 7 }, lo, hi) } }
  case { op .. " leading dim of many side by side", function(x) return f(x, 1) end,
         { rand({ 70, 600 }, lo, hi) } }
  case { op .. " 6-d permuted", function(x) return f(x:permute(6, 4, 2, 5, 3, 1), { 1, 3, 5 }) end,
         { rand({ 2, 3, 4, 3, 2, 5 }, lo, hi) } }
  case { op .. " f64", function(x) return f(x, 2) end, { rand({ 6, 45 }, lo, hi, "f64") }, f64tol = o.f64tol }
  case { op .. " f64 all", function(x) return f(x) end, { rand({ 300 }, lo, hi, "f64") }, f64tol = o.f64tol }
  case { op .. " 0-dim", function(x) return f(x) end, { function() return ember.tensor(1.25) end } }
end
-- long runs: one workgroup per output (100 000 elements), runs split over workgroups
for _, op in ipairs { "sum", "mean", "var", "std", "logsumexp", "norm" } do
  local f = float_ops[op].f
  case { op .. " row of 100000", function(x) return f(x, 2) end, { rand({ 40, 100000 }) } }
  case { op .. " split: 3 rows of 100000", function(x) return f(x, 2) end, { rand({ 3, 100000 }) } }
  case { op .. " split: all of 300000, strided", function(x) return f(x:t()) end, { rand({ 1000, 300 }) } }
  case { op .. " split f64", function(x) return f(x) end, { rand({ 200001 }, -2, 2, "f64") },
         f64tol = float_ops[op].f64tol }
end
case { "var dims 1,3,4 split (batch statistics)", function(x) return { x:var({ 1, 3, 4 }, 0, true), x:mean({ 1, 3, 4 }) } end,
       { rand({ 16, 4, 48, 48 }) } }
case { "argmax dims of an image split", function(x) return x:argmax() end, { ties({ 2, 3, 150, 150 }, 50) } }
case { "prod split", function(x) return x:prod() end, { rand({ 100000 }, 0.999, 1.001) }, tol = 1e-4 }
case { "sum 2^24 split", function(x) return x:sum() end, { ties({ 1 << 24 }, 4) } }
case { "sum keepdim all", function(x) return x:sum({ keepdim = true }) end, { rand({ 3, 4, 5 }) } }
case { "sum dtype f64", function(x) return x:sum({ dim = 1, dtype = "f64" }) end, { rand({ 30, 4 }) } }
case { "sum i64", function(x) return x:sum(2) end, { randint(-1000, 1000, { 7, 301 }) } }
case { "sum i64 wraps", function(x) return x:sum() end,
       { function() return ember.tensor({ math.maxinteger, 1, 5 }, "i64") end } }
case { "sum i64 split", function(x) return x:sum() end, { randint(-1000, 1000, { 150000 }) } }
case { "sum bool", function(x) return { x:sum(), x:sum(1) } end, { function() return rand({ 50, 3 }):gt(0) end } }
case { "sum i32 gives i64", function(x) return x:sum(1) end, { randint(-9, 9, { 40, 3 }, "i32") } }
case { "sum f16", function(x) return x:sum(2) end, { function() return rand({ 5, 64 }):to("f16") end }, tol = 1e-3 }
case { "sum NaN", function(x) return x:sum(2) end,
       { function() return ember.tensor({ { 1, nan, 2 }, { 1, 2, 3 }, { inf, -inf, 1 } }) end } }
case { "mean dtype f64", function(x) return x:mean({ dim = 2, dtype = "f64" }) end, { rand({ 4, 9 }) } }
case { "prod i64", function(x) return x:prod(1) end, { randint(-3, 4, { 9, 12 }) } }
case { "prod i64 wraps", function(x) return x:prod() end, { randint(1 << 20, 1 << 21, { 10 }) } }
case { "prod with zeros", function(x) return x:prod(2) end,
       { function() return ember.tensor({ { 1, 0, 2 }, { -0.0, 2, 3 }, { inf, 0, 1 } }) end } }
case { "var correction 0", function(x) return x:var(2, 0) end, { rand({ 6, 77 }) } }
case { "var correction 2 keepdim", function(x) return x:var({ 1, 2 }, 2, true) end, { rand({ 6, 7, 3 }) } }
case { "var N - correction <= 0", function(x) return { x:var(2, 3), x:var(2, 5) } end, { rand({ 4, 3 }) } }
case { "var of one element", function(x) return x:var() end, { rand({ 1 }) } }
case { "var offset mean", function(x) return x:var(1) end, { rand({ 200, 5 }, 1000, 1001) }, tol = 1e-4 }
case { "std correction 0 dims", function(x) return x:std({ 1, 3 }, 0) end, { rand({ 5, 4, 6 }) } }
case { "std NaN", function(x) return x:std(2) end,
       { function() return ember.tensor({ { 1, nan, 2 }, { 1, 2, 3 } }) end } }
for _, p in ipairs { 1, 2, 3, 0.5, 0, inf, -inf, -1 } do
  case { "norm p=" .. tostring(p), function(x) return { x:norm(p), x:norm(p, 2), x:norm(p, 1, true) } end,
         { function() local t = rand({ 7, 40 }); t[{ 2, 3 }] = 0; return t end }, tol = 2e-5 }
  case { "norm p=" .. tostring(p) .. " f64", function(x) return x:norm(p, 2) end,
         { rand({ 5, 50 }, -2, 2, "f64") }, f64tol = (p == 3 or p == 0.5 or p == -1) and 1e-6 or 1e-12 }
end
case { "norm inf NaN", function(x) return { x:norm(inf, 2), x:norm(-inf, 2), x:norm(2, 2) } end,
       { function() return ember.tensor({ { 1, nan, -5 }, { -7, 2, 3 } }) end } }
case { "norm long row p=3", function(x) return x:norm(3, 2) end, { rand({ 2, 100000 }) }, tol = 2e-5 }
case { "logsumexp inf and NaN", function(x) return x:logsumexp(2) end,
       { function() return ember.tensor({ { 1, inf, 2 }, { -inf, -inf, -inf }, { 1, nan, 2 }, { -inf, 0, 1 } }) end } }
case { "logsumexp i64 gives f32", function(x) return x:logsumexp(1) end, { randint(-5, 5, { 6, 4 }) } }
case { "logsumexp large", function(x) return x:logsumexp(2) end, { rand({ 3, 500 }, 80, 100) } }

-- empty inputs: every output gets the reduction of nothing
for op, o in pairs(float_ops) do
  case { op .. " over an empty dim", function(x) return o.f(x, 1) end, { rand({ 0, 5 }) } }
  case { op .. " of an empty kept dim", function(x) return o.f(x, 2) end, { rand({ 0, 5 }) } }
end
case { "sum empty i64", function(x) return x:sum(1) end, { randint(0, 5, { 0, 3 }) } }
case { "norm empty", function(x) return { x:norm(inf, 1), x:norm(-inf, 1), x:norm(0, 1) } end, { rand({ 0, 4 }) } }

-- }======

-- {====== max min argmax argmin: values, indices (1-based from Lua), NaN, ties

local ext = {
  max = function(x, ...) return { x:max(...) } end,
  min = function(x, ...) return { x:min(...) } end,
  argmax = function(x, ...) return x:argmax(...) end,
  argmin = function(x, ...) return x:argmin(...) end,
}
for op, f in pairs(ext) do
  case { op .. " all", function(x) return f(x) end, { rand({ 37, 53 }) } }
  case { op .. " dim 1", function(x) return f(x, 1) end, { rand({ 5, 6, 7 }) } }
  case { op .. " dim -1 keepdim", function(x) return f(x, -1, true) end, { rand({ 5, 6, 7 }) } }
  case { op .. " dim 2 of 3-d", function(x) return f(x, 2) end, { rand({ 4, 33, 5 }) } }
  case { op .. " transposed", function(x) return f(x:t(), 2) end, { rand({ 33, 10 }) } }
  case { op .. " transposed all", function(x) return f(x:t()) end, { rand({ 20, 30 }) } }
  case { op .. " sliced", function(x) return f(x[{ { 2, 20, 3 }, { 1, 40, 2 } }], 2) end, { rand({ 21, 41 }) } }
  case { op .. " 6-d permuted", function(x) return f(x:permute(6, 4, 2, 5, 3, 1), 3) end,
         { rand({ 2, 3, 4, 3, 2, 5 }) } }
  case { op .. " ties", function(x) return flat(f(x, 2), f(x, 1), f(x)) end, { ties({ 40, 300 }) } }
  case { op .. " ties in short rows", function(x) return f(x, 2) end, { ties({ 500, 9 }) } }
  case { op .. " ties side by side", function(x) return f(x, 1) end, { ties({ 70, 600 }) } }
  case { op .. " ties split", function(x) return f(x, 2) end, { ties({ 2, 150000 }) } }
  case { op .. " all ties split", function(x) return f(x) end, { function() return ember.zeros({ 100000 }) end } }
  case { op .. " NaN", function(x) return flat(f(x, 2), f(x, 1)) end,
         { function() return ember.tensor({ { 1, nan, 5, nan }, { 7, 2, 3, 9 }, { nan, 8, 1, 1 } }) end } }
  case { op .. " NaN in a long row", function(x) x[{ 1, 70000 }] = nan; x[{ 1, 90000 }] = nan; return f(x, 2) end,
         { rand({ 2, 100000 }) } }
  case { op .. " NaN all", function(x) x[{ 3, 7 }] = nan; return f(x) end, { rand({ 40, 30 }) } }
  case { op .. " inf", function(x) return f(x, 2) end,
         { function() return ember.tensor({ { 1, inf, -inf }, { -inf, -inf, -inf } }) end } }
  case { op .. " f64", function(x) return f(x, 2) end, { rand({ 6, 45 }, -2, 2, "f64") } }
  case { op .. " i64", function(x) return flat(f(x, 2), f(x)) end, { randint(-5, 5, { 8, 70 }) } }
  case { op .. " i64 split", function(x) return f(x, 2) end, { randint(-9, 9, { 2, 100000 }) } }
  case { op .. " bool", function(x) return f(x, 2) end, { function() return rand({ 4, 9 }):gt(0) end } }
  case { op .. " f16", function(x) return f(x, 2) end, { function() return rand({ 4, 33 }):to("f16") end } }
  case { op .. " 0-dim", function(x) return f(x) end, { function() return ember.tensor(2.5) end } }
end
case { "max signed zeros", function(x) return { x:max(2) } end,
       { function() return ember.tensor({ { -0.0, 0.0 }, { 0.0, -0.0 } }) end } }
case { "max empty kept dim", function(x) return { x:max(2) } end, { rand({ 0, 3 }) } }
case { "argmax empty kept dim", function(x) return x:argmax(2) end, { rand({ 0, 3 }) } }

-- }======

-- {====== all, any

for _, op in ipairs { "all", "any" } do
  local f = function(x, ...) return x[op](x, ...) end
  case { op .. " bool", function(x) return { f(x), f(x, 1), f(x, 2, true) } end,
         { function() return rand({ 30, 6 }):gt(-1.8) end } }
  case { op .. " f32 with zeros and NaN", function(x) return { f(x, 2), f(x) } end,
         { function() return ember.tensor({ { 1, 0, 2 }, { 1, 2, 3 }, { 0, 0, 0 }, { nan, 0, 0 } }) end } }
  case { op .. " i64", function(x) return { f(x, 1), f(x, 2) } end, { randint(0, 3, { 20, 7 }) } }
  case { op .. " u8 gives u8", function(x) return f(x, 2) end, { randint(0, 2, { 5, 40 }, "u8") } }
  case { op .. " f64 dims", function(x) return f(x, { 1, 3 }) end, { ties({ 4, 5, 6 }, 2, "f64") } }
  case { op .. " transposed", function(x) return f(x:t(), 2) end, { function() return rand({ 40, 9 }):gt(-1.9) end } }
  case { op .. " long rows", function(x) return { f(x, 2), f(x) } end,
         { function() local t = ember.ones({ 3, 100000 }); t[{ 2, 77777 }] = 0; return t:gt(0) end } }
  case { op .. " empty", function(x) return { f(x, 1), f(x) } end, { function() return rand({ 0, 4 }):gt(0) end } }
  case { op .. " f16", function(x) return f(x, 2) end, { function() return ties({ 5, 8 }, 2)():to("f16") end } }
end

-- }======

-- {====== cumsum

local cs = function(d) return function(x) return x:cumsum(d) end end
case { "cumsum 1-d", cs(1), { rand({ 100 }) } }
case { "cumsum dim 1", cs(1), { rand({ 50, 7 }) } }
case { "cumsum dim 2", cs(2), { rand({ 7, 50 }) } }
case { "cumsum dim -1 of 3-d", cs(-1), { rand({ 3, 4, 90 }) } }
case { "cumsum middle dim", cs(2), { rand({ 3, 300, 5 }) } }
case { "cumsum short lines", cs(2), { rand({ 2000, 9 }) } }
case { "cumsum leading dim of many side by side", cs(1), { rand({ 80, 700 }) } }
case { "cumsum transposed", function(x) return x:t():cumsum(2) end, { rand({ 300, 20 }) } }
case { "cumsum sliced", function(x) return x[{ { 1, 30, 2 }, { 3, 90, 3 } }]:cumsum(2) end, { rand({ 30, 90 }) } }
case { "cumsum expanded", function(x) return x:expand(4, 50):cumsum(2) end, { rand({ 1, 50 }) } }
case { "cumsum 6-d permuted", function(x) return x:permute(6, 4, 2, 5, 3, 1):cumsum(3) end,
       { rand({ 2, 3, 4, 3, 2, 5 }) } }
case { "cumsum long row", cs(2), { rand({ 40, 100000 }) }, tol = 2e-5 }
case { "cumsum split long rows", cs(1), { rand({ 300000 }) }, tol = 2e-5 }
case { "cumsum split two rows", cs(2), { ties({ 2, 200000 }, 5) } }
case { "cumsum f64", cs(2), { rand({ 5, 300 }, -2, 2, "f64") } }
case { "cumsum f64 split", cs(1), { rand({ 100000 }, -2, 2, "f64") } }
case { "cumsum i64", cs(2), { randint(-100, 100, { 6, 400 }) } }
case { "cumsum i64 split", cs(1), { randint(-100, 100, { 150000 }) } }
case { "cumsum bool", cs(1), { function() return rand({ 60, 3 }):gt(0) end } }
case { "cumsum f16", cs(2), { function() return rand({ 3, 50 }):to("f16") end }, tol = 1e-3 }
case { "cumsum dtype f64", function(x) return x:cumsum({ dim = 2, dtype = "f64" }) end, { rand({ 3, 70 }) } }
case { "cumsum NaN", cs(2), { function() return ember.tensor({ { 1, nan, 2 }, { inf, -inf, 1 } }) end } }
case { "cumsum 0-dim", cs(1), { function() return ember.tensor(3.5) end } }
case { "cumsum empty", cs(2), { rand({ 0, 4 }) } }
case { "cumsum along an empty dim", cs(1), { rand({ 0, 4 }) } }

-- }======

-- {====== backward through the reductions (the gradients run the family's kernels)

local function grad_of(f)
  return function(x, g)
    x = x:clone():requires_grad_()
    f(x):backward(g)
    return x.grad
  end
end
case { "sum backward", grad_of(function(x) return x:sum(2) end), { rand({ 5, 7 }), rand({ 5 }) } }
case { "mean backward", grad_of(function(x) return x:mean({ 1, 3 }) end), { rand({ 3, 4, 5 }), rand({ 4 }) } }
case { "var backward", grad_of(function(x) return x:var(2) end), { rand({ 5, 7 }), rand({ 5 }) } }
case { "logsumexp backward", grad_of(function(x) return x:logsumexp(2) end), { rand({ 5, 7 }), rand({ 5 }) } }
-- these rules run ops of other families (masked_fill, flip): their cases join once
-- those ops have Vulkan kernels
local function runs_on_vulkan(f) return pcall(f, ember.ones({ 3 }):to("vulkan")) end
if runs_on_vulkan(function(t) return t:masked_fill(t:gt(0), 0) end) then
  case { "std backward", grad_of(function(x) return x:std(1) end), { rand({ 5, 7 }), rand({ 7 }) } }
  case { "norm backward", grad_of(function(x) return x:norm(2, 2) end), { rand({ 5, 7 }), rand({ 5 }) } }
end
if runs_on_vulkan(function(t) return t:flip(1) end) then
  case { "cumsum backward", grad_of(function(x) return x:cumsum(2) end), { rand({ 5, 70 }), rand({ 5, 70 }) } }
end

-- }======

-- {====== softmax, log_softmax

for _, op in ipairs { "softmax", "log_softmax" } do
  local sm = function(d) return function(x) return ember[op](x, d) end end
  case { op .. " last dim", sm(-1), { rand({ 6, 10 }, -4, 4) } }
  case { op .. " first dim", sm(1), { rand({ 6, 10 }, -4, 4) } }
  case { op .. " middle dim", sm(2), { rand({ 3, 40, 7 }, -4, 4) } }
  case { op .. " row of 1000", sm(2), { rand({ 5, 1000 }, -4, 4) } }
  case { op .. " row of 100000", sm(2), { rand({ 3, 100000 }, -4, 4) } }
  case { op .. " many short rows", sm(2), { rand({ 5000, 5 }, -4, 4) } }
  case { op .. " leading dim side by side", sm(1), { rand({ 50, 700 }, -4, 4) } }
  case { op .. " transposed", function(x) return ember[op](x:t(), 2) end, { rand({ 300, 20 }, -4, 4) } }
  case { op .. " sliced", function(x) return ember[op](x[{ { 1, 9, 2 }, { 2, 100, 3 } }], 2) end,
         { rand({ 9, 100 }, -4, 4) } }
  case { op .. " large values", sm(2), { rand({ 4, 300 }, 80, 120) } }
  case { op .. " -inf, inf and NaN", sm(2),
         { function() return ember.tensor({ { 1, -inf, 2 }, { -inf, -inf, -inf }, { 1, nan, 2 }, { 1, inf, 2 } }) end } }
  case { op .. " f64", sm(2), { rand({ 5, 300 }, -4, 4, "f64") }, f64tol = 1e-6 }
  case { op .. " f64 short", sm(1), { rand({ 7, 30 }, -4, 4, "f64") }, f64tol = 1e-6 }
  case { op .. " f16", sm(2), { function() return rand({ 4, 64 }, -4, 4):to("f16") end }, tol = 1e-3 }
  case { op .. " 0-dim", sm(1), { function() return ember.tensor(0.5) end } }
  case { op .. " empty", sm(2), { rand({ 0, 5 }) } }
  case { op .. " backward", grad_of(function(x) return ember[op](x, 2) end), { rand({ 6, 50 }), rand({ 6, 50 }) } }
  case { op .. " backward dim 1", grad_of(function(x) return ember[op](x, 1) end), { rand({ 300, 4 }), rand({ 300, 4 }) } }
end

-- }======

-- {====== layer_norm

local function ln(shape, ...)
  local rest = { ... }
  return function(x, w, b) return ember.layer_norm(x, shape, w, b, table.unpack(rest)) end
end
case { "layer_norm short rows", ln({ 10 }), { rand({ 40, 10 }) } }
case { "layer_norm weight and bias", ln({ 10 }), { rand({ 40, 10 }), rand({ 10 }), rand({ 10 }) } }
case { "layer_norm long rows", ln({ 300 }), { rand({ 9, 300 }), rand({ 300 }), rand({ 300 }) } }
case { "layer_norm row of 100000", ln({ 100000 }), { rand({ 2, 100000 }, 3, 5) } }
case { "layer_norm two dims", ln({ 3, 40 }), { rand({ 2, 3, 40 }), rand({ 3, 40 }), rand({ 3, 40 }) } }
case { "layer_norm weight only", function(x, w) return ember.layer_norm(x, { 50 }, w) end,
       { rand({ 6, 50 }), rand({ 50 }) } }
case { "layer_norm bias only", function(x, b) return ember.layer_norm(x, { 50 }, nil, b) end,
       { rand({ 6, 50 }), rand({ 50 }) } }
case { "layer_norm eps", ln({ 8 }, 0.5), { rand({ 6, 8 }) } }
case { "layer_norm transposed", function(x, w) return ember.layer_norm(x:t(), { 40 }, w) end,
       { rand({ 40, 30 }), rand({ 40 }) } }
case { "layer_norm strided weight", function(x, w) return ember.layer_norm(x, { 40 }, w[{ {}, 2 }]) end,
       { rand({ 3, 40 }), rand({ 40, 3 }) } }
case { "layer_norm f64", ln({ 64 }), { rand({ 5, 64 }, -2, 2, "f64"), rand({ 64 }, -2, 2, "f64"),
                                         rand({ 64 }, -2, 2, "f64") } }
case { "layer_norm f64 short", ln({ 5 }), { rand({ 9, 5 }, -2, 2, "f64") } }
case { "layer_norm f16", ln({ 32 }), { function() return rand({ 4, 32 }):to("f16") end }, tol = 1e-3 }
case { "layer_norm constant rows", ln({ 16 }), { function() return ember.ones({ 3, 16 }) end } }
case { "layer_norm NaN", ln({ 3 }), { function() return ember.tensor({ { 1, nan, 2 }, { 1, 2, 3 } }) end } }
case { "layer_norm empty", ln({ 4 }), { rand({ 0, 4 }) } }
case { "layer_norm backward", function(x, w, b, g)
    x, w, b = x:clone():requires_grad_(), w:clone():requires_grad_(), b:clone():requires_grad_()
    ember.layer_norm(x, { 30 }, w, b):backward(g)
    return { x.grad, w.grad, b.grad }
  end, { rand({ 8, 30 }), rand({ 30 }), rand({ 30 }), rand({ 8, 30 }) }, tol = 2e-5 }
case { "layer_norm backward long rows", grad_of(function(x) return ember.layer_norm(x, { 500 }) end),
       { rand({ 4, 500 }), rand({ 4, 500 }) }, tol = 2e-5 }

-- }======

-- {====== batch_norm (inference kernel; training through nn.functional)

local function bn(...)
  local rest = { ... }
  return function(x, m, v, w, b) return ember.batch_norm(x, m, v, w, b, table.unpack(rest)) end
end
local function stats(c, dtype)
  return rand({ c }, -1, 1, dtype), rand({ c }, 0.5, 2, dtype)
end
local m4, v4 = stats(4)
case { "batch_norm 4-d", bn(), { rand({ 3, 4, 5, 6 }), m4, v4, rand({ 4 }), rand({ 4 }) } }
case { "batch_norm no affine", bn(), { rand({ 3, 4, 5, 6 }), m4, v4 } }
case { "batch_norm weight only", bn(), { rand({ 3, 4, 7 }), m4, v4, rand({ 4 }) } }
case { "batch_norm 2-d", bn(), { rand({ 33, 4 }), m4, v4, rand({ 4 }), rand({ 4 }) } }
case { "batch_norm eps", bn(0.5), { rand({ 2, 4, 9 }), m4, v4 } }
case { "batch_norm transposed input", function(x, m, v) return ember.batch_norm(x:transpose(2, 3), m, v) end,
       { rand({ 5, 6, 4 }), m4, v4 } }
case { "batch_norm strided stats", function(x, m, v) return ember.batch_norm(x, m[{ { 1, 8, 2 } }], v[{ { 2, 8, 2 } }]) end,
       { rand({ 3, 4, 5 }), rand({ 8 }), rand({ 8 }, 0.5, 2) } }
local m64, v64 = stats(3, "f64")
case { "batch_norm f64", bn(), { rand({ 2, 3, 11 }, -2, 2, "f64"), m64, v64, rand({ 3 }, -1, 1, "f64"),
                                  rand({ 3 }, -1, 1, "f64") } }
case { "batch_norm f16", bn(), { function() return rand({ 2, 4, 8 }):to("f16") end,
                                  function() return m4:to("f16") end, function() return v4:to("f16") end },
       tol = 1e-3 }
case { "batch_norm empty", bn(), { rand({ 0, 4, 3 }), m4, v4 } }
case { "batch_norm backward", function(x, m, v, w, b, g)
    x, w, b = x:clone():requires_grad_(), w:clone():requires_grad_(), b:clone():requires_grad_()
    ember.batch_norm(x, m, v, w, b):backward(g)
    return { x.grad, w.grad, b.grad }
  end, { rand({ 3, 4, 5 }), m4, v4, rand({ 4 }), rand({ 4 }), rand({ 3, 4, 5 }) }, tol = 2e-5 }
local F = require "ember.nn.functional"
case { "batch_norm training updates running stats", function(x, m, v, w, b)
    local y = F.batch_norm(x, m, v, w, b, true, 0.1, 1e-5)
    return { y, m, v }
  end, { rand({ 6, 4, 5, 5 }), m4, v4, rand({ 4 }), rand({ 4 }) }, tol = 2e-5, inplace = true }
case { "batch_norm training backward", function(x, w, b, g)
    x, w, b = x:clone():requires_grad_(), w:clone():requires_grad_(), b:clone():requires_grad_()
    F.batch_norm(x, nil, nil, w, b, true):backward(g)
    return { x.grad, w.grad, b.grad }
  end, { rand({ 6, 4, 5 }), rand({ 4 }), rand({ 4 }), rand({ 6, 4, 5 }) }, tol = 2e-5 }
-- the training op itself (y, mean, var) and its backward kernel (dx, sum(g), sum(g xhat))
case { "batch_norm_train 4-d", function(x, w, b) return { ember.batch_norm_train(x, w, b) } end,
       { rand({ 3, 4, 5, 6 }), rand({ 4 }), rand({ 4 }) }, tol = 2e-5 }
case { "batch_norm_train_backward", function(g, x, w)
    local _, m, v = ember.batch_norm_train(x)
    return { ember._op("batch_norm_train_backward")(g, x, m, v, w) }
  end, { rand({ 3, 4, 5, 6 }), rand({ 3, 4, 5, 6 }), rand({ 4 }) }, tol = 2e-5 }

-- }======

return cases
