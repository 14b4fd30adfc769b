-- conv_spec.lua — conv2d, conv_transpose2d, max/avg/adaptive pools, pad, interpolate:
-- hand-computed cases, then a grid of settings against torch.nn.functional, then errors.
local ember = require "ember"
local oracle = require "oracle"

-- A deterministic tensor of the given shape: sin(i * 0.37 + seed) * 2, i counting the
-- elements in row-major order.
local function det(shape, seed, dtype)
  local i = 0
  local function build(d)
    local t = {}
    for k = 1, shape[d] do
      if d == #shape then
        i = i + 1
        t[k] = math.sin(i * 0.37 + (seed or 0)) * 2
      else
        t[k] = build(d + 1)
      end
    end
    return t
  end
  return ember.tensor(build(1), dtype or "f32")
end

local function f32(t) return ember.tensor(t, "f32") end

-- Python text for an attribute value.
local function py(v)
  if v == nil then return "None"
  elseif type(v) == "boolean" then return v and "True" or "False"
  elseif type(v) == "string" then return '"' .. v .. '"'
  elseif type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = py(x) end
    return "(" .. table.concat(parts, ", ") .. (#parts == 1 and ",)" or ")")
  end
  return tostring(v)
end

-- A list as the last positional argument trips the bindings' options check (is_options
-- pops the key lua_next needs), so trailing lists are passed by name below.
local function errmsg(f, ...)
  local ok, e = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(e)
end

