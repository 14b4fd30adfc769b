-- reduce_spec.lua — sum mean prod max min argmax argmin var std norm logsumexp all any
-- cumsum: hand-computed values over dims, keepdim and dtypes, NaN and empty inputs,
-- error messages, and one batched oracle run against torch (transposed, sliced and
-- 1e5-element inputs).
local ember = require "ember"
local oracle = require "oracle"

local nan, inf = 0 / 0, math.huge

local function close(want, got, tol)
  tol = tol or 1e-4
  if type(want) == "table" then
    assert.equal(#want, #got, "length")
    for i = 1, #want do close(want[i], got[i], tol) end
    return
  end
  if want ~= want then
    assert.is_true(got ~= got, "expected NaN, got " .. tostring(got))
  elseif want == inf or want == -inf then
    assert.equal(want, got)
  else
    assert.is_true(math.abs(want - got) <= tol * math.max(1, math.abs(want)),
                   string.format("expected %.9g, got %.9g", want, got))
  end
end

local function vals(t) return t:totable() end

-- x = {{1, 5, 2}, {7, 0, 7}}: ties in row 2 (7 at columns 1 and 3) test first-index rules
local function x32() return ember.tensor({{1, 5, 2}, {7, 0, 7}}, "f32") end

-- an error whose message contains every given fragment (plain text)
local function fails(f, ...)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  err = tostring(err)
  for _, frag in ipairs({...}) do
    assert.is_truthy(err:find(frag, 1, true), "message \"" .. err .. "\" lacks \"" .. frag .. "\"")
  end
end

describe("sum, mean, prod", function()
  it("reduce all dims, one dim, negative dims, several dims, with keepdim", function()
    local x = x32()
    local s = x:sum()
    assert.same({}, s:size())
    assert.equal(22, s:item())
    assert.same({8, 5, 9}, vals(x:sum(1)))
    assert.same({8, 14}, vals(x:sum(2)))
    assert.same({8, 14}, vals(x:sum(-1)))
    assert.same({{8, 5, 9}}, vals(x:sum(1, true)))
    assert.same({{8}, {14}}, vals(ember.sum(x, -1, true)))
    assert.equal(22, x:sum({1, 2}):item())
    assert.same({{22}}, vals(x:sum({dim = {-2, 2}, keepdim = true})))
    assert.same({1, 1}, x:sum({keepdim = true}):size())
    local y = ember.tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, "f32")
    assert.same({14, 22}, vals(y:sum({1, 3})))   -- (1+2+5+6), (3+4+7+8)
    assert.same({{{16, 20}}}, vals(y:sum({1, 2}, true)))
  end)

  it("follows PyTorch's dtype rules", function()
    local i = ember.tensor({{1, 2}, {3, 4}}, "i32")
    assert.equal("i64", i:sum():dtype())
    assert.equal(10, i:sum():item())
    assert.equal("i64", ember.tensor({true, false, true}):sum():dtype())
    assert.equal(2, ember.tensor({true, false, true}):sum():item())
    assert.equal("f64", x32():sum({dtype = "f64"}):dtype())
    assert.equal("i32", i:sum({dtype = "i32"}):dtype())
    assert.equal("f16", ember.tensor({1, 2}, "f16"):sum():dtype())
    assert.equal("i64", i:prod():dtype())
    assert.equal(24, i:prod():item())
    assert.equal("f64", i:mean({dtype = "f64"}):dtype())
    assert.equal(2.5, i:mean({dtype = "f64"}):item())
  end)

  it("computes mean and prod over dims", function()
    local x = x32()
    close(22 / 6, x:mean():item())
    close({4, 2.5, 4.5}, vals(x:mean(1)))
    close({{8 / 3}, {14 / 3}}, vals(x:mean(2, true)))
    assert.same({10, 0}, vals(x:prod(2)))
    assert.same({7, 0, 14}, vals(x:prod(1)))
    assert.equal(0, x:prod():item())
    assert.equal(-6, ember.tensor({-1, 2, 3}, "i64"):prod():item())
  end)

  it("reduce several dims of a 3-d tensor", function()
    local y = ember.tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, "f32")
    close({3.5, 5.5}, vals(y:mean({dim = {1, 3}})))
    close({{{3.5}, {5.5}}}, vals(y:mean({dim = {-3, -1}, keepdim = true})))
    assert.same({24, 1680}, vals(y:prod({2, 3})))
    assert.same({{3, 7}, {11, 15}}, vals(y:sum(-1)))
    close({math.log(math.exp(1) + math.exp(2) + math.exp(5) + math.exp(6)),
           math.log(math.exp(3) + math.exp(4) + math.exp(7) + math.exp(8))},
          vals(y:logsumexp({dim = {1, 3}})))
    local b = ember.tensor({{{true, true}, {false, true}}, {{true, true}, {true, true}}})
    assert.same({false, true}, vals(b:all({2, 3})))
    assert.same({{{true}, {true}}}, vals(b:any({dim = {1, 3}, keepdim = true})))
    assert.same({{{true, true}}, {{false, true}}}, vals(b:all({dim = 1, keepdim = true}):transpose(1, 2)))
    assert.equal(3, ember.tensor({1, 2}, "f16"):sum():item())
  end)

  it("sums integers exactly and wraps as int64", function()
    local big = ember.tensor({2 ^ 53, 1, 1}, "i64")
    assert.equal(math.tointeger(2 ^ 53) + 2, big:sum():item())
    assert.equal(math.mininteger, ember.tensor({math.maxinteger, 1}, "i64"):sum():item())
  end)
