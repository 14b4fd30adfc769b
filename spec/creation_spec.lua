-- creation_spec.lua — zeros ones full empty arange linspace eye rand randn randint and
-- the *_like forms: argument forms, dtypes, PyTorch as oracle for the deterministic
-- ones, an independent Philox in Lua for the random ones (values are a function of
-- seed and position only), sample statistics, and error messages.
local ember = require "ember"
local oracle = require "oracle"

local function flat(t) return t:contiguous():view(-1):totable() end

-- {====== Philox 4x32-10 in plain Lua: the independent truth for the random ops
local MASK = 0xffffffff
local function philox(key, counter)
  local c0, c1, c2, c3 = counter & MASK, (counter >> 32) & MASK, 0, 0
  local k0, k1 = key & MASK, (key >> 32) & MASK
  for _ = 1, 10 do
    local p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2   -- < 2^64: exact modulo 2^64
    c0, c1, c2, c3 = ((p1 >> 32) & MASK) ~ c1 ~ k0, p1 & MASK, ((p0 >> 32) & MASK) ~ c3 ~ k1, p0 & MASK
    k0, k1 = (k0 + 0x9E3779B9) & MASK, (k1 + 0xBB67AE85) & MASK
  end
  return { c0, c1, c2, c3 }
end

-- draw i (0-based) of the stream from counter `first` on
local function draw(key, first, i)
  return philox(key, first + i // 4)[i % 4 + 1]
end
local function unit24(x) return (x >> 8) * 2.0^-24 end
local function unit53(hi, lo) return ((hi << 21) | (lo >> 11)) * 2.0^-53 end
-- }======

local function mean_var(xs)
  local n, s = #xs, 0
  for i = 1, n do s = s + xs[i] end
  local m, v = s / n, 0
  for i = 1, n do v = v + (xs[i] - m) ^ 2 end
  return m, v / (n - 1)
end

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

describe("creation", function()
  describe("zeros ones empty full", function()
    it("take sizes as trailing integers or a table, dtype positionally or as an option", function()
      local a = ember.zeros(2, 3)
      assert.same({ 2, 3 }, a:size())
      assert.equal("f32", a:dtype())
      assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, a:totable())
      assert.same({ 4 }, ember.ones({ 4 }):size())
      assert.equal("f64", ember.ones(2, 2, "f64"):dtype())
      assert.equal("i32", ember.ones({ 2, 2 }, { dtype = "i32" }):dtype())
      assert.equal("bf16", ember.zeros(3, { dtype = "bf16" }):dtype())
      assert.same({ 2, 3, 4 }, ember.empty(2, 3, 4):size())
      assert.equal("i64", ember.empty({ 5 }, "i64"):dtype())
      assert.same({ { 1, 1 } }, ember.ones(1, 2, { device = "cpu" }):totable())
      assert.is_true(ember.zeros(2, 3):is_contiguous())
    end)

    it("make 0-dim and empty tensors", function()
      local s = ember.ones({})
      assert.equal(0, s:dim())
      assert.equal(1, s:item())
      local e = ember.zeros(0, 3)
      assert.same({ 0, 3 }, e:size())
      assert.equal(0, e:numel())
      assert.equal(0, ember.rand(0):numel())
      assert.equal(0, ember.randn(3, 0):numel())
    end)

    it("fill every dtype with its own zero and one", function()
      for _, dt in ipairs({ "f32", "f64", "f16", "bf16", "i8", "i16", "i32", "i64", "u8", "bool" }) do
        local z, o = ember.zeros(3, dt), ember.ones(3, dt)
        assert.equal(dt, z:dtype())
        local zero, one = 0, 1
        if dt == "bool" then zero, one = false, true end
        assert.same({ zero, zero, zero }, z:totable(), dt)
        assert.same({ one, one, one }, o:totable(), dt)
      end
    end)

    it("full picks i64 for an integer and f32 for a fraction, as PyTorch", function()
      local a = ember.full({ 2, 2 }, 7)
      assert.equal("i64", a:dtype())
      assert.same({ { 7, 7 }, { 7, 7 } }, a:totable())
      local b = ember.full({ 3 }, 2.5)
      assert.equal("f32", b:dtype())
      assert.same({ 2.5, 2.5, 2.5 }, b:totable())
      assert.same({ 2, 3 }, ember.full(2, 3, 0.25):size())     -- Torch7 form with a fraction
      assert.equal("f64", ember.full({ 2 }, 1, { dtype = "f64" }):dtype())
      assert.same({ true, true }, ember.full({ 2 }, 5, "bool"):totable())
      assert.same({ 2, 2 }, ember.full({ 2 }, 2.9, "i32"):totable())   -- truncates
      local big = 2 ^ 62 + 1 | 0
      assert.equal(big, ember.full({ 1 }, big)[1])             -- exact beyond 2^53
      local inf = ember.full({ 1 }, math.huge, "f16")[1]
      assert.equal(math.huge, inf)
      local nan = ember.full({ 1 }, 0 / 0)[1]
      assert.is_true(nan ~= nan)
    end)

    it("_like forms take shape and dtype from a tensor, even a strided view", function()
      local base = ember.ones(2, 3, "i32")
      local t = base:t()                      -- 3x2, not contiguous
      for _, f in ipairs({ "zeros_like", "ones_like", "empty_like" }) do
        local r = ember[f](t)
        assert.same({ 3, 2 }, r:size(), f)
        assert.equal("i32", r:dtype(), f)
        assert.is_true(r:is_contiguous(), f)
      end
      assert.same({ { 0, 0 }, { 0, 0 }, { 0, 0 } }, ember.zeros_like(t):totable())
      assert.equal("f64", ember.ones_like(t, "f64"):dtype())
      assert.equal("f16", ember.zeros_like(t, { dtype = "f16" }):dtype())
      local fl = ember.full_like(t, 4)
      assert.equal("i32", fl:dtype())
      assert.same({ { 4, 4 }, { 4, 4 }, { 4, 4 } }, fl:totable())
      assert.same({ 1.5, 1.5 }, ember.full_like(ember.zeros(2), 1.5):totable())
      local r = ember.rand_like(ember.zeros(4, 5, "f64"))
      assert.same({ 4, 5 }, r:size())
      assert.equal("f64", r:dtype())
      assert.equal("f16", ember.randn_like(ember.zeros(3, "f16")):dtype())
      assert.equal("f32", ember.rand_like(t, "f32"):dtype())
      local ri = ember.randint_like(t, 5)
      assert.equal("i32", ri:dtype())
      for _, v in ipairs(flat(ri)) do assert.is_true(v >= 0 and v < 5) end
      for _, v in ipairs(flat(ember.randint_like(t, -2, 2))) do assert.is_true(v >= -2 and v < 2) end
    end)
  end)

  describe("arange linspace eye", function()
    it("arange(5) counts 0..4 in i64; fractions give f32", function()
      local a = ember.arange(5)
      assert.equal("i64", a:dtype())
      assert.same({ 0, 1, 2, 3, 4 }, a:totable())
      assert.same({ 2, 5, 8 }, ember.arange(2, 11, 3):totable())
      assert.same({ 10, 7, 4, 1 }, ember.arange(10, 0, -3):totable())
      local f = ember.arange(1, 2.5, 0.5)
      assert.equal("f32", f:dtype())
      assert.same({ 1, 1.5, 2 }, f:totable())
      assert.equal("f64", ember.arange(3, { dtype = "f64" }):dtype())
      assert.equal(0, ember.arange(3, 3):numel())
      assert.same({ 0, 1, 2 }, ember.arange(0, 3, 1, "i16"):totable())
    end)

    it("matches torch on ranges, spacings and eyes", function()
      local cases = {
        { "torch.arange(5)", ember.arange(5) },
        { "torch.arange(0, 1, 0.1)", ember.arange(0, 1, 0.1) },
        { "torch.arange(-2.5, 2.5, 0.5)", ember.arange(-2.5, 2.5, 0.5) },
        { "torch.arange(10, -7, -3)", ember.arange(10, -7, -3) },
        { "torch.arange(1, 2, 0.3, dtype=torch.float64)", ember.arange(1, 2, 0.3, "f64") },
        { "torch.arange(0.5, 100.25, 0.75)", ember.arange(0.5, 100.25, 0.75) },
        { "torch.arange(3, 20, 4, dtype=torch.int32)", ember.arange(3, 20, 4, "i32") },
        { "torch.linspace(0, 1, 5)", ember.linspace(0, 1, 5) },
        { "torch.linspace(0, 10, 7, dtype=torch.int64)", ember.linspace(0, 10, 7, "i64") },
        { "torch.linspace(5, -9, 9, dtype=torch.int32)", ember.linspace(5, -9, 9, "i32") },
        { "torch.linspace(1, -1, 11, dtype=torch.float64)", ember.linspace(1, -1, 11, "f64") },
        { "torch.linspace(0, 1, 1)", ember.linspace(0, 1, 1) },
        { "torch.linspace(0, 1, 0)", ember.linspace(0, 1, 0) },
        { "torch.linspace(-10, 10, 1001)", ember.linspace(-10, 10, 1001) },
        { "torch.linspace(0, 1, 4, dtype=torch.float16)", ember.linspace(0, 1, 4, "f16") },
        { "torch.linspace(0, 1, 7, dtype=torch.float16)", ember.linspace(0, 1, 7, "f16") },
        { "torch.linspace(-1, 3, 9, dtype=torch.bfloat16)", ember.linspace(-1, 3, 9, "bf16") },
        { "torch.eye(3)", ember.eye(3) },
        { "torch.eye(2, 4)", ember.eye(2, 4) },
        { "torch.eye(4, 2, dtype=torch.int64)", ember.eye(4, 2, "i64") },
        { "torch.eye(3, dtype=torch.bool)", ember.eye(3, { dtype = "bool" }) },
        { "torch.eye(0)", ember.eye(0) },
        { "torch.full((2, 3), 7)", ember.full({ 2, 3 }, 7) },
        { "torch.full((2,), -1, dtype=torch.uint8)", ember.full({ 2 }, -1, "u8") },
        { "torch.full((3,), 0.1, dtype=torch.bfloat16)", ember.full({ 3 }, 0.1, "bf16") },
        { "torch.ones(2, 3, dtype=torch.float16)", ember.ones(2, 3, "f16") },
      }
      local req = {}
      for i, c in ipairs(cases) do req[i] = { expr = c[1] } end
      local r = oracle.eval(req)
      for i, c in ipairs(cases) do
        local ok, msg = pcall(oracle.assert_close, c[2], r[i], 1e-6, 1e-6)
        assert(ok, c[1] .. ": " .. tostring(msg))
      end
    end)

    -- (torch's integer linspace truncates values its SIMD lanes compute from the first
    -- lane of each vector, so it depends on the vector width; only cases where every
    -- value is far from an integer boundary are compared above)
    it("linspace ends exactly at both ends", function()
      assert.same({ 0, 2, 4, 6, 8, 10 }, ember.linspace(0, 10, 6, "i64"):totable())
      local l = ember.linspace(0.1, 0.7, 13, "f64"):totable()
      assert.equal(0.1, l[1])
      assert.equal(0.7, l[13])
      assert.equal(0, ember.eye(3)[{ 1, 2 }]:item())
      assert.same({ 3, 3 }, ember.eye(3):size())
    end)
  end)

  describe("random", function()
    it("implements Philox 4x32-10 in Lua correctly (Random123 known answer)", function()
      -- the same vector the C test checks, through this file's own implementation
      assert.same({ 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 }, philox(0, 0))
    end)

    it("rand gives draw i of the stream to element i, for f32 and f64", function()
      ember.manual_seed(1234)
      local a = flat(ember.rand(3, 5))
      for i = 0, 14 do assert.equal(unit24(draw(1234, 0, i)), a[i + 1], "element " .. i) end
      -- 15 draws took 4 blocks: the next call starts at counter 4
      local b = flat(ember.rand(6))
      for i = 0, 5 do assert.equal(unit24(draw(1234, 4, i)), b[i + 1]) end
      ember.manual_seed(99)
      local d = flat(ember.rand(5, "f64"))
      for i = 0, 4 do
        assert.equal(unit53(draw(99, 0, 2 * i), draw(99, 0, 2 * i + 1)), d[i + 1], "f64 element " .. i)
      end
    end)

    it("randn is Box-Muller on pairs of draws", function()
      ember.manual_seed(7)
      local z = flat(ember.randn(9))
      for j = 0, 3 do
        local u1, u2 = 1 - unit24(draw(7, 0, 2 * j)), unit24(draw(7, 0, 2 * j + 1))
        local r, th = math.sqrt(-2 * math.log(u1)), 2 * math.pi * u2
        assert.near(r * math.cos(th), z[2 * j + 1], 2e-5)
        assert.near(r * math.sin(th), z[2 * j + 2], 2e-5)
      end
      ember.manual_seed(7)
      local z64 = flat(ember.randn(3, "f64"))
      for j = 0, 1 do
        local u1 = 1 - unit53(draw(7, 0, 4 * j), draw(7, 0, 4 * j + 1))
        local u2 = unit53(draw(7, 0, 4 * j + 2), draw(7, 0, 4 * j + 3))
        local r, th = math.sqrt(-2 * math.log(u1)), 2 * math.pi * u2
        assert.near(r * math.cos(th), z64[2 * j + 1], 1e-12)
        if 2 * j + 2 <= 3 then assert.near(r * math.sin(th), z64[2 * j + 2], 1e-12) end
      end
    end)

    it("same seed gives the same tensor, a different seed a different one", function()
      for _, f in ipairs({ "rand", "randn" }) do
        ember.manual_seed(42)
        local a = flat(ember[f](100))
        local a2 = flat(ember[f](100))
        ember.manual_seed(42)
        local b = flat(ember[f](100))
        ember.manual_seed(43)
        local c = flat(ember[f](100))
        assert.same(a, b, f)
        local same_c, same_a2 = 0, 0
        for i = 1, 100 do
          if a[i] == c[i] then same_c = same_c + 1 end
          if a[i] == a2[i] then same_a2 = same_a2 + 1 end
        end
        assert.is_true(same_c < 3, f .. ": seeds 42 and 43 agree on " .. same_c)
        assert.is_true(same_a2 < 3, f .. ": two calls agree on " .. same_a2)
      end
      ember.manual_seed(5)
      local r1 = flat(ember.randint(0, 1000, 50))
      ember.manual_seed(5)
      assert.same(r1, flat(ember.randint(0, 1000, { 5, 10 })))
      ember.manual_seed(5)
      assert.same(r1, flat(ember.randint_like(ember.zeros(10, 5, "i64"), 0, 1000)))
    end)

    it("values depend only on seed and position, not on shape", function()
      ember.manual_seed(11)
      local a = flat(ember.rand(8))
      ember.manual_seed(11)
      local b = flat(ember.rand(2, 4))
      assert.same(a, b)
      ember.manual_seed(11)
      local c1, c2 = flat(ember.rand(4)), flat(ember.rand(4))   -- 4 draws: one block each
      assert.same(a, { c1[1], c1[2], c1[3], c1[4], c2[1], c2[2], c2[3], c2[4] })
      ember.manual_seed(11)
      local l = flat(ember.rand_like(ember.zeros(2, 2, 2)))
      assert.same(a, l)
    end)

    it("rand is uniform on [0, 1): mean 1/2, variance 1/12 over 1e5 samples", function()
      ember.manual_seed(2024)
      for _, dt in ipairs({ "f32", "f64" }) do
        local xs = flat(ember.rand(100000, dt))
        local lo, hi = math.huge, -math.huge
        for i = 1, #xs do lo = math.min(lo, xs[i]); hi = math.max(hi, xs[i]) end
        assert.is_true(lo >= 0 and hi < 1, dt)
        local m, v = mean_var(xs)
        -- 6 standard errors: 0.0055 for the mean, 0.0014 for the variance
        assert.is_true(math.abs(m - 0.5) < 0.0055, dt .. " mean " .. m)
        assert.is_true(math.abs(v - 1 / 12) < 0.0014, dt .. " variance " .. v)
      end
      -- f16 and bf16 draw exactly their precision: never rounded up to 1
      for _, dt in ipairs({ "f16", "bf16" }) do
        local xs = flat(ember.rand(20000, dt))
        local hi = 0
        for i = 1, #xs do hi = math.max(hi, xs[i]) end
        assert.is_true(hi < 1, dt)
        local m = mean_var(xs)
        assert.is_true(math.abs(m - 0.5) < 0.015, dt .. " mean " .. m)
      end
    end)

    it("randn is standard normal: mean 0, std 1, the 68-95 rule", function()
      ember.manual_seed(77)
      for _, dt in ipairs({ "f32", "f64" }) do
        local xs = flat(ember.randn(100000, dt))
        local m, v = mean_var(xs)
        assert.is_true(math.abs(m) < 0.02, dt .. " mean " .. m)
        assert.is_true(math.abs(math.sqrt(v) - 1) < 0.015, dt .. " std " .. math.sqrt(v))
        local in1, in2 = 0, 0
        for i = 1, #xs do
          local a = math.abs(xs[i])
          if a < 1 then in1 = in1 + 1 end
          if a < 2 then in2 = in2 + 1 end
        end
        assert.is_true(math.abs(in1 / #xs - 0.6827) < 0.01, dt .. " within 1 sd: " .. in1 / #xs)
        assert.is_true(math.abs(in2 / #xs - 0.9545) < 0.005, dt .. " within 2 sd: " .. in2 / #xs)
      end
    end)

    it("randint stays in [low, high), hits every value, evenly", function()
      ember.manual_seed(3)
      local t = ember.randint(-3, 7, 100000)
      assert.equal("i64", t:dtype())
      local counts = {}
      for _, v in ipairs(flat(t)) do
        assert.is_true(math.type(v) == "integer" and v >= -3 and v < 7)
        counts[v] = (counts[v] or 0) + 1
      end
      for v = -3, 6 do
        -- 10000 expected, sd about 95
        assert.is_true(counts[v] and math.abs(counts[v] - 10000) < 600, "value " .. v .. ": " .. tostring(counts[v]))
      end
      local one = flat(ember.randint(5, 6, 20))
      for i = 1, 20 do assert.equal(5, one[i]) end
      local wide = flat(ember.randint(-(1 << 40), 1 << 40, 1000))
      local neg, big = 0, 0
      for _, v in ipairs(wide) do
        assert.is_true(v >= -(1 << 40) and v < (1 << 40))
        if v < 0 then neg = neg + 1 end
        if math.abs(v) > (1 << 38) then big = big + 1 end
      end
      assert.is_true(neg > 400 and neg < 600 and big > 600)
      assert.equal("u8", ember.randint(0, 256, 4, "u8"):dtype())
      local f = ember.randint(0, 3, 2, 5, { dtype = "f32" })
      assert.equal("f32", f:dtype())
      assert.same({ 2, 5 }, f:size())
    end)

    it("splits large tensors across threads without changing the numbers", function()
      ember.manual_seed(8)
      local big = ember.rand(200003)
      ember.manual_seed(8)
      local head = flat(ember.rand(17))
      local bh = flat(big:narrow(1, 1, 17))
      assert.same(head, bh)
      -- element 200002 (0-based) is word 2 of block 50000
      assert.equal(unit24(draw(8, 0, 200002)), big[200003])
      for _, f in ipairs({ { "randn", "f32" }, { "rand", "f64" }, { "randn", "f64" }, { "rand", "bf16" } }) do
        local name, dt = f[1], f[2]
        ember.manual_seed(9)
        local whole = ember[name](100001, dt)
        ember.manual_seed(9)
        local part = flat(ember[name](33, dt))
        assert.same(part, flat(whole:narrow(1, 1, 33)), name .. " " .. dt)
      end
      ember.manual_seed(10)
      local ri = ember.randint(0, 1 << 20, 100001)
      ember.manual_seed(10)
      assert.same(flat(ember.randint(0, 1 << 20, 5)), flat(ri:narrow(1, 1, 5)))
    end)

    it("fills large tensors across threads", function()
      local n = 100003
      local checks = {
        { ember.full({ n }, 2.5), function(i) return 2.5 end },
        { ember.ones(n, "i16"), function(i) return 1 end },
        { ember.ones(n, "u8"), function(i) return 1 end },
        { ember.zeros(n, "f64"), function(i) return 0 end },
        { ember.arange(n), function(i) return i - 1 end },
        { ember.arange(0, n, 1, "f32"), function(i) return i - 1 end },
        { ember.arange(0, n / 2, 0.5, "f64"), function(i) return (i - 1) / 2 end },
        { ember.linspace(0, n - 1, n, "f64"), function(i) return i - 1 end },
        { ember.eye(400, 300), nil },
      }
      for k, c in ipairs(checks) do
        local t, f = c[1], c[2]
        if f then
          local xs = flat(t)
          assert.equal(n, #xs, k)
          for _, i in ipairs({ 1, 2, 50000, 77777, n }) do assert.equal(f(i), xs[i], k .. " at " .. i) end
        end
      end
      local e = checks[#checks][1]
      assert.equal(1, e[{ 300, 300 }]:item())
      assert.equal(0, e[{ 301, 300 }]:item())
      assert.equal(0, e[{ 1, 2 }]:item())
    end)
  end)

  describe("errors", function()
    it("name the op and the offending argument", function()
      assert.matches("zeros: size 2x%-1 has a negative dimension", err(ember.zeros, 2, -1))
      assert.matches("ones: size .*negative", err(ember.ones, { -3 }))
      assert.matches("rand: size .*negative", err(ember.rand, 4, -2))
      assert.matches("zeros: unknown dtype \"q16\"", err(ember.zeros, 2, "q16"))
      assert.matches("ones: unknown dtype \"float128\"", err(ember.ones, 2, { dtype = "float128" }))
      assert.matches("zeros: size is required", err(ember.zeros))
      assert.matches("zeros: size has 9 dims", err(ember.zeros, 1, 1, 1, 1, 1, 1, 1, 1, 1))
      assert.matches("zeros: size must be an integer, got a fraction", err(ember.zeros, { 2, 2.5 }))
      assert.matches("zeros: size 1048576x1048576x1048576 is too large", err(ember.zeros, 1 << 20, 1 << 20, 1 << 20))
      assert.matches("linspace: steps must be non%-negative %(got %-1%)", err(ember.linspace, 0, 1, -1))
      assert.matches("arange: step must be nonzero", err(ember.arange, 0, 5, 0))
      assert.matches("arange: range 5 to 1 goes against the sign of step 1", err(ember.arange, 5, 1))
      assert.matches("arange: range 0 to 5 goes against the sign of step %-1", err(ember.arange, 0, 5, -1))
      assert.matches("arange: range .* must be finite", err(ember.arange, 0, math.huge))
      assert.matches("rand: dtype i64 is not a floating%-point dtype", err(ember.rand, 3, "i64"))
      assert.matches("randn: dtype bool is not a floating%-point dtype", err(ember.randn, 3, { dtype = "bool" }))
      assert.matches("rand_like: dtype i32 is not a floating%-point dtype", err(ember.rand_like, ember.zeros(2, "i32")))
      assert.matches("randint: low %(5%) must be less than high %(3%)", err(ember.randint, 5, 3, 2))
      assert.matches("randint: low %(2%) must be less than high %(2%)", err(ember.randint, 2, 2, 2))
      assert.matches("randint: range %[0, 300%) does not fit in u8", err(ember.randint, 0, 300, 2, "u8"))
      assert.matches("randint_like: low %(0%) must be less than high %(0%)", err(ember.randint_like, ember.zeros(2), 0))
      assert.matches("randint: high must be an integer", err(ember.randint, 0, 2.5, 3))
      assert.matches("full: fill_value is required", err(ember.full, 2, 3, 7))
      assert.matches("full: fill_value 300 does not fit in u8", err(ember.full, { 2 }, 300, "u8"))
      assert.matches("full: fill_value 1e%+06 does not fit in f16", err(ember.full, { 2 }, 1e6, "f16"))
      assert.matches("full_like: fill_value 128 does not fit in i8", err(ember.full_like, ember.zeros(2, "i8"), 128))
      assert.matches("eye: sizes must be non%-negative %(got n = %-1", err(ember.eye, -1))
      assert.matches("eye: sizes must be non%-negative .*m = %-2", err(ember.eye, 2, -2))
      assert.matches("zeros_like: argument #1 must be a tensor", err(ember.zeros_like, 3))
      assert.matches("ones: device must be \"cpu\" or \"vulkan\", got \"tpu\"", err(ember.ones, 2, { device = "tpu" }))
      assert.matches("zeros: unknown option \"dtyp\"", err(ember.zeros, 2, { dtyp = "f32" }))
    end)
  end)
end)
