-- Vulkan cases of the conv family: conv2d, conv_transpose2d, the pools, pad and
-- interpolate, forward and (through autograd) backward, which runs the *_backward
-- kernels: conv2d_backward_input / _weight, max/avg/adaptive_avg_pool2d_backward,
-- pad_backward, interpolate_backward. Every attribute value that changes behaviour,
-- odd sizes, batches, groups, unbatched images, non-contiguous inputs (NHWC tensors
-- viewed as NCHW, sliced, transposed weights), f64, f16 inputs, empty batches.
local ember = require "ember"
local V = require "vk_check"
local rand, randint = V.rand, V.randint

local cases, case = V.cases(11)

-- An NCHW image stored as NHWC (every stride differs from the contiguous ones): the
-- input is made NHWC and fn, run on each device, sees it through a permuted view
-- (a view moved to the device would arrive contiguous).
local function nhwc(n, c, h, w, dtype) return rand({ n, h, w, c }, -2, 2, dtype) end
local function on_nhwc(f) return function(x, ...) return f(x:permute(1, 4, 2, 3), ...) end end

-- the gradients of fn's inputs (all float tensors) for the output gradient g
local function grads(fn, n)
  return function(...)
    local args = { ... }
    local xs, g = {}, args[n + 1]
    for i = 1, n do xs[i] = args[i]:clone():requires_grad_() end
    local y = fn(table.unpack(xs, 1, n))
    y:backward(g)
    local r = {}
    for i = 1, n do r[i] = xs[i].grad end
    return r
  end
end

-- the same with the output's gradient given NHWC and seen as NCHW (a strided
-- grad_output for the backward kernels)
local function grads_nhwc(fn, n)
  local f = grads(fn, n)
  return function(...)
    local args = { ... }
    args[n + 1] = args[n + 1]:permute(1, 4, 2, 3)
    return f(table.unpack(args, 1, n + 1))
  end
end

-- {====== conv2d

local conv = function(o) return function(x, w, b) return ember.conv2d(x, w, b, o) end end
case { "conv2d 3x3 padding 1 bias", conv { padding = 1 }, { rand({ 2, 3, 7, 9 }), rand({ 4, 3, 3, 3 }), rand({ 4 }) } }
case { "conv2d no bias", function(x, w) return ember.conv2d(x, w) end, { rand({ 2, 3, 6, 5 }), rand({ 5, 3, 2, 3 }) } }
case { "conv2d stride 2 padding {0,1}", conv { stride = 2, padding = { 0, 1 } },
       { rand({ 3, 2, 9, 8 }), rand({ 4, 2, 3, 3 }), rand({ 4 }) } }
case { "conv2d stride {2,1} dilation {1,2} padding {1,2}", conv { stride = { 2, 1 }, dilation = { 1, 2 }, padding = { 1, 2 } },
       { rand({ 2, 3, 11, 10 }), rand({ 2, 3, 3, 3 }), rand({ 2 }) } }
case { "conv2d dilation 2 padding 2", conv { padding = 2, dilation = 2 }, { rand({ 1, 2, 7, 7 }), rand({ 3, 2, 3, 3 }), rand({ 3 }) } }
case { "conv2d groups 2", conv { groups = 2, padding = 1 }, { rand({ 2, 4, 5, 6 }), rand({ 6, 2, 3, 3 }), rand({ 6 }) } }
case { "conv2d depthwise groups 4 multiplier 2", conv { groups = 4, padding = 1, stride = 2 },
       { rand({ 2, 4, 9, 7 }), rand({ 8, 1, 3, 3 }), rand({ 8 }) } }
case { "conv2d 1x1", function(x, w, b) return ember.conv2d(x, w, b) end, { rand({ 2, 5, 4, 3 }), rand({ 3, 5, 1, 1 }), rand({ 3 }) } }
case { "conv2d kernel as large as the padded input", conv { padding = 1 }, { rand({ 1, 2, 3, 4 }), rand({ 2, 2, 5, 6 }), rand({ 2 }) } }
case { "conv2d unbatched CHW", conv { padding = 1 }, { rand({ 3, 6, 5 }), rand({ 2, 3, 3, 3 }), rand({ 2 }) } }
case { "conv2d NHWC input, transposed weight, sliced bias",
       on_nhwc(function(x, w, b) return ember.conv2d(x, w:permute(4, 3, 1, 2), b[{ { 1, 8, 2 } }], { padding = 1, stride = { 1, 2 } }) end),
       { nhwc(2, 3, 7, 9), rand({ 3, 3, 3, 4 }), rand({ 8 }) } }
case { "conv2d sliced input", function(x, w) return ember.conv2d(x[{ {}, {}, { 1, 9, 2 }, { 2, 9 } }], w, nil, { padding = 1 }) end,
       { rand({ 2, 3, 9, 9 }), rand({ 4, 3, 3, 3 }) } }
case { "conv2d 2x16x20x20 by 24x16x3x3", conv { padding = 1 }, { rand({ 2, 16, 20, 20 }), rand({ 24, 16, 3, 3 }, -0.2, 0.2), rand({ 24 }) } }
case { "conv2d f64", conv { padding = 1, stride = 2, groups = 3 },
       { rand({ 2, 6, 7, 8 }, -2, 2, "f64"), rand({ 3, 2, 3, 3 }, -2, 2, "f64"), rand({ 3 }, -2, 2, "f64") } }
case { "conv2d f16", conv { padding = 1 }, { rand({ 1, 3, 6, 6 }):to("f16"), rand({ 2, 3, 3, 3 }):to("f16"), rand({ 2 }):to("f16") }, tol = 2e-3 }
case { "conv2d empty batch", conv { padding = 1 }, { rand({ 0, 3, 5, 5 }), rand({ 2, 3, 3, 3 }), rand({ 2 }) } }

-- }======