end)

describe("max, min, argmax, argmin", function()
  it("without dim give a 0-dim value / a flat 1-based index", function()
    local x = x32()
    assert.same({}, x:max():size())
    assert.equal(7, x:max():item())
    assert.equal(0, x:min():item())
    assert.equal(4, x:argmax():item())      -- first of the two 7s in flat order
    assert.equal(5, x:argmin():item())
    assert.same({1, 1}, x:argmax(nil, true):size())
    assert.equal("i64", x:argmax():dtype())
    assert.equal("i32", ember.tensor({3, 1}, "i32"):max():dtype())
  end)

  it("with a dim give values and 1-based indices, keepdim, negative dims", function()
    local x = x32()
    local v, i = x:max(2)
    assert.same({5, 7}, vals(v))
    assert.same({2, 1}, vals(i))           -- ties: the first index
    assert.equal("i64", i:dtype())
    v, i = x:max(1)
    assert.same({7, 5, 7}, vals(v))
    assert.same({2, 1, 2}, vals(i))
    v, i = x:min(-1, true)
    assert.same({{1}, {0}}, vals(v))
    assert.same({{1}, {2}}, vals(i))
    assert.same({2, 1}, vals(x:argmax(2)))
    assert.same({{2, 1, 2}}, vals(x:argmax(1, true)))
    assert.same({1, 2, 1}, vals(x:argmin(-2)))
    local iv, ii = ember.tensor({{4, 9, 9}}, "i64"):max(2)
    assert.same({9}, vals(iv))
    assert.same({2}, vals(ii))
    local bv = ember.tensor({{true, false}}):max(2)
    assert.equal("bool", bv:dtype())
    assert.same({true}, vals(bv))
  end)

  it("accepts a 0-dim input with dim 1", function()
    local s = ember.tensor(3.5, "f32")
    local v, i = s:max(1)
    assert.equal(3.5, v:item())
    assert.equal(1, i:item())
    assert.equal(3.5, s:sum(1):item())
  end)

  it("propagates NaN, pointing at the first NaN", function()
    local n = ember.tensor({1, nan, 3, nan}, "f32")
    close(nan, n:max():item())
    close(nan, n:min():item())
    assert.equal(2, n:argmax():item())
    assert.equal(2, n:argmin():item())
    local v, i = ember.tensor({{1, nan}, {3, 2}}, "f64"):max(2)
    close({nan, 3}, vals(v))
    assert.same({2, 1}, vals(i))
    close(nan, n:sum():item())
    close(nan, n:norm(inf):item())
    close(nan, n:logsumexp(1):item())
  end)
end)

