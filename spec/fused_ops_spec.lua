-- fused_ops_spec.lua — export's fused ops (host/ops/ops_fused.c), which have no Lua
-- function and are reached through ember._op: each against the chain of eager ops it
-- stands for (every activation and every word; odd sizes, several row blocks,
-- broadcasting, strided and transposed inputs, numbers, f64), against PyTorch for
-- fused_linear + gelu, fused_conv2d + relu and a pointwise chain, and their errors.
local ember = require "ember"
local oracle = require "oracle"
local helpers = require "spec_helpers"

local fused_linear = ember._op("fused_linear")
local fused_conv2d = ember._op("fused_conv2d")
local fused_pointwise = ember._op("fused_pointwise")

ember.manual_seed(7)

local function randn(shape, dtype) return ember.randn(shape, { dtype = dtype or "f32" }) end
-- uniform in [lo, hi)
local function unif(shape, lo, hi, dtype)
  return ember.rand(shape, { dtype = dtype or "f32" }) * (hi - lo) + lo
end

-- |got - want| <= rtol * (|want| + 1) everywhere, same dtype and shape; rtol 0: equal bits
-- (NaN in the same places)
local function close(got, want, rtol, what)
  what = what or ""
  assert.are.equal(want:dtype(), got:dtype(), what .. ": dtype")
  assert.are.same(want:size(), got:size(), what .. ": shape")
  local g = got:dim() == 0 and { got:item() } or got:contiguous():view(-1):totable()
  local w = want:dim() == 0 and { want:item() } or want:contiguous():view(-1):totable()
  for i = 1, #w do
    local a, b = g[i], w[i]
    local ok = a == b or (a ~= a and b ~= b) or
               (rtol > 0 and math.abs(a - b) <= rtol * (math.abs(b) + 1))
    assert(ok, string.format("%s: element %d is %.17g, the eager chain gives %.17g", what, i, a, b))
  end
end

local TOL = { f32 = 1e-6, f64 = 1e-12 }

-- ||got - want|| / ||want|| <= tol: two GEMMs of the same product agree so far (the
-- order BLAS sums in depends on the shape it is given)
local function close_norm(got, want, tol, what)
  assert.are.equal(want:dtype(), got:dtype(), what .. ": dtype")
  assert.are.same(want:size(), got:size(), what .. ": shape")
  local d = (got - want):to("f64"):norm():item()
  local n = want:to("f64"):norm():item()
  assert(d <= tol * n, string.format("%s: normalised error %.3g > %.3g", what, d / n, tol))
end

local activations = { "none", "relu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid" }
local eager_act = {
  none = function(y) return y end,
  relu = ember.relu, gelu = ember.gelu, silu = ember.silu, tanh = ember.tanh,
  sigmoid = ember.sigmoid,
  gelu_tanh = function(y) return ember.gelu(y, "tanh") end,
}

