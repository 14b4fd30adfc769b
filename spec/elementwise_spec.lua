-- elementwise_spec.lua — the elementwise family: hand-computed values and edge cases
-- (NaN, inf, -0.0, integer wraparound, division by zero), PyTorch's type promotion,
-- in-place calls on strided views, error messages, and one batched torch oracle run
-- over every op with broadcast and transposed inputs.
local ember = require "ember"
local oracle = require "oracle"

local NAN = 0 / 0
local INF = math.huge
local NZ, PZ = "-0", "+0"   -- expected values: zero with that sign

-- flat list of a tensor's values (booleans stay booleans)
local function flat(t)
  if t:dim() == 0 then return { t:item() } end
  return t:contiguous():view(-1):totable()
end

-- Compare t against expected values (a flat list): NaN matches NaN, NZ/PZ check the
-- sign of a zero, numbers match within tol (relative, default exact).
local function check(t, want, tol, dtype)
  tol = tol or 0
  if dtype then assert.equal(dtype, t:dtype()) end
  local got = flat(t)
  assert.equal(#want, #got, "number of elements")
  for i, w in ipairs(want) do
    local g = got[i]
    local ok
    if w == NZ or w == PZ then
      ok = g == 0 and (1 / g < 0) == (w == NZ)
    elseif type(w) == "boolean" then
      ok = g == w
    elseif w ~= w then
      ok = g ~= g
    elseif w == INF or w == -INF then
      ok = g == w
    else
      ok = g == w or math.abs(g - w) <= tol * math.abs(w)
    end
    assert(ok, string.format("element %d: got %s, want %s (%s)", i, tostring(g), tostring(w),
                             t:dtype()))
  end
end

local function f32(v) return ember.tensor(v, "f32") end

describe("elementwise arithmetic", function()
  it("adds, subtracts and multiplies with broadcasting and alpha", function()
    local a = f32({{1, 2, 3}, {4, 5, 6}})
    local b = f32({10, 20, 30})
    check(a + b, {11, 22, 33, 14, 25, 36}, 0, "f32")
    check(ember.add(a, b, 2), {21, 42, 63, 24, 45, 66})
    check(a - b, {-9, -18, -27, -6, -15, -24})
    check(ember.sub(a, b, 0.5), {-4, -8, -12, -1, -5, -9})
    check(a * b, {10, 40, 90, 40, 100, 180})
    check(2 - a, {1, 0, -1, -2, -3, -4})
    check(a * f32({{2}, {-1}}), {2, 4, 6, -4, -5, -6})
    check(b - a, {9, 18, 27, 6, 15, 24})            -- the smaller operand first
    check(f32({{1}, {2}}) + f32({{{10, 20}}}), {11, 21, 12, 22})
    assert.same({1, 2, 2}, (f32({{1}, {2}}) + f32({{{10, 20}}})):size())
  end)

  it("divides truly, and with trunc and floor rounding", function()
    local i = ember.tensor({7, -7, 7, -7})
    local j = ember.tensor({2, 2, -2, -2})
    check(i / j, {3.5, -3.5, -3.5, 3.5}, 0, "f32")
    check(ember.div(i, j, "trunc"), {3, -3, -3, 3}, 0, "i64")
    check(ember.div(i, j, "floor"), {3, -4, -4, 3}, 0, "i64")
    check(f32({1, -1, 0, -0.0}) / 0, {INF, -INF, NAN, NAN})
    check(f32({1}) / f32({-0.0}), {-INF})
    check(ember.div(f32({-7.5, 7.5}), 2, "trunc"), {-3, 3})
    check(ember.div(f32({-0.5}), 2, "trunc"), {NZ})
  end)

  it("takes the remainder with the divisor's sign (Lua's %)", function()
    check(f32({-3, 3, -0.0, 5.5, -5}) % f32({2, -2, 2, 2, INF}), {1, -1, NZ, 1.5, INF})
    check(ember.tensor({-7, 7, -7, 7}) % ember.tensor({3, 3, -3, -3}), {2, 1, -1, -2}, 0, "i64")
    check(f32({5, -5}) % 0, {NAN, NAN})
    check(ember.tensor({math.mininteger}) % -1, {0})
    check(ember.remainder(-7, ember.tensor({3})), {2})
  end)

  it("floor-divides as Python does (Lua's //)", function()
    check(ember.tensor({-7, 7, -7, 7}) // ember.tensor({3, 3, -3, -3}), {-3, 2, 2, -3}, 0, "i64")
    check(f32({-7.5, 7.5, -0.5, 0.5}) // 2, {-4, 3, -1, PZ}, 0, "f32")
    check(f32({5, -5, 0}) // 0, {INF, -INF, NAN})
    check(ember.tensor({math.mininteger}) // -1, {math.mininteger})   -- wraps, no trap
    check(ember.tensor({9}, "u8") // ember.tensor({2}, "u8"), {4}, 0, "u8")
  end)

  it("raises powers: int^int stays int, number bases and exponents", function()
    local i = ember.tensor({2, 3, -2})
    check(i ^ ember.tensor({3, 2, 3}), {8, 9, -8}, 0, "i64")
    check(ember.tensor({1, -1, -1, 2}) ^ ember.tensor({-1, -3, -2, -1}), {1, -1, 1, 0})
    check(2 ^ i, {4, 8, 0}, 0, "i64")   -- 2^-2 truncates to 0
    check(ember.tensor({3}) ^ 40, {-6289078614652622815})   -- wraps modulo 2^64
    check(ember.tensor({2}) ^ 62, {4611686018427387904})
    check(f32({4, 2, -8, 0}) ^ f32({0.5, -1, 1 / 3, -1}), {2, 0.5, NAN, INF}, 1e-7)
    check(f32({-3, 1.5}) ^ 2, {9, 2.25}, 0, "f32")
    check(ember.tensor({2, 3}) ^ 0.5, {math.sqrt(2), math.sqrt(3)}, 1e-7, "f32")
    check(ember.pow(f32({2}), ember.tensor({3})), {8}, 0, "f32")
  end)

  it("wraps integers around as PyTorch does", function()
    check(ember.tensor({math.maxinteger}) + 1, {math.mininteger}, 0, "i64")
    check(ember.tensor({math.mininteger}) - 1, {math.maxinteger})
    check(-ember.tensor({math.mininteger}), {math.mininteger})
    check(ember.tensor({math.mininteger}):abs(), {math.mininteger})
    check(ember.tensor({200}, "u8") + ember.tensor({100}, "u8"), {44}, 0, "u8")
    check(ember.tensor({1}, "u8") - 2, {255}, 0, "u8")
    check(ember.tensor({-128}, "i8"):abs(), {-128}, 0, "i8")
    check(ember.tensor({100}, "i8") * 3, {44}, 0, "i8")
    check(ember.tensor({2147483647}, "i32") + 1, {-2147483648}, 0, "i32")
  end)

  it("takes maximum and minimum with NaN propagating", function()
    local a, b = f32({1, NAN, 3, -0.0}), f32({NAN, 2, 1, 5})
    check(ember.maximum(a, b), {NAN, NAN, 3, 5})
    check(ember.minimum(a, b), {NAN, NAN, 1, NZ})
    check(ember.maximum(ember.tensor({1, 5}), ember.tensor({3, 2})), {3, 5}, 0, "i64")
    check(ember.minimum(ember.tensor({1, 5}, "i32"), 2.5), {1, 2.5}, 0, "f32")
    check(ember.maximum(ember.tensor({true, false}), ember.tensor({false, false})), {true, false}, 0, "bool")
  end)

  it("clamps with either bound, tensors or numbers, NaN propagating", function()
    local x = f32({-2, 0.5, 3, NAN})
    check(x:clamp(-1, 1), {-1, 0.5, 1, NAN})
    check(x:clamp(0), {0, 0.5, 3, NAN})
    check(x:clamp(nil, 1), {-2, 0.5, 1, NAN})
    check(ember.clamp(x, 3, 2), {2, 2, 2, NAN})           -- min > max gives max
    check(x:clamp(f32({0, 1, 2, 3}), f32({1})), {0, 1, 1, NAN})
    check(f32({1}):clamp(NAN, 2), {NAN})
    check(ember.tensor({-5, 5, 9}):clamp(0, 6), {0, 5, 6}, 0, "i64")
    check(ember.tensor({-5, 5, 9}):clamp(0.5), {0.5, 5, 9}, 0, "f32")
    check(f32({{1, 9}, {4, 6}}):clamp(f32({{2}, {5}}), 7), {2, 7, 5, 6})
  end)

  it("selects with where, numbers allowed for x and y", function()
    local c = ember.tensor({true, false, true})
    check(ember.where(c, f32({1, 2, 3}), f32({-1, -2, -3})), {1, -2, 3}, 0, "f32")
    check(ember.where(c, ember.tensor({1, 2, 3}), 0), {1, 0, 3}, 0, "i64")
    check(ember.where(c, 1, 2.5), {1, 2.5, 1}, 0, "f32")
    check(ember.where(c, NAN, INF), {NAN, INF, NAN})
    local g = ember.where(ember.tensor({{true}, {false}}), f32({1, 2, 3}), 0)
    assert.same({2, 3}, g:size())
    check(g, {1, 2, 3, 0, 0, 0})
  end)
end)

describe("elementwise unary", function()
  it("negates, takes abs and sign, keeping -0.0 and integers", function()
    check(-f32({0, -0.0, 2}), {NZ, PZ, -2})
    check(ember.neg(ember.tensor({5, -7}, "i32")), {-5, 7}, 0, "i32")
    local v = f32({1, -2})
    check(v:neg_(), {-1, 2})
    check(v, {-1, 2})
    check(f32({-0.0, -3, INF, -INF}):abs(), {PZ, 3, INF, INF})
    check(ember.tensor({-3, 4}):abs(), {3, 4}, 0, "i64")
    check(f32({-2, 0, -0.0, 3, NAN, -INF}):sign(), {-1, PZ, PZ, 1, PZ, -1}, 0, "f32")
    check(ember.tensor({-9, 0, 7}, "i32"):sign(), {-1, 0, 1}, 0, "i32")
    check(ember.tensor({true, false}):sign(), {true, false}, 0, "bool")
  end)

  it("rounds: floor ceil round (halves to even) trunc, identity on integers", function()
    local x = f32({-1.5, -0.5, 0.5, 1.5, 2.5, -0.4})
    check(x:floor(), {-2, -1, 0, 1, 2, -1})
    check(x:ceil(), {-1, NZ, 1, 2, 3, NZ})
    check(x:round(), {-2, NZ, PZ, 2, 2, NZ})
    check(x:trunc(), {-1, NZ, PZ, 1, 2, NZ})
    check(f32({NAN, INF}):floor(), {NAN, INF})
    check(ember.tensor({-3, 3}):floor(), {-3, 3}, 0, "i64")
    check(ember.tensor({-3, 3}, "i16"):round(), {-3, 3}, 0, "i16")
  end)

  it("computes float functions, integers giving f32", function()
    check(f32({4, -1, INF, -0.0}):sqrt(), {2, NAN, INF, NZ})
    check(f32({4, 0, -1}):rsqrt(), {0.5, INF, NAN})
    check(f32({0, 1, -INF}):exp(), {1, math.exp(1), PZ}, 1e-7)
    check(f32({1, 0, -1}):log(), {PZ, -INF, NAN})
    check(ember.tensor({1e-10, -1, -2}, "f64"):log1p(), {1e-10 - 5e-21, -INF, NAN}, 1e-15)
    check(ember.tensor({1e-10, -INF}, "f64"):expm1(), {1e-10 + 5e-21, -1}, 1e-15)
    check(f32({0, math.pi / 2}):sin(), {PZ, 1}, 1e-7)
    check(f32({0}):cos(), {1})
    check(f32({-0.0, INF, -INF}):tanh(), {NZ, 1, -1})
    check(ember.tensor({0, 1}):exp(), {1, math.exp(1)}, 1e-7, "f32")
    check(ember.tensor({4}, "i32"):sqrt(), {2}, 0, "f32")
    check(ember.tensor({true, false}):sqrt(), {1, 0}, 0, "f32")
    check(ember.tensor({4, 9}, "f64"):sqrt(), {2, 3}, 0, "f64")
    check(ember.tensor({4, 9}, "f16"):sqrt(), {2, 3}, 0, "f16")
  end)

  it("computes the activations", function()
    check(f32({0, -1000, 1000, -INF}):sigmoid(), {0.5, PZ, 1, PZ})
    check(f32({-1, -0.0, 2, NAN}):relu(), {PZ, NZ, 2, NAN})
    check(ember.tensor({-3, 3}):relu(), {0, 3}, 0, "i64")
    check(f32({0, 1, -1, 10}):gelu(), {PZ, 0.8413447460685429, -0.15865525393145707, 10}, 1e-6)
    check(ember.gelu(f32({1, -1}), "tanh"), {0.8411920071178, -0.1588079928822}, 1e-6)
    check(ember.tensor({-8}, "f64"):gelu(), {-8 * 6.22096057427178e-16}, 1e-9)  -- x * Phi(x), tail
    check(f32({1, 0, -1000}):silu(), {0.7310585786300049, PZ, NZ}, 1e-6)
    check(f32({0, 30, -30}):softplus(), {math.log(2), 30, 9.357622968840175e-14}, 1e-6)
    check(ember.softplus(f32({1, 3}), 2, 5), {1.0634640055214863, 3}, 1e-6)
    check(ember.softplus(f32({1}), {beta = 2}), {1.0634640055214863}, 1e-6)
  end)
end)

describe("elementwise comparisons and logic", function()
  it("compares to bool, NaN unequal to everything", function()
    local x = f32({1, 2, NAN})
    check(x:eq(2), {false, true, false}, 0, "bool")
    check(x:ne(2), {true, false, true})
    check(x:lt(2), {true, false, false})
    check(x:le(2), {true, true, false})
    check(x:gt(2), {false, false, false})
    check(x:ge(2), {false, true, false})
    check(ember.lt(2, x), {false, false, false})
    check(ember.ge(2, x), {true, true, false})
    check(x:eq(x), {true, true, false})
  end)

  it("compares across dtypes in the promoted dtype", function()
    check(ember.tensor({1, 2}):eq(1.0), {true, false})
    check(ember.tensor({1, 2}):lt(1.5), {true, false})
    check(ember.tensor({200}, "u8"):gt(ember.tensor({-1}, "i8")), {true})
    check(ember.tensor({true, false}):eq(ember.tensor({1, 1})), {true, false})
    check(ember.tensor({{1}, {5}}):ge(ember.tensor({1, 3, 5})), {true, false, false, true, true, true})
  end)

  it("computes logical ops on any dtype, NaN counting as true", function()
    local a, b = f32({0.5, 0, NAN, 0}), ember.tensor({2, 3, 0, 0})
    check(ember.logical_and(a, b), {true, false, false, false}, 0, "bool")
    check(ember.logical_or(a, b), {true, true, true, false}, 0, "bool")
    check(ember.logical_xor(a, b), {false, true, true, false}, 0, "bool")
    check(a:logical_not(), {false, true, false, true}, 0, "bool")
    check(ember.tensor({0, -3}, "i8"):logical_not(), {true, false})
    check(ember.tensor({true, false}):logical_not(), {false, true})
  end)

  it("tests for NaN and inf", function()
    local x = f32({1, NAN, INF, -INF})
    check(x:isnan(), {false, true, false, false}, 0, "bool")
    check(x:isinf(), {false, false, true, true}, 0, "bool")
    check(ember.tensor({1, 2}):isnan(), {false, false}, 0, "bool")
    check(ember.tensor({1, 2}, "i32"):isinf(), {false, false}, 0, "bool")
    check(ember.tensor({NAN, 65536}, "f16"):isinf(), {false, true})
  end)
end)

describe("elementwise type promotion", function()
  it("follows PyTorch's result_type", function()
    local function dt(t) return t:dtype() end
    local i32, i64 = ember.tensor({1, 2}, "i32"), ember.tensor({1, 2})
    local b = ember.tensor({true, false})
    assert.equal("i32", dt(i32 + 1))
    assert.equal("f32", dt(i32 + 1.5))
    assert.equal("f32", dt(i32 / 2))
    assert.equal("f32", dt(i64 / i64))
    assert.equal("f64", dt(ember.tensor({1}, "f64") + f32({1})))
    assert.equal("f16", dt(ember.tensor({1}, "f16") + 2.5))
    assert.equal("bf16", dt(ember.tensor({1}, "bf16") * 2))
    assert.equal("i16", dt(ember.tensor({1}, "u8") + ember.tensor({1}, "i8")))
    assert.equal("f32", dt(f32({1}) + ember.tensor(2.0, "f64")))   -- 0-dim does not widen
    assert.equal("f64", dt(i64 + ember.tensor(2.0, "f64")))          -- but lifts the category
    assert.equal("bool", dt(b + b))
    assert.equal("bool", dt(b * b))
    assert.equal("i64", dt(b + 1))
    assert.equal("f32", dt(b * 2.5))
    assert.equal("i32", dt(i32 % 2))
    assert.equal("i32", dt(i32 // 2))
    assert.equal("i32", dt(i32 ^ 2))
    assert.equal("f32", dt(i32 ^ 2.5))
    assert.equal("f32", dt(2.5 ^ i32))
    assert.equal("i32", dt(i32:abs()))
    assert.equal("i32", dt(ember.maximum(i32, 1)))
    assert.equal("i32", dt(i32:clamp(0, 1)))
    assert.equal("f32", dt(i32:clamp(0.5)))
    assert.equal("i64", dt(b:clamp(0, 1)))
    assert.equal("f32", dt(ember.where(b, i32, 2.5)))
    assert.equal("f16", dt(ember.where(b, ember.tensor({1, 2}, "f16"), 2.5)))
    assert.equal("i64", dt(ember.where(b, 1, 2)))
    assert.equal("f32", dt(i64:exp()))
    assert.equal("f32", dt(b:sigmoid()))
    assert.equal("f64", dt(ember.tensor({1}, "f64"):tanh()))
    assert.equal("bf16", dt(ember.tensor({1}, "bf16"):gelu()))
    assert.equal("bool", dt(i32:lt(f32({1, 2}))))
    assert.equal("bool", dt(ember.logical_and(i32, f32({1, 2}))))
  end)

  it("computes f16 and bf16 in f32 and rounds once", function()
    local h = ember.tensor({1, 1025, 2048}, "f16")
    check(h + 1, {2, 1026, 2048}, 0, "f16")   -- 2049 rounds to even in f16
    check(ember.tensor({1000}, "f16") * ember.tensor({1000}, "f16"), {INF}, 0, "f16")
    check(ember.tensor({3}, "bf16") / 2, {1.5}, 0, "bf16")
  end)
end)

describe("elementwise in place", function()
  it("writes through strided views", function()
    local a = ember.tensor({{1, 2, 3}, {4, 5, 6}})
    a[{{}, 2}]:mul_(10)
    assert.same({{1, 20, 3}, {4, 50, 6}}, a:totable())
    local m = f32({{1, 2}, {3, 4}})
    m:t():add_(f32({10, 20}))       -- broadcast into the transposed view
    assert.same({{11, 12}, {23, 24}}, m:totable())
    local x = f32({{-2, 5, 0.5}, {9, -9, 3}})
    x[{{}, {2, 3}}]:clamp_(0, 4)
    assert.same({{-2, 4, 0.5}, {9, 0, 3}}, x:totable())
    local r = ember.tensor({{7, -7}, {8, -8}})
    r:t():remainder_(ember.tensor({3, -3}))
    assert.same({{1, 2}, {-1, -2}}, r:totable())   -- r:t() rows were {7, 8}, {-7, -8}
    local s = f32({0, 1, 2, 3})
    s[{{2, 4, 2}}]:sigmoid_()
    check(s, {0, 1 / (1 + math.exp(-1)), 2, 1 / (1 + math.exp(-3))}, 1e-6)
  end)

  it("converts the result into the target's dtype", function()
    local g = f32({{1, 5}, {3, 0}})
    g:gt_(2)
    assert.same({{0, 1}, {1, 0}}, g:totable())
    assert.equal("f32", g:dtype())
    local i = ember.tensor({1, 2}, "i32")
    i:add_(ember.tensor({1, 1}))
    assert.same({2, 3}, i:totable())
    assert.equal("i32", i:dtype())
    local h = ember.tensor({1, 4}, "f16")
    h:sqrt_()
    assert.same({1, 2}, h:totable())
    local f = f32({1.5, 2.5})
    f:floor_divide_(ember.tensor({1, 2}))
    assert.same({1, 1}, f:totable())
  end)

  it("leaves the target untouched when the call fails", function()
    local t = ember.tensor({5, 6, 7})
    assert.is_false(pcall(function() t:remainder_(ember.tensor({1, 0, 1})) end))
    assert.same({5, 6, 7}, t:totable())
  end)
end)

describe("elementwise errors", function()
  -- pcall f; the message must mention every fragment
  local function fails(f, ...)
    local ok, msg = pcall(f)
    assert.is_false(ok, "expected an error")
    msg = tostring(msg)
    for _, frag in ipairs({...}) do
      assert(msg:find(frag, 1, true), string.format("message %q lacks %q", msg, frag))
    end
  end

  it("names the op and the offending shapes, dtypes and arguments", function()
    local a, v = f32({{1, 2, 3}, {4, 5, 6}}), f32({1, 2, 3, 4})
    local i, b = ember.tensor({1, 2, 3}), ember.tensor({true, false, true})
    fails(function() return a + v end, "add:", "2x3", "4")
    fails(function() return ember.where(b, a, v) end, "where:", "2x3", "4")
    fails(function() return ember.maximum(a, v) end, "maximum:", "2x3", "4")
    fails(function() return i // 0 end, "floor_divide:", "division by zero", "i64")
    fails(function() return i % ember.tensor({1, 0, 2}) end, "remainder:", "division by zero")
    fails(function() return ember.div(i, ember.tensor({0}), "trunc") end, "div:", "division by zero")
    fails(function() return i:clamp() end, "clamp:", "min and max", "i64 of shape 3")
    fails(function() return ember.where(i, a, 0) end, "where:", "bool", "i64 of shape 3")
    fails(function() return b - b end, "sub:", "bool of shape 3")
    fails(function() return -b end, "neg:", "bool", "logical_not")
    fails(function() return b:abs() end, "abs:", "bool of shape 3")
    fails(function() return i ^ -1 end, "pow:", "negative integer powers", "-1")
    fails(function() return b ^ b end, "pow:", "bool")
    fails(function() return ember.add(i, i, 2.5) end, "add:", "alpha 2.5", "i64")
    fails(function() return ember.gelu(a, "fast") end, "gelu:", "approximate", "fast")
    fails(function() return ember.div(a, a, "round") end, "div:", "rounding_mode", "round")
    fails(function() return i:div_(2) end, "div:", "f32", "i64")
    fails(function() return v:add_(a) end, "add:", "2x3", "4")
    fails(function() return a:softplus("x") end, "softplus:", "beta", "number")
  end)
end)

describe("elementwise against torch", function()
  -- deterministic "random" inputs: two decimals, both signs, no exact zeros
  local function grid(r, c, seed)
    local rows = {}
    for i = 1, r do
      rows[i] = {}
      for j = 1, c do
        local v = math.floor(math.sin(i * 7.1 + j * 3.3 + seed) * 400 + 0.5) / 100
        rows[i][j] = v == 0 and 0.25 or v
      end
    end
    return rows
  end
  local A = f32(grid(3, 4, 0))            -- 3x4
  local At = A:t()                        -- 4x3, transposed view
  local B = f32(grid(1, 4, 1)[1])         -- 4, broadcasts over rows of A
  local C = f32(grid(4, 1, 2))            -- 4x1, broadcasts over columns of At
  local Bn = B:abs() + 0.5                -- positive divisor / exponent material
  local P = A:abs() + 0.1                 -- positive base
  local Z = f32({{0, 1.5, NAN, -2}, {INF, 0, -0.0, 3}, {1, -INF, 0, NAN}})
  local I = ember.tensor({{-7, 7, -8, 9}, {5, -6, 0, 13}, {-1, 2, -3, 4}})
  local J = ember.tensor({3, -3, 4, -5})
  local cond = A:gt(0)
  local H = A:to("f16")
  local H2 = B:to("f16")

  -- { ember result (a function), torch expression, inputs, rtol }
  local cases = {
    { function() return ember.add(A, B, 2) end, "torch.add(x[0], x[1], alpha=2)", { A, B } },
    { function() return At - C end, "x[0] - x[1]", { At, C } },
    { function() return C - At end, "x[0] - x[1]", { C, At } },
    { function() return B * A end, "x[0] * x[1]", { B, A } },
    { function() return ember.sub(At, 1.5, 3) end, "torch.sub(x[0], 1.5, alpha=3)", { At } },
    { function() return A * B end, "x[0] * x[1]", { A, B } },
    { function() return 2.5 * At end, "2.5 * x[0]", { At } },
    { function() return A / Bn end, "x[0] / x[1]", { A, Bn } },
    { function() return At / C end, "x[0] / x[1]", { At, C } },
    { function() return ember.div(A, B, "trunc") end, "torch.div(x[0], x[1], rounding_mode='trunc')", { A, B } },
    { function() return ember.div(At, C, "floor") end, "torch.div(x[0], x[1], rounding_mode='floor')", { At, C } },
    { function() return A % B end, "torch.remainder(x[0], x[1])", { A, B } },
    { function() return At % 0.75 end, "torch.remainder(x[0], 0.75)", { At } },
    { function() return A // B end, "torch.floor_divide(x[0], x[1])", { A, B } },
    { function() return I % J end, "torch.remainder(x[0], x[1])", { I, J } },
    { function() return I // J end, "torch.floor_divide(x[0], x[1])", { I, J } },
    { function() return ember.div(I, J, "trunc") end, "torch.div(x[0], x[1], rounding_mode='trunc')", { I, J } },
    { function() return I / J end, "x[0] / x[1]", { I, J } },
    { function() return P ^ B end, "torch.pow(x[0], x[1])", { P, B } },
    { function() return At ^ 2 end, "torch.pow(x[0], 2)", { At } },
    { function() return At ^ 3 end, "torch.pow(x[0], 3)", { At } },
    { function() return 1.5 ^ A end, "torch.pow(1.5, x[0])", { A } },
    { function() return I:abs() ^ ember.tensor({0, 1, 2, 3}) end, "torch.pow(x[0], x[1])", { I:abs(), ember.tensor({0, 1, 2, 3}) } },
    { function() return ember.maximum(Z, B) end, "torch.maximum(x[0], x[1])", { Z, B } },
    { function() return ember.minimum(Z, B) end, "torch.minimum(x[0], x[1])", { Z, B } },
    { function() return ember.maximum(I, J) end, "torch.maximum(x[0], x[1])", { I, J } },
    { function() return At:clamp(-1, 1) end, "torch.clamp(x[0], -1, 1)", { At } },
    { function() return A:clamp(B) end, "torch.clamp(x[0], min=x[1])", { A, B } },
    { function() return At:clamp(nil, C) end, "torch.clamp(x[0], max=x[1])", { At, C } },
    { function() return Z:clamp(-1, 2) end, "torch.clamp(x[0], -1, 2)", { Z } },
    { function() return I:clamp(-2, 6) end, "torch.clamp(x[0], -2, 6)", { I } },
    { function() return ember.where(cond, A, B) end, "torch.where(x[0], x[1], x[2])", { cond, A, B } },
    { function() return ember.where(cond[1], A, C:t()) end, "torch.where(x[0], x[1], x[2])", { cond[1], A, C:t() } },
    { function() return ember.where(cond:t(), At, 0.5) end, "torch.where(x[0], x[1], torch.tensor(0.5))", { cond:t(), At } },
    { function() return A:eq(ember.tensor({2.72, -1.47, 0.25, 1.0})) end, "torch.eq(x[0], x[1])", { A, ember.tensor({2.72, -1.47, 0.25, 1.0}) } },
    { function() return At:ne(C) end, "torch.ne(x[0], x[1])", { At, C } },
    { function() return A:lt(B) end, "torch.lt(x[0], x[1])", { A, B } },
    { function() return At:le(0.5) end, "torch.le(x[0], 0.5)", { At } },
    { function() return A:gt(B) end, "torch.gt(x[0], x[1])", { A, B } },
    { function() return Z:ge(0) end, "torch.ge(x[0], 0)", { Z } },
    { function() return I:lt(J) end, "torch.lt(x[0], x[1])", { I, J } },
    { function() return ember.logical_and(Z, I) end, "torch.logical_and(x[0], x[1])", { Z, I } },
    { function() return ember.logical_or(Z, J) end, "torch.logical_or(x[0], x[1])", { Z, J } },
    { function() return ember.logical_xor(Z, cond) end, "torch.logical_xor(x[0], x[1])", { Z, cond } },
    { function() return Z:logical_not() end, "torch.logical_not(x[0])", { Z } },
    { function() return Z:isnan() end, "torch.isnan(x[0])", { Z } },
    { function() return Z:isinf() end, "torch.isinf(x[0])", { Z } },
    { function() return -At end, "-x[0]", { At } },
    { function() return At:abs() end, "torch.abs(x[0])", { At } },
    { function() return Z:sign() end, "torch.sign(x[0])", { Z } },
    { function() return I:sign() end, "torch.sign(x[0])", { I } },
    { function() return (At * 3):floor() end, "torch.floor(x[0] * 3)", { At } },
    { function() return (At * 3):ceil() end, "torch.ceil(x[0] * 3)", { At } },
    { function() return (A * 2):round() end, "torch.round(x[0] * 2)", { A } },
    { function() return (A * 3):trunc() end, "torch.trunc(x[0] * 3)", { A } },
    { function() return P:t():sqrt() end, "torch.sqrt(x[0])", { P:t() } },
    { function() return P:rsqrt() end, "torch.rsqrt(x[0])", { P } },
    { function() return At:exp() end, "torch.exp(x[0])", { At } },
    { function() return P:t():log() end, "torch.log(x[0])", { P:t() } },
    { function() return P:log1p() end, "torch.log1p(x[0])", { P } },
    { function() return At:expm1() end, "torch.expm1(x[0])", { At } },
    { function() return At:sin() end, "torch.sin(x[0])", { At } },
    { function() return At:cos() end, "torch.cos(x[0])", { At } },
    { function() return At:tanh() end, "torch.tanh(x[0])", { At } },
    { function() return At:sigmoid() end, "torch.sigmoid(x[0])", { At } },
    { function() return At:relu() end, "torch.relu(x[0])", { At } },
    { function() return At:gelu() end, "torch.nn.functional.gelu(x[0])", { At } },
    { function() return ember.gelu(At, "tanh") end, "torch.nn.functional.gelu(x[0], approximate='tanh')", { At } },
    { function() return At:silu() end, "torch.nn.functional.silu(x[0])", { At } },
    { function() return (At * 10):softplus() end, "torch.nn.functional.softplus(x[0] * 10)", { At } },
    { function() return ember.softplus(At, 2, 3) end, "torch.nn.functional.softplus(x[0], 2, 3)", { At } },
    { function() return I:exp() end, "torch.exp(x[0])", { I } },
    { function() return H + H2 end, "x[0] + x[1]", { H, H2 }, 1e-3 },
    { function() return H * 2.5 end, "x[0] * 2.5", { H }, 1e-3 },
    { function() return ember.tensor({3, 250}, "u8") + ember.tensor({-4, 5}, "i8") end, "x[0] + x[1]",
      { ember.tensor({3, 250}, "u8"), ember.tensor({-4, 5}, "i8") } },
  }

  local results
  setup(function()
    local req = {}
    for k, c in ipairs(cases) do req[k] = { expr = c[2], inputs = c[3] } end
    results = oracle.eval(req)
  end)

  for k, c in ipairs(cases) do
    it(string.format("case %d: %s", k, c[2]), function()
      oracle.assert_close(c[1](), results[k], c[4] or 1e-5)
    end)
  end
end)
