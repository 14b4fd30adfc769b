-- vk_norm_train_spec.lua — batch_norm_train and batch_norm_train_backward on Vulkan
-- (host/vk/vk_norm_train.c) against the cpu kernels of the same ops, against
-- identities that can be checked by hand (the output of each channel has mean 0 and
-- biased variance var / (var + eps)), and through autograd: the gradients of x,
-- weight and bias of a training step match the cpu's.
local ember = require "ember"
local V = require "vk_check"

local ok, why = ember.vk.available()
if not ok then
  describe("vulkan batch_norm_train", function() pending("no Vulkan device: " .. tostring(why)) end)
  return
end

local rand = V.rand
local bnt = ember.batch_norm_train
local bwd = ember._op("batch_norm_train_backward")

-- all three results of the forward op
local function fwd(eps)
  return function(x, w, b) return { bnt(x, w, b, eps and { eps = eps } or nil) } end
end

-- the backward op on (g, x) with the batch statistics of x from the forward op
local function back(eps)
  return function(g, x, w)
    local _, m, v = bnt(x, nil, nil, eps and { eps = eps } or nil)
    return { bwd(g, x, m, v, w, { eps = eps or 1e-5 }) }
  end
end

-- the gradients of x, w and b (those given) after (y * gy):sum():backward()
local function grads(x, gy, w, b)
  for _, t in ipairs({ x, w, b }) do t.requires_grad = true end
  local y = bnt(x, w, b)
  ember.sum(y * gy):backward()
  local out = { x.grad }
  if w then out[#out + 1] = w.grad end
  if b then out[#out + 1] = b.grad end
  return out
end

local function cases(dt)
  local function r(shape, lo, hi) return function() return rand(shape, lo, hi, dt) end end
  local tol = dt == "f64" and 1e-12 or 1e-5
  local list = {
    { "2-d N x C", fwd(), { r({ 33, 4 }), r({ 4 }), r({ 4 }) } },
    { "N x C x L", fwd(), { r({ 4, 6, 9 }), r({ 6 }), r({ 6 }) } },
    { "N x C x H x W, count not a multiple of the group", fwd(), { r({ 3, 5, 7, 3 }), r({ 5 }), r({ 5 }) } },
    { "N x C x H x W, larger", fwd(), { r({ 32, 16, 8, 8 }), r({ 16 }), r({ 16 }) } },
    { "no weight or bias", fwd(), { r({ 3, 5, 7, 3 }) } },
    { "weight only", fwd(), { r({ 5, 4, 11 }), r({ 4 }) } },
    { "bias only", function(x, b) return { bnt(x, nil, b) } end, { r({ 5, 4, 11 }), r({ 4 }) } },
    { "eps 0.5", fwd(0.5), { r({ 2, 4, 9 }), r({ 4 }), r({ 4 }) } },
    { "transposed input", function(x, w, b) return { bnt(x:transpose(2, 3), w, b) } end,
      { r({ 3, 7, 5, 4 }), r({ 5 }), r({ 5 }) } },
    { "offset input, strided weight and bias", function(x, w, b)
        return { bnt(x[{ { 2, 4 } }], w[{ { 1, 12, 2 } }], b[{ { 2, 12, 2 } }]) } end,
      { r({ 4, 6, 10 }), r({ 12 }), r({ 12 }) } },
    { "values far from 0 (mean 10)", fwd(), { r({ 8, 3, 50 }, 9, 11) } },
    { "one long channel", fwd(), { r({ 64, 1, 1000 }) } },
    { "backward, no weight", back(), { r({ 3, 5, 7, 3 }), r({ 3, 5, 7, 3 }) } },
    { "backward, weight, larger", back(), { r({ 32, 16, 8, 8 }), r({ 32, 16, 8, 8 }), r({ 16 }) } },
    { "backward, 2-d", back(), { r({ 33, 4 }), r({ 33, 4 }), r({ 4 }) } },
    { "backward, transposed grad and input, strided weight", function(g, x, w)
        return back()(g:transpose(2, 3), x:transpose(2, 3), w[{ { 1, 10, 2 } }]) end,
      { r({ 3, 7, 5, 4 }), r({ 3, 7, 5, 4 }), r({ 10 }) } },
    { "backward, eps 0.5", back(0.5), { r({ 2, 4, 9 }), r({ 2, 4, 9 }), r({ 4 }) } },
    { "autograd with weight and bias", grads, { r({ 3, 5, 7, 3 }), r({ 3, 5, 7, 3 }), r({ 5 }), r({ 5 }) } },
    { "autograd without weight or bias", grads, { r({ 6, 3, 10 }), r({ 6, 3, 10 }) } },
    { "autograd, larger", grads, { r({ 32, 16, 8, 8 }), r({ 32, 16, 8, 8 }), r({ 16 }), r({ 16 }) } },
    { "autograd, transposed input", function(x, gy, w, b)
        x = x:transpose(2, 3):contiguous():transpose(2, 3)      -- a strided leaf
        return grads(x, gy, w, b) end,
      { r({ 3, 5, 7, 4 }), r({ 3, 5, 7, 4 }), r({ 5 }), r({ 5 }) } },
  }
  for _, c in ipairs(list) do
    c.tol, c.f64tol = tol, tol
  end
  return list
end

-- per channel of y (N x C x ...): the mean and the biased variance, summed in Lua
local function channel_moments(y)
  local n, ch = y:size()[1], y:size()[2]
  local t = y:to("cpu"):to("f64"):reshape({ n, ch, -1 }):totable()
  local mean, var = {}, {}
  for c = 1, ch do
    local s, q, k = 0, 0, 0
    for i = 1, n do for _, v in ipairs(t[i][c]) do s = s + v; k = k + 1 end end
    local m = s / k
    for i = 1, n do for _, v in ipairs(t[i][c]) do q = q + (v - m) ^ 2 end end
    mean[c], var[c] = m, q / k
  end
  return mean, var
end

for _, dt in ipairs({ "f32", "f64" }) do
  describe("vulkan batch_norm_train " .. dt, function()
    ember.manual_seed(dt == "f32" and 31 or 37)
    for _, case in ipairs(cases(dt)) do
      it(case[1], function() V.check(case) end)
    end

    it("y has mean 0 and variance var / (var + eps) per channel", function()
      local tol = dt == "f64" and 1e-12 or 1e-5
      for _, shape in ipairs({ { 33, 4 }, { 3, 5, 7, 3 }, { 32, 16, 8, 8 } }) do
        local x = rand(shape, -1, 3, dt):to("vulkan")
        local y, m, v = bnt(x, nil, nil, { eps = 0.1 })
        assert.are.equal("vulkan", y:device())
        local xm, xv = channel_moments(x)
        local ym, yv = channel_moments(y)
        local mt, vt = m:to("cpu"):to("f64"):totable(), v:to("cpu"):to("f64"):totable()
        for c = 1, shape[2] do
          assert.is_true(math.abs(mt[c] - xm[c]) <= tol * (1 + math.abs(xm[c])), "mean")
          assert.is_true(math.abs(vt[c] - xv[c]) <= tol * xv[c], "var")
          assert.is_true(math.abs(ym[c]) <= tol, "mean of y " .. ym[c])
          local want = xv[c] / (xv[c] + 0.1)
          assert.is_true(math.abs(yv[c] - want) <= 10 * tol * want, "variance of y " .. yv[c])
        end
      end
    end)
  end)
end

describe("vulkan batch_norm_train validation", function()
  it("the Khronos validation layer reported nothing", V.assert_validation_clean)
end)