describe("conv family by hand", function()
  local img = f32({{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}})
  local lap = f32({{{{0, 1, 0}, {1, -4, 1}, {0, 1, 0}}}})

  it("convolves a 1-channel 3x3 image with a 3x3 kernel", function()
    local y = ember.conv2d(img, lap, f32({1}), {padding = 1})
    assert.same({{{{3, 2, -3}, {-2, 1, -6}, {-15, -10, -21}}}}, y:totable())
    y = ember.conv2d(img, lap, f32({1}), {padding = 1, stride = 2})
    assert.same({{{{3, -3}, {-15, -21}}}}, y:totable())
    -- positional attributes; no padding leaves the one full window: 2+4+6+8-20
    assert.same({{{{0}}}}, ember.conv2d(img, lap):totable())
  end)

  it("takes an unbatched CHW image and gives CHW back", function()
    local y = ember.conv2d(img[1], lap, nil, {padding = 1})
    assert.same({1, 3, 3}, y:size())
    assert.same({{{2, 1, -4}, {-3, 0, -7}, {-16, -11, -22}}}, y:totable())
  end)

  it("transposes a convolution by hand", function()
    local x = f32({{{{1, 2}, {3, 4}}}})
    local ones = f32({{{{1, 1}, {1, 1}}}})
    assert.same({{{{1, 3, 2}, {4, 10, 6}, {3, 7, 4}}}}, ember.conv_transpose2d(x, ones):totable())
    assert.same({{{{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}}}},
                ember.conv_transpose2d(x, ones, nil, {stride = 2}):totable())
  end)

  it("max- and average-pools 2x2 windows by hand", function()
    local x = f32({{{{1, 5, 2, 0}, {3, -1, 7, 4}, {0, 9, 8, 6}, {2, 1, -3, 5}}}})
    assert.same({{{{5, 7}, {9, 8}}}}, ember.max_pool2d(x, 2):totable())
    assert.same({{{{2, 3.25}, {3, 4}}}}, ember.avg_pool2d(x, 2):totable())
    -- 3x3 input, kernel 2: ceil mode keeps the partial last window
    local y = f32({{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}})
    assert.same({{{5}}}, ember.max_pool2d(y, 2):totable())
    assert.same({{{5, 6}, {8, 9}}}, ember.max_pool2d(y, 2, nil, 0, 1, true):totable())
    assert.same({{{3, 4.5}, {7.5, 9}}}, ember.avg_pool2d(y, 2, {ceil_mode = true}):totable())
    -- padding 1: count_include_pad divides by 4 everywhere, else by the real pixels
    assert.same({{{0.25, 1.25}, {2.75, 7}}}, ember.avg_pool2d(y, 2, 2, 1):totable())
    assert.same({{{1, 2.5}, {5.5, 7}}},
                ember.avg_pool2d(y, 2, 2, 1, {count_include_pad = false}):totable())
    assert.same({{{3.5}, {6.5}}}, ember.adaptive_avg_pool2d(y, {output_size = {2, 1}}):totable())
    assert.same({{{5}}}, ember.adaptive_avg_pool2d(y, 1):totable())
  end)

  it("propagates NaN through max_pool2d", function()
    local x = f32({{{0 / 0, 1}, {2, 3}}})
    local v = ember.max_pool2d(x, 2):totable()[1][1][1]
    assert.is_true(v ~= v)
  end)

  it("max_pool2d(2) of f32 (its own fast loop) picks as the general loop does (f64)", function()
    -- ties, NaN in every window position, -inf windows, odd sizes (a cropped last row/column)
    ember.manual_seed(11)
    local x = (ember.randn(3, 4, 9, 11) * 2):round()
    local flat = x:view(-1)
    for i = 1, flat:numel(), 7 do flat[i] = 0 / 0 end
    for i = 3, flat:numel(), 13 do flat[i] = -math.huge end
    -- 9 x 11 leaves a row and a column over; 8 x 10 is tiled exactly (the two-pass loop)
    for _, t in ipairs({ x, x:narrow(3, 1, 8):narrow(4, 1, 10):contiguous() }) do
      local fast = ember.max_pool2d(t, 2)
      local general = ember.max_pool2d(t:to("f64"), 2):to("f32")
      assert.same({3, 4, 4, 5}, fast:size())
      local a, b = fast:view(-1), general:view(-1)
      for i = 1, a:numel() do
        local u, v = a[i], b[i]
        assert.is_true(u == v or (u ~= u and v ~= v), "window " .. i .. ": " .. u .. " vs " .. v)
      end
    end
  end)

  it("max_pool2d(2)'s gradient of f32 (its own loop) goes where the general loop's (f64) goes", function()
    ember.manual_seed(12)
    local x = (ember.randn(2, 3, 9, 11) * 2):round()
    local flat = x:view(-1)
    for i = 2, flat:numel(), 9 do flat[i] = 0 / 0 end
    for i = 5, flat:numel(), 11 do flat[i] = -math.huge end
    for _, t in ipairs({ x, x:narrow(3, 1, 8):narrow(4, 1, 10):contiguous() }) do
      local g = ember.arange(1, 2 * 3 * 4 * 5 + 1):view(2, 3, 4, 5)
      local a, b = t:clone(), t:to("f64")
      a.requires_grad, b.requires_grad = true, true
      ember.max_pool2d(a, 2):backward(g:to("f32"))
      ember.max_pool2d(b, 2):backward(g:to("f64"))
      assert.same(b.grad:totable(), a.grad:to("f64"):totable())
      assert.equal(g:sum():item(), a.grad:sum():item())   -- every window's gradient landed once
    end
  end)

  it("pads in every mode by hand", function()
    local x = f32({{1, 2, 3}, {4, 5, 6}})
    assert.same({{3, 2, 1, 2, 3, 2}, {6, 5, 4, 5, 6, 5}}, ember.pad(x, {2, 1}, "reflect"):totable())
    assert.same({{1, 1, 1, 2, 3, 3}, {4, 4, 4, 5, 6, 6}}, ember.pad(x, {2, 1}, "replicate"):totable())
    assert.same({{9, 9, 9, 9}, {9, 1, 2, 3}, {9, 4, 5, 6}, {9, 9, 9, 9}},
                ember.pad(x, {1, 0, 1, 1}, "constant", 9):totable())
    assert.same({{2, 3}, {5, 6}}, ember.pad(x, {-1, 0}, "constant"):totable())
    -- a pad in front and a crop behind that takes the row's only element
    assert.same({{0}, {0}}, ember.pad(f32({{1}, {2}}), {2, -2}, "constant"):totable())
    assert.same({{0, 1}, {0, 4}}, ember.pad(x, {1, -2}, "constant"):totable())
    assert.same({{4, 5, 6}, {1, 2, 3}, {4, 5, 6}, {1, 2, 3}}, ember.pad(x, {0, 0, 1, 1}, "reflect"):totable())
    -- pad moves elements of any dtype
    local i = ember.tensor({{1, 2}, {3, 4}}, "i64")
    local p = ember.pad(i, {1, 1}, {value = 7})
    assert.equal("i64", p:dtype())
    assert.same({{7, 1, 2, 7}, {7, 3, 4, 7}}, p:totable())
  end)

  it("interpolates by hand", function()
    local x = f32({{{{1, 2}, {3, 4}}}})
    assert.same({{{{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}}}},
                ember.interpolate(x, nil, 2):totable())
    assert.same({{{{1, 1.5, 2}, {2, 2.5, 3}, {3, 3.5, 4}}}},
                ember.interpolate(x, {3, 3}, nil, "bilinear", true):totable())
    -- align_corners=false: output 0 of 4 maps to source -0.25, clamped to 0
    local y = ember.interpolate(x, 4, {mode = "bilinear"}):totable()[1][1]
    assert.same({1, 1.25, 1.75, 2}, y[1])
    assert.same({3, 3.25, 3.75, 4}, y[4])
  end)

  it("keeps float dtypes and promotes the weight's", function()
    local x64 = det({1, 2, 5, 5}, 0, "f64")
    assert.equal("f64", ember.conv2d(x64, det({3, 2, 3, 3}, 1, "f64")):dtype())
    assert.equal("f64", ember.conv2d(det({1, 2, 5, 5}), det({3, 2, 3, 3}, 1, "f64")):dtype())
    local h = det({1, 2, 6, 6}, 0, "f16")
    assert.equal("f16", ember.max_pool2d(h, 2):dtype())
    assert.equal("f16", ember.conv2d(h, det({3, 2, 3, 3}, 1, "f16")):dtype())
    assert.equal("bf16", ember.interpolate(det({1, 1, 3, 3}, 0, "bf16"), 5):dtype())
  end)
end)