describe("fused_linear", function()
  -- x, w, b (b may be nil) as the case makes them
  local cases = {
    { "2-D", function() return randn({ 5, 7 }), randn({ 3, 7 }), randn({ 3 }) end },
    { "3-D input, no bias", function() return randn({ 2, 4, 7 }), randn({ 6, 7 }) end },
    { "1-D input", function() return randn({ 9 }), randn({ 4, 9 }), randn({ 4 }) end },
    { "bias of one element", function() return randn({ 3, 5 }), randn({ 4, 5 }), randn({ 1 }) end },
    { "transposed input and weight", function()
        return randn({ 7, 5 }):t(), randn({ 7, 3 }):t(), randn({ 3 }) end },
    { "rows in several blocks (300 x 1000)", function()
        return randn({ 300, 40 }), randn({ 1000, 40 }), randn({ 1000 }) end },
    { "f64", function() return randn({ 6, 11 }, "f64"), randn({ 5, 11 }, "f64"), randn({ 5 }, "f64") end },
  }
  -- The activation is the eager op's own loop, run on the block the GEMM just made:
  -- fused_linear(act) is act(fused_linear(none)) to the bit. The GEMM runs by blocks of
  -- rows, which BLAS may round differently in the last bits from one whole product.
  for _, c in ipairs(cases) do
    it("is linear then the activation, every activation: " .. c[1], function()
      local x, w, b = c[2]()
      local plain = fused_linear(x, w, b, { activation = "none" })
      close_norm(plain, ember.linear(x, w, b), TOL[x:dtype()], c[1] .. " none")
      for _, act in ipairs(activations) do
        local got = fused_linear(x, w, b, { activation = act })
        close(got, eager_act[act](plain), 0, c[1] .. " " .. act)
        close_norm(got, eager_act[act](ember.linear(x, w, b)), TOL[x:dtype()], c[1] .. " " .. act)
      end
    end)
  end

  it("defaults to no activation, and an f16 input gives f16", function()
    local x, w, b = randn({ 4, 6 }), randn({ 3, 6 }), randn({ 3 })
    close(fused_linear(x, w, b), ember.linear(x, w, b), 0, "default")
    local x16, w16, b16 = x:to("f16"), w:to("f16"), b:to("f16")
    -- relu commutes with the rounding to f16, so the one rounding of the fused op
    -- gives what the two of the eager chain give
    close(fused_linear(x16, w16, b16, { activation = "relu" }),
          ember.relu(ember.linear(x16, w16, b16)), 0, "f16 relu")
  end)

  it("refuses an unknown activation, an activation on integers, and linear's bad shapes", function()
    local x, w = randn({ 3, 5 }), randn({ 4, 5 })
    helpers.contains(helpers.error_of(fused_linear, x, w, nil, { activation = "softmax" }),
                     "fused_linear: activation \"softmax\" is not one of none, relu, gelu, gelu_tanh, silu, tanh, sigmoid")
    local xi, wi = ember.ones({ 2, 3 }, { dtype = "i64" }), ember.ones({ 2, 3 }, { dtype = "i64" })
    helpers.contains(helpers.error_of(fused_linear, xi, wi, nil, { activation = "relu" }),
                     "fused_linear: activation relu needs float operands, got i64")
    close(fused_linear(xi, wi), ember.linear(xi, wi), 0, "i64 without activation")
    helpers.contains(helpers.error_of(fused_linear, x, randn({ 4, 6 })), "fused_linear: input of shape")
  end)
end)

describe("fused_conv2d", function()
  local cases = {
    { "3x3 stride 2 padding 1", { stride = 2, padding = 1 },
      function() return randn({ 2, 3, 9, 8 }), randn({ 4, 3, 3, 3 }), randn({ 4 }) end },
    { "groups 2, dilation 2, no bias", { groups = 2, dilation = 2, padding = 2 },
      function() return randn({ 1, 4, 7, 7 }), randn({ 6, 2, 3, 3 }) end },
    { "depthwise", { groups = 4, padding = 1 },
      function() return randn({ 2, 4, 6, 5 }), randn({ 8, 1, 3, 3 }), randn({ 8 }) end },
    { "1x1 read in place", {},
      function() return randn({ 1, 5, 40, 40 }), randn({ 3, 5, 1, 1 }), randn({ 3 }) end },
    { "small images, several to a GEMM", { padding = 1 },
      function() return randn({ 6, 3, 5, 5 }), randn({ 4, 3, 3, 3 }), randn({ 4 }) end },
    { "unbatched CHW, strided input", { padding = { 1, 0 } },
      function() return randn({ 3, 12, 7 })[{ {}, { 1, 12, 2 }, {} }], randn({ 2, 3, 3, 2 }), randn({ 2 }) end },
    { "f64", { stride = { 2, 1 }, padding = 1 },
      function() return randn({ 2, 2, 7, 6 }, "f64"), randn({ 3, 2, 3, 3 }, "f64"), randn({ 3 }, "f64") end },
  }
  -- the GEMMs (and the depthwise loop) are conv2d's own, the activation the eager op's
  -- loop run on each block they make: the eager chain's values, to the bit
  for _, c in ipairs(cases) do
    it("is conv2d then the activation, every activation: " .. c[1], function()
      local x, w, b = c[3]()
      for _, act in ipairs(activations) do
        local o = { activation = act }
        for k, v in pairs(c[2]) do o[k] = v end
        local got = fused_conv2d(x, w, b, o)
        local want = eager_act[act](ember.conv2d(x, w, b, next(c[2]) and c[2] or nil))
        close(got, want, 0, c[1] .. " " .. act)   -- the same GEMMs, the same loops
      end
    end)
  end

  it("refuses a bad activation and conv2d's bad geometry, naming the op", function()
    local x, w = randn({ 1, 3, 5, 5 }), randn({ 2, 3, 3, 3 })
    helpers.contains(helpers.error_of(fused_conv2d, x, w, nil, { activation = "gelu(tanh)" }),
                     "fused_conv2d: activation \"gelu(tanh)\" is not one of")
    helpers.contains(helpers.error_of(fused_conv2d, x, w, nil, { groups = 2 }),
                     "fused_conv2d: groups 2 does not divide the 3 input channels")
    helpers.contains(helpers.error_of(fused_conv2d, x, w, nil, { stride = 0 }),
                     "fused_conv2d: stride must be positive")
  end)
end)

