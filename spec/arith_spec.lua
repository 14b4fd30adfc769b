-- arith_spec.lua — add sub mul div neg exp: hand-computed values, promotion, oracle.
local ember = require "ember"
local oracle = require "oracle"

describe("arithmetic", function()
  it("adds with broadcasting and alpha", function()
    local a = ember.tensor({{1, 2, 3}, {4, 5, 6}}, "f32")
    local b = ember.tensor({10, 20, 30}, "f32")
    assert.same({{11, 22, 33}, {14, 25, 36}}, (a + b):totable())
    assert.same({{21, 42, 63}, {24, 45, 66}}, ember.add(a, b, 2):totable())
    assert.same({{-9, -18, -27}, {-6, -15, -24}}, (a - b):totable())
  end)

  it("promotes like PyTorch", function()
    local i = ember.tensor({1, 2}, "i32")
    assert.equal("i32", (i + 1):dtype())
    assert.equal("f32", (i + 1.5):dtype())
    assert.equal("f32", (i / 2):dtype())
    assert.equal("f64", (ember.tensor({1}, "f64") + ember.tensor({1}, "f32")):dtype())
    assert.equal("f16", (ember.tensor({1}, "f16") + 2.5):dtype())
    assert.equal("i16", (ember.tensor({1}, "u8") + ember.tensor({1}, "i8")):dtype())
  end)

  it("writes in place through a strided view", function()
    local a = ember.tensor({{1, 2, 3}, {4, 5, 6}})
    a[{{}, 2}]:mul_(10)
    assert.same({{1, 20, 3}, {4, 50, 6}}, a:totable())
  end)

  it("matches torch on random, broadcast and transposed inputs", function()
    local a = ember.tensor({{0.5, -1.25, 3}, {2, 7.5, -0.125}})
    local b = ember.tensor({{1.5}, {-2}})
    local r = oracle.eval({
      { expr = "torch.add(x[0], x[1], alpha=3)", inputs = { a, b } },
      { expr = "x[0] / x[1]", inputs = { a:t(), ember.tensor({4, 8}) } },
      { expr = "torch.exp(x[0])", inputs = { a } },
    })
    oracle.assert_close(ember.add(a, b, 3), r[1])
    oracle.assert_close(a:t() / ember.tensor({4, 8}), r[2])
    oracle.assert_close(a:exp(), r[3])
  end)
end)
