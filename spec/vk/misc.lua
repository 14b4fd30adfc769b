-- Vulkan cases of the misc family: creation ops (fills, ranges, eye, the *_like
-- forms), the random tensors and dropout against the CPU's Philox stream (same seed,
-- same numbers, and the generator left at the same place), cross_entropy with every
-- option and its backward, the fused sgd/adam steps over three updates.
--
-- Creation ops take no tensor: each case gets a one-element "marker" tensor whose
-- device (cpu for the oracle run, vulkan for the other) says where to create.
-- Random cases seed inside fn, and end with a draw made on the cpu afterwards and
-- moved over: equal only when both devices moved the generator alike.
local ember = require "ember"
local V = require "vk_check"
local rand, randint = V.rand, V.randint

local cases, case = V.cases(11)
local function marker() return ember.zeros(1) end
local function on(m, opts)
  opts = opts or {}
  opts.device = m:device()
  return opts
end

-- {====== fills

for _, dt in ipairs { "f32", "f64", "f16", "bf16", "i8", "i16", "i32", "i64", "u8", "bool" } do
  case { "zeros " .. dt, function(m) return ember.zeros({ 3, 37 }, on(m, { dtype = dt })) end, { marker() } }
  case { "ones " .. dt, function(m) return ember.ones({ 5, 7 }, on(m, { dtype = dt })) end, { marker() } }
  local v = (dt == "bool" or dt == "u8") and 1 or (dt:sub(1, 1) == "i" and -7 or 2.75)
  case { "full " .. dt, function(m) return ember.full({ 2, 3, 5 }, v, on(m, { dtype = dt })) end, { marker() } }
  case { "empty " .. dt .. " shape", function(m)
      local e = ember.empty({ 4, 9 }, on(m, { dtype = dt }))
      return { ember.tensor(e:size()):to(m:device()), ember.tensor({ e:dtype() == dt and 1 or 0 }):to(m:device()) }
    end, { marker() } }
end
case { "full i64 beyond 2^53", function(m) return ember.full({ 3 }, (1 << 62) + 1, on(m)) end, { marker() } }
case { "full f16 inf", function(m) return ember.full({ 3 }, math.huge, on(m, { dtype = "f16" })) end, { marker() } }
case { "full nan", function(m) return ember.full({ 4 }, 0 / 0, on(m)) end, { marker() } }
case { "full u8 wraps -1", function(m) return ember.full({ 3 }, -1, on(m, { dtype = "u8" })) end, { marker() } }
case { "full i32 truncates 2.9", function(m) return ember.full({ 2 }, 2.9, on(m, { dtype = "i32" })) end, { marker() } }
case { "zeros odd bytes", function(m) return ember.zeros({ 7 }, on(m, { dtype = "u8" })) end, { marker() } }
case { "zeros empty", function(m) return ember.zeros({ 0, 3 }, on(m)) end, { marker() } }
case { "full empty", function(m) return ember.full({ 0 }, 3.5, on(m)) end, { marker() } }
case { "zeros default device", function(m)
    local old = ember.get_default_device()
    ember.set_default_device(m:device())
    local ok, z = pcall(ember.zeros, 3, 4)
    ember.set_default_device(old)
    assert(ok, z)
    return z
  end, { marker() } }

-- *_like of a tensor stay on its device, in its dtype unless given one
for _, dt in ipairs { "f32", "f64", "i64", "f16" } do
  local src = function() return rand({ 5, 6 }):to(dt) end
  case { "zeros_like " .. dt, function(x) return ember.zeros_like(x) end, { src } }
  case { "ones_like " .. dt, function(x) return ember.ones_like(x) end, { src } }
  case { "full_like " .. dt, function(x) return ember.full_like(x, 3) end, { src } }
end
case { "zeros_like transposed", function(x) return ember.zeros_like(x:t()) end, { rand({ 3, 8 }) } }
case { "ones_like dtype", function(x) return ember.ones_like(x, { dtype = "i32" }) end, { rand({ 9 }) } }
case { "full_like dtype", function(x) return ember.full_like(x, -2.5, { dtype = "f64" }) end, { rand({ 4 }) } }
case { "empty_like keeps shape, dtype, device", function(x)
    local e = ember.empty_like(x)
    assert(e:device() == x:device(), "empty_like left the device")
    return ember.tensor(e:size()):to(x:device())
  end, { rand({ 2, 7 }) } }

-- }======

