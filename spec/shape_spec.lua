-- shape_spec.lua — cat stack split chunk unbind flip roll repeat tril triu:
-- hand-computed values, any dtype, views, error messages, and torch as oracle.
local ember = require "ember"
local oracle = require "oracle"

local build = oracle.build

-- distinct, exactly representable values (i * 37 mod 101 is a permutation)
local function vals(shape, dtype)
  return ember.tensor(build(shape, function(i) return ((i * 37) % 101) / 8 - 6 end), dtype or "f32")
end

local function errmsg(f)
  local ok, e = pcall(f)
  assert.is_false(ok)
  return tostring(e)
end

local function rep(t, ...) return t["repeat"](t, ...) end   -- `repeat` is a Lua keyword

describe("shape ops", function()
  local a = ember.tensor({{1, 2, 3}, {4, 5, 6}})

  it("cat joins along a dim, negative dims count from the end", function()
    local b = ember.tensor({{7, 8, 9}})
    assert.same({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, ember.cat({a, b}):totable())
    assert.same({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, ember.cat({a, b}, 1):totable())
    assert.same({{1, 2, 3, 1, 2}, {4, 5, 6, 4, 5}},
                ember.cat({a, a:narrow(2, 1, 2)}, -1):totable())
    assert.same({1, 2, 3, 4, 5}, ember.cat({ember.tensor({1, 2}), ember.tensor({3}),
                                            ember.tensor({4, 5})}):totable())
  end)

  it("cat promotes dtypes and skips (0,)-shaped inputs", function()
    local c = ember.cat({a, ember.tensor({{0.5, 1.5, 2.5}}, "f32")})
    assert.equal("f32", c:dtype())
    assert.same({{1, 2, 3}, {4, 5, 6}, {0.5, 1.5, 2.5}}, c:totable())
    assert.equal("f64", ember.cat({ember.tensor({1}, "i32"), ember.tensor({2}, "f64")}):dtype())
    local e = ember.cat({ember.tensor({}, "f32"), a, ember.tensor({}, "f32")}, 2)
    assert.same({{1, 2, 3}, {4, 5, 6}}, e:totable())
  end)

  it("stack makes a new dim", function()
    local b = ember.tensor({{7, 8, 9}, {10, 11, 12}})
    assert.same({{{1, 2, 3}, {4, 5, 6}}, {{7, 8, 9}, {10, 11, 12}}}, ember.stack({a, b}):totable())
    assert.same({{{1, 7}, {2, 8}, {3, 9}}, {{4, 10}, {5, 11}, {6, 12}}}, ember.stack({a, b}, 3):totable())
    assert.same({{{1, 7}, {2, 8}, {3, 9}}, {{4, 10}, {5, 11}, {6, 12}}}, ember.stack({a, b}, -1):totable())
    assert.same({1, 2}, ember.stack({ember.tensor(1), ember.tensor(2)}):totable())
  end)

  it("split and chunk give views; unbind removes the dim", function()
    local x = ember.tensor({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}})
    local p = x:split(2, 2)
    assert.equal(3, #p)
    assert.same({{1, 2}, {6, 7}}, p[1]:totable())
    assert.same({{5}, {10}}, p[3]:totable())
    local q = ember.split(x, {1, 4}, -1)
    assert.same({{1}, {6}}, q[1]:totable())
    assert.same({{2, 3, 4, 5}, {7, 8, 9, 10}}, q[2]:totable())
    p[2]:fill_(0)                                    -- a view: writes reach x
    assert.same({{1, 2, 0, 0, 5}, {6, 7, 0, 0, 10}}, x:totable())
    local c = ember.tensor({1, 2, 3, 4, 5}):chunk(3)
    assert.equal(3, #c)
    assert.same({5}, c[3]:totable())
    assert.equal(2, #ember.tensor({1, 2, 3, 4}):chunk(3))  -- ceil(4/3) = 2 per piece
    assert.equal(3, #ember.tensor({}, "f32"):chunk(3))      -- PyTorch: `chunks` empty pieces
    local u = a:unbind(2)
    assert.equal(3, #u)
    assert.same({2, 5}, u[2]:totable())
    assert.same({4, 5, 6}, a:unbind()[2]:totable())
  end)

  it("flip, roll and repeat move elements of any dtype", function()
    assert.same({{4, 5, 6}, {1, 2, 3}}, a:flip(1):totable())
    assert.same({{6, 5, 4}, {3, 2, 1}}, a:flip(1, 2):totable())
    assert.same({{3, 2, 1}, {6, 5, 4}}, a:flip(-1):totable())
    assert.same({true, false, false}, ember.tensor({false, false, true}):flip(1):totable())
    local h = ember.tensor({1.5, -2, 3}, "f16"):flip(1)
    assert.equal("f16", h:dtype())
    assert.same({3, -2, 1.5}, h:totable())
    assert.same({{3, 1, 2}, {6, 4, 5}}, a:roll(1, 2):totable())
    assert.same({{2, 3, 1}, {5, 6, 4}}, a:roll(-1, -1):totable())
    assert.same({{6, 1, 2}, {3, 4, 5}}, a:roll(1):totable())          -- flattened
    assert.same({{6, 4, 5}, {3, 1, 2}}, a:roll({1, 1}, {dims = {1, 2}}):totable())
    assert.same({{2, 3, 1}, {5, 6, 4}}, a:roll({3, 2}, {dims = {2, 2}}):totable())  -- shifts add
    assert.same({{1, 2, 3, 1, 2, 3}, {4, 5, 6, 4, 5, 6}}, rep(a, 1, 2):totable())
    assert.same({{{1, 2}, {1, 2}}, {{1, 2}, {1, 2}}}, rep(ember.tensor({1, 2}), 2, 2, 1):totable())
    assert.same({{1, 2, 1, 2}}, ember["repeat"](ember.tensor({1, 2}), {sizes = {1, 2}}):totable())
    assert.same({0, 3}, rep(a, 0, 1):size())
    local i8 = rep(ember.tensor({-1, 2}, "i8"), 3)
    assert.equal("i8", i8:dtype())
    assert.same({-1, 2, -1, 2, -1, 2}, i8:totable())
  end)

  it("tril and triu keep a triangle, batched and in place", function()
    local m = ember.tensor({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}})
    assert.same({{1, 0, 0}, {4, 5, 0}, {7, 8, 9}}, m:tril():totable())
    assert.same({{0, 0, 0}, {4, 0, 0}, {7, 8, 0}}, m:tril(-1):totable())
    assert.same({{1, 2, 0}, {4, 5, 6}, {7, 8, 9}}, m:tril(1):totable())
    assert.same({{0, 2, 3}, {0, 0, 6}, {0, 0, 0}}, m:triu(1):totable())
    assert.same({{1, 2, 3}, {4, 5, 6}}, a:triu(-5):totable())
    local b = ember.stack({a, a * 10})
    assert.same({{{1, 2, 3}, {0, 5, 6}}, {{10, 20, 30}, {0, 50, 60}}}, b:triu():totable())
    local t = m:clone()
    t:t():tril_()                                     -- strided in-place target
    assert.same({{1, 2, 3}, {0, 5, 6}, {0, 0, 9}}, t:totable())
    local f = ember.tensor({{true, true}, {true, true}}):triu()
    assert.same({{true, true}, {false, true}}, f:totable())
  end)

  it("names the op, the shapes and the dim in its errors", function()
    local function has(msg, ...)
      for _, s in ipairs({...}) do
        assert.truthy(msg:find(s, 1, true), string.format("%q not in %q", s, msg))
      end
    end
    has(errmsg(function() return ember.cat({a, ember.tensor({{1, 2}})}) end), "cat:", "2x3", "1x2", "dim 2")
    has(errmsg(function() return ember.cat({a, ember.tensor({1, 2, 3})}) end), "cat:", "2x3", "3")
    has(errmsg(function() return ember.cat({a, a}, 3) end), "cat:", "dim 3")
    has(errmsg(function() return ember.cat({ember.tensor(1), ember.tensor(2)}) end), "cat:", "0-dim")
    has(errmsg(function() return ember.stack({a, a:t()}) end), "stack:", "2x3", "3x2")
    has(errmsg(function() return ember.stack({a, a}, 4) end), "stack:", "dim 4")
    has(errmsg(function() return a:split(0) end), "split:", "split_size 0", "2x3")
    has(errmsg(function() return a:split({1, 1}, 2) end), "split:", "sum to 2", "2x3")
    has(errmsg(function() return ember.tensor(3):unbind() end), "unbind:", "at least 1 dim")
    has(errmsg(function() return a:chunk(0) end), "chunk:", "got 0")
    has(errmsg(function() return a:flip(1, -2) end), "flip:", "dim 1", "twice")
    has(errmsg(function() return a:flip(3) end), "flip:", "dim 3")
    has(errmsg(function() return a:roll({1, 2}, {dims = {1}}) end), "roll:", "2 shifts", "1 dims")
    has(errmsg(function() return a:roll({shifts = {1, 2}}) end), "roll:", "one value")
    has(errmsg(function() return rep(a, 2) end), "repeat:", "2x3", "at least 2")
    has(errmsg(function() return rep(a, -1, 1) end), "repeat:", "-1")
    has(errmsg(function() return ember.tensor({1, 2}):tril() end), "tril:", "shape 2")
    has(errmsg(function() return ember.tensor({1, 2}):triu_() end), "triu:", "at least 2 dims")
  end)

  it("matches torch on strided, sliced and mixed-dtype inputs", function()
    local x = vals({4, 3})                  -- x:t() is 3x4 and not contiguous
    local y = vals({3, 5}, "f64")
    local z = vals({2, 4, 6})
    local zs = z[{{}, {}, {1, 6, 2}}]       -- 2x4x3, stepped slice
    local w = ember.tensor(build({3, 4}, function(i) return i * 3 - 7 end), "i32")
    local r = oracle.eval({
      { expr = "torch.cat([x[0], x[1]], 1)", inputs = { x:t(), y } },
      { expr = "torch.cat([x[0], x[1], x[0]], 0)", inputs = { w:t(), x } },
      { expr = "torch.stack([x[0], x[1]], -1)", inputs = { x:t(), w } },
      { expr = "torch.split(x[0], [1, 3, 2], 0)", inputs = { z:transpose(1, 3) } },
      { expr = "torch.chunk(x[0], 3, 1)", inputs = { zs:transpose(2, 3) } },
      { expr = "torch.unbind(x[0], 1)", inputs = { x:t() } },
      { expr = "torch.flip(x[0], (0, 2))", inputs = { zs } },
      { expr = "torch.roll(x[0], (1, -2), (0, 1))", inputs = { x:t() } },
      { expr = "torch.roll(x[0], 5)", inputs = { zs } },
      { expr = "x[0].repeat(2, 1, 3)", inputs = { x:t() } },
      { expr = "torch.tril(x[0], -1)", inputs = { zs } },
      { expr = "torch.triu(x[0], 1)", inputs = { zs:transpose(2, 3) } },
      { expr = "torch.roll(x[0], -7, 1)", inputs = { w } },
      { expr = "torch.flip(x[0], (1,))", inputs = { w:t() } },
    })
    oracle.assert_close(ember.cat({x:t(), y}, 2), r[1])
    oracle.assert_close(ember.cat({w:t(), x, w:t()}), r[2])
    oracle.assert_close(ember.stack({x:t(), w}, -1), r[3])
    local s = ember.split(z:transpose(1, 3), {1, 3, 2}, 1)
    assert.equal(3, #s)
    for k = 1, 3 do oracle.assert_close(s[k], r[4].outputs[k]) end
    local c = zs:transpose(2, 3):chunk(3, 2)
    assert.equal(#r[5].outputs, #c)
    for k = 1, #c do oracle.assert_close(c[k], r[5].outputs[k]) end
    local u = x:t():unbind(2)
    for k = 1, 4 do oracle.assert_close(u[k], r[6].outputs[k]) end
    oracle.assert_close(zs:flip(1, 3), r[7])
    oracle.assert_close(x:t():roll({1, -2}, {dims = {1, 2}}), r[8])
    oracle.assert_close(zs:roll(5), r[9])
    oracle.assert_close(rep(x:t(), 2, 1, 3), r[10])
    oracle.assert_close(zs:tril(-1), r[11])
    oracle.assert_close(zs:transpose(2, 3):triu(1), r[12])
    local t = zs:transpose(2, 3):clone():transpose(2, 3)   -- in place through a transposed view
    t:transpose(2, 3):triu_(1)
    oracle.assert_close(t:transpose(2, 3), r[12])
    oracle.assert_close(w:roll(-7, 2), r[13])
    oracle.assert_close(w:t():flip(2), r[14])
  end)
end)
