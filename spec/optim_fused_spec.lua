-- optim_fused_spec.lua — the fused update ops ember.optim calls (p:sgd_step_,
-- p:adam_step_) against the update written out element by element in Lua numbers
-- (PyTorch's formulas, f64), their errors, and the optimizers' fallback to single
-- ops for tensors the fused ops refuse, which must give the same trajectory.
local ember = require "ember"
local optim = require "ember.optim"

local function close(a, b, tol)
  for i = 1, #b do
    assert(math.abs(a[i] - b[i]) <= tol * math.max(1, math.abs(b[i])),
           string.format("element %d: %.17g, expected %.17g", i, a[i], b[i]))
  end
end

local P = { 0.5, -1.25, 2, 0.125, -3 }
local G = { 0.1, -0.7, 1.5, 0, 2.25 }

describe("sgd_step_", function()
  for _, o in ipairs({
    { momentum = 0 }, { momentum = 0.9 }, { momentum = 0.9, dampening = 0.3, weight_decay = 0.01 },
    { momentum = 0.8, nesterov = true }, { momentum = 0.9, maximize = true, weight_decay = 0.1 },
  }) do
    it(string.format("momentum %g dampening %g weight_decay %g nesterov %s maximize %s", o.momentum,
                     o.dampening or 0, o.weight_decay or 0, tostring(o.nesterov), tostring(o.maximize)), function()
      local lr = 0.05
      local p, g = ember.tensor(P, "f64"), ember.tensor(G, "f64")
      local buf = o.momentum ~= 0 and ember.empty(5):double() or nil
      local rp, rb = { table.unpack(P) }, {}
      for step = 1, 3 do
        p:sgd_step_(g, buf, { lr = lr, momentum = o.momentum, dampening = o.dampening or 0,
                              weight_decay = o.weight_decay or 0, nesterov = o.nesterov or false,
                              maximize = o.maximize or false, first = step == 1 })
        for i = 1, 5 do
          local d = o.maximize and -G[i] or G[i]
          d = d + (o.weight_decay or 0) * rp[i]
          if o.momentum ~= 0 then
            rb[i] = step == 1 and d or rb[i] * o.momentum + (1 - (o.dampening or 0)) * d
            d = o.nesterov and d + o.momentum * rb[i] or rb[i]
          end
          rp[i] = rp[i] - lr * d
        end
      end
      close(p:totable(), rp, 1e-15)
      if buf then close(buf:totable(), rb, 1e-15) end
    end)
  end

  it("names what it refuses", function()
    local p = ember.zeros(4, 2)
    local ok, msg = pcall(function() p:sgd_step_(ember.zeros(3), nil, { lr = 1 }) end)
    assert(not ok and msg:find("grad is f32 of shape 3, the parameter f32 of shape 4x2", 1, true), msg)
    ok, msg = pcall(function() p:t():sgd_step_(ember.zeros(2, 4), nil, { lr = 1 }) end)
    assert(not ok and msg:find("param must be contiguous", 1, true), msg)
    ok, msg = pcall(function() p:sgd_step_(ember.zeros(4, 2), nil, { lr = 1, momentum = 0.9 }) end)
    assert(not ok and msg:find("needs a momentum buffer", 1, true), msg)
    ok, msg = pcall(function() p:half():sgd_step_(ember.zeros(4, 2):half(), nil, { lr = 1 }) end)
    assert(not ok and msg:find("f32 or f64", 1, true), msg)
  end)
end)

describe("adam_step_", function()
  for _, o in ipairs({ {}, { weight_decay = 0.1 }, { weight_decay = 0.1, decoupled = true },
                       { amsgrad = true }, { maximize = true } }) do
    it(string.format("weight_decay %g decoupled %s amsgrad %s maximize %s", o.weight_decay or 0,
                     tostring(o.decoupled), tostring(o.amsgrad), tostring(o.maximize)), function()
      local lr, b1, b2, eps = 0.01, 0.9, 0.99, 1e-8
      local p, g = ember.tensor(P, "f64"), ember.tensor(G, "f64")
      local m, v = ember.zeros(5):double(), ember.zeros(5):double()
      local vmax = o.amsgrad and ember.zeros(5):double() or nil
      local rp, rm, rv, rmax = { table.unpack(P) }, {}, {}, {}
      for i = 1, 5 do rm[i], rv[i], rmax[i] = 0, 0, 0 end
      for step = 1, 4 do
        p:adam_step_(g, m, v, vmax, { lr = lr, beta1 = b1, beta2 = b2, eps = eps, step = step,
                                      weight_decay = o.weight_decay or 0, maximize = o.maximize or false,
                                      decoupled = o.decoupled or false })
        for i = 1, 5 do
          local gi = o.maximize and -G[i] or G[i]
          if o.weight_decay then
            if o.decoupled then rp[i] = rp[i] * (1 - lr * o.weight_decay) else gi = gi + o.weight_decay * rp[i] end
          end
          rm[i] = rm[i] * b1 + (1 - b1) * gi
          rv[i] = rv[i] * b2 + (1 - b2) * gi * gi
          local vi = rv[i]
          if o.amsgrad then rmax[i] = math.max(rmax[i], vi); vi = rmax[i] end
          local denom = math.sqrt(vi) / math.sqrt(1 - b2 ^ step) + eps
          rp[i] = rp[i] - lr / (1 - b1 ^ step) * rm[i] / denom
        end
      end
      close(p:totable(), rp, 1e-13)
      close(m:totable(), rm, 1e-14)
      close(v:totable(), rv, 1e-14)
    end)
  end
end)

describe("optimizers on tensors the fused ops refuse", function()
  local function run(make_param, Opt, opts)
    local p = make_param()
    p.requires_grad = true
    local opt = Opt({ p }, opts)
    for _ = 1, 5 do
      opt:zero_grad()
      ember.sum(p * p * p):backward()
      opt:step()
    end
    return p:contiguous():view(-1):totable()
  end
  local base = ember.tensor({ { 0.5, -1 }, { 2, 0.25 }, { -0.75, 1.5 } }, "f32")
  for _, case in ipairs({ { "SGD", optim.SGD, { lr = 0.01, momentum = 0.9, nesterov = true } },
                          { "Adam", optim.Adam, { lr = 0.01, amsgrad = true } },
                          { "AdamW", optim.AdamW, { lr = 0.01 } } }) do
    it(case[1] .. " gives the same trajectory through single ops (a transposed parameter)", function()
      local fused = run(function() return base:clone() end, case[2], case[3])
      local single = run(function() return base:t():contiguous():t() end, case[2], case[3])
      close(single, fused, 1e-6)
    end)
  end
end)