-- {====== ranges and eye

local ranges = {
  { "arange 5", function(o) return ember.arange(5, o) end },
  { "arange 0 1 0.1", function(o) return ember.arange(0, 1, 0.1, o) end },
  { "arange -2.5 2.5 0.5", function(o) return ember.arange(-2.5, 2.5, 0.5, o) end },
  { "arange 10 -7 -3", function(o) return ember.arange(10, -7, -3, o) end },
  { "arange 0.5 100.25 0.75", function(o) return ember.arange(0.5, 100.25, 0.75, o) end },
  { "arange 1000 odd", function(o) return ember.arange(3, 3003, 3, o) end },
  { "arange empty", function(o) return ember.arange(3, 3, o) end },
  { "arange f64", function(o) o.dtype = "f64"; return ember.arange(1, 2, 0.3, o) end },
  { "arange i32", function(o) o.dtype = "i32"; return ember.arange(3, 20, 4, o) end },
  { "arange i16", function(o) o.dtype = "i16"; return ember.arange(0, 3, 1, o) end },
  { "arange i8 wraps", function(o) o.dtype = "i8"; return ember.arange(120, 140, 1, o) end },
  { "arange u8", function(o) o.dtype = "u8"; return ember.arange(0, 300, 7, o) end },
  { "arange f16", function(o) o.dtype = "f16"; return ember.arange(0, 5, 0.25, o) end },
  { "arange bf16", function(o) o.dtype = "bf16"; return ember.arange(-3, 3, 0.5, o) end },
  { "arange f32 of integers", function(o) o.dtype = "f32"; return ember.arange(0, 700, o) end },
  { "arange i64 of fractions", function(o) o.dtype = "i64"; return ember.arange(0.5, 9.7, 1.3, o) end },
  { "arange i64 big", function(o) return ember.arange((1 << 60), (1 << 60) + 50, 7, o) end },
  { "linspace 0 1 5", function(o) return ember.linspace(0, 1, 5, o) end },
  { "linspace -10 10 1001", function(o) return ember.linspace(-10, 10, 1001, o) end },
  { "linspace 1 -1 11 f64", function(o) o.dtype = "f64"; return ember.linspace(1, -1, 11, o) end },
  { "linspace 0 10 7 i64", function(o) o.dtype = "i64"; return ember.linspace(0, 10, 7, o) end },
  { "linspace 5 -9 9 i32", function(o) o.dtype = "i32"; return ember.linspace(5, -9, 9, o) end },
  { "linspace 0.7 9.9 6 i16", function(o) o.dtype = "i16"; return ember.linspace(0.7, 9.9, 6, o) end },
  { "linspace 0 1 7 f16", function(o) o.dtype = "f16"; return ember.linspace(0, 1, 7, o) end },
  { "linspace -1 3 9 bf16", function(o) o.dtype = "bf16"; return ember.linspace(-1, 3, 9, o) end },
  { "linspace one step", function(o) return ember.linspace(2.5, 7, 1, o) end },
  { "linspace one step f16", function(o) o.dtype = "f16"; return ember.linspace(2.5, 7, 1, o) end },
  { "linspace no steps", function(o) return ember.linspace(0, 1, 0, o) end },
  { "linspace 2 steps", function(o) return ember.linspace(-3, 3, 2, o) end },
  { "eye 3", function(o) return ember.eye(3, o) end },
  { "eye 4x7", function(o) return ember.eye(4, 7, o) end },
  { "eye 9x2", function(o) return ember.eye(9, 2, o) end },
  { "eye 300", function(o) return ember.eye(300, o) end },
  { "eye 0x3", function(o) return ember.eye(0, 3, o) end },
  { "eye i64", function(o) o.dtype = "i64"; return ember.eye(5, o) end },
  { "eye bool", function(o) o.dtype = "bool"; return ember.eye(4, 6, o) end },
  { "eye f16", function(o) o.dtype = "f16"; return ember.eye(3, 5, o) end },
  { "eye u8", function(o) o.dtype = "u8"; return ember.eye(6, o) end },
}
for _, r in ipairs(ranges) do
  case { r[1], function(m) return r[2](on(m)) end, { marker() } }
end

-- }======

