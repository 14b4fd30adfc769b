-- loss_spec.lua — the fused cross_entropy op: values against torch's F.cross_entropy
-- for every option (reductions, class weights, ignore_index, label smoothing, spatial
-- targets, one unbatched row, f64, f16), a hand-computed case, and its errors.
local ember = require "ember"
local oracle = require "oracle"

local function gen(shape, seed, dtype) return oracle.gen(shape, seed, dtype, 3) end

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok)
  return tostring(msg)
end

describe("cross_entropy", function()
  it("gives log(C) for equal scores, by hand", function()
    local x = ember.zeros(3, 4)
    local l = ember.cross_entropy(x, ember.tensor({ 1, 2, 4 }))
    assert(math.abs(l:item() - math.log(4)) < 1e-6)
    -- one confident, right row: -log(e^5 / (e^5 + 1))
    local y = ember.tensor({ { 5, 0 } }, "f32")
    assert(math.abs(ember.cross_entropy(y, ember.tensor({ 1 })):item() - math.log(1 + math.exp(-5))) < 1e-6)
  end)

  it("matches torch for every option", function()
    local t = ember.tensor({ 2, 5, 1, 3, -100, 4 })
    local t2 = ember.tensor({ 2, 5, 1, 3, 2, 4 })
    local tt = "torch.where(x[1] < 0, x[1], x[1] - 1)"
    local sp = ember.tensor({ { { 1, 2, 3 } }, { { 3, -100, 2 } } })
    local x = gen({ 6, 5 }, 1)
    local w = ember.tensor({ 0.5, 1, 2, 1.5, 0.25 }, "f32")
    local xs = gen({ 2, 3, 1, 3 }, 2)
    local cases = {
      { ember.cross_entropy(x, t), "F.cross_entropy(x[0], " .. tt .. ")", { x, t } },
      { ember.cross_entropy(x, t, nil, { reduction = "sum" }), "F.cross_entropy(x[0], " .. tt .. ", reduction='sum')", { x, t } },
      { ember.cross_entropy(x, t, nil, { reduction = "none" }), "F.cross_entropy(x[0], " .. tt .. ", reduction='none')", { x, t } },
      { ember.cross_entropy(x, t, w), "F.cross_entropy(x[0], " .. tt .. ", weight=x[2])", { x, t, w } },
      { ember.cross_entropy(x, t, w, { label_smoothing = 0.3 }),
        "F.cross_entropy(x[0], " .. tt .. ", weight=x[2], label_smoothing=0.3)", { x, t, w } },
      { ember.cross_entropy(x, t, w, { label_smoothing = 0.3, reduction = "none" }),
        "F.cross_entropy(x[0], " .. tt .. ", weight=x[2], label_smoothing=0.3, reduction='none')", { x, t, w } },
      { ember.cross_entropy(x, t2, nil, { ignore_index = 2 }), "F.cross_entropy(x[0], x[1] - 1, ignore_index=1)", { x, t2 } },
      { ember.cross_entropy(xs, sp, nil, { label_smoothing = 0.1 }),
        "F.cross_entropy(x[0], " .. tt .. ", label_smoothing=0.1)", { xs, sp } },
      { ember.cross_entropy(x:to("f64"), t), "F.cross_entropy(x[0], " .. tt .. ")", { x:to("f64"), t } },
      { ember.cross_entropy(x[3], ember.tensor(4)), "F.cross_entropy(x[0], x[1] - 1)", { x[3], ember.tensor(4) } },
    }
    local req = {}
    for i, c in ipairs(cases) do req[i] = { expr = c[2], inputs = c[3] } end
    local r = oracle.eval(req)
    for i, c in ipairs(cases) do oracle.assert_close(c[1], r[i], 1e-5, 1e-6) end
  end)

  it("keeps f16 in f16 and computes in f32", function()
    local x = gen({ 3, 4 }, 3)
    local t = ember.tensor({ 1, 4, 2 })
    local h = ember.cross_entropy(x:to("f16"), t)
    assert.equal("f16", h:dtype())
    assert(math.abs(h:item() - ember.cross_entropy(x:to("f16"):to("f32"), t):item()) < 1e-3)
  end)

  it("gives NaN when every target is ignored, as torch", function()
    local l = ember.cross_entropy(ember.zeros(2, 3), ember.tensor({ -100, -100 }))
    assert(l:item() ~= l:item())
  end)

  it("names what is wrong", function()
    local x = ember.zeros(2, 3)
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 1, 4 })):find("target 4 is out of range 1..3", 1, true))
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 0, 1 })):find("target 0 is out of range", 1, true))
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 1, 2, 3 })):find("does not fit input of shape 2x3", 1, true))
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 1.0, 2.0 })):find("class indices", 1, true))
    assert.truthy(err(ember.cross_entropy, ember.zeros(2, 3):long(), ember.tensor({ 1, 2 })):find("floating point", 1, true))
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 1, 2 }), ember.ones(4)):find("3 class weights", 1, true))
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 1, 2 }), nil, { reduction = "avg" }):find("reduction", 1, true))
    assert.truthy(err(ember.cross_entropy, x, ember.tensor({ 1, 2 }), nil, { label_smoothing = 1.5 }):find("label_smoothing", 1, true))
  end)
end)
