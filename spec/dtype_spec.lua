-- dtype_spec.lua — the ten dtypes by name, and conversion between every pair (t:to)
-- against PyTorch's x.to(dtype): f16/bf16 rounding to nearest even at ties, overflow
-- to inf, subnormals, NaN, float -> int truncation toward zero, integer wrap-around,
-- and bool. Values PyTorch leaves to undefined C++ behaviour (a float out of an
-- integer type's range, NaN to an integer) are not compared.
local ember = require "ember"
local oracle = require "oracle"

local DTYPES = { "f32", "f64", "f16", "bf16", "i8", "i16", "i32", "i64", "u8", "bool" }
local TORCH = {
  f32 = "torch.float32", f64 = "torch.float64", f16 = "torch.float16", bf16 = "torch.bfloat16",
  i8 = "torch.int8", i16 = "torch.int16", i32 = "torch.int32", i64 = "torch.int64",
  u8 = "torch.uint8", bool = "torch.bool",
}
local FLOAT = { f32 = true, f64 = true, f16 = true, bf16 = true }

local function check_all(cases)
  local req = {}
  for i, c in ipairs(cases) do req[i] = { expr = c.expr, inputs = c.inputs } end
  local r = oracle.eval(req)
  for i, c in ipairs(cases) do
    local ok, msg = pcall(oracle.assert_close, c.got, r[i], 0, 0)
    assert(ok, c.expr .. " from " .. c.inputs[1]:dtype() .. ": " .. tostring(msg))
  end
end

describe("dtypes", function()
  it("has ten dtypes, each by name, element size and Torch7 type", function()
    local sizes = { f32 = 4, f64 = 8, f16 = 2, bf16 = 2, i8 = 1, i16 = 2, i32 = 4, i64 = 8, u8 = 1, bool = 1 }
    local types = {
      f32 = "FloatTensor", f64 = "DoubleTensor", f16 = "HalfTensor", bf16 = "BFloat16Tensor",
      i8 = "CharTensor", i16 = "ShortTensor", i32 = "IntTensor", i64 = "LongTensor",
      u8 = "ByteTensor", bool = "BoolTensor",
    }
    for _, dt in ipairs(DTYPES) do
      local t = ember.tensor({ 1, 0 }, dt)
      assert.equal(dt, t:dtype())
      assert.equal(sizes[dt], t:element_size(), dt)
      assert.equal("ember." .. types[dt], t:type())
      assert.equal(dt, ember.zeros(1):to(dt):dtype())
      assert.equal(FLOAT[dt] or false, t:is_floating_point(), dt)
    end
  end)

  it("takes PyTorch's long names and Torch7's conversion methods", function()
    local t = ember.tensor({ 1.5, -2 })
    assert.equal("f64", t:to("float64"):dtype())
    assert.equal("f16", t:to("half"):dtype())
    assert.equal("i32", t:to("int"):dtype())
    assert.equal("u8", t:to("uint8"):dtype())
    assert.equal("f64", t:double():dtype())
    assert.equal("i64", t:long():dtype())
    assert.equal("bf16", t:bfloat16():dtype())
    assert.same({ 1, -2 }, t:long():totable())
    assert.equal("f32", ember.tensor({ 1.5 }):dtype())
    assert.equal("i64", ember.tensor({ 1, 2 }):dtype())
    assert.equal("bool", ember.tensor({ true, false }):dtype())
  end)

  it("to the same dtype gives the tensor itself; other dtypes a copy", function()
    local t = ember.tensor({ 1, 2 }, "f32")
    local same = t:to("f32")
    same[1] = 9
    assert.equal(9, t[1])
    local other = t:to("f64")
    other[1] = 5
    assert.equal(9, t[1])
  end)

  it("converts between every pair as torch does", function()
    -- values every dtype holds (non-negative, at most 127), with fractions for the floats
    local float_vals = { 0, 1, 2.5, 3.9, 0.3, 100.75, 127, 64.5, 0.0009765625 }
    local int_vals = { 0, 1, 2, 100, 127, 5, 64, 3, 0 }
    local cases = {}
    for _, from in ipairs(DTYPES) do
      local src
      if FLOAT[from] then src = ember.tensor(float_vals, "f64"):to(from)
      elseif from == "bool" then src = ember.tensor({ true, false, true, true, false, false, true, false, true })
      else src = ember.tensor(int_vals, from) end
      for _, to in ipairs(DTYPES) do
        cases[#cases + 1] = { expr = "x[0].to(" .. TORCH[to] .. ")", inputs = { src }, got = src:to(to) }
      end
    end
    assert.equal(100, #cases)
    check_all(cases)
  end)

  it("rounds to nearest even, overflows to inf, keeps subnormals, NaN and signed zeros", function()
    local h = 2.0 ^ -11
    local f32_src = ember.tensor({
      1 + h, 1 + 3 * h, 1 + h + 2 ^ -20, 65504, 65519, 65520, 1e5, -1e5,
      2 ^ -14, 2 ^ -24, 2 ^ -25, 3 * 2 ^ -25, 2 ^ -26, 1023 * 2 ^ -24, 2047 * 2 ^ -25,
      1 + 2 ^ -8, 1 + 3 * 2 ^ -8, 1 + 2 ^ -8 + 2 ^ -20, 3.4e38, 1e-40, 1e-45,
      0 / 0, math.huge, -math.huge, -0.0, 0.1, -0.1, 1 / 3,
    }, "f32")
    local f64_src = ember.tensor({
      1 + h + 2 ^ -40,          -- a double rounding: torch goes through f32, so 1.0
      1e39, -1e39, 3.5e38, 1e-46, 1e-320, 2 ^ -149, 2 ^ -150, 3 * 2 ^ -150,
      0 / 0, math.huge, -0.0, 0.1, 1 + 2 ^ -24, 1 + 2 ^ -24 + 2 ^ -50, 65519.99,
    }, "f64")
    local half_src = ember.tensor({ 65504, 2 ^ -24, 0 / 0, -math.huge, 0.333251953125, -0.0 }, "f16")
    local bf_src = ember.tensor({ 3.3895313892515355e38, 2 ^ -133, 0 / 0, math.huge, 3.140625, -0.0 }, "bf16")
    local cases = {}
    for _, src in ipairs({ f32_src, f64_src, half_src, bf_src }) do
      for _, to in ipairs({ "f32", "f64", "f16", "bf16", "bool" }) do
        cases[#cases + 1] = { expr = "x[0].to(" .. TORCH[to] .. ")", inputs = { src }, got = src:to(to) }
      end
    end
    check_all(cases)
    -- the hand-computed answers behind a few of them
    local f16 = f32_src:to("f16"):totable()
    assert.equal(1, f16[1])
    assert.equal(1 + 4 * h, f16[2])
    assert.equal(1 + 2 * h, f16[3])
    assert.equal(65504, f16[5])
    assert.equal(math.huge, f16[6])
    assert.equal(-math.huge, f16[8])
    assert.equal(2 ^ -24, f16[10])
    assert.equal(0, f16[11])
    assert.equal(2 ^ -23, f16[12])
    assert.equal(2 ^ -14, f16[15])
    assert.is_true(f16[22] ~= f16[22])
    assert.equal(-math.huge, 1 / f16[25])     -- -0 stays negative
    local bf = f32_src:to("bf16"):totable()
    assert.equal(1, bf[16])
    assert.equal(1 + 4 * 2 ^ -8, bf[17])
    assert.equal(1 + 2 * 2 ^ -8, bf[18])
    assert.equal(math.huge, bf[19])
  end)

  it("truncates floats toward zero into integers, and wraps integers as torch does", function()
    local neg = ember.tensor({ 2.7, -2.7, 0.99, -0.99, -127.5, 126.9, -0.0, 3 }, "f32")
    local wide = ember.tensor({ -1, 255, 256, 200, -129, 70000, -32769, 2 ^ 31 | 0, (1 << 40) + 7 }, "i64")
    local cases = {}
    for _, to in ipairs({ "i8", "i16", "i32", "i64" }) do
      for _, from in ipairs({ "f32", "f64", "f16", "bf16" }) do
        local src = neg:to(from)
        cases[#cases + 1] = { expr = "x[0].to(" .. TORCH[to] .. ")", inputs = { src }, got = src:to(to) }
      end
    end
    for _, to in ipairs(DTYPES) do
      cases[#cases + 1] = { expr = "x[0].to(" .. TORCH[to] .. ")", inputs = { wide }, got = wide:to(to) }
    end
    local i32 = ember.tensor({ -1, 300, -300, 65535, 65536, 16777217 }, "i32")
    for _, to in ipairs(DTYPES) do
      cases[#cases + 1] = { expr = "x[0].to(" .. TORCH[to] .. ")", inputs = { i32 }, got = i32:to(to) }
    end
    check_all(cases)
    assert.same({ 2, -2, 0, 0, -127, 126, 0, 3 }, neg:to("i32"):totable())
    assert.same({ 255, 255, 0, 200, 127, 112, 255, 0, 7 }, wide:to("u8"):totable())
  end)

  it("rounds i64 to f32 once, as torch does", function()
    -- 2^60 + 2^36 + 1 lies just above the midpoint of two f32 neighbours; rounding
    -- through f64 first would drop the 1 and then round the tie to even
    local t = ember.tensor({ (1 << 60) + (1 << 36) + 1, (1 << 24) + 1, -((1 << 53) + 1) }, "i64")
    local r = oracle.eval({ { expr = "x[0].to(torch.float32)", inputs = { t } } })
    oracle.assert_close(t:to("f32"), r[1], 0, 0)
    assert.equal(2.0 ^ 60 + 2.0 ^ 37, t:to("f32")[1])
  end)

  it("makes bools from nonzero and back to 0 and 1", function()
    local f = ember.tensor({ 0, 0.1, -0.0, 0 / 0, -3, 1e-40 }, "f32")
    assert.same({ false, true, false, true, true, true }, f:to("bool"):totable())
    assert.same({ false, true, true, false }, ember.tensor({ 0, 1, -5, 0 }, "i64"):to("bool"):totable())
    assert.same({ false, true }, ember.tensor({ 0, 256 }, "i32"):to("bool"):totable())
    local b = ember.tensor({ true, false, true })
    assert.same({ 1, 0, 1 }, b:to("f16"):totable())
    assert.same({ 1, 0, 1 }, b:to("i64"):totable())
    assert.equal("integer", math.type(b:to("u8")[1]))
    local r = oracle.eval({ { expr = "x[0].to(torch.bool)", inputs = { f } } })
    oracle.assert_close(f:to("bool"), r[1], 0, 0)
  end)

  it("converts strided views element by element", function()
    local base = ember.tensor({ { 1.5, 2.5, 3.5 }, { -4.25, 5, 6 } }, "f32")
    local v = base:t()
    local d = v:to("f64")
    assert.same({ 3, 2 }, d:size())
    assert.same({ { 1.5, -4.25 }, { 2.5, 5 }, { 3.5, 6 } }, d:totable())
    assert.same({ { 1, -4 }, { 2, 5 }, { 3, 6 } }, v:to("i16"):totable())
    local s = base[{ {}, { 1, 3, 2 } }]
    assert.same({ { 1.5, 3.5 }, { -4.25, 6 } }, s:to("bf16"):totable())
  end)

  it("names the unknown dtype in errors", function()
    local ok, msg = pcall(function() return ember.zeros(2):to("f128") end)
    assert.is_false(ok)
    assert.matches("to: unknown dtype \"f128\"", msg)
    ok, msg = pcall(ember.tensor, { 1 }, "complex128")
    assert.is_false(ok)
    assert.matches("unknown dtype \"complex128\"", msg)
  end)
end)