describe("fused_pointwise", function()
  local function run(code, ...)
    local args = table.pack(...)
    args[args.n + 1] = { code = code }
    return fused_pointwise(table.unpack(args, 1, args.n + 1))
  end

  -- each word alone against its eager op, in f32 and f64: the same loops, so the same bits
  local unary = {
    neg = ember.neg, abs = ember.abs, relu = ember.relu, sigmoid = ember.sigmoid,
    tanh = ember.tanh, exp = ember.exp, sin = ember.sin, cos = ember.cos, silu = ember.silu,
    gelu = ember.gelu, gelu_tanh = function(x) return ember.gelu(x, "tanh") end,
    square = function(x) return x:pow(2) end,
    reciprocal = function(x) return 1 / x end,
  }
  local positive = { log = ember.log, sqrt = ember.sqrt, rsqrt = ember.rsqrt }
  local binary = { add = ember.add, sub = ember.sub, mul = ember.mul, div = ember.div,
                   maximum = ember.maximum, minimum = ember.minimum }

  for _, dt in ipairs({ "f32", "f64" }) do
    it("runs each unary word as its eager op, bit for bit (" .. dt .. ")", function()
      local x, p = unif({ 37, 23 }, -6, 6, dt), unif({ 37, 23 }, 0.01, 9, dt)
      for w, f in pairs(unary) do close(run("%0 " .. w, x), f(x), 0, w) end
      for w, f in pairs(positive) do close(run("%0 " .. w, p), f(p), 0, w) end
    end)

    it("runs each binary word as its eager op, bit for bit (" .. dt .. ")", function()
      local a, b = unif({ 301, 5 }, -4, 4, dt), unif({ 301, 5 }, 0.5, 3, dt)
      for w, f in pairs(binary) do close(run("%0 %1 " .. w, a, b), f(a, b), 0, w) end
      local base = unif({ 301, 5 }, 0.1, 3, dt)
      close(run("%0 %1 pow", base, a), ember.pow(base, a), 0, "pow")
      -- a 0-dim exponent of 2 takes pow's x^2 path, as the eager pow does
      local two = ember.tensor(2, dt)
      close(run("%0 %1 pow", a, two), ember.pow(a, two), 0, "pow 2")
    end)
  end

  it("runs a chain as the eager ops do", function()
    local a, b, c = randn({ 4, 5 }), randn({ 4, 5 }), randn({ 4, 5 })
    close(run("%0 %1 add relu %2 mul", a, b, c), ember.relu(a + b) * c, 0, "relu(a + b) * c")
    local want = ember.sigmoid(ember.exp(ember.neg(a:abs())) - b) / (c:pow(2) + 1)
    local one = ember.tensor(1)
    close(run("%0 abs neg exp %1 sub sigmoid %2 square %3 add div", a, b, c, one), want, 1e-6,
          "a deeper chain")
    -- an input read twice, and a value the stack holds while another is computed
    close(run("%0 %0 sigmoid mul %1 %2 maximum tanh minimum", a, b, c),
          ember.minimum(a * ember.sigmoid(a), ember.tanh(ember.maximum(b, c))), 0, "nested")
  end)

  it("runs eight inputs, and sizes past one block and past one thread's share", function()
    local xs, want = {}, nil
    for i = 1, 8 do xs[i] = randn({ 70001 }) end
    want = xs[1]
    for i = 2, 8 do want = i % 2 == 0 and want + xs[i] or want * xs[i] end
    local code = "%0"
    for i = 2, 8 do code = code .. string.format(" %%%d %s", i - 1, i % 2 == 0 and "add" or "mul") end
    close(run(code, table.unpack(xs)), want, 0, "8 inputs, 70001 elements")
    local odd = randn({ 3, 257 })
    close(run("%0 gelu", odd), ember.gelu(odd), 0, "257 wide")
  end)

  it("broadcasts its inputs (PyTorch's rules) in any layout", function()
    local a, b = randn({ 4, 1, 5 }), randn({ 3, 1 })
    close(run("%0 %1 mul exp", a, b), ember.exp(a * b), 0, "4x1x5 by 3x1")
    -- rows narrower than a block: every block crosses rows and gathers
    local x, bias = randn({ 1000, 3 }), randn({ 3 })
    close(run("%0 %1 add relu", x, bias), ember.relu(x + bias), 0, "1000x3 + 3")
    -- the broadcast value on the left of a whole block
    close(run("%1 %0 sub", x, bias), bias - x, 0, "3 - 1000x3")
    -- transposed, sliced with steps, expanded
    local t, col = randn({ 30, 20 }), randn({ 20, 1 }):expand(20, 30)
    close(run("%0 %1 div", t:t(), col), t:t() / col, 0, "transposed by expanded")
    local s = t[{ { 1, 30, 3 }, { 2, 20, 2 } }]
    local e = randn({ 1, 10 }):expand(10, 10)
    close(run("%0 %1 add %0 mul", s, e), (s + e) * s, 0, "stepped slice and expand")
    close(run("%0 %1 add %0 mul", s:t(), e), (s:t() + e) * s:t(), 0, "transposed slice")
  end)

  it("takes 0-dim inputs as numbers; all 0-dim gives 0-dim", function()
    local x = randn({ 6, 7 })
    local k = ember.tensor(2.5)
    close(run("%0 %1 mul tanh", x, k), ember.tanh(x * k), 0, "x * 2.5")
    close(run("%1 %0 sub", x, k), k - x, 0, "2.5 - x")
    local a, b = ember.tensor(0.75), ember.tensor(-2)
    local r = run("%0 %1 mul exp", a, b)
    assert.are.equal(0, r:dim())
    close(r, ember.exp(a * b), 0, "0-dim")
    -- an integer number takes the tensor's dtype, as an eager op's does
    local i = ember.tensor(3, "i64")
    close(run("%0 %1 pow", x:abs(), i), x:abs():pow(i), 0, "x ^ 3 (i64 number)")
  end)

  it("promotes as PyTorch: an f64 number with an f32 tensor stays f32, f32 with f64 is f64", function()
    local x, d = randn({ 5 }), ember.tensor(0.1, "f64")
    local r = run("%0 %1 mul", x, d)
    assert.are.equal("f32", r:dtype())
    close(r, x * d, 0, "f32 * f64 number")
    local y = randn({ 5 }, "f64")
    local m = run("%0 %1 add", x, y)
    assert.are.equal("f64", m:dtype())
    close(m, x + y, 0, "f32 + f64")
  end)

  it("runs f64 chains to f64 precision", function()
    local a, b = unif({ 33, 9 }, 0.5, 2, "f64"), randn({ 9 }, "f64")
    local want = ember.sqrt(ember.log(a) * ember.log(a) + 1) * ember.cos(b) + ember.sin(a)
    local got = run("%0 log %0 log mul %2 add sqrt %1 cos mul %0 sin add", a, b, ember.tensor(1, "f64"))
    close(got, want, 1e-12, "f64 chain")
  end)

  it("names what is wrong with a program", function()
    local x, y = randn({ 2 }), randn({ 2 })
    local function err(code) return helpers.error_of(fused_pointwise, x, y, { code = code }) end
    helpers.contains(err("%0 %1 plus"), 'fused_pointwise: code "%0 %1 plus": unknown word "plus" (word 3)')
    helpers.contains(err("%0 add"), 'code "%0 add": stack underflow at word 2 "add": it takes 2 values, the stack holds 1')
    helpers.contains(err("relu"), "stack underflow at word 1")
    helpers.contains(err("%0 %1"), 'code "%0 %1" leaves 2 values on the stack, not exactly 1')
    helpers.contains(err(""), 'code "" leaves 0 values on the stack, not exactly 1')
    helpers.contains(err("%0 %2 add"), 'word 2 "%2" is out of range: there are 2 inputs (%0 .. %1)')
    helpers.contains(err("%x"), 'word 1 "%x" is not an input (%0, %1, ...)')
    helpers.contains(err("% 1"), 'word 1 "%" is not an input')
    helpers.contains(err(string.rep("%0 ", 33) .. string.rep("add ", 32)), "more than 32 values on the stack")
    -- a long code is cut short in the message, so the reason still shows
    local long = err("%0" .. string.rep(" neg", 1024))
    helpers.contains(long, 'code "%0 neg neg neg')
    helpers.contains(long, 'n..." has more than 1024 words')
    helpers.contains(helpers.error_of(fused_pointwise, x), "fused_pointwise: code is required")
  end)

  it("refuses inputs it does not compute in, naming them", function()
    local x = randn({ 2, 3 })
    helpers.contains(helpers.error_of(fused_pointwise, x, ember.ones({ 2, 3 }, { dtype = "i64" }), { code = "%0 %1 add" }),
                     "fused_pointwise: input 2 (%1) is i64 of shape 2x3: fused_pointwise takes f32 and f64 tensors")
    helpers.contains(helpers.error_of(fused_pointwise, x:to("f16"), { code = "%0 relu" }),
                     "input 1 (%0) is f16 of shape 2x3")
    helpers.contains(helpers.error_of(fused_pointwise, ember.tensor(1, "i64"), { code = "%0 neg" }),
                     "fused_pointwise: result dtype i64: fused_pointwise computes in f32 or f64 only")
    helpers.contains(helpers.error_of(fused_pointwise, x, randn({ 3, 2 }), { code = "%0 %1 add" }),
                     "fused_pointwise")
  end)
end)

