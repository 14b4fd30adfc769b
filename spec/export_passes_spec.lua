-- export_passes_spec.lua — each export pass (dce, fold, cse, fold_bn, fuse) and the
-- memory plan on traced functions and nn modules: the graph as traced and after the
-- pass (prog:graph("traced"), prog:graph()), and the program's outputs, run by the
-- runtime, against the eager outputs of the same function.
local ember = require "ember"
local nn = require "ember.nn"

local ALL = { "dce", "fold", "cse", "fold_bn", "fuse" }

-- passes = {...} that leaves on only the named passes
local function only(...)
  local keep, passes = {}, {}
  for _, name in ipairs({ ... }) do keep[name] = true end
  for _, name in ipairs(ALL) do if not keep[name] then passes[name] = false end end
  return passes
end

-- largest |a - b| / max(1, |b|)
local function rel_diff(a, b)
  assert.same(b:size(), a:size())
  local d = (a:to("f64") - b:to("f64")):abs() / (b:to("f64"):abs():clamp(1, nil))
  return d:max():item()
end

-- exports fn on ins with passes; returns the program and checks its outputs
local function export(fn, ins, passes, tol)
  local prog = ember.export(fn, ins, { passes = passes })
  local want = table.pack(ember.no_grad(function() return fn(table.unpack(ins)) end))
  local got = table.pack(prog:run(table.unpack(ins)))
  assert.equal(want.n, got.n)
  for i = 1, want.n do
    local d = rel_diff(got[i], want[i])
    assert(d <= (tol or 1e-6), string.format("output %d differs from eager by %.3g", i, d))
  end
  return prog
end