-- {====== conv_transpose2d

local convt = function(o) return function(x, w, b) return ember.conv_transpose2d(x, w, b, o) end end
case { "conv_transpose2d plain", function(x, w, b) return ember.conv_transpose2d(x, w, b) end, { rand({ 2, 3, 5, 6 }), rand({ 3, 4, 3, 3 }), rand({ 4 }) } }
case { "conv_transpose2d stride 2 padding 1", convt { stride = 2, padding = 1 }, { rand({ 2, 3, 5, 4 }), rand({ 3, 2, 3, 3 }), rand({ 2 }) } }
case { "conv_transpose2d output_padding {1,0} stride {2,3}", convt { stride = { 2, 3 }, output_padding = { 1, 0 } },
       { rand({ 1, 2, 4, 5 }), rand({ 2, 3, 3, 2 }), rand({ 3 }) } }
case { "conv_transpose2d dilation 2 output_padding 1", convt { dilation = 2, output_padding = 1, stride = 1 },
       { rand({ 2, 2, 4, 4 }), rand({ 2, 2, 3, 3 }), rand({ 2 }) } }
case { "conv_transpose2d groups 2", convt { groups = 2, stride = 2, padding = { 1, 0 } },
       { rand({ 2, 4, 5, 3 }), rand({ 4, 3, 3, 2 }), rand({ 6 }) } }
case { "conv_transpose2d unbatched NHWC-like", function(x, w) return ember.conv_transpose2d(x:permute(3, 1, 2), w, nil, { stride = 2 }) end,
       { rand({ 5, 6, 3 }), rand({ 3, 2, 2, 2 }) } }
case { "conv_transpose2d f64", convt { stride = 2, padding = 1, output_padding = 1 },
       { rand({ 2, 3, 4, 5 }, -2, 2, "f64"), rand({ 3, 2, 3, 3 }, -2, 2, "f64"), rand({ 2 }, -2, 2, "f64") } }

-- }======