describe("var, std, norm, logsumexp", function()
  it("var and std with correction, dims and keepdim", function()
    local x = x32()
    close({13 / 3, 49 / 3}, vals(x:var(2)))
    close({26 / 9, 98 / 9}, vals(x:var(2, 0)))
    close({26 / 9, 98 / 9}, vals(x:var({dim = 2, correction = 0})))
    close(9.4666667, x:var():item())
    close({math.sqrt(13 / 3), math.sqrt(49 / 3)}, vals(x:std(-1)))
    close({{math.sqrt(18), math.sqrt(12.5), math.sqrt(12.5)}}, vals(x:std(1, 1, true)))
    close(nan, ember.tensor({2}, "f32"):var():item())          -- 0 degrees of freedom
    close({inf, inf}, vals(x:var(2, 3)))                        -- N - correction = 0
    local y = ember.tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, "f64")
    close({{{5 / 3}}, {{5 / 3}}}, vals(y:var({2, 3}, 1, true)))
  end)

  it("stays accurate for a large mean and a small spread", function()
    local t = {}
    for k = 1, 1000 do t[k] = 1e4 + (k % 2) end
    close(0.25, ember.tensor(t, "f32"):var(1, 0):item(), 1e-6)
  end)

  it("norm with p = 2, 1, inf, -inf, 0, 3 over dims", function()
    local x = x32()
    close(math.sqrt(128), x:norm():item())
    close(22, x:norm(1):item())
    close(7, x:norm(inf):item())
    close(0, x:norm(-inf):item())
    close(5, x:norm(0):item())
    close((1 + 125 + 8 + 343 + 343) ^ (1 / 3), x:norm(3):item())
    close({8, 14}, vals(x:norm(1, 2)))
    close({math.sqrt(50), 5, math.sqrt(53)}, vals(x:norm(2, 1)))
    close({{5}, {7}}, vals(x:norm(inf, -1, true)))
    close(math.sqrt(128), x:norm(2, {1, 2}):item())
  end)

  it("logsumexp is stable for large and infinite values", function()
    close(1000 + math.log(2), ember.tensor({1000, 1000}, "f32"):logsumexp(1):item())
    close(-1000 + math.log(2), ember.tensor({-1000, -1000}, "f64"):logsumexp(1):item())
    close({math.log(math.exp(1) + math.exp(5) + math.exp(2)), math.log(2 * math.exp(7) + 1)},
          vals(x32():logsumexp(2)))
    close(-inf, ember.tensor({-inf, -inf}, "f32"):logsumexp(1):item())
    close(inf, ember.tensor({1, inf}, "f32"):logsumexp(1):item())
    assert.equal("f32", ember.tensor({1, 2}, "i64"):logsumexp(1):dtype())
    assert.same({1, 1}, x32():logsumexp({dim = {1, 2}, keepdim = true}):size())
  end)
end)

describe("all, any, cumsum", function()
  it("all and any give bool, over dims", function()
    local b = ember.tensor({{true, false}, {true, true}})
    assert.same({false, true}, vals(b:all(2)))
    assert.same({true, true}, vals(b:any(1)))
    assert.is_false(b:all():item())
    assert.is_true(b:any():item())
    assert.same({{true}, {false}}, vals(x32():all(2, true)))
    assert.equal("bool", x32():any():dtype())
    assert.same({true, false}, vals(ember.tensor({{1, 0}, {0, 0}}, "i32"):any(2)))
    assert.is_true(ember.tensor({nan}, "f32"):all():item())    -- NaN is nonzero
    assert.equal("u8", ember.tensor({1, 2}, "u8"):all():dtype())   -- as PyTorch
  end)

  it("cumsum along a dim; integers give i64", function()
    local x = x32()
    assert.same({{1, 6, 8}, {7, 7, 14}}, vals(x:cumsum(2)))
    assert.same({{1, 5, 2}, {8, 5, 9}}, vals(x:cumsum(1)))
    assert.same({{1, 6, 8}, {7, 7, 14}}, vals(x:cumsum(-1)))
    local i = ember.tensor({{1, 2}, {3, 4}}, "i32")
    assert.equal("i64", i:cumsum(1):dtype())
    assert.same({{1, 3}, {3, 7}}, vals(i:cumsum(2)))
    assert.same({1, 1, 2}, vals(ember.tensor({true, false, true}):cumsum(1)))
    assert.equal("f64", x:cumsum(1, "f64"):dtype())
    assert.same({{1, 7}, {6, 7}, {8, 14}}, vals(x:t():cumsum(1)))   -- strided input
  end)
end)