describe("fused ops", function()
  it("are internal: no Lua function, no gradient", function()
    for _, name in ipairs({ "fused_linear", "fused_conv2d", "fused_pointwise" }) do
      assert.is_nil(ember[name])
      local found
      for _, op in ipairs(ember.ops()) do if op.name == name then found = op end end
      assert.is_truthy(found, name)
      assert.is_false(found.differentiable, name)
    end
    local x = randn({ 3, 4 }):requires_grad_()
    local y = fused_linear(x, randn({ 2, 4 }), nil, { activation = "relu" })
    helpers.contains(helpers.error_of(function() y:sum():backward() end), "fused_linear has no backward rule")
    helpers.contains(helpers.error_of(ember._op, "no_such_op"), 'ember._op: no op named "no_such_op"')
  end)
end)

describe("fused ops against torch", function()
  local x, w, b = oracle.gen({ 9, 13 }, 1), oracle.gen({ 7, 13 }, 2), oracle.gen({ 7 }, 3)
  local img, k, kb = oracle.gen({ 2, 3, 9, 8 }, 4), oracle.gen({ 5, 3, 3, 3 }, 5), oracle.gen({ 5 }, 6)
  local p, q, r = oracle.gen({ 4, 6 }, 7, "f32", 3), oracle.gen({ 6 }, 8), oracle.gen({ 4, 1 }, 9)
  local cases = {
    { "torch.nn.functional.gelu(F.linear(x[0], x[1], x[2]))", { x, w, b },
      function() return fused_linear(x, w, b, { activation = "gelu" }) end },
    { "F.gelu(F.linear(x[0], x[1], x[2]), approximate='tanh')", { x, w, b },
      function() return fused_linear(x, w, b, { activation = "gelu_tanh" }) end },
    { "F.relu(F.conv2d(x[0], x[1], x[2], stride=2, padding=1))", { img, k, kb },
      function() return fused_conv2d(img, k, kb, { stride = 2, padding = 1, activation = "relu" }) end },
    { "torch.sigmoid(torch.relu(x[0] + x[1]) * x[2] - torch.exp(-x[0].abs()))", { p, q, r },
      function() return fused_pointwise(p, q, r, { code = "%0 %1 add relu %2 mul %0 abs neg exp sub sigmoid" }) end },
  }
  local results
  setup(function()
    local req = {}
    for i, c in ipairs(cases) do req[i] = { expr = c[1], inputs = c[2] } end
    results = oracle.eval(req)
  end)
  for i, c in ipairs(cases) do
    it(c[1], function()
      local res = results[i]
      assert(res.ok, "oracle failed: " .. tostring(res.error))
      local ok, msg = oracle.close(c[3](), res.outputs[1], 1e-5, 1e-5)
      assert(ok, msg)
    end)
  end
end)