-- {====== oracle grid: every case is (torch expression, inputs, ember thunk)

local cases = {}
local function add(group, expr, inputs, run, rtol, atol)
  cases[#cases + 1] = { group = group, expr = expr, inputs = inputs, run = run, rtol = rtol, atol = atol }
end

-- conv2d over stride / padding / dilation / groups / bias, contiguous and not
do
  local x4 = det({2, 4, 7, 6}, 0.1)
  local xt = det({2, 4, 6, 9}, 0.2):transpose(3, 4)   -- 2x4x9x6, non-contiguous
  local xn = det({2, 6, 7, 8}, 0.3):narrow(2, 2, 4)   -- a channel slice
  local kernels = { {3, 3}, {2, 3}, {1, 1} }
  local n = 0
  for _, x in ipairs({ x4, xt, xn }) do
    for _, k in ipairs(kernels) do
      for _, groups in ipairs({ 1, 2 }) do
        for _, stride in ipairs({ 1, 2, {2, 1} }) do
          for _, padding in ipairs({ 0, 1, {2, 0} }) do
            for _, dilation in ipairs({ 1, 2 }) do
              n = n + 1
              if n % 3 == 0 or (k[1] == 1 and stride == 1 and padding == 0) then
                local w = det({6, 4 // groups, k[1], k[2]}, n)
                local b = n % 2 == 0 and det({6}, n + 0.5) or nil
                local o = { stride = stride, padding = padding, dilation = dilation, groups = groups }
                add("conv2d", string.format(
                    "F.conv2d(x[0], x[1], %s, stride=%s, padding=%s, dilation=%s, groups=%d)",
                    b and "x[2]" or "None", py(stride), py(padding), py(dilation), groups),
                    { x, w, b }, function() return ember.conv2d(x, w, b, o) end)
              end
            end
          end
        end
      end
    end
  end
  -- a wide 1x1 (the image is its own column matrix), an unbatched image, a transposed
  -- weight, depthwise, and f64
  local big = det({1, 3, 33, 34}, 0.7)
  local w1 = det({5, 3, 1, 1}, 1)
  add("conv2d", "F.conv2d(x[0], x[1])", { big, w1 }, function() return ember.conv2d(big, w1) end)
  local chw = det({3, 8, 7}, 0.9)
  local w3 = det({4, 3, 3, 3}, 2)
  add("conv2d", "F.conv2d(x[0], x[1], x[2], padding=1)", { chw, w3, det({4}, 3) },
      function() return ember.conv2d(chw, w3, det({4}, 3), {padding = 1}) end)
  local wt = det({4, 3, 3, 3}, 4):transpose(3, 4)
  add("conv2d", "F.conv2d(x[0], x[1], stride=2)", { x4:narrow(2, 1, 3), wt },
      function() return ember.conv2d(x4:narrow(2, 1, 3), wt, nil, {stride = 2}) end)
  -- stride 1 with the output as wide as the input: the shifted-plane column copy
  local wf = det({6, 4, 3, 3}, 13)
  add("conv2d", "F.conv2d(x[0], x[1], padding=2, dilation=2)", { xt, wf },
      function() return ember.conv2d(xt, wf, nil, {padding = 2, dilation = 2}) end)
  add("conv2d", "F.conv2d(x[0], x[1], padding=(0, 1))", { x4, wf },
      function() return ember.conv2d(x4, wf, nil, {padding = {0, 1}}) end)
  -- stride 1, as wide as the input, a kernel row wholly in the padding (rows 2 and 3
  -- of a 3-tall kernel with dilation 3 and padding 2 on 3 rows): the column copy once
  -- wrote past its row into the next image's
  local xw, ww = det({2, 3, 3, 12}, 0.4), det({3, 3, 3, 1}, 14)
  add("conv2d", "F.conv2d(x[0], x[1], padding=(2, 0), dilation=(3, 2))", { xw, ww },
      function() return ember.conv2d(xw, ww, nil, {padding = {2, 0}, dilation = {3, 2}}) end)
  local wd = det({8, 1, 3, 3}, 5)
  add("conv2d", "F.conv2d(x[0], x[1], padding=1, groups=4)", { x4, wd },
      function() return ember.conv2d(x4, wd, nil, {padding = 1, groups = 4}) end)
  -- depthwise (one input channel per group) runs a direct loop: strides, dilation, a
  -- channel multiplier, bias, a transposed input, f64
  for i, o in ipairs({ {stride = 2, padding = 1, groups = 4}, {dilation = 2, padding = {2, 1}, groups = 4},
                       {stride = {1, 2}, groups = 4}, {padding = 0, groups = 4} }) do
    local wdw = det({4 * i, 1, 3, 2}, 20 + i)
    local bdw = det({4 * i}, 30 + i)
    for _, inp in ipairs({ x4, xt }) do
      add("conv2d", string.format("F.conv2d(x[0], x[1], x[2], stride=%s, padding=%s, dilation=%s, groups=4)",
          py(o.stride or 1), py(o.padding or 0), py(o.dilation or 1)), { inp, wdw, bdw },
          function() return ember.conv2d(inp, wdw, bdw, o) end)
    end
  end
  local xd64, wd64 = det({2, 3, 6, 7}, 11, "f64"), det({6, 1, 3, 3}, 12, "f64")
  add("conv2d", "F.conv2d(x[0], x[1], stride=2, padding=1, groups=3)", { xd64, wd64 },
      function() return ember.conv2d(xd64, wd64, nil, {stride = 2, padding = 1, groups = 3}) end, 1e-12, 1e-12)
  local x64, w64 = det({3, 2, 9, 9}, 6, "f64"), det({4, 2, 3, 3}, 7, "f64")
  add("conv2d", "F.conv2d(x[0], x[1], padding=(1, 2), dilation=(2, 1))", { x64, w64 },
      function() return ember.conv2d(x64, w64, nil, {padding = {1, 2}, dilation = {2, 1}}) end, 1e-12, 1e-12)
  -- same-size convolutions of several small images (a small CNN's 3x3 with padding 1):
  -- the column matrix of all the images is made row by row from the channels regrouped,
  -- masked per tap; odd sizes, dilation, a one-row kernel, groups, a strided input, f64
  local same = {
    { det({5, 3, 4, 4}, 40), det({4, 3, 3, 3}, 41), {padding = 1}, "padding=1" },
    { det({7, 2, 3, 5}, 42), det({3, 2, 5, 5}, 43), {padding = 2}, "padding=2" },
    { det({3, 4, 5, 6}, 44), det({6, 2, 3, 3}, 45), {padding = 1, groups = 2}, "padding=1, groups=2" },
    { det({4, 2, 6, 5}, 46), det({3, 2, 3, 3}, 47), {padding = 2, dilation = 2}, "padding=2, dilation=2" },
    { det({6, 3, 2, 7}, 48), det({2, 3, 1, 3}, 49), {padding = {0, 1}}, "padding=(0, 1)" },
    { det({4, 3, 6, 4}, 50):transpose(3, 4), det({5, 3, 3, 3}, 51), {padding = 1}, "padding=1" },
    { det({5, 2, 4, 3}, 52, "f64"), det({3, 2, 3, 3}, 53, "f64"), {padding = 1}, "padding=1" },
  }
  for i, c in ipairs(same) do
    local x, w, o, args = c[1], c[2], c[3], c[4]
    local b = det({w:size(1)}, 60 + i, x:dtype())
    local tol = x:dtype() == "f64" and 1e-12 or nil
    add("conv2d", "F.conv2d(x[0], x[1], x[2], " .. args .. ")", { x, w, b },
        function() return ember.conv2d(x, w, b, o) end, tol, tol)
    -- the weight's gradient makes the same column matrix
    local gy = det(ember.conv2d(x, w, nil, o):size(), 70 + i, x:dtype())
    add("conv2d", "torch.nn.grad.conv2d_weight(x[0], x[1].shape, x[2], " .. args .. ")", { x, w, gy },
        function()
          local wg = w:clone()
          wg.requires_grad = true
          ember.conv2d(x, wg, nil, o):backward(gy)
          return wg.grad
        end, tol, tol)
  end
  -- many small images go through one GEMM
  local many = det({9, 2, 4, 5}, 8)
  local wm = det({3, 2, 2, 2}, 9)
  add("conv2d", "F.conv2d(x[0], x[1], x[2], padding=1)", { many, wm, det({3}, 10) },
      function() return ember.conv2d(many, wm, det({3}, 10), {padding = 1}) end)
end

-- conv_transpose2d over stride / padding / output_padding / dilation / groups
do
  local x = det({2, 4, 5, 4}, 1.1)
  local xt = det({2, 4, 4, 5}, 1.2):transpose(3, 4)
  local n = 0
  for _, inp in ipairs({ x, xt }) do
    for _, k in ipairs({ {3, 3}, {2, 3}, {1, 1} }) do
      for _, groups in ipairs({ 1, 2 }) do
        for _, stride in ipairs({ 1, 2, {3, 2} }) do
          for _, padding in ipairs({ 0, 1 }) do
            for _, dilation in ipairs({ 1, 2 }) do
              for _, opad in ipairs({ 0, 1 }) do
                n = n + 1
                local s = type(stride) == "table" and stride or { stride, stride }
                if (opad < s[1] or opad < dilation) and (opad < s[2] or opad < dilation) and n % 3 ~= 1 then
                  local w = det({4, 6 // groups, k[1], k[2]}, n)
                  local b = n % 2 == 0 and det({6}, n) or nil
                  local o = { stride = stride, padding = padding, output_padding = opad,
                              dilation = dilation, groups = groups }
                  add("conv_transpose2d", string.format(
                      "F.conv_transpose2d(x[0], x[1], %s, stride=%s, padding=%d, " ..
                      "output_padding=%d, groups=%d, dilation=%d)",
                      b and "x[2]" or "None", py(stride), padding, opad, groups, dilation),
                      { inp, w, b }, function() return ember.conv_transpose2d(inp, w, b, o) end)
                end
              end
            end
          end
        end
      end
    end
  end
  local chw = det({3, 4, 4}, 1.3)
  local w = det({3, 2, 3, 3}, 1.4)
  add("conv_transpose2d", "F.conv_transpose2d(x[0], x[1], stride=2, padding=1)", { chw, w },
      function() return ember.conv_transpose2d(chw, w, nil, {stride = 2, padding = 1}) end)
  local x64, w64 = det({2, 2, 3, 4}, 1.5, "f64"), det({2, 3, 2, 2}, 1.6, "f64")
  add("conv_transpose2d", "F.conv_transpose2d(x[0], x[1], stride=(2, 1), output_padding=(1, 0))",
      { x64, w64 }, function()
        return ember.conv_transpose2d(x64, w64, nil, {stride = {2, 1}, output_padding = {1, 0}})
      end, 1e-12, 1e-12)
end

-- pools over kernel / stride / padding / dilation / ceil_mode
do
  local x = det({2, 3, 9, 8}, 2.1)
  local xt = det({2, 3, 8, 9}, 2.2):transpose(3, 4)
  local chw = det({3, 7, 7}, 2.3)
  for _, inp in ipairs({ x, xt, chw }) do
    for _, k in ipairs({ 2, 3, {3, 2} }) do
      local kk = type(k) == "table" and k or { k, k }
      for _, stride in ipairs({ false, 1, 2, {2, 1} }) do
        for _, padding in ipairs({ 0, 1 }) do
          for _, ceil in ipairs({ false, true }) do
            if padding <= kk[1] // 2 and padding <= kk[2] // 2 then
              local st = stride or nil
              for _, dilation in ipairs({ 1, 2 }) do
                add("max_pool2d", string.format("F.max_pool2d(x[0], %s, %s, %d, %d, %s)", py(k), py(st),
                    padding, dilation, py(ceil)), { inp },
                    function() return ember.max_pool2d(inp, k, st, padding, dilation, ceil) end)
              end
              for _, cip in ipairs({ true, false }) do
                add("avg_pool2d", string.format("F.avg_pool2d(x[0], %s, %s, %d, %s, %s)", py(k), py(st),
                    padding, py(ceil), py(cip)), { inp },
                    function()
                      return ember.avg_pool2d(inp, k, st, padding, {ceil_mode = ceil, count_include_pad = cip})
                    end)
              end
            end
          end
        end
      end
    end
    add("avg_pool2d", "F.avg_pool2d(x[0], 3, 2, 1, divisor_override=5)", { inp },
        function() return ember.avg_pool2d(inp, 3, 2, 1, {divisor_override = 5}) end)
    for _, os in ipairs({ 1, 3, {2, 4}, {5, 3}, {9, 10} }) do
      add("adaptive_avg_pool2d", string.format("F.adaptive_avg_pool2d(x[0], %s)", py(os)), { inp },
          function() return ember.adaptive_avg_pool2d(inp, {output_size = os}) end)
    end
  end
  -- MaxPool2d(2) of f32 over planes it tiles exactly runs its own two-pass loop; rows
  -- wider than its buffer go one at a time
  for _, inp in ipairs({ det({3, 5, 8, 6}, 2.5), det({2, 2, 4, 2}, 2.6), det({1, 2, 2, 1030}, 2.7),
                         det({2, 3, 6, 8}, 2.8):transpose(3, 4) }) do
    add("max_pool2d", "F.max_pool2d(x[0], 2)", { inp }, function() return ember.max_pool2d(inp, 2) end, 0, 0)
  end
  local x64 = det({1, 2, 6, 7}, 2.4, "f64")
  add("max_pool2d", "F.max_pool2d(x[0], 3, 2, 1, ceil_mode=True)", { x64 },
      function() return ember.max_pool2d(x64, 3, 2, 1, {ceil_mode = true}) end, 0, 0)
  add("avg_pool2d", "F.avg_pool2d(x[0], (2, 3), 1, (1, 0))", { x64 },
      function() return ember.avg_pool2d(x64, {2, 3}, 1, {padding = {1, 0}}) end, 1e-12, 1e-12)
  add("adaptive_avg_pool2d", "F.adaptive_avg_pool2d(x[0], (4, 3))", { x64 },
      function() return ember.adaptive_avg_pool2d(x64, {output_size = {4, 3}}) end, 1e-12, 1e-12)
end

-- pad: every mode over the layouts torch accepts, a transposed input, negative crops
do
  local x4 = det({2, 3, 4, 5}, 3.1)
  local x3 = det({3, 4, 5}, 3.2)
  local xt = det({2, 3, 5, 4}, 3.3):transpose(3, 4)
  for _, mode in ipairs({ "constant", "reflect", "replicate" }) do
    for _, p in ipairs({ {1, 2, 3, 0}, {0, 3, 2, 2}, {4, 4, 1, 1} }) do
      if mode ~= "reflect" or (p[1] < 5 and p[2] < 5 and p[3] < 4 and p[4] < 4) then
        for _, inp in ipairs({ x4, xt, x3 }) do
          add("pad", string.format('F.pad(x[0], %s, "%s")', py(p), mode), { inp },
              function() return ember.pad(inp, p, mode) end, 0, 0)
        end
      end
    end
    for _, p in ipairs({ {2, 3}, {0, 1} }) do
      add("pad", string.format('F.pad(x[0], %s, "%s")', py(p), mode), { x3 },
          function() return ember.pad(x3, p, mode) end, 0, 0)
    end
  end
  for _, p in ipairs({ {1, 1, 1, 1, 1, 1}, {-1, 2, 0, -2}, {-2, -1}, {1, 0, 0, 0, 0, 0, 2, 1} }) do
    add("pad", string.format("F.pad(x[0], %s, value=-1.5)", py(p)), { xt },
        function() return ember.pad(xt, p, "constant", -1.5) end, 0, 0)
  end
  local x64 = det({1, 2, 3, 3}, 3.4, "f64")
  add("pad", 'F.pad(x[0], (2, 1, 2, 0), "reflect")', { x64 },
      function() return ember.pad(x64, {2, 1, 2, 0}, "reflect") end, 0, 0)
end

-- interpolate: sizes and scale factors, nearest, nearest-exact, bilinear both ways
do
  local x = det({2, 3, 5, 6}, 4.1)
  local xt = det({2, 3, 6, 5}, 4.2):transpose(3, 4)
  local x64 = det({1, 2, 5, 7}, 4.3, "f64")
  local sizes = { {7, 9}, {3, 4}, {10, 12}, {5, 6}, {1, 1}, 8 }
  local scales = { 2, 1.5, 0.5, 3, 1.7, 0.75 }
  for _, inp in ipairs({ x, xt, x64 }) do
    local tol = inp == x64 and 1e-12 or 1e-5
    for _, mode in ipairs({ "nearest", "nearest-exact", "bilinear" }) do
      local aligns = mode == "bilinear" and { false, true } or { "unset" }
      for _, ac in ipairs(aligns) do
        local ac_py = ac == "unset" and "" or ", align_corners=" .. py(ac)
        local ac_lua = ac ~= "unset" and ac or nil
        for _, sz in ipairs(sizes) do
          add("interpolate", string.format('F.interpolate(x[0], size=%s, mode="%s"%s)', py(sz), mode, ac_py),
              { inp }, function() return ember.interpolate(inp, sz, nil, mode, ac_lua) end, tol, tol)
        end
        for _, sc in ipairs(scales) do
          add("interpolate", string.format('F.interpolate(x[0], scale_factor=%s, mode="%s"%s)', py(sc), mode, ac_py),
              { inp }, function() return ember.interpolate(inp, nil, sc, mode, ac_lua) end, tol, tol)
        end
      end
    end
  end
end

-- }======

describe("conv family against torch.nn.functional", function()
  local results
  setup(function()
    local req = {}
    for i, c in ipairs(cases) do req[i] = { expr = c.expr, inputs = c.inputs } end
    results = oracle.eval(req)
  end)

  for _, group in ipairs({ "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                           "adaptive_avg_pool2d", "pad", "interpolate" }) do
    it("matches F." .. group .. " over its grid of settings", function()
      local n = 0
      for i, c in ipairs(cases) do
        if c.group == group then
          local r = results[i]
          assert(r.ok, "oracle failed: " .. tostring(r.error))
          local ok, msg = oracle.close(c.run(), r.outputs[1], c.rtol or 1e-5, c.atol or 1e-5)
          assert(ok, c.expr .. ": " .. tostring(msg))
          n = n + 1
        end
      end
      assert(n >= 10, group .. ": only " .. n .. " cases")
    end)
  end
end)

describe("conv family errors", function()
  local x = det({1, 4, 8, 8})
  local w = det({8, 3, 3, 3})

  it("names the op and the shapes that do not fit", function()
    assert.matches("conv2d: weight 8x3x3x3 expects 3 input channels %(groups 1%), input 1x4x8x8 has 4",
                   errmsg(ember.conv2d, x, w))
    assert.matches("conv2d: expects a 3%-D %(CHW%) or 4%-D %(NCHW%) input, got shape 8x8",
                   errmsg(ember.conv2d, det({8, 8}), w))
    assert.matches("conv2d: weight must be 4%-D", errmsg(ember.conv2d, x, det({8, 4, 3})))
    assert.matches("conv2d: groups 3 does not divide the 4 input channels of input 1x4x8x8",
                   errmsg(ember.conv2d, x, det({6, 1, 3, 3}), nil, {groups = 3}))
    assert.matches("conv2d: weight 6x2x3x3 has 6 output channels, not divisible by groups 4",
                   errmsg(ember.conv2d, det({1, 8, 5, 5}), det({6, 2, 3, 3}), nil, {groups = 4}))
    assert.matches("conv2d: kernel 5x5 %(dilation 3x3%) is larger than the padded input 10x10",
                   errmsg(ember.conv2d, x, det({2, 4, 5, 5}), nil, {padding = 1, dilation = 3}))
    assert.matches("conv2d: padding must be non%-negative, got %-1x%-1",
                   errmsg(ember.conv2d, x, det({2, 4, 3, 3}), nil, {padding = -1}))
    assert.matches("conv2d: stride must be positive, got 0x2",
                   errmsg(ember.conv2d, x, det({2, 4, 3, 3}), nil, {stride = {0, 2}}))
    assert.matches("conv2d: stride takes 1 or 2 values %(height, width%), got 3",
                   errmsg(ember.conv2d, x, det({2, 4, 3, 3}), nil, {stride = {1, 1, 1}}))
    assert.matches("conv2d: bias 3 must be 1%-D with 2 elements",
                   errmsg(ember.conv2d, x, det({2, 4, 3, 3}), det({3})))
    assert.matches("conv2d: input dtype i64 is not supported %(float dtypes only%)",
                   errmsg(ember.conv2d, ember.tensor({{{{1}}}}, "i64"), det({1, 1, 1, 1})))
    assert.matches("conv_transpose2d: output_padding 2x2 must be smaller than either stride 2x2 or dilation 1x1",
                   errmsg(ember.conv_transpose2d, x, det({4, 2, 3, 3}), nil, {stride = 2, output_padding = 2}))
    assert.matches("conv_transpose2d: weight 3x2x3x3 expects 3 input channels, input 1x4x8x8 has 4",
                   errmsg(ember.conv_transpose2d, x, det({3, 2, 3, 3})))
  end)

  it("checks pools, pad and interpolate arguments", function()
    assert.matches("max_pool2d: padding 2x2 must be at most half the kernel size 3x3",
                   errmsg(ember.max_pool2d, x, 3, 1, 2))
    assert.matches("avg_pool2d: output size 0x0 is too small %(input 1x4x8x8, kernel 9x9",
                   errmsg(ember.avg_pool2d, x, 9))
    assert.matches("max_pool2d: kernel_size must be positive, got 0x0", errmsg(ember.max_pool2d, x, 0))
    assert.matches("max_pool2d: expects a 3%-D %(CHW%) or 4%-D %(NCHW%) input, got shape 4x8x8x1x1",
                   errmsg(ember.max_pool2d, det({4, 8, 8, 1, 1}), 2))
    assert.matches('pad: mode "wrap" is not one of constant, reflect, replicate',
                   errmsg(ember.pad, x, {1, 1}, "wrap"))
    assert.matches("pad: reflect padding 8,0 of dim 4 must be less than its size 8 %(input 1x4x8x8%)",
                   errmsg(ember.pad, x, {8, 0}, "reflect"))
    assert.matches("pad: pad has 3 values", errmsg(ember.pad, x, {pad = {1, 1, 1}}))
    assert.matches("pad: negative padding %-1,0 of dim 4 is only allowed in constant mode",
                   errmsg(ember.pad, x, {-1, 0}, "replicate"))
    assert.matches("pad: padding %-5,%-5 of dim 4 makes its size %-2 negative",
                   errmsg(ember.pad, x, {-5, -5}, "constant"))
    assert.matches("interpolate: give either size or scale_factor, not both",
                   errmsg(ember.interpolate, x, 4, 2))
    assert.matches("interpolate: needs size or scale_factor", errmsg(ember.interpolate, x))
    assert.matches('interpolate: mode "bicubic" is not one of nearest, nearest%-exact, bilinear',
                   errmsg(ember.interpolate, x, 4, nil, "bicubic"))
    assert.matches("interpolate: align_corners can only be set with mode bilinear",
                   errmsg(ember.interpolate, x, 4, nil, "nearest", true))
    assert.matches("interpolate: expects a 4%-D %(NCHW%) input, got shape 4x8x8",
                   errmsg(ember.interpolate, x[1], 4))
    assert.matches("adaptive_avg_pool2d: output_size must be non%-negative, got %-1x2",
                   errmsg(ember.adaptive_avg_pool2d, x, {output_size = {-1, 2}}))
  end)
end)