-- {====== random tensors: the CPU's numbers and stream position

-- after the draws, one more made on the cpu (moved over): the stream moved alike
local function after(m) return ember.rand(5):to(m:device()) end

for _, n in ipairs { 1, 2, 3, 7, 64, 257, 1001, 4099 } do
  for _, dt in ipairs { "f32", "f64", "f16", "bf16" } do
    case { "rand " .. n .. " " .. dt, function(m)
        ember.manual_seed(100 + n)
        return { ember.rand(n, on(m, { dtype = dt })), after(m) }
      end, { marker() }, tol = 0 }
    -- Box-Muller's log and sin/cos: fdlibm/Cephes on the device, glibc on the host
    case { "randn " .. n .. " " .. dt, function(m)
        ember.manual_seed(200 + n)
        return { ember.randn(n, on(m, { dtype = dt })), after(m) }
      end, { marker() }, tol = 1e-6, f64tol = 1e-13 }
  end
  case { "randint " .. n, function(m)
      ember.manual_seed(300 + n)
      return { ember.randint(-5, 17, n, on(m)), after(m) }
    end, { marker() } }
  case { "randint wide " .. n, function(m)
      ember.manual_seed(400 + n)
      return { ember.randint(-(1 << 40), 1 << 40, n, on(m)), after(m) }
    end, { marker() } }
end
for _, dt in ipairs { "i32", "i16", "i8", "u8", "bool", "f32", "f64", "f16" } do
  local hi = dt == "bool" and 2 or 100
  case { "randint " .. dt, function(m)
      ember.manual_seed(9)
      return { ember.randint(0, hi, { 13, 11 }, on(m, { dtype = dt })), after(m) }
    end, { marker() } }
end
case { "randint widest range", function(m)           -- attributes stop at 2^40
    ember.manual_seed(21)
    return { ember.randint(-(1 << 40), 1 << 40, 33, on(m)), after(m) }
  end, { marker() } }
case { "randint range 2^32", function(m)
    ember.manual_seed(22)
    return { ember.randint(0, 1 << 32, 41, on(m)), after(m) }
  end, { marker() } }
case { "rand consecutive calls", function(m)
    ember.manual_seed(5)
    local a = ember.rand(3, on(m))
    local b = ember.randn(5, on(m))
    local c = ember.rand({ 4, 3 }, on(m, { dtype = "f64" }))
    local d = ember.randint(0, 10, 9, on(m))
    local e = ember.randn(7, on(m, { dtype = "f64" }))
    return { a, b, c, d, e, after(m) }
  end, { marker() }, tol = 1e-6 }
case { "rand mixed devices share the stream", function(m)
    ember.manual_seed(6)
    local a = ember.rand(6):to(m:device())
    local b = ember.rand(6, on(m))
    local c = ember.randn(3):to(m:device())
    local d = ember.randn(9, on(m))
    return { a, b, c, d, after(m) }
  end, { marker() }, tol = 1e-6 }
case { "rand empty leaves the stream", function(m)
    ember.manual_seed(7)
    return { ember.rand(0, on(m)), after(m) }
  end, { marker() } }
case { "rand 3-D", function(m)
    ember.manual_seed(8)
    return { ember.rand(3, 5, 7, on(m)), after(m) }
  end, { marker() }, tol = 0 }
case { "randn over 2^16 blocks", function(m)
    ember.manual_seed(12)
    return { ember.randn(300001, on(m)), after(m) }
  end, { marker() }, tol = 1e-6 }
case { "rand big seed and counter", function(m)
    ember.manual_seed(0x7fffffffffffffff)
    ember.rand(12345)
    return { ember.rand(777, on(m)), after(m) }
  end, { marker() }, tol = 0 }

for _, dt in ipairs { "f32", "f64", "f16" } do
  local src = function() return rand({ 7, 9 }):to(dt) end
  case { "rand_like " .. dt, function(x) ember.manual_seed(31); return { ember.rand_like(x), after(x) } end,
         { src }, tol = 0 }
  case { "randn_like " .. dt, function(x) ember.manual_seed(32); return { ember.randn_like(x), after(x) } end,
         { src }, tol = 1e-6, f64tol = 1e-13 }
end
case { "randint_like high", function(x) ember.manual_seed(33); return { ember.randint_like(x, 5), after(x) } end,
       { function() return randint(0, 9, { 6, 5 }) end } }
case { "randint_like low high dtype", function(x)
    ember.manual_seed(34)
    return { ember.randint_like(x, -3, 4, { dtype = "i32" }), after(x) }
  end, { rand({ 11 }) } }
case { "rand_like dtype", function(x) ember.manual_seed(35); return { ember.rand_like(x, { dtype = "f64" }), after(x) } end,
       { rand({ 3, 3 }) }, tol = 0 }

-- }======