describe("empty inputs", function()
  it("have the identities of their ops", function()
    local e = ember.zeros(0, 3)
    assert.equal(0, e:sum():item())
    assert.same({0, 0, 0}, vals(e:sum(1)))
    assert.same({1, 1, 1}, vals(e:prod(1)))
    close(nan, e:mean():item())
    close({nan, nan, nan}, vals(e:var(1)))
    close({-inf, -inf, -inf}, vals(e:logsumexp(1)))
    assert.same({0, 0, 0}, vals(e:norm(2, 1)))
    assert.is_true(e:all():item())
    assert.is_false(e:any():item())
    local v, i = e:max(2)                          -- the reduced dim is not empty
    assert.same({0}, v:size())
    assert.same({0}, i:size())
    assert.same({0, 3}, e:cumsum(1):size())
  end)
end)

describe("errors", function()
  it("name the op and the offending dims, dtypes and shapes", function()
    local x = x32()
    local i = ember.tensor({1, 2}, "i64")
    fails(function() return x:sum(3) end, "sum:", "dim 3", "2x3")
    fails(function() return x:mean(-3) end, "mean:", "dim -3", "2x3")
    fails(function() return x:sum({dim = {2, -1}}) end, "sum:", "more than once")
    fails(function() return i:mean() end, "mean:", "i64", "floating point")
    fails(function() return i:mean({dtype = "i32"}) end, "mean:", "dtype i32")
    fails(function() return i:var() end, "var:", "i64")
    fails(function() return i:std(1) end, "std:", "i64")
    fails(function() return i:norm() end, "norm:", "i64")
    fails(function() return ember.zeros(0, 3):max() end, "max:", "0x3", "empty")
    fails(function() return ember.zeros(0, 3):min(1) end, "min:", "dim 1", "size 0")
    fails(function() return ember.zeros(0):argmax() end, "argmax:", "empty")
    fails(function() return ember.zeros(2, 0):argmin(2) end, "argmin:", "dim 2", "size 0")
    fails(function() return x:argmax(3) end, "argmax:", "dim 3")
    fails(function() return x:cumsum(3) end, "cumsum:", "dim 3")
    fails(function() return x:cumsum() end, "cumsum:", "dim")
    fails(function() return x:max(0) end, "max:", "dim 0")
    fails(function() return x:var(2, true) end, "var:", "correction")
  end)
end)

-- deterministic inputs: no RNG needed
local function formula(n, f, dtype)
  local t = {}
  for k = 1, n do t[k] = f(k) end
  return ember.tensor(t, dtype or "f32")
end