describe("export passes", function()
  local x = ember.randn(4, 3)
  local y = ember.randn(4, 3)
  local z = ember.randn(3)

  it("dce removes what nothing reads", function()
    local prog = export(function(a) local _ = a:exp():neg(); return a:relu() end, { x }, only("dce"))
    assert.equal([[
graph(%0: f32[4x3])
  %1 = exp(%0)
  %2 = neg(%1)
  %3 = relu(%0)
  return %3
]], prog:graph("traced"))
    assert.equal([[
graph(%0: f32[4x3])
  %1 = relu(%0)
  return %1
]], prog:graph())
  end)

  it("fold runs what reads only constants: the casts of an i64 tensor and a number", function()
    local c = ember.tensor({ 1, 2, 3 }, "i64")
    local prog = export(function(a) return (a + c) * 2 end, { x }, only("fold", "dce"))
    assert.truthy(prog:graph("traced"):find("= to%(const%.1, dtype=f32"))
    assert.equal([[
graph(%0: f32[4x3])
  %1 = add(%0, const.1.to, alpha=1)
  %2 = mul(%1, const.4.to)
  return %2
]], prog:graph())
  end)

  it("cse merges the same op on the same inputs, not a different attribute", function()
    local prog = export(function(a)
      return a:exp() + a:exp(), a:sum(1) + a:sum(2):sum()
    end, { x }, only("cse"))
    assert.equal([[
graph(%0: f32[4x3])
  %1 = exp(%0)
  %2 = add(%1, %1, alpha=1)
  %3 = sum(%0, dim=[0], keepdim=false, dtype=none)
  %4 = sum(%0, dim=[1], keepdim=false, dtype=none)
  %5 = sum(%4, dim=none, keepdim=false, dtype=none)
  %6 = add(%3, %5, alpha=1)
  return %2, %6
]], prog:graph())
  end)

  -- a conv + batch norm + relu whose batch norm has moved off its initial values
  local function conv_bn(groups)
    ember.manual_seed(7)
    local m = nn.Sequential(nn.Conv2d(4, 6, 3, { padding = 1, groups = groups }), nn.BatchNorm2d(6), nn.ReLU())
    m:train()
    for _ = 1, 3 do m:forward(ember.randn(5, 4, 6, 6) * 2 + 1) end
    ember.no_grad(function()
      m[2].weight:copy_(ember.rand(6) + 0.5)
      m[2].bias:copy_(ember.randn(6))
    end)
    m:eval()
    return m
  end

  it("fold_bn folds batch_norm into the conv2d before it (and a grouped one)", function()
    local xin = ember.randn(2, 4, 6, 6)
    for _, groups in ipairs({ 1, 2 }) do
      local m = conv_bn(groups)
      local prog = export(m, { xin }, only("fold_bn"), 1e-5)
      assert.equal(1, select(2, prog:graph("traced"):gsub("batch_norm%(", "")))
      assert.equal(string.format([[
graph(%%0: f32[2x4x6x6])
  %%1 = conv2d(%%0, 0.weight.bn, 0.bias.bn, stride=[1,1], padding=[1,1], dilation=[1,1], groups=%d)
  %%2 = relu(%%1)
  return %%2
]], groups), prog:graph())
    end
  end)

  it("fold_bn folds into linear on N x C and leaves B x T x C alone", function()
    ember.manual_seed(3)
    local m = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3))
    m:train()
    for _ = 1, 3 do m:forward(ember.randn(8, 5) * 3 - 1) end
    m:eval()
    local prog = export(m, { ember.randn(4, 5) }, only("fold_bn"), 1e-5)
    assert.equal([[
graph(%0: f32[4x5])
  %1 = linear(%0, 0.weight.bn, 0.bias.bn)
  return %1
]], prog:graph())
    -- batch_norm of a 2 x 3 x 5 linear result normalises dim 2 (size 3), not the
    -- linear's output features: nothing to fold
    local lin, bn = nn.Linear(4, 5), nn.BatchNorm1d(3)
    bn:eval()
    local f = function(a) return bn:forward(lin:forward(a)) end
    prog = export(f, { ember.randn(2, 3, 4) }, only("fold_bn"))
    assert.truthy(prog:graph():find("= batch_norm(", 1, true))
    assert.truthy(prog:graph():find("= linear(", 1, true))
  end)

  it("fuse puts activations into linear and conv2d epilogues", function()
    ember.manual_seed(5)
    local m = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2), nn.GELU("tanh"))
    local prog = export(m, { x }, only("fuse"))
    assert.equal([[
graph(%0: f32[4x3])
  %3 = fused_linear(%0, 0.weight, 0.bias, activation=relu)
  %6 = fused_linear(%3, 2.weight, 2.bias, activation=gelu_tanh)
  return %6
]], prog:graph())
    prog = export(conv_bn(1), { ember.randn(2, 4, 6, 6) }, nil, 1e-5)   -- every pass
    assert.equal([[
graph(%0: f32[2x4x6x6])
  %1 = fused_conv2d(%0, 0.weight.bn, 0.bias.bn, stride=[1,1], padding=[1,1], dilation=[1,1], groups=1, activation=relu)
  return %1
]], prog:graph())
  end)

  it("fuse makes elementwise chains and trees one fused_pointwise", function()
    local prog = export(function(a, b, c)
      return (a + b):relu() * c, a:sigmoid() * a
    end, { x, y, z }, only("fuse"))
    assert.equal([[
graph(%0: f32[4x3], %1: f32[4x3], %2: f32[3])
  %3 = fused_pointwise(%0, %1, %2, code=%0 %1 add relu %2 mul)
  %4 = fused_pointwise(%0, code=%0 sigmoid %0 mul)
  return %3, %4
]], prog:graph())
    -- a value that is also an output is not fused into its reader
    prog = export(function(a) local e = a:exp(); return e, e:neg():sin() end, { x }, only("fuse"))
    assert.equal([[
graph(%0: f32[4x3])
  %1 = exp(%0)
  %2 = fused_pointwise(%1, code=%0 neg sin)
  return %1, %2
]], prog:graph())
  end)

  it("passes = false keeps the graph as traced; a pass name must exist", function()
    local prog = export(function(a) return a:exp() + a:exp() end, { x }, false)
    assert.equal(prog:graph("traced"), prog:graph())
    local ok, err = pcall(ember.export, function(a) return a:relu() end, { x }, { passes = { fuzz = false } })
    assert.is_false(ok)
    assert.truthy(tostring(err):find('no pass named "fuzz"', 1, true))
  end)

  it("the plan of an MLP needs less than the sum of its values", function()
    local X = ember._export
    local m = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 4))
    local xin = ember.randn(32, 16)
    local tr = X.trace_begin()
    tr:input("x", xin)
    local out = ember.no_grad(function() return m:forward(xin) end)
    local g = tr:finish({ out })
    local plan = g:plan()
    -- five 32 x 64 (or 32 x 4) f32 results, 8 KiB each at most; two slots suffice
    assert.equal(4 * 8192 + 512, plan.naive)
    assert.equal(2 * 8192, plan.arena)
  end)
end)
