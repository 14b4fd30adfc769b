-- nn_loss_spec.lua — the losses of ember.nn against torch (/usr/bin/python3): values
-- for every option (reduction, class weights, ignore_index, label smoothing, class
-- index and probability targets, K-dim and unbatched inputs, beta, pos_weight, extreme
-- logits), gradients against torch autograd (f32) and finite differences (f64), the
-- module forms against the functional ones, and the errors for bad input.
local ember = require "ember"
local nn = require "ember.nn"
local F = require "ember.nn.functional"
local oracle = require "oracle"
local gradcheck = require "gradcheck"
local helpers = require "spec_helpers"

local function gen(shape, seed, amp) return oracle.gen(shape, seed, "f32", amp or 1) end
local function long(t) return ember.tensor(t, "i64") end

local error_of, contains = helpers.error_of, helpers.contains

-- class targets in torch: 0-based, -100 (ignored) kept as is
local T1 = "torch.where(x[1] == -100, x[1], x[1] - 1)"

-- A case: inputs (tensors), grad (which inputs get gradients), ember (function of the
-- inputs), torch (expression over x[0], x[1], ...).
local cases = {}
local function case(c) cases[#cases + 1] = c end

local logits = gen({ 5, 4 }, 1, 3)
local targets = long({ 1, 4, 2, 3, 2 })
local ignored = long({ 1, -100, 2, 4, -100 })
local class_w = ember.tensor({ 0.5, 1, 2, 1.5 }, "f32")
local probs = gen({ 5, 4 }, 2, 2):softmax(2)

-- {====== cross entropy and nll

for _, red in ipairs({ "mean", "sum", "none" }) do
  local r = string.format("reduction='%s'", red)
  case { name = "cross_entropy " .. red, inputs = { logits, targets }, grad = { true },
         ember = function(x, t) return F.cross_entropy(x, t, nil, nil, red) end,
         torch = "F.cross_entropy(x[0], " .. T1 .. ", " .. r .. ")" }
  case { name = "cross_entropy weight " .. red, inputs = { logits, targets, class_w }, grad = { true },
         ember = function(x, t, w) return F.cross_entropy(x, t, w, nil, red) end,
         torch = "F.cross_entropy(x[0], " .. T1 .. ", weight=x[2], " .. r .. ")" }
  case { name = "cross_entropy ignore_index -100 " .. red, inputs = { logits, ignored }, grad = { true },
         ember = function(x, t) return F.cross_entropy(x, t, nil, -100, red) end,
         torch = "F.cross_entropy(x[0], " .. T1 .. ", " .. r .. ")" }
  case { name = "cross_entropy ignore_index 2 (a class) with weight " .. red, inputs = { logits, targets, class_w },
         grad = { true },
         ember = function(x, t, w) return F.cross_entropy(x, t, w, 2, red) end,
         torch = "F.cross_entropy(x[0], " .. T1 .. ", weight=x[2], ignore_index=1, " .. r .. ")" }
  case { name = "cross_entropy label_smoothing " .. red, inputs = { logits, targets }, grad = { true },
         ember = function(x, t) return F.cross_entropy(x, t, nil, nil, red, 0.2) end,
         torch = "F.cross_entropy(x[0], " .. T1 .. ", " .. r .. ", label_smoothing=0.2)" }
  case { name = "cross_entropy label_smoothing, weight, ignored " .. red, inputs = { logits, ignored, class_w },
         grad = { true },
         ember = function(x, t, w) return F.cross_entropy(x, t, w, -100, red, 0.3) end,
         torch = "F.cross_entropy(x[0], " .. T1 .. ", weight=x[2], " .. r .. ", label_smoothing=0.3)" }
  case { name = "cross_entropy probability targets " .. red, inputs = { logits, probs }, grad = { true, true },
         ember = function(x, p) return F.cross_entropy(x, p, nil, nil, red) end,
         torch = "F.cross_entropy(x[0], x[1], " .. r .. ")" }
  case { name = "cross_entropy probability targets, weight, smoothing " .. red, inputs = { logits, probs, class_w },
         grad = { true, true },
         ember = function(x, p, w) return F.cross_entropy(x, p, w, nil, red, 0.1) end,
         torch = "F.cross_entropy(x[0], x[1], weight=x[2], " .. r .. ", label_smoothing=0.1)" }
  case { name = "nll_loss " .. red, inputs = { logits, targets }, grad = { true },
         ember = function(x, t) return F.nll_loss(x, t, nil, nil, red) end,
         torch = "F.nll_loss(x[0], " .. T1 .. ", " .. r .. ")" }
  case { name = "nll_loss weight, ignored " .. red, inputs = { logits, ignored, class_w }, grad = { true },
         ember = function(x, t, w) return F.nll_loss(x, t, w, nil, red) end,
         torch = "F.nll_loss(x[0], " .. T1 .. ", weight=x[2], " .. r .. ")" }
end

local kx = gen({ 2, 3, 4, 2 }, 3, 3)                          -- N x C x d1 x d2
local kt = long({ { { 1, 2 }, { 3, -100 }, { 2, 2 }, { 1, 3 } }, { { 3, 3 }, { 1, 2 }, { -100, 1 }, { 2, 1 } } })
local kw = ember.tensor({ 0.3, 1.2, 2 }, "f32")
case { name = "cross_entropy K-dim, weight, ignored, smoothing", inputs = { kx, kt, kw }, grad = { true },
       ember = function(x, t, w) return F.cross_entropy(x, t, w, -100, "mean", 0.15) end,
       torch = "F.cross_entropy(x[0], " .. T1 .. ", weight=x[2], label_smoothing=0.15)" }
case { name = "cross_entropy K-dim, none", inputs = { kx, kt }, grad = { true },
       ember = function(x, t) return F.cross_entropy(x, t, nil, -100, "none") end,
       torch = "F.cross_entropy(x[0], " .. T1 .. ", reduction='none')" }
case { name = "cross_entropy K-dim probability targets", inputs = { kx, gen({ 2, 3, 4, 2 }, 4):softmax(2) },
       grad = { true, true },
       ember = function(x, p) return F.cross_entropy(x, p) end,
       torch = "F.cross_entropy(x[0], x[1])" }
case { name = "cross_entropy unbatched", inputs = { gen({ 4 }, 5, 2), long(3):view({}) }, grad = { true },
       ember = function(x, t) return F.cross_entropy(x, t, nil, nil, "mean", 0.1) end,
       torch = "F.cross_entropy(x[0], " .. T1 .. ", label_smoothing=0.1)" }
case { name = "nll_loss K-dim weight", inputs = { kx, kt, kw }, grad = { true },
       ember = function(x, t, w) return F.nll_loss(x, t, w) end,
       torch = "F.nll_loss(x[0], " .. T1 .. ", weight=x[2])" }
case { name = "cross_entropy f64", inputs = { logits:to("f64"), targets }, grad = { true },
       ember = function(x, t) return F.cross_entropy(x, t) end,
       torch = "F.cross_entropy(x[0], " .. T1 .. ")" }

-- }======

-- {====== regression and binary losses

local a, b = gen({ 3, 4 }, 6, 2), gen({ 3, 4 }, 7, 2)
for _, red in ipairs({ "mean", "sum", "none" }) do
  local r = string.format("reduction='%s'", red)
  case { name = "mse_loss " .. red, inputs = { a, b }, grad = { true, true },
         ember = function(x, y) return F.mse_loss(x, y, red) end, torch = "F.mse_loss(x[0], x[1], " .. r .. ")" }
  case { name = "l1_loss " .. red, inputs = { a, b }, grad = { true, true },
         ember = function(x, y) return F.l1_loss(x, y, red) end, torch = "F.l1_loss(x[0], x[1], " .. r .. ")" }
  case { name = "smooth_l1_loss " .. red, inputs = { a, b }, grad = { true, true },
         ember = function(x, y) return F.smooth_l1_loss(x, y, red) end,
         torch = "F.smooth_l1_loss(x[0], x[1], " .. r .. ")" }
  case { name = "smooth_l1_loss beta 0.7 " .. red, inputs = { a, b }, grad = { true, true },
         ember = function(x, y) return F.smooth_l1_loss(x, y, red, 0.7) end,
         torch = "F.smooth_l1_loss(x[0], x[1], " .. r .. ", beta=0.7)" }
  case { name = "huber_loss delta 1.3 " .. red, inputs = { a, b }, grad = { true, true },
         ember = function(x, y) return F.huber_loss(x, y, red, 1.3) end,
         torch = "F.huber_loss(x[0], x[1], " .. r .. ", delta=1.3)" }
  local t01 = (gen({ 3, 4 }, 8) + 1) * 0.5
  case { name = "binary_cross_entropy_with_logits " .. red, inputs = { a, t01 }, grad = { true, true },
         ember = function(x, t) return F.binary_cross_entropy_with_logits(x, t, nil, red) end,
         torch = "F.binary_cross_entropy_with_logits(x[0], x[1], " .. r .. ")" }
  case { name = "binary_cross_entropy_with_logits weight, pos_weight " .. red,
         inputs = { a, t01, gen({ 3, 1 }, 9) + 1.5, ember.tensor({ 0.5, 2, 3, 1 }, "f32") }, grad = { true, true },
         ember = function(x, t, w, pw) return F.binary_cross_entropy_with_logits(x, t, w, red, pw) end,
         torch = "F.binary_cross_entropy_with_logits(x[0], x[1], weight=x[2], " .. r .. ", pos_weight=x[3])" }
end
case { name = "smooth_l1_loss beta 0 is l1", inputs = { a, b }, grad = { true, true },
       ember = function(x, y) return F.smooth_l1_loss(x, y, "mean", 0) end,
       torch = "F.smooth_l1_loss(x[0], x[1], beta=0.0)" }
case { name = "mse_loss broadcasting the target", inputs = { a, gen({ 4 }, 10) }, grad = { true, true },
       ember = function(x, y) return F.mse_loss(x, y) end, torch = "F.mse_loss(x[0], x[1].expand(3, 4))" }
case { name = "binary_cross_entropy_with_logits, extreme logits stay finite",
       inputs = { ember.tensor({ -100, -30, -0.5, 0.5, 30, 100 }, "f32"), ember.tensor({ 1, 0, 1, 0, 0, 1 }, "f32") },
       grad = { true }, fd = false,
       ember = function(x, t) return F.binary_cross_entropy_with_logits(x, t, nil, "none", ember.tensor({ 2 }, "f32")) end,
       torch = "F.binary_cross_entropy_with_logits(x[0], x[1], reduction='none', pos_weight=torch.tensor([2.0]))" }

-- }======

-- values: every case in one torch call
local req = {}
for i, c in ipairs(cases) do req[i] = { expr = c.torch, inputs = c.inputs } end
local values = oracle.eval(req)

describe("losses against torch", function()
  for i, c in ipairs(cases) do
    it(c.name, function()
      local ok, out = pcall(c.ember, table.unpack(c.inputs))
      assert(ok, out)
      local r = values[i]
      assert(r.ok, r.error)
      local tol = c.inputs[1]:dtype() == "f64" and 1e-12 or 1e-5
      oracle.assert_close(out, r, tol, tol)
    end)
  end
end)

-- gradients: the same cases for gradcheck (inputs as given values)
local function grad_cases()
  local list = {}
  for _, c in ipairs(cases) do
    local inputs = {}
    for j, t in ipairs(c.inputs) do inputs[j] = { value = t, grad = c.grad[j] == true } end
    list[#list + 1] = { op = "loss", name = c.name, inputs = inputs, ember = c.ember, torch = c.torch,
                        fd = c.fd, fd_tol = 1e-6 }
  end
  return list
end
local gcases = grad_cases()
local gresults = gradcheck.oracle(gcases)

describe("loss gradients against torch autograd (f32)", function()
  for i, c in ipairs(gcases) do
    it(c.name, function() assert(gresults[i].ok, gresults[i].msg) end)
  end
end)

describe("loss gradients against finite differences (f64)", function()
  for _, c in ipairs(gcases) do
    if c.fd ~= false then
      it(c.name, function()
        local ok, msg = gradcheck.finite_differences(c)
        assert(ok, msg)
      end)
    end
  end
end)

describe("loss modules", function()
  local function same(a, b)
    assert.same(a:contiguous():view(-1):totable(), b:contiguous():view(-1):totable())
  end

  it("give the functional forms' values, options positional or named", function()
    same(F.cross_entropy(logits, ignored, class_w, -100, "sum", 0.2),
         nn.CrossEntropyLoss{ weight = class_w, reduction = "sum", label_smoothing = 0.2 }(logits, ignored))
    same(F.cross_entropy(logits, targets, nil, 2, "none"), nn.CrossEntropyLoss(nil, 2, "none")(logits, targets))
    same(F.nll_loss(logits, ignored, class_w), nn.NLLLoss(class_w)(logits, ignored))
    same(F.mse_loss(a, b, "sum"), nn.MSELoss("sum")(a, b))
    same(F.l1_loss(a, b), nn.L1Loss()(a, b))
    same(F.smooth_l1_loss(a, b, "none", 0.5), nn.SmoothL1Loss{ beta = 0.5, reduction = "none" }(a, b))
    same(F.smooth_l1_loss(a, b, "mean", 0), nn.SmoothL1Loss{ beta = 0 }(a, b))
    same(F.huber_loss(a, b, "mean", 2), nn.HuberLoss("mean", 2)(a, b))
    local t01 = (b + 2) * 0.25
    local pw = ember.tensor({ 1, 2, 3, 4 }, "f32")
    same(F.binary_cross_entropy_with_logits(a, t01, nil, "mean", pw), nn.BCEWithLogitsLoss{ pos_weight = pw }(a, t01))
  end)

  it("keep class weights and pos_weight as buffers under PyTorch's names", function()
    local _, keys = nn.CrossEntropyLoss{ weight = class_w }:state_dict()
    assert.same({ "weight" }, keys)
    _, keys = nn.CrossEntropyLoss():state_dict()
    assert.same({}, keys)
    _, keys = nn.BCEWithLogitsLoss{ weight = ember.ones(4), pos_weight = ember.ones(4) }:state_dict()
    assert.same({ "weight", "pos_weight" }, keys)
    assert.equal(-100, nn.NLLLoss().ignore_index)
    assert.equal("CrossEntropyLoss(reduction=mean, label_smoothing=0.1)", tostring(nn.CrossEntropyLoss{ label_smoothing = 0.1 }))
  end)

  it("give the mean over no elements as NaN when every target is ignored", function()
    local v = F.cross_entropy(logits:narrow(1, 1, 2), long({ -100, -100 })):item()
    assert.is_true(v ~= v)
  end)

  it("raise for bad input, naming the loss and the shapes", function()
    contains(error_of(F.cross_entropy, logits, targets, nil, nil, "avg"),
             "cross_entropy: reduction must be 'mean', 'sum' or 'none', got avg")
    contains(error_of(nn.MSELoss, "avg"), "MSELoss: reduction must be")
    contains(error_of(F.cross_entropy, logits, long({ 1, 2 })),
             "cross_entropy: target of shape 2 does not fit input of shape 5x4")
    contains(error_of(F.cross_entropy, logits, gen({ 5, 3 }, 1)),
             "cross_entropy: probability targets must have the input's shape 5x4, got 5x3")
    contains(error_of(F.nll_loss, logits, ember.tensor({ true, false, true, true, false }, "bool")),
             "nll_loss: class targets must be integers (1-based), got bool")
    contains(error_of(F.cross_entropy, logits, targets, nil, nil, nil, 2), "label_smoothing must be in [0, 1]")
    contains(error_of(F.binary_cross_entropy_with_logits, a, gen({ 4, 3 }, 1)),
             "target size 4x3 must be the input size 3x4")
    contains(error_of(F.smooth_l1_loss, a, b, "mean", -1), "beta must be >= 0")
  end)
end)