describe("oracle", function()
  it("matches torch on contiguous, transposed, sliced and large inputs", function()
    local a = formula(120, function(k) return math.sin(k * 0.37) * 3 + (k % 7) * 0.1 end):view(4, 5, 6)
    local at = a:transpose(1, 3)                     -- 6x5x4, not contiguous
    local sl = a:narrow(2, 2, 3)                     -- 4x3x6, not contiguous
    local big = formula(102400, function(k) return (k * 7919 % 1000) / 100 + 0.5 end):view(320, 320)
    local bigt = big:t()
    local cases, checks = {}, {}
    local function case(expr, inputs, check) cases[#cases + 1] = { expr = expr, inputs = inputs }; checks[#checks + 1] = check end
    local function one(expr, input, f)        -- f(input) -> ember tensor, compared to output 1
      case(expr, { input }, function(r) oracle.assert_close(f(input), r) end)
    end
    local function pair(expr, input, f)       -- values and (1-based) indices
      case("(lambda r: (r[0], r[1] + 1))(" .. expr .. ")", { input }, function(r)
        assert(r.ok, r.error)
        local v, i = f(input)
        oracle.assert_close(v, r.outputs[1])
        oracle.assert_close(i, r.outputs[2])
      end)
    end
    for _, x in ipairs({ a, at, sl }) do
      one("torch.sum(x[0])", x, function(t) return t:sum() end)
      one("torch.sum(x[0], 1)", x, function(t) return t:sum(2) end)
      one("torch.sum(x[0], (0, 2), keepdim=True)", x, function(t) return t:sum({dim = {1, 3}, keepdim = true}) end)
      one("torch.mean(x[0], 0)", x, function(t) return t:mean(1) end)
      one("torch.mean(x[0], (1, 2))", x, function(t) return t:mean({dim = {2, 3}}) end)
      one("torch.prod(x[0], 2)", x, function(t) return t:prod(3) end)
      pair("torch.max(x[0], 1)", x, function(t) return t:max(2) end)
      pair("torch.min(x[0], -1, keepdim=True)", x, function(t) return t:min(-1, true) end)
      one("torch.max(x[0])", x, function(t) return t:max() end)
      one("torch.argmax(x[0]) + 1", x, function(t) return t:argmax() end)
      one("torch.argmin(x[0]) + 1", x, function(t) return t:argmin() end)
      one("torch.argmax(x[0], 2) + 1", x, function(t) return t:argmax(3) end)
      one("torch.argmin(x[0], 0, keepdim=True) + 1", x, function(t) return t:argmin(1, true) end)
      one("torch.var(x[0], 1)", x, function(t) return t:var(2) end)
      one("torch.var(x[0], (0, 2), correction=0)", x, function(t) return t:var({dim = {1, 3}, correction = 0}) end)
      one("torch.std(x[0])", x, function(t) return t:std() end)
      one("torch.norm(x[0])", x, function(t) return t:norm() end)
      one("torch.norm(x[0], 1, 2)", x, function(t) return t:norm(1, 3) end)
      one("torch.norm(x[0], float('inf'), (0, 1))", x, function(t) return t:norm(inf, {1, 2}) end)
      one("torch.norm(x[0], 3, 1, keepdim=True)", x, function(t) return t:norm(3, 2, true) end)
      one("torch.logsumexp(x[0], 2)", x, function(t) return t:logsumexp(3) end)
      one("torch.logsumexp(x[0], (0, 1))", x, function(t) return t:logsumexp({dim = {1, 2}}) end)
      one("torch.cumsum(x[0], 1)", x, function(t) return t:cumsum(2) end)
      one("torch.cumsum(x[0], -1)", x, function(t) return t:cumsum(-1) end)
    end
    -- 102400 elements, sent once: accurate f32 sums, full and over either dim; the
    -- transposed view (strided runs), runs of several rows read in place (per output,
    -- and split over threads), and rows with gaps between them (B = x[0] in torch)
    local rows, gaps = big:view(160, 2, 320), big:narrow(2, 1, 300)
    local big_exprs, big_checks = {}, {}
    local function on_big(expr, f, indices)
      big_exprs[#big_exprs + 1] = indices and "*(lambda r: (r[0], r[1] + 1))(" .. expr .. ")" or expr
      big_checks[#big_checks + 1] = { f = f, n = indices and 2 or 1 }
    end
    on_big("torch.sum(B)", function() return big:sum() end)
    on_big("torch.mean(B)", function() return big:mean() end)
    on_big("torch.sum(B, 0)", function() return big:sum(1) end)
    on_big("torch.sum(B, 1)", function() return big:sum(2) end)
    on_big("torch.var(B)", function() return big:var() end)
    on_big("torch.norm(B)", function() return big:norm() end)
    on_big("torch.logsumexp(B, (0, 1))", function() return big:logsumexp({dim = {1, 2}}) end)
    on_big("torch.max(B, 0)", function() return big:max(1) end, true)
    on_big("torch.var(B, 0)", function() return big:var(1) end)
    on_big("torch.sum(B.view(320, 10, 32)[:, :, :20], 0)", function() return big:view(320, 10, 32):narrow(3, 1, 20):sum(1) end)
    on_big("torch.argmin(B.view(320, 10, 32)[:, :, :20], 0) + 1", function() return big:view(320, 10, 32):narrow(3, 1, 20):argmin(1) end)
    on_big("torch.sum(B.t(), 0)", function() return bigt:sum(1) end)
    on_big("torch.sum(B.t())", function() return bigt:sum() end)
    on_big("torch.max(B.t(), 0)", function() return bigt:max(1) end, true)
    on_big("torch.argmax(B.t()) + 1", function() return bigt:argmax() end)
    on_big("torch.std(B.t(), 0)", function() return bigt:std(1) end)
    on_big("torch.sum(B.view(160, 2, 320), (0, 2))", function() return rows:sum({dim = {1, 3}}) end)
    on_big("torch.var(B.view(160, 2, 320), (0, 2))", function() return rows:var({dim = {1, 3}}) end)
    on_big("torch.logsumexp(B.view(160, 2, 320), (0, 2))", function() return rows:logsumexp({dim = {1, 3}}) end)
    on_big("torch.argmin(B[:, :300]) + 1", function() return gaps:argmin() end)
    on_big("torch.sum(B[:, :300])", function() return gaps:sum() end)
    on_big("torch.amax(B[:, :300], (0, 1))", function() return gaps:max() end)
    case("(lambda B: (" .. table.concat(big_exprs, ", ") .. ",))(x[0])", { big }, function(r)
      assert(r.ok, r.error)
      local k = 1
      for _, c in ipairs(big_checks) do
        local got = { c.f() }
        for j = 1, c.n do oracle.assert_close(got[j], r.outputs[k + j - 1]) end
        k = k + c.n
      end
    end)
    local small = a:view(4, 30)
    one("torch.sum(x[0].view(2, 2, 30), (0, 2))", small, function(t) return t:view(2, 2, 30):sum({dim = {1, 3}}) end)
    -- integers and bools: dtypes and exact values
    local iv = formula(24, function(k) return (k * 5) % 11 - 4 end, "i32"):view(2, 3, 4)
    one("torch.sum(x[0], (0, 2))", iv, function(t) return t:sum({dim = {1, 3}}) end)
    one("torch.prod(x[0], 2)", iv, function(t) return t:prod(3) end)
    one("torch.cumsum(x[0], 1)", iv, function(t) return t:cumsum(2) end)
    pair("torch.max(x[0], 2)", iv, function(t) return t:max(3) end)
    one("torch.any(x[0] > 3, 2)", iv, function(t) return formula(24, function(k) return (k * 5) % 11 - 4 > 3 end, "bool"):view(2, 3, 4):any(3) end)
    one("torch.all(x[0], 1)", iv, function(t) return t:all(2) end)
    local r = oracle.eval(cases)
    assert.equal(#cases, #r)
    for k, check in ipairs(checks) do
      local ok, err = pcall(check, r[k])
      assert(ok, "case " .. k .. " (" .. cases[k].expr .. "): " .. tostring(err))
    end
  end)
end)

describe("sum and mean over leading dims (the row-accumulating path)", function()
  it("match torch's f64 sums for 2-d and 3-d inputs, keepdim, f64, NaN and one row", function()
    local oracle = require "oracle"
    local a = oracle.gen({ 32, 128 }, 11, "f32", 3)
    local b = oracle.gen({ 3, 4, 5 }, 12, "f64", 3)
    local n = oracle.gen({ 4, 3 }, 13, "f32", 3)
    n[2][2] = 0 / 0
    local one = oracle.gen({ 1, 7 }, 14, "f32", 3)
    local cases = {
      -- f32 inputs: the rows are added in double, so the result is torch's f64 sum rounded once
      { a:sum(1), "x[0].double().sum(0)", { a } },
      { a:mean(1, true), "x[0].double().mean(0, keepdim=True)", { a } },
      { b:sum({ 1, 2 }), "x[0].sum((0, 1))", { b } },
      { b:mean({ 1, 2 }, true), "x[0].mean((0, 1), keepdim=True)", { b } },
      { n:sum(1), "x[0].double().sum(0)", { n } },
      { one:sum(1), "x[0].double().sum(0)", { one } },
    }
    local req = {}
    for i, c in ipairs(cases) do req[i] = { expr = c[2], inputs = c[3] } end
    local r = oracle.eval(req)
    for i, c in ipairs(cases) do oracle.assert_close(c[1], r[i], 1e-7, 1e-7, { dtype = false }) end
  end)
end)
