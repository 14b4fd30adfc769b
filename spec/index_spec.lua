-- index_spec.lua — index_select gather scatter scatter_add masked_fill masked_select
-- nonzero topk sort: hand-computed values with 1-based index values in and out,
-- error messages, and torch as oracle (its 0-based indices shifted by one).
local ember = require "ember"
local oracle = require "oracle"

local build = oracle.build

-- distinct values (7919 i mod 65521 is a permutation of 1..65520), exact in f32
local function vals(shape, dtype)
  return ember.tensor(build(shape, function(i) return ((i * 7919) % 65521) / 16 - 2000 end),
                      dtype or "f32")
end

-- 1-based index values in [1, size]
local function idx(shape, size, mul)
  return ember.tensor(build(shape, function(i) return (i * (mul or 7)) % size + 1 end))
end

local function errmsg(f)
  local ok, e = pcall(f)
  assert.is_false(ok)
  return tostring(e)
end

local nan = 0 / 0

describe("index ops", function()
  local x = ember.tensor({{10, 20, 30}, {40, 50, 60}}, "f32")

  it("index_select takes 1-based index values along a dim", function()
    assert.same({{30, 10}, {60, 40}}, x:index_select(2, ember.tensor({3, 1})):totable())
    assert.same({{30, 10}, {60, 40}}, x:index_select(-1, ember.tensor({3, 1}, "i32")):totable())
    assert.same({{40, 50, 60}, {40, 50, 60}, {10, 20, 30}},
                ember.index_select(x, 1, ember.tensor({2, 2, 1})):totable())
    assert.same({{20}, {50}}, x:index_select(2, ember.tensor(2)):totable())
    assert.same({{30, 20}, {60, 50}}, x:t():index_select(1, ember.tensor({3, 2})):t():totable())
    local b = ember.tensor({true, false, true}):index_select(1, ember.tensor({2, 3}))
    assert.same({false, true}, b:totable())
  end)

  it("gather reads t at the index values of its dim", function()
    local i = ember.tensor({{1, 1}, {3, 2}})
    assert.same({{10, 10}, {60, 50}}, x:gather(2, i):totable())
    assert.same({{10, 10}, {60, 50}}, ember.gather(x, -1, i):totable())
    assert.same({{40, 20, 60}}, x:gather(1, ember.tensor({{2, 1, 2}})):totable())
    assert.same({{10, 40}}, x:t():gather(2, ember.tensor({{1, 2}})):totable())
  end)

  it("scatter writes src or one value; scatter_add sums repeated indices", function()
    local i = ember.tensor({{1}, {3}})
    assert.same({{-1, 20, 30}, {40, 50, -2}},
                x:scatter(2, i, ember.tensor({{-1}, {-2}}, "f32")):totable())
    assert.same({{7, 20, 30}, {40, 50, 7}}, x:scatter(2, i, 7):totable())
    assert.same({{7.5, 20, 30}, {40, 50, 7.5}}, x:scatter(2, i, {value = 7.5}):totable())
    assert.same({{10, 20, 30}, {40, 50, 60}}, x:totable())        -- x untouched
    local y = x:clone()
    y:scatter_(1, ember.tensor({{2, 1}}), ember.tensor({{1, 2}}, "f32"))
    assert.same({{10, 2, 30}, {1, 50, 60}}, y:totable())
    local s = ember.tensor({{1, 2, 3}, {4, 5, 6}}, "f32")
    assert.same({{15, 22, 30}, {40, 55, 69}},
                x:scatter_add(1, ember.tensor({{1, 1, 2}, {1, 2, 2}}), s):totable())
    local z = ember.tensor({0, 0, 0, 0}, "i64")
    z:scatter_add_(1, ember.tensor({2, 2, 4, 2}), ember.tensor({1, 10, 100, 1000}))
    assert.same({0, 1011, 0, 100}, z:totable())
    local h = ember.tensor({1, 2}, "f16"):scatter_add(1, ember.tensor({2, 2}), ember.tensor({0.5, 0.25}, "f16"))
    assert.equal("f16", h:dtype())
    assert.same({1, 2.75}, h:totable())
  end)

  it("masked_fill and masked_select broadcast a bool mask; t[mask] uses them", function()
    local m = ember.tensor({{true, false, true}, {false, false, true}})
    assert.same({{-1, 20, -1}, {40, 50, -1}}, x:masked_fill(m, -1):totable())
    assert.same({{0, 20, 0}, {0, 50, 0}}, x:masked_fill(ember.tensor({true, false, true}), 0):totable())
    assert.same({10, 30, 60}, x:masked_select(m):totable())
    assert.same({10, 30, 60}, x[m]:totable())
    assert.same({10, 30, 40, 60}, x:masked_select(ember.tensor({true, false, true})):totable())
    local y = x:clone()
    y[m] = 5
    assert.same({{5, 20, 5}, {40, 50, 5}}, y:totable())
    local t = x:clone()
    t:t():masked_fill_(ember.tensor({false, true}), 9)             -- strided target
    assert.same({{10, 20, 30}, {9, 9, 9}}, t:totable())
    local big = ember.tensor({1, 2}, "i64"):masked_fill(ember.tensor({true, false}), (1 << 53) + 1)
    assert.equal(9007199254740993, big:totable()[1])               -- exact beyond 2^53
    assert.same({0}, ember.tensor({1, 2}):masked_select(ember.tensor({false, false})):size())
    assert.same({0}, x:masked_select(ember.tensor(false)):size())
  end)

  it("nonzero lists 1-based indices in row-major order", function()
    assert.same({{1, 2}, {2, 1}}, ember.tensor({{0, 1}, {2, 0}}):nonzero():totable())
    assert.same({{2}, {4}}, ember.tensor({0, 3, 0, 1}):nonzero():totable())
    assert.same({{3}}, ember.tensor({0, -0.0, nan}, "f32"):nonzero():totable())  -- -0 is zero
    assert.same({{1, 1}, {2, 2}}, ember.tensor({{1, 0}, {0, 1}}):t():nonzero():totable())
    assert.same({0, 3}, ember.tensor({{{0}}}):nonzero():size())
    assert.equal("i64", ember.tensor({true}):nonzero():dtype())
  end)

  it("topk and sort give values and 1-based indices", function()
    local v, i = ember.tensor({3, 1, 4, 1, 5, 9, 2, 6}):topk(3)
    assert.same({9, 6, 5}, v:totable())
    assert.same({6, 8, 5}, i:totable())
    v, i = ember.tensor({3, 1, 4, 1, 5, 9, 2, 6}):topk(3, 1, false)
    assert.same({1, 1, 2}, v:totable())
    assert.same({2, 4, 7}, i:totable())                            -- ties: earlier first
    v, i = ember.tensor({{1, nan, 3}, {2, 0, -1}}, "f32"):topk(2)
    assert.same({{2, 3}, {1, 2}}, i:totable())
    assert.same({2, 0}, v:totable()[2])
    assert.equal(3, v:totable()[1][2])
    assert.is_true(v:totable()[1][1] ~= v:totable()[1][1])        -- NaN is the largest
    v, i = x:topk(1, 1)
    assert.same({{40, 50, 60}}, v:totable())
    assert.same({{2, 2, 2}}, i:totable())
    v, i = x:topk(0)
    assert.same({2, 0}, v:size())
    v, i = ember.tensor({{3, nan, -1}, {2, 2, 1}}, "f64"):sort()
    assert.same({{3, 1, 2}, {3, 1, 2}}, i:totable())
    assert.same({-1, 3}, {v:totable()[1][1], v:totable()[1][2]})
    v, i = ember.tensor({{3, nan, -1}, {2, 2, 1}}, "f64"):sort(2, true)
    assert.same({{2, 1, 3}, {1, 2, 3}}, i:totable())               -- NaN first, ties in order
    v, i = ember.tensor({5, -2, 7}, "i8"):sort(-1, true)
    assert.equal("i8", v:dtype())
    assert.same({7, 5, -2}, v:totable())
    assert.same({3, 1, 2}, i:totable())
    v, i = ember.tensor({-0.0, 0, -0.0}, "f32"):sort()
    assert.same({1, 2, 3}, i:totable())                            -- -0 equals 0: stable
    v, i = x:sort(1, true)
    assert.same({{40, 50, 60}, {10, 20, 30}}, v:totable())
    assert.same({{2, 2, 2}, {1, 1, 1}}, i:totable())
    v, i = ember.tensor(4.5):sort()
    assert.same({4.5, 1}, {v:item(), i:item()})
  end)

  it("names the op, the index value and the sizes in its errors", function()
    local function has(msg, ...)
      for _, s in ipairs({...}) do
        assert.truthy(msg:find(s, 1, true), string.format("%q not in %q", s, msg))
      end
    end
    has(errmsg(function() return x:index_select(2, ember.tensor({1, 4})) end),
        "index_select:", "index 4", "dim 2", "size 3")
    has(errmsg(function() return x:index_select(2, ember.tensor({0})) end), "index_select:", "index 0")
    has(errmsg(function() return x:index_select(2, ember.tensor({1.0})) end), "index_select:", "f32")
    has(errmsg(function() return x:index_select(2, ember.tensor({{1}})) end), "index_select:", "1x1")
    has(errmsg(function() return x:gather(1, ember.tensor({{1, 2, 3}})) end),
        "gather:", "index 3", "dim 1", "size 2")
    has(errmsg(function() return x:gather(1, ember.tensor({{1, 2, 3, 1}})) end),
        "gather:", "1x4", "2x3", "dim 2")
    has(errmsg(function() return x:gather(1, ember.tensor({1, 2})) end), "gather:", "shape 2", "2x3")
    has(errmsg(function() return x:scatter(2, ember.tensor({{4}}), 1) end),
        "scatter:", "index 4", "size 3")
    has(errmsg(function() return x:scatter(2, ember.tensor({{1}})) end), "scatter:", "src")
    has(errmsg(function() return x:scatter(2, ember.tensor({{1}}), ember.tensor({{1}})) end),
        "scatter:", "i64", "f32")
    has(errmsg(function() return x:scatter(2, ember.tensor({{1, 2}}), ember.tensor({{1}}, "f32")) end),
        "scatter:", "1x2", "1x1", "dim 2")
    has(errmsg(function() return x:scatter_add(1, ember.tensor({{1}}), 1) end), "scatter_add:")
    local y = x:clone()
    has(errmsg(function() return y:scatter_(1, ember.tensor({{1, 3}}), ember.tensor({{7, 8}}, "f32")) end),
        "scatter:", "index 3", "size 2")
    assert.same(x:totable(), y:totable())                          -- a failed scatter_ wrote nothing
    has(errmsg(function() return x:masked_fill(ember.tensor({1, 0, 1}), 0) end), "masked_fill:", "bool", "i64")
    has(errmsg(function() return x:masked_fill(ember.tensor({true, false}), 0) end),
        "masked_fill:", "2x3", "2")
    has(errmsg(function() return x:masked_fill_(ember.tensor({{{true}}, {{false}}}), 0) end),
        "masked_fill:", "2x3")
    has(errmsg(function() return x:masked_select(ember.tensor({true, false})) end), "masked_select:", "2x3")
    has(errmsg(function() return x:topk(4) end), "topk:", "k = 4", "dim 2", "size 3")
    has(errmsg(function() return x:topk() end), "topk:", "k")
    has(errmsg(function() return x:sort(3) end), "sort:", "dim 3")
  end)

  it("matches torch on strided inputs, broadcast masks and long lines", function()
    local t = vals({5, 4})                          -- t:t() is 4x5, not contiguous
    local t3 = vals({3, 4, 6}, "f64")
    local t3s = t3[{{}, {}, {1, 6, 2}}]             -- 3x4x3 stepped slice
    local ii = idx({7}, 5)
    local iis = idx({9}, 4)[{{1, 9, 2}}]            -- 5 values, stride 2
    local gi = idx({6, 5}, 4, 3)                    -- values in 1..4
    local gi3 = idx({3, 4, 5}, 3, 5)
    local perm = ember.tensor({{3, 1, 4, 2}, {2, 4, 1, 3}, {1, 2, 3, 4}, {4, 3, 2, 1}})
    local sidx = idx({3, 5}, 4, 3)
    local src = vals({5, 4})
    local m = ember.tensor(build({4, 1}, function(i) return i % 2 == 0 end))
    local m2 = ember.tensor(build({3, 4, 1}, function(i) return i % 3 ~= 0 end))
    local nz = ember.tensor(build({4, 6}, function(i) return (i % 3 == 0 or i % 5 == 0) and 0 or i end))
    local long = vals({4, 300})
    local big = vals({64, 600})
    local bigi = idx({64, 600}, 600, 7)
    local ties = ember.tensor(build({4, 40}, function(i) return (i * 13) % 7 end), "i32")
    local r = oracle.eval({
      { expr = "torch.index_select(x[0], 1, x[1] - 1)", inputs = { t:t(), ii } },
      { expr = "torch.index_select(x[0], 0, x[1] - 1)", inputs = { t:t(), iis } },
      { expr = "torch.gather(x[0], 0, x[1] - 1)", inputs = { t, gi:narrow(2, 2, 4) } },
      { expr = "torch.gather(x[0], 2, x[1] - 1)", inputs = { t3s, gi3 } },
      { expr = "torch.scatter(x[0], 1, x[1] - 1, x[2])", inputs = { t:t(), perm, src:t() } },
      { expr = "torch.scatter(x[0], 0, x[1] - 1, -2.5)", inputs = { t:t(), sidx } },
      { expr = "torch.scatter_add(x[0], 0, x[1] - 1, x[2])", inputs = { t:t(), sidx, src:t() } },
      { expr = "torch.masked_fill(x[0], x[1], -3.5)", inputs = { t:t(), m } },
      { expr = "torch.masked_select(x[0], x[1])", inputs = { t3s, m2 } },
      { expr = "torch.nonzero(x[0]) + 1", inputs = { nz:t() } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.topk(x[0], 3, dim=0))", inputs = { t:t() } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.topk(x[0], 2, largest=False))", inputs = { t3s } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.sort(x[0], dim=1, descending=True))", inputs = { t3s } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.topk(x[0], 5))", inputs = { long } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.sort(x[0], dim=0))", inputs = { long:t() } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.sort(x[0], stable=True, descending=True))", inputs = { ties } },
      { expr = "(lambda r: (r.values, r.indices + 1))(torch.sort(x[0], dim=1))", inputs = { big } },
      { expr = "torch.gather(x[0], 1, x[1] - 1)", inputs = { big, bigi } },
    })
    oracle.assert_close(t:t():index_select(2, ii), r[1])
    oracle.assert_close(t:t():index_select(1, iis), r[2])
    oracle.assert_close(t:gather(1, gi:narrow(2, 2, 4)), r[3])
    oracle.assert_close(t3s:gather(3, gi3), r[4])
    oracle.assert_close(t:t():scatter(2, perm, src:t()), r[5])
    oracle.assert_close(t:t():scatter(1, sidx, -2.5), r[6])
    oracle.assert_close(t:t():scatter_add(1, sidx, src:t()), r[7])
    oracle.assert_close(t:t():masked_fill(m, -3.5), r[8])
    oracle.assert_close(t3s:masked_select(m2), r[9])
    oracle.assert_close(nz:t():nonzero(), r[10])
    local function both(k, v, i)
      oracle.assert_close(v, r[k].outputs[1])
      oracle.assert_close(i, r[k].outputs[2])
    end
    both(11, t:t():topk(3, 1))
    both(12, t3s:topk(2, -1, false))
    both(13, t3s:sort(2, true))
    both(14, long:topk(5))
    both(15, long:t():sort(1))
    both(16, ties:sort(-1, true, true))
    both(17, big:sort(2))
    oracle.assert_close(big:gather(2, bigi), r[18])
  end)
end)