-- {====== conv backward (conv2d_backward_input, conv2d_backward_weight, the bias's sum)

local function conv_grads(name, o, shapes, dtype, extra)
  local c = { name, grads(function(x, w, b) return ember.conv2d(x, w, b, o) end, 3), {} }
  for i, s in ipairs(shapes) do c[3][i] = rand(s, -2, 2, dtype) end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end
-- the output's gradient: the conv2d's output shape
case(conv_grads("conv2d_backward_input (and weight, bias) padding 1", { padding = 1 }, { { 2, 3, 7, 9 }, { 4, 3, 3, 3 }, { 4 }, { 2, 4, 7, 9 } }))
case(conv_grads("conv2d_backward_weight (and input, bias) stride 2 dilation 2 groups 2", { stride = 2, dilation = 2, padding = { 2, 1 }, groups = 2 },
                { { 2, 4, 9, 8 }, { 6, 2, 3, 3 }, { 6 }, { 2, 6, 5, 3 } }))
case(conv_grads("conv2d_backward_input (and weight, bias) stride 3 leaves a border", { stride = 3 }, { { 1, 2, 8, 8 }, { 2, 2, 2, 2 }, { 2 }, { 1, 2, 3, 3 } }))
case(conv_grads("conv2d_backward_weight (and input, bias) depthwise", { groups = 3, padding = 1 }, { { 2, 3, 6, 5 }, { 3, 1, 3, 3 }, { 3 }, { 2, 3, 6, 5 } }))
case(conv_grads("conv2d_backward_weight (and input, bias) many positions", { padding = 1 }, { { 4, 2, 40, 40 }, { 3, 2, 3, 3 }, { 3 }, { 4, 3, 40, 40 } }, nil, { tol = 2e-5 }))
case(conv_grads("conv2d_backward_input (and weight, bias) f64", { padding = 1, stride = 2 }, { { 2, 3, 7, 6 }, { 2, 3, 3, 3 }, { 2 }, { 2, 2, 4, 3 } }, "f64"))
case { "conv2d_backward_weight (and input) NHWC input", grads(function(x, w) return ember.conv2d(x:permute(1, 4, 2, 3), w, nil, { padding = 1 }) end, 2),
       { rand({ 2, 6, 5, 3 }), rand({ 4, 3, 3, 3 }), rand({ 2, 4, 6, 5 }) } }
case { "conv2d_backward_input (and weight) unbatched", grads(function(x, w) return ember.conv2d(x, w, nil, { padding = 1, stride = 2 }) end, 2),
       { rand({ 3, 7, 6 }), rand({ 2, 3, 3, 3 }), rand({ 2, 4, 3 }) } }
case { "conv2d_backward_input (and weight) strided grad_output", grads_nhwc(function(x, w) return ember.conv2d(x, w, nil, { padding = 1, stride = 2 }) end, 2),
       { rand({ 2, 3, 7, 6 }), rand({ 4, 3, 3, 3 }), rand({ 2, 4, 3, 4 }) } }
case { "conv2d_backward_weight (and input) strided grad_output, many positions", grads_nhwc(function(x, w) return ember.conv2d(x, w, nil, { padding = 1 }) end, 2),
       { rand({ 3, 5, 30, 31 }), rand({ 6, 5, 3, 3 }, -0.3, 0.3), rand({ 3, 30, 31, 6 }) }, tol = 2e-5 }
-- one gradient alone: the other input is a constant
case { "conv2d_backward_input alone", function(x, w, g)
    x = x:clone():requires_grad_()
    ember.conv2d(x, w, nil, { stride = 2, padding = 1 }):backward(g)
    return x.grad
  end, { rand({ 2, 3, 7, 8 }), rand({ 4, 3, 3, 3 }), rand({ 2, 4, 4, 4 }) } }
case { "conv2d_backward_weight alone", function(x, w, g)
    w = w:clone():requires_grad_()
    ember.conv2d(x, w, nil, { dilation = 2, padding = 1 }):backward(g)
    return w.grad
  end, { rand({ 2, 3, 7, 8 }), rand({ 4, 3, 3, 3 }), rand({ 2, 4, 5, 6 }) } }
case { "conv_transpose2d backward", grads(function(x, w) return ember.conv_transpose2d(x, w, nil, { stride = 2, padding = 1, output_padding = 1 }) end, 2),
       { rand({ 2, 3, 4, 5 }), rand({ 3, 2, 3, 3 }), rand({ 2, 2, 8, 10 }) } }
case { "conv_transpose2d backward output_padding past the stride", grads(function(x, w) return ember.conv_transpose2d(x, w, nil, { stride = 1, dilation = 2, output_padding = 1 }) end, 2),
       { rand({ 1, 2, 4, 4 }), rand({ 2, 3, 2, 2 }), rand({ 1, 3, 7, 7 }) } }

-- }======

-- {====== pools

local function maxp(k, s, p, d, ceil) return function(x) return ember.max_pool2d(x, k, s, p, d, ceil) end end
case { "max_pool2d 2", maxp(2), { rand({ 2, 3, 8, 9 }) } }
case { "max_pool2d 3 stride 2 padding 1", maxp(3, 2, 1), { rand({ 2, 3, 9, 8 }) } }
case { "max_pool2d dilation 2 ceil_mode", maxp(3, 2, 1, 2, true), { rand({ 1, 2, 11, 10 }) } }
case { "max_pool2d {2,3} stride {1,2} ceil_mode", maxp({ 2, 3 }, { 1, 2 }, { 1, 1 }, 1, true), { rand({ 2, 2, 7, 8 }) } }
case { "max_pool2d ties pick the first", maxp(3, 1, 1), { function() return randint(0, 3, { 2, 2, 6, 7 }):float() end } }
case { "max_pool2d NaN and -inf", maxp(2, 1),
       { ember.tensor({ { { { 0 / 0, 1, -1 / 0, -1 / 0 }, { 2, 0 / 0, -1 / 0, -1 / 0 }, { 3, 3, 0 / 0, 1 } } } }) } }
case { "max_pool2d unbatched NHWC", function(x) return ember.max_pool2d(x:permute(3, 1, 2), 2) end, { rand({ 7, 6, 3 }) } }
case { "max_pool2d f64", maxp(3, 2, 1, 1, true), { rand({ 2, 2, 7, 7 }, -2, 2, "f64") } }
case { "max_pool2d f16", maxp(2), { rand({ 1, 2, 6, 6 }):to("f16") }, tol = 1e-3 }

local function avgp(k, s, p, o) return function(x) return ember.avg_pool2d(x, k, s, p, o) end end
case { "avg_pool2d 2", avgp(2), { rand({ 2, 3, 8, 9 }) } }
case { "avg_pool2d 3 stride 2 padding 1", avgp(3, 2, 1), { rand({ 2, 3, 9, 8 }) } }
case { "avg_pool2d ceil_mode", avgp(2, 2, 0, { ceil_mode = true }), { rand({ 1, 2, 7, 9 }) } }
case { "avg_pool2d ceil_mode padding 1", avgp(3, 2, 1, { ceil_mode = true }), { rand({ 1, 2, 8, 6 }) } }
case { "avg_pool2d count_include_pad false", avgp(3, 2, 1, { count_include_pad = false, ceil_mode = true }), { rand({ 2, 2, 8, 7 }) } }
case { "avg_pool2d divisor_override", avgp(3, 2, 1, { divisor_override = 5 }), { rand({ 1, 3, 7, 7 }) } }
case { "avg_pool2d {3,2} stride {1,2} NHWC view", on_nhwc(avgp({ 3, 2 }, { 1, 2 }, { 1, 0 })), { nhwc(2, 3, 7, 9) } }
case { "avg_pool2d f64", avgp(3, 2, 1, { count_include_pad = false }), { rand({ 2, 2, 7, 7 }, -2, 2, "f64") } }

local function adap(o) return function(x) return ember.adaptive_avg_pool2d(x, { output_size = o }) end end
case { "adaptive_avg_pool2d {3,2}", adap { 3, 2 }, { rand({ 2, 3, 8, 9 }) } }
case { "adaptive_avg_pool2d overlapping {5,4}", adap { 5, 4 }, { rand({ 2, 3, 7, 9 }) } }
case { "adaptive_avg_pool2d larger {9,11}", adap { 9, 11 }, { rand({ 1, 2, 7, 9 }) } }
case { "adaptive_avg_pool2d 1", adap { 1 }, { rand({ 2, 5, 6, 7 }) } }
case { "adaptive_avg_pool2d unbatched NHWC", function(x) return ember.adaptive_avg_pool2d(x:permute(3, 1, 2), { output_size = { 2, 3 } }) end,
       { rand({ 7, 8, 3 }) } }
case { "adaptive_avg_pool2d f64", adap { 4, 3 }, { rand({ 2, 2, 9, 7 }, -2, 2, "f64") } }

-- backward: the output's gradient has the pool's output shape
local function pool_grad(name, f, xshape, gshape, x)
  case { name, grads(f, 1), { x or rand(xshape), rand(gshape) } }
end
pool_grad("max_pool2d_backward 2", maxp(2), { 2, 3, 8, 9 }, { 2, 3, 4, 4 })
pool_grad("max_pool2d_backward overlapping 3 stride 1 padding 1", maxp(3, 1, 1), { 2, 2, 6, 7 }, { 2, 2, 6, 7 })
pool_grad("max_pool2d_backward ties", maxp(3, 1, 1), nil, { 2, 2, 6, 7 },
          function() return randint(0, 3, { 2, 2, 6, 7 }):float() end)
pool_grad("max_pool2d_backward NaN", maxp(2, 1), nil, { 1, 1, 2, 3 },
          ember.tensor({ { { { 0 / 0, 1, 5, 2 }, { 2, 0 / 0, 5, 0 / 0 }, { 3, 3, 1, 1 } } } }))
pool_grad("max_pool2d_backward dilation 2 ceil_mode", maxp(3, 2, 1, 2, true), { 1, 2, 11, 10 }, { 1, 2, 5, 5 })
pool_grad("max_pool2d_backward unbatched", maxp(3, 2), { 2, 9, 8 }, { 2, 4, 3 })
pool_grad("avg_pool2d_backward 3 stride 2 padding 1", avgp(3, 2, 1), { 2, 3, 9, 8 }, { 2, 3, 5, 4 })
pool_grad("avg_pool2d_backward ceil_mode count_include_pad false", avgp(3, 2, 1, { ceil_mode = true, count_include_pad = false }),
          { 2, 2, 8, 7 }, { 2, 2, 5, 4 })
pool_grad("avg_pool2d_backward divisor_override", avgp({ 3, 2 }, { 1, 2 }, { 1, 0 }, { divisor_override = 3 }), { 1, 2, 7, 9 }, { 1, 2, 7, 4 })
pool_grad("avg_pool2d_backward ceil_mode", avgp(2, 2, 0, { ceil_mode = true }), { 1, 2, 7, 9 }, { 1, 2, 4, 5 })
pool_grad("adaptive_avg_pool2d_backward overlapping", adap { 5, 4 }, { 2, 3, 7, 9 }, { 2, 3, 5, 4 })
pool_grad("adaptive_avg_pool2d_backward larger", adap { 9, 11 }, { 1, 2, 7, 9 }, { 1, 2, 9, 11 })
pool_grad("adaptive_avg_pool2d_backward unbatched", adap { 2, 3 }, { 3, 7, 8 }, { 3, 2, 3 })
case { "avg_pool2d_backward f64", grads(avgp(3, 2, 1), 1), { rand({ 2, 2, 7, 7 }, -2, 2, "f64"), rand({ 2, 2, 4, 4 }, -2, 2, "f64") } }
case { "max_pool2d_backward f64", grads(maxp(2, 1), 1), { rand({ 1, 2, 5, 6 }, -2, 2, "f64"), rand({ 1, 2, 4, 5 }, -2, 2, "f64") } }
case { "adaptive_avg_pool2d_backward f64", grads(adap { 4, 3 }, 1), { rand({ 2, 2, 9, 7 }, -2, 2, "f64"), rand({ 2, 2, 4, 3 }, -2, 2, "f64") } }
case { "max_pool2d_backward strided grad_output", grads_nhwc(maxp(3, 2, 1), 1), { rand({ 2, 3, 9, 8 }), rand({ 2, 5, 4, 3 }) } }
case { "avg_pool2d_backward strided grad_output", grads_nhwc(avgp(3, 2, 1), 1), { rand({ 2, 3, 9, 8 }), rand({ 2, 5, 4, 3 }) } }
case { "adaptive_avg_pool2d_backward strided grad_output", grads_nhwc(adap { 4, 3 }, 1), { rand({ 2, 3, 9, 8 }), rand({ 2, 4, 3, 3 }) } }
case { "max_pool2d empty batch", maxp(2), { rand({ 0, 2, 4, 4 }) } }
case { "avg_pool2d empty batch", avgp(2), { rand({ 0, 2, 4, 4 }) } }
case { "adaptive_avg_pool2d empty batch", adap { 2 }, { rand({ 0, 2, 4, 4 }) } }
case { "max_pool2d_backward through an NHWC view", grads(function(x) return ember.max_pool2d(x:permute(1, 4, 2, 3), 2) end, 1),
       { rand({ 2, 6, 7, 3 }), rand({ 2, 3, 3, 3 }) } }

-- }======

-- {====== pad

local function pad(p, mode, value) return function(x) return ember.pad(x, p, mode, value) end end
for _, mode in ipairs { "constant", "reflect", "replicate" } do
  case { "pad " .. mode .. " last two dims", pad({ 2, 1, 1, 3 }, mode), { rand({ 2, 3, 5, 6 }) } }
  case { "pad " .. mode .. " last dim only", pad({ 3, 2 }, mode), { rand({ 4, 7 }) } }
  case { "pad " .. mode .. " NHWC view", on_nhwc(pad({ 1, 2, 2, 1 }, mode)), { nhwc(2, 3, 4, 5) } }
  case { "pad " .. mode .. " three dims of a 5-d", pad({ 1, 1, 0, 2, 2, 1 }, mode), { rand({ 2, 3, 4, 5, 3 }) } }
  case { "pad " .. mode .. " f64", pad({ 1, 2, 2, 0 }, mode), { rand({ 2, 3, 4 }, -2, 2, "f64") } }
  case { "pad " .. mode .. " i64", pad({ 2, 2 }, mode), { randint(-9, 9, { 3, 4 }) } }
  case { "pad " .. mode .. " f16", pad({ 1, 1, 1, 1 }, mode), { rand({ 2, 3, 3 }):to("f16") } }
  case { "pad " .. mode .. " bool", pad({ 1, 2 }, mode), { function() return rand({ 3, 5 }):gt(0) end } }
  case { "pad " .. mode .. " every dim of an 8-d", pad({ 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1 }, mode),
         { rand({ 2, 3, 2, 2, 3, 2, 2, 3 }) } }
  case { "pad " .. mode .. " every dim of a permuted 8-d", function(x)
           return ember.pad(x:permute(8, 7, 6, 5, 4, 3, 2, 1), { 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0 }, mode)
         end, { rand({ 2, 3, 2, 2, 3, 2, 2, 3 }) } }
end
case { "pad constant value", pad({ 1, 2, 0, 1 }, "constant", 7.5), { rand({ 2, 3, 4 }) } }
case { "pad constant negative crops", pad({ -1, 2, 1, -2 }, "constant", -1), { rand({ 2, 5, 6 }) } }
case { "pad constant crops to nothing", pad({ -3, 0 }, "constant"), { rand({ 2, 3 }) } }
case { "pad constant of an empty dim", pad({ 1, 1 }, "constant", 2), { rand({ 3, 0 }) } }
case { "pad constant i8 value", pad({ 1, 1 }, "constant", -3), { function() return randint(-9, 9, { 2, 3 }, "i8") end } }
case { "pad constant u8", pad({ 2, 0, 1, 1 }, "constant", 200), { function() return randint(0, 255, { 2, 3 }, "u8") end } }
case { "pad constant i32", pad({ 2, 1 }, "constant", 5), { function() return randint(-9, 9, { 2, 3 }, "i32") end } }
case { "pad constant bf16", pad({ 1, 2 }, "constant", 1.5), { rand({ 2, 3 }):to("bf16") } }
case { "pad reflect the full width", pad({ 4, 4, 2, 2 }, "reflect"), { rand({ 1, 3, 5 }) } }
case { "pad replicate of one element", pad({ 3, 2, 2, 1 }, "replicate"), { rand({ 2, 1, 1 }) } }
case { "pad transposed input", function(x) return ember.pad(x:t(), { 1, 2, 2, 1 }, "reflect") end, { rand({ 6, 5 }) } }
case { "pad sliced input", function(x) return ember.pad(x[{ {}, { 1, 9, 3 } }], { 2, 2 }, "replicate") end, { rand({ 4, 9 }) } }

-- backward
for _, mode in ipairs { "constant", "reflect", "replicate" } do
  case { "pad_backward " .. mode, grads(pad({ 2, 1, 1, 3 }, mode), 1), { rand({ 2, 3, 5, 6 }), rand({ 2, 3, 9, 9 }) } }
  case { "pad_backward " .. mode .. " 3 dims", grads(pad({ 1, 1, 0, 2, 2, 1 }, mode), 1),
         { rand({ 2, 3, 4, 5, 3 }), rand({ 2, 3, 7, 7, 5 }) } }
  case { "pad_backward " .. mode .. " f64", grads(pad({ 1, 2, 2, 0 }, mode), 1),
         { rand({ 2, 3, 4 }, -2, 2, "f64"), rand({ 2, 5, 7 }, -2, 2, "f64") } }
  case { "pad_backward " .. mode .. " every dim of an 8-d", grads(pad({ 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1 }, mode), 1),
         { rand({ 2, 3, 2, 2, 3, 2, 2, 3 }), rand({ 3, 4, 4, 3, 4, 4, 3, 4 }) } }
end
case { "pad_backward reflect the full width", grads(pad({ 4, 4, 2, 2 }, "reflect"), 1), { rand({ 1, 3, 5 }), rand({ 1, 7, 13 }) } }
case { "pad_backward replicate of one element", grads(pad({ 3, 2, 2, 1 }, "replicate"), 1), { rand({ 2, 1, 1 }), rand({ 2, 4, 6 }) } }
case { "pad_backward negative crops", grads(pad({ -1, 2, 1, -2 }, "constant"), 1), { rand({ 2, 5, 6 }), rand({ 2, 4, 7 }) } }
case { "pad_backward zero padding", grads(pad({ 0, 0 }, "reflect"), 1), { rand({ 2, 5 }), rand({ 2, 5 }) } }
case { "pad_backward strided grad_output", grads_nhwc(pad({ 1, 1, 2, 1 }, "replicate"), 1), { rand({ 2, 3, 4, 5 }), rand({ 2, 7, 7, 3 }) } }
case { "pad_backward NHWC view", grads(function(x) return ember.pad(x:permute(1, 4, 2, 3), { 1, 1, 2, 1 }, "reflect") end, 1),
       { rand({ 2, 4, 5, 3 }), rand({ 2, 3, 7, 7 }) } }

-- }======

-- {====== interpolate

local function interp(size, scale, mode, ac)
  return function(x) return ember.interpolate(x, size, scale, mode, ac) end
end
local modes = {
  { "nearest", nil }, { "nearest-exact", nil }, { "bilinear", nil }, { "bilinear", true }, { "bilinear", false },
}
for _, m in ipairs(modes) do
  local tag = m[1] .. (m[2] == nil and "" or m[2] and " align_corners" or " align_corners false")
  case { "interpolate " .. tag .. " size {7,11}", interp({ 7, 11 }, nil, m[1], m[2]), { rand({ 2, 3, 4, 5 }) } }
  case { "interpolate " .. tag .. " down to {3,2}", interp({ 3, 2 }, nil, m[1], m[2]), { rand({ 2, 3, 7, 9 }) } }
  case { "interpolate " .. tag .. " scale 2", interp(nil, 2, m[1], m[2]), { rand({ 1, 2, 3, 5 }) } }
  case { "interpolate " .. tag .. " scale 1.7", interp(nil, 1.7, m[1], m[2]), { rand({ 1, 2, 5, 4 }) } }
  case { "interpolate " .. tag .. " scale 0.6", interp(nil, 0.6, m[1], m[2]), { rand({ 1, 2, 9, 7 }) } }
  case { "interpolate " .. tag .. " same size", interp({ 4, 6 }, nil, m[1], m[2]), { rand({ 1, 2, 4, 5 }) } }
  case { "interpolate " .. tag .. " to 1x1", interp({ 1, 1 }, nil, m[1], m[2]), { rand({ 1, 2, 4, 5 }) } }
  case { "interpolate " .. tag .. " NHWC view", on_nhwc(interp({ 6, 7 }, nil, m[1], m[2])), { nhwc(2, 3, 4, 5) } }
  case { "interpolate " .. tag .. " f64", interp({ 7, 5 }, nil, m[1], m[2]), { rand({ 2, 2, 4, 3 }, -2, 2, "f64") } }
  case { "interpolate_backward " .. tag .. " up", grads(interp({ 7, 11 }, nil, m[1], m[2]), 1), { rand({ 2, 3, 4, 5 }), rand({ 2, 3, 7, 11 }) } }
  case { "interpolate_backward " .. tag .. " down", grads(interp({ 3, 2 }, nil, m[1], m[2]), 1), { rand({ 2, 3, 7, 9 }), rand({ 2, 3, 3, 2 }) } }
  case { "interpolate_backward " .. tag .. " scale 1.7", grads(interp(nil, 1.7, m[1], m[2]), 1), { rand({ 1, 2, 5, 4 }), rand({ 1, 2, 8, 6 }) } }
  case { "interpolate_backward " .. tag .. " f64", grads(interp({ 7, 5 }, nil, m[1], m[2]), 1),
         { rand({ 2, 2, 4, 3 }, -2, 2, "f64"), rand({ 2, 2, 7, 5 }, -2, 2, "f64") } }
end
case { "interpolate bilinear f16", interp({ 7, 9 }, nil, "bilinear"), { rand({ 1, 2, 4, 5 }):to("f16") }, tol = 1e-3 }
case { "interpolate_backward strided grad_output", grads_nhwc(interp({ 5, 7 }, nil, "bilinear"), 1),
       { rand({ 1, 2, 3, 4 }), rand({ 1, 5, 7, 2 }) } }
case { "interpolate_backward nearest strided grad_output", grads_nhwc(interp({ 5, 7 }, nil, "nearest"), 1),
       { rand({ 1, 2, 3, 4 }), rand({ 1, 5, 7, 2 }) } }
case { "interpolate empty batch", interp({ 5, 7 }, nil, "bilinear"), { rand({ 0, 2, 3, 4 }) } }
case { "interpolate_backward NHWC view", grads(function(x) return ember.interpolate(x:permute(1, 4, 2, 3), { 5, 7 }, nil, "bilinear") end, 1),
       { rand({ 1, 4, 3, 2 }), rand({ 1, 2, 5, 7 }) } }
case { "interpolate_backward bilinear of inf", grads(interp({ 3, 3 }, nil, "bilinear", true), 1),
       { rand({ 1, 1, 2, 2 }), ember.tensor({ { { { 1, 1 / 0, 1 }, { 1, 1, 1 }, { 1, 1, 1 } } } }) } }

-- }======

return cases