-- {====== dropout: the CPU's mask, and backward through autograd

local function dropout_case(name, make, p, opts)
  opts = opts or {}
  case { "dropout " .. name, function(x, g)
      ember.manual_seed(opts.seed or 41)
      local xv = opts.view and opts.view(x) or x
      local y = opts.training == false and ember.dropout(xv, p, false) or ember.dropout(xv, p)
      return { y, after(x) }
    end, { make }, tol = 0, f64tol = 0 }
  if opts.training ~= false then
    case { "dropout_backward " .. name, function(x, g)
        ember.manual_seed(opts.seed or 42)
        x = x:clone():requires_grad_()
        local xv = opts.view and opts.view(x) or x
        local y = ember.dropout(xv, p)
        y:backward(g)
        return { y, x.grad, after(g) }
      end, { make, function()
        local x = type(make) == "function" and make() or make
        local s = opts.view and opts.view(x):size() or x:size()
        return rand(s):to(x:dtype())
      end }, tol = 1e-7, f64tol = 0 }
  end
end
dropout_case("0.3 f32", function() return rand({ 37, 11 }) end, 0.3)
dropout_case("0.5 odd", function() return rand({ 1001 }) end, 0.5)
dropout_case("0.9 f64", function() return rand({ 4, 129 }, -2, 2, "f64") end, 0.9)
dropout_case("0.1 f16", function() return rand({ 77 }):half() end, 0.1)
dropout_case("0.25 bf16", function() return rand({ 33 }):bfloat16() end, 0.25)
dropout_case("transposed", function() return rand({ 13, 17 }) end, 0.4, { view = function(x) return x:t() end })
dropout_case("sliced", function() return rand({ 9, 20 }) end, 0.6,
             { view = function(x) return x[{ { 2, 8, 3 }, { 1, 19, 2 } }] end })
dropout_case("expanded", function() return rand({ 1, 23 }) end, 0.5,
             { view = function(x) return x:expand(5, 23) end })
dropout_case("5-D", function() return rand({ 2, 3, 2, 3, 5 }) end, 0.5,
             { view = function(x) return x:permute(5, 1, 4, 2, 3) end })
dropout_case("p 0", function() return rand({ 10 }) end, 0)
dropout_case("p 1", function() return rand({ 10 }) end, 1)
dropout_case("p tiny", function() return rand({ 300 }) end, 1e-9)
dropout_case("p near 1", function() return rand({ 300 }) end, 1 - 1e-7)
dropout_case("eval", function() return rand({ 10 }) end, 0.5, { training = false })
dropout_case("empty", function() return rand({ 0, 4 }) end, 0.5)
dropout_case("large", function() return rand({ 70001 }) end, 0.2)
case { "dropout consecutive masks differ and follow the stream", function(x)
    ember.manual_seed(43)
    return { ember.dropout(x, 0.5), ember.dropout(x, 0.5), ember.rand(7):to(x:device()), ember.dropout(x, 0.3) }
  end, { rand({ 50 }) }, tol = 0 }
case { "dropout_backward after other draws", function(x, g)
    ember.manual_seed(44)
    x = x:clone():requires_grad_()
    local y = ember.dropout(x, 0.5)
    local noise = ember.rand(100, { device = x:device() })     -- moves the stream before backward
    y:backward(g)
    return { x.grad, noise }
  end, { rand({ 61 }), rand({ 61 }) }, tol = 0 }

-- }======

-- {====== cross_entropy

local function ce_case(name, make_x, make_t, make_w, opts, tol)
  -- (an empty table would be read as a positional ignore_index)
  local inputs = { make_x, make_t }
  if make_w then inputs[3] = make_w end
  case { "cross_entropy " .. name, function(x, t, w) return ember.cross_entropy(x, t, w, opts) end,
         inputs, tol = tol or 1e-5, f64tol = 1e-12 }
  case { "cross_entropy_backward " .. name, function(x, t, w)
      x = x:clone():requires_grad_()
      local l = ember.cross_entropy(x, t, w, opts)
      local g = l:dim() == 0 and ember.tensor(1.5, x:dtype()):to(x:device())
                or ember.arange(1, l:numel() + 1, { dtype = x:dtype() }):reshape(l:size()):to(x:device())
      l:backward(g)
      return { l, x.grad }
    end, inputs, tol = tol or 1e-5, f64tol = 1e-12 }
end

local function targets(lo, hi, shape, dt) return function() return randint(lo, hi, shape, dt) end end
local function weights(c) return function() return rand({ c }, 0.1, 2) end end

for _, red in ipairs { "mean", "sum", "none" } do
  ce_case("4x10 " .. red, function() return rand({ 4, 10 }, -3, 3) end, targets(1, 11, { 4 }), nil,
          { reduction = red })
  ce_case("4x10 weight " .. red, function() return rand({ 4, 10 }, -3, 3) end, targets(1, 11, { 4 }),
          weights(10), { reduction = red })
  ce_case("smoothing " .. red, function() return rand({ 6, 7 }, -3, 3) end, targets(1, 8, { 6 }), nil,
          { reduction = red, label_smoothing = 0.2 })
  ce_case("weight smoothing " .. red, function() return rand({ 6, 7 }, -3, 3) end, targets(1, 8, { 6 }),
          weights(7), { reduction = red, label_smoothing = 0.3 })
  ce_case("ignore " .. red, function() return rand({ 8, 5 }, -3, 3) end,
          function() return ember.tensor({ 1, 3, -100, 5, 2, -100, 4, 1 }) end, weights(5),
          { reduction = red, label_smoothing = 0.1 })
  ce_case("spatial N x C x H x W " .. red, function() return rand({ 2, 5, 3, 4 }, -3, 3) end,
          targets(1, 6, { 2, 3, 4 }), weights(5), { reduction = red, label_smoothing = 0.15 })
end
ce_case("1-D input", function() return rand({ 9 }, -3, 3) end, function() return ember.tensor(4) end)
ce_case("1-D input smoothing", function() return rand({ 9 }, -3, 3) end, function() return ember.tensor(9) end,
        weights(9), { label_smoothing = 0.5 })
ce_case("f64", function() return rand({ 5, 12 }, -4, 4, "f64") end, targets(1, 13, { 5 }), nil)
ce_case("f64 weight smoothing none", function() return rand({ 5, 12 }, -4, 4, "f64") end, targets(1, 13, { 5 }),
        function() return rand({ 12 }, 0.1, 2, "f64") end, { label_smoothing = 0.25, reduction = "none" })
ce_case("f64 spatial", function() return rand({ 3, 4, 7 }, -4, 4, "f64") end, targets(1, 5, { 3, 7 }), nil,
        { reduction = "sum" })
ce_case("f16 input", function() return rand({ 6, 9 }):half() end, targets(1, 10, { 6 }), nil, nil, 2e-3)
ce_case("bf16 input weight", function() return rand({ 6, 9 }):bfloat16() end, targets(1, 10, { 6 }),
        function() return rand({ 9 }, 0.5, 1.5):half() end, nil, 1e-2)
ce_case("f64 weight on f32 input", function() return rand({ 4, 6 }) end, targets(1, 7, { 4 }),
        function() return rand({ 6 }, 0.5, 1.5, "f64") end, { reduction = "sum" })
ce_case("i32 targets", function() return rand({ 7, 4 }) end, targets(1, 5, { 7 }, "i32"), nil)
ce_case("u8 targets", function() return rand({ 7, 4 }) end, targets(1, 5, { 7 }, "u8"), nil)
ce_case("ignore_index 2", function() return rand({ 10, 3 }) end, targets(1, 4, { 10 }), nil, { ignore_index = 2 })
ce_case("all ignored mean is NaN", function() return rand({ 3, 4 }) end,
        function() return ember.tensor({ -100, -100, -100 }) end, nil)
ce_case("all ignored sum", function() return rand({ 3, 4 }) end,
        function() return ember.tensor({ -100, -100, -100 }) end, nil, { reduction = "sum" })
ce_case("1000 classes", function() return rand({ 5, 1000 }, -5, 5) end, targets(1, 1001, { 5 }), nil,
        { label_smoothing = 0.1 })
ce_case("5000 classes weight", function() return rand({ 3, 5000 }, -5, 5) end, targets(1, 5001, { 3 }),
        weights(5000), { reduction = "none" })
ce_case("300 rows odd", function() return rand({ 301, 3 }, -5, 5) end, targets(1, 4, { 301 }), nil)
ce_case("large logits", function() return rand({ 4, 6 }, 80, 120) end, targets(1, 7, { 4 }), nil)
case { "cross_entropy transposed view", function(x, t)
    return ember.cross_entropy(x:t(), t, nil, { reduction = "none" })
  end, { rand({ 6, 4 }), targets(1, 7, { 4 }) } }
case { "cross_entropy sliced target", function(x, t)
    return ember.cross_entropy(x, t[{ { 1, 9, 2 } }])
  end, { rand({ 5, 6 }), targets(1, 7, { 10 }) } }
case { "cross_entropy infinite logit", function(x, t)
    return ember.cross_entropy(x, t, nil, { reduction = "none" })
  end, { function() return ember.tensor({ { 1, math.huge, 0 }, { -math.huge, 0, 1 } }) end,
         function() return ember.tensor({ 2, 1 }) end } }
case { "cross_entropy NaN logit", function(x, t)
    return ember.cross_entropy(x, t, nil, { reduction = "none" })
  end, { function() return ember.tensor({ { 1, 0 / 0, 0 }, { 2, 0, 1 } }) end,
         function() return ember.tensor({ 2, 1 }) end } }
case { "cross_entropy empty batch sum", function(x, t)
    return ember.cross_entropy(x, t, nil, { reduction = "sum" })
  end, { rand({ 0, 4 }), targets(1, 5, { 0 }) } }
-- A target out of range: the cpu raises at the call; vulkan records the call without
-- submitting (the check reports through an error slot) and raises at the next read-back,
-- with the cpu's message; a later sync raises nothing and the device goes on.
local function ce_error(x, t, opts)
  if x:device() ~= "vulkan" then
    local ok, e = pcall(ember.cross_entropy, x, t, nil, opts)
    assert(not ok, "cross_entropy raised nothing")
    return (tostring(e):gsub("^.-:%d+: ", ""))
  end
  ember.vk.sync()
  local n = ember.vk.info().submits
  local l = ember.cross_entropy(x, t, nil, opts)
  assert(ember.vk.info().submits == n, "cross_entropy waited for the device")
  local ok, e = pcall(function() return l:to("cpu") end)
  local again, e2 = pcall(ember.vk.sync)
  assert(again, "a later sync raised: " .. tostring(e2))
  assert(not ok, "reading the loss back raised nothing")
  return (tostring(e):gsub("^.-:%d+: ", ""))
end
case { "cross_entropy target out of range errors", function(x, t)
    local m1, m2 = ce_error(x, t), ce_error(x, t - 7)
    assert(m1:find("target 7 is out of range 1..4", 1, true), m1)
    assert(m2:find("target -5 is out of range", 1, true), m2)
    return { m1, m2, ce_error(x, t * 3, { reduction = "none" }), ember.cross_entropy(x, t:clamp(1, 4)) }
  end, { rand({ 5, 4 }), function() return ember.tensor({ 2, 3, 7, 1, 9 }) end } }
case { "cross_entropy target out of range, spatial, the first of several", function(x, t)
    return { ce_error(x, t, { reduction = "sum" }), ember.cross_entropy(x, t:clamp(1, 3)) }
  end, { rand({ 2, 3, 300 }), function()
      local t = randint(1, 4, { 2, 300 }):totable()
      t[1][290], t[2][5], t[2][250] = 4, -1, 9
      return ember.tensor(t)
    end } }
-- a valid call (forward and backward) records without submitting: no flag is read back
case { "cross_entropy no submit", function(x, t, w)
    local on = x:device() == "vulkan"
    if on then ember.vk.sync() end
    local n = on and ember.vk.info().submits
    x = x:clone():requires_grad_()
    local l = ember.cross_entropy(x, t, w, { label_smoothing = 0.1 })
    l:backward()
    assert(not on or ember.vk.info().submits == n, "cross_entropy waited for the device")
    return { l, x.grad }
  end, { rand({ 6, 7 }, -3, 3), targets(1, 8, { 6 }), weights(7) } }
case { "cross_entropy after embedding: a step records without submitting", function(i, w, t)
    local on = i:device() == "vulkan"
    if on then ember.vk.sync() end
    local n = on and ember.vk.info().submits
    w = w:clone():requires_grad_()
    local l = ember.cross_entropy(ember.embedding(i, w), t)
    l:backward()
    assert(not on or ember.vk.info().submits == n, "the step waited for the device")
    return { l, w.grad }
  end, { targets(1, 9, { 12 }), rand({ 8, 5 }), targets(1, 6, { 12 }) } }
case { "cross_entropy probability targets (nn.functional)", function(x, p)
    local F = require "ember.nn.functional"
    x = x:clone():requires_grad_()
    local l = F.cross_entropy(x, p, nil, nil, "mean", 0.1)
    l:backward()
    return { l, x.grad }
  end, { rand({ 4, 6 }), function() return ember.softmax(rand({ 4, 6 }), 2) end } }
case { "cross_entropy through nn.functional, weight and ignore", function(x, t, w)
    local F = require "ember.nn.functional"
    x = x:clone():requires_grad_()
    local l = F.cross_entropy(x, t, w, 3, "mean", 0.05)
    l:backward()
    return { l, x.grad }
  end, { rand({ 12, 5 }), targets(1, 6, { 12 }), weights(5) } }

-- }======

-- {====== fused optimizer steps: three updates, parameter and state compared

local function sgd_case(name, o, dt)
  dt = dt or "f32"
  case { "sgd_step " .. name .. " " .. dt, function(p, g, buf)
      local has_buf = (o.momentum or 0) ~= 0
      for step = 1, 3 do
        p:sgd_step_(g, has_buf and buf or nil, { lr = o.lr or 0.05, momentum = o.momentum or 0,
            dampening = o.dampening or 0, weight_decay = o.weight_decay or 0,
            nesterov = o.nesterov or false, maximize = o.maximize or false,
            first = o.first ~= false and step == 1 })
        g = g * 0.5 + 0.25
      end
      return { p, buf }
    end, { rand({ 13, 21 }, -2, 2, dt), rand({ 13, 21 }, -2, 2, dt), rand({ 13, 21 }, -1, 1, dt) },
    tol = 1e-6, f64tol = 1e-14, inplace = true }
end
for _, dt in ipairs { "f32", "f64" } do
  sgd_case("plain", {}, dt)
  sgd_case("momentum", { momentum = 0.9 }, dt)
  sgd_case("momentum not first", { momentum = 0.9, first = false }, dt)
  sgd_case("dampening decay", { momentum = 0.9, dampening = 0.3, weight_decay = 0.01 }, dt)
  sgd_case("nesterov", { momentum = 0.8, nesterov = true }, dt)
  sgd_case("maximize decay", { momentum = 0.9, maximize = true, weight_decay = 0.1 }, dt)
  sgd_case("decay no momentum", { weight_decay = 0.2, maximize = true }, dt)
end

local function adam_case(name, o, dt, shape)
  dt = dt or "f32"
  shape = shape or { 7, 33 }
  case { "adam_step " .. name .. " " .. dt, function(p, g, m, v, vmax)
      for step = 1, 3 do
        p:adam_step_(g, m, v, o.amsgrad and vmax or nil, { lr = o.lr or 0.01, beta1 = o.beta1 or 0.9,
            beta2 = o.beta2 or 0.99, eps = o.eps or 1e-8, step = step, weight_decay = o.weight_decay or 0,
            maximize = o.maximize or false, decoupled = o.decoupled or false })
        g = g * -0.75 + 0.1
      end
      return { p, m, v, vmax }
    end, { rand(shape, -2, 2, dt), rand(shape, -2, 2, dt), function() return ember.zeros(shape, { dtype = dt }) end,
           function() return ember.zeros(shape, { dtype = dt }) end, function() return ember.zeros(shape, { dtype = dt }) end },
    tol = 1e-6, f64tol = 1e-14, inplace = true }
end
for _, dt in ipairs { "f32", "f64" } do
  adam_case("plain", {}, dt)
  adam_case("weight_decay", { weight_decay = 0.1 }, dt)
  adam_case("decoupled", { weight_decay = 0.1, decoupled = true }, dt)
  adam_case("amsgrad", { amsgrad = true }, dt)
  adam_case("maximize", { maximize = true, weight_decay = 0.05 }, dt)
  adam_case("all", { maximize = true, weight_decay = 0.05, decoupled = true, amsgrad = true, eps = 1e-3 }, dt)
end
adam_case("1001 elements", {}, "f32", { 1001 })
case { "adam_step on a sliced parameter", function(p, g, m, v)
    local pv, gv, mv, vv = p[{ { 3, 6 } }], g[{ { 3, 6 } }], m[{ { 2, 5 } }], v[{ { 1, 4 } }]
    for step = 1, 3 do pv:adam_step_(gv, mv, vv, nil, { lr = 0.1, step = step }) end
    return { p, m, v }
  end, { rand({ 8, 5 }), rand({ 8, 5 }), function() return ember.zeros(8, 5) end,
         function() return ember.zeros(8, 5) end }, tol = 1e-6, inplace = true }
case { "sgd_step empty", function(p, g) p:sgd_step_(g, nil, { lr = 0.1 }); return p end,
       { rand({ 0, 3 }), rand({ 0, 3 }) } }
case { "optim.SGD and optim.Adam on vulkan parameters", function(w0, g0)
    local optim = require "ember.optim"
    local out = {}
    for _, make in ipairs {
      function(p) return optim.SGD({ p }, { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01 }) end,
      function(p) return optim.Adam({ p }, { lr = 0.01, amsgrad = true }) end,
      function(p) return optim.AdamW({ p }, { lr = 0.01 }) end,
    } do
      local p = w0:clone()
      p.requires_grad = true
      local opt = make(p)
      for step = 1, 3 do
        p.grad = g0 * step
        opt:step()
      end
      out[#out + 1] = p:detach()
    end
    return out
  end, { rand({ 6, 4 }), rand({ 6, 4 }) }, tol = 1e-6 }

-- }======

return cases
