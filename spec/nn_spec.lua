-- nn_spec.lua — linear softmax log_softmax layer_norm batch_norm batch_norm_train embedding dropout
-- one_hot: hand-computed values, invariants (rows sum to 1, mean 0 / var 1), error
-- messages, and PyTorch as oracle on strided and batched inputs.
local ember = require "ember"
local oracle = require "oracle"

local function gen(shape, seed, dtype) return oracle.gen(shape, seed, dtype, 2) end

local function flat(t) return t:contiguous():view(-1):totable() end

local function close(a, b, tol)
  return math.abs(a - b) <= (tol or 1e-6) * math.max(1, math.abs(b))
end

local function assert_values(expect, t, tol)
  local got = flat(t)
  assert.equal(#expect, #got)
  for i = 1, #expect do
    assert(close(got[i], expect[i], tol), string.format("element %d: %.9g, expected %.9g", i, got[i], expect[i]))
  end
end

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok)
  return tostring(msg)
end

describe("nn functional", function()
  it("computes linear by hand and as matmul with the weight transposed", function()
    local x = ember.tensor({{1, 2, 3}, {1, 1, 1}}, "f32")
    local w = ember.tensor({{1, 0, 0}, {0, 1, 1}}, "f32")       -- out x in
    local b = ember.tensor({10, 20}, "f32")
    assert.same({{11, 25}, {11, 22}}, ember.linear(x, w, b):totable())
    assert.same({{1, 5}, {1, 2}}, ember.linear(x, w):totable())
    assert.same({11, 25}, ember.linear(x[1], w, b):totable())       -- 1-D input
    local x3, w3 = gen({2, 4, 5}, 1), gen({3, 5}, 2)
    local r = ember.linear(x3, w3)
    assert.same({2, 4, 3}, r:size())
    local ref = x3:matmul(w3:t())
    local fr, fref = flat(r), flat(ref)
    for i = 1, #fr do assert(close(fr[i], fref[i], 1e-6)) end
  end)

  it("makes softmax rows that sum to 1, stably", function()
    -- softmax of {0, log 3} is {1/4, 3/4}
    assert_values({0.25, 0.75}, ember.softmax(ember.tensor({0, math.log(3)}, "f64"), 1), 1e-15)
    -- huge logits do not overflow
    assert_values({0.5, 0.5}, ember.tensor({1000, 1000}, "f32"):softmax(1))
    assert_values({0, 1}, ember.tensor({-1e30, 0}, "f32"):softmax(-1))
    local x = gen({3, 4, 5}, 3)
    for dim = 1, 3 do
      local s = x:softmax(dim)
      local sz = s:size()
      local sums = {}
      local v = flat(s)
      -- sum over dim by index arithmetic on the flat values
      local stride = 1
      for d = 3, dim + 1, -1 do stride = stride * sz[d] end
      for i = 0, #v - 1 do
        local key = (i // (stride * sz[dim])) * stride + i % stride
        sums[key] = (sums[key] or 0) + v[i + 1]
        assert.is_true(v[i + 1] > 0 and v[i + 1] < 1)
      end
      for _, total in pairs(sums) do assert(close(total, 1, 1e-6), "sum " .. total) end
    end
    -- log_softmax is log of softmax; exp(log_softmax(x)) - x shift invariance
    local l, s = x:log_softmax(2), x:softmax(2)
    local fl, fs = flat(l), flat(s)
    for i = 1, #fl do assert(close(fl[i], math.log(fs[i]), 1e-5)) end
    local shifted = flat(ember.log_softmax(x + 100, 2))
    for i = 1, #fl do assert(close(shifted[i], fl[i], 1e-4)) end
    assert.equal("f16", ember.tensor({1, 2}, "f16"):softmax(1):dtype())
  end)

  it("gives layer_norm rows mean 0 and variance 1", function()
    -- {1, 2, 3}: mean 2, biased var 2/3: {-1, 0, 1} / sqrt(2/3 + 1e-5)
    local k = 1 / math.sqrt(2 / 3 + 1e-5)
    local x = ember.tensor({{1, 2, 3}, {4, 4, 4}}, "f32")
    assert_values({-k, 0, k, 0, 0, 0}, ember.layer_norm(x, 3))
    local w, b = ember.tensor({1, 2, 3}, "f32"), ember.tensor({0, 0, 1}, "f32")
    assert_values({-k, 0, 3 * k + 1, 0, 0, 1}, ember.layer_norm(x, 3, w, b))
    assert_values({-k, 0, 3 * k, 0, 0, 0}, ember.layer_norm(x, {3}, w, nil, 1e-5))
    assert_values({-k, 0, k + 1, 0, 0, 1}, ember.layer_norm(x, 3, nil, b))
    assert_values({-1 / math.sqrt(2 / 3 + 0.5), 0}, ember.layer_norm(x, 3, nil, nil, 0.5):narrow(2, 1, 2)[1])
    local y = ember.layer_norm(gen({4, 3, 10}, 4), {3, 10}, nil, nil, 0)
    local v = flat(y)
    for r = 0, 3 do
      local s, q = 0, 0
      for i = 1, 30 do s = s + v[r * 30 + i] end
      local mean = s / 30
      for i = 1, 30 do q = q + (v[r * 30 + i] - mean) ^ 2 end
      assert.is_true(math.abs(mean) < 1e-6)
      assert.is_true(math.abs(q / 30 - 1) < 1e-5)
    end
  end)

  it("computes batch_norm (inference) by hand", function()
    -- per channel (dim 2): (x - mean) / sqrt(var + eps) * w + b
    local x = ember.tensor({{1, 2}, {3, 4}}, "f32")
    local mean, var = ember.tensor({1, 2}, "f32"), ember.tensor({4, 1}, "f32")
    local e = 1e-5
    assert_values({0, 0, 2 / math.sqrt(4 + e), 2 / math.sqrt(1 + e)}, ember.batch_norm(x, mean, var))
    local w, b = ember.tensor({2, -1}, "f32"), ember.tensor({1, 0}, "f32")
    assert_values({1, 0, 4 / math.sqrt(4 + e) + 1, -2 / math.sqrt(1 + e)},
                  ember.batch_norm(x, mean, var, w, b))
    assert_values({0, 0, 1, 2}, ember.batch_norm(x, mean, var, nil, nil, 0))
    -- NCHW: channel is dim 2
    local img = ember.tensor({{{{1, 3}}, {{10, 30}}}}, "f32")   -- 1x2x1x2
    assert_values({-1, 1, -1, 1}, ember.batch_norm(img, ember.tensor({2, 20}, "f32"),
                                                   ember.tensor({1, 100}, "f32"), nil, nil, 0))
  end)

  it("computes batch_norm_train (batch statistics) by hand", function()
    -- channel 1 holds 1, 3, 5, 7 (mean 4, biased var 5); channel 2 holds 2, 4, 2, 4
    -- (mean 3, var 1)
    local x = ember.tensor({{{1, 3}, {2, 4}}, {{5, 7}, {2, 4}}}, "f32")   -- 2x2x2
    local y, mean, var = ember.batch_norm_train(x, nil, nil, 0)
    assert_values({4, 3}, mean)
    assert_values({5, 1}, var)
    local r = 1 / math.sqrt(5)
    assert_values({-3 * r, -r, -1, 1, r, 3 * r, -1, 1}, y)
    -- weight and bias; eps counts in the scale
    local w, b = ember.tensor({2, -1}, "f32"), ember.tensor({1, 0.5}, "f32")
    local e = 0.25
    local k1, k2 = 2 / math.sqrt(5 + e), -1 / math.sqrt(1 + e)
    y = ember.batch_norm_train(x, w, b, e)
    assert_values({1 - 3 * k1, 1 - k1, 0.5 - k2, 0.5 + k2, 1 + k1, 1 + 3 * k1, 0.5 - k2, 0.5 + k2}, y)
    -- the statistics carry no gradient; y's does: sum(y) is constant in x (0 with no
    -- bias), so its gradient is 0, and each bias gets its count (4)
    local xg, bg = x:clone(), b:clone()
    xg.requires_grad, bg.requires_grad = true, true
    local y2, m2, v2 = ember.batch_norm_train(xg, w, bg)
    assert.is_false(m2.requires_grad)
    assert.is_false(v2.requires_grad)
    y2:sum():backward()
    assert_values({0, 0, 0, 0, 0, 0, 0, 0}, xg.grad, 1e-6)
    assert_values({4, 4}, bg.grad)
    assert.matches("expected more than 1 value per channel", err(ember.batch_norm_train, ember.ones(1, 3)), 1, true)
    assert.matches("weight of shape 2 does not match the 3 channels", err(ember.batch_norm_train,
                   ember.ones(2, 3), ember.ones(2)), 1, true)
  end)

  it("looks up embeddings with 1-based indices", function()
    local w = ember.tensor({{1, 2}, {3, 4}, {5, 6}}, "f32")
    local e = ember.embedding(ember.tensor({{3, 1}, {2, 2}}), w)
    assert.same({2, 2, 2}, e:size())
    assert.same({{{5, 6}, {1, 2}}, {{3, 4}, {3, 4}}}, e:totable())
    assert.same({{3, 4}}, ember.embedding(ember.tensor({2}, "i32"), w):totable())
    assert.same({{2, 4, 6}}, ember.embedding(ember.tensor({2}), w:t()):totable())   -- strided weight
    assert.equal("f16", ember.embedding(ember.tensor({1}), w:to("f16")):dtype())
  end)

  it("makes one_hot vectors from 1-based class values", function()
    local r = ember.one_hot(ember.tensor({1, 3, 2}))
    assert.equal("i64", r:dtype())
    assert.same({{1, 0, 0}, {0, 0, 1}, {0, 1, 0}}, r:totable())
    assert.same({{{0, 1, 0, 0}}, {{0, 0, 0, 1}}}, ember.one_hot(ember.tensor({{2}, {4}}), 4):totable())
    assert.same({2, 5}, ember.one_hot(ember.tensor({1, 1}, "i32"), 5):size())
  end)

  it("drops out with probability p and scales the rest", function()
    local n = 20000
    local ones = {}
    for i = 1, n do ones[i] = 1 end
    local x = ember.tensor(ones, "f32")
    ember.manual_seed(42)
    local y = ember.dropout(x, 0.25)
    local kept = 0
    for _, v in ipairs(y:totable()) do
      if v ~= 0 then
        kept = kept + 1
        assert(close(v, 1 / 0.75, 1e-6), "kept value " .. v)
      end
    end
    -- 3 sigma of a binomial(20000, 0.75) is about 184
    assert.is_true(math.abs(kept - 0.75 * n) < 200, "kept " .. kept)
    ember.manual_seed(42)
    assert.same(y:totable(), ember.dropout(x, 0.25):totable())      -- same seed, same mask
    assert.are_not.same(y:totable(), ember.dropout(x, 0.25):totable())
    assert.same({1, 2, 3}, ember.dropout(ember.tensor({1, 2, 3}, "f32"), 0.5, false):totable())
    assert.same({1, 2, 3}, ember.dropout(ember.tensor({1, 2, 3}, "f32"), 0):totable())
    assert.same({0, 0, 0}, ember.dropout(ember.tensor({1, 2, 3}, "f32"), 1):totable())
    -- a strided input keeps its logical order: each output is 0 or 2x its input
    local m = gen({30, 40}, 5):t()
    local d, src = flat(ember.dropout(m, 0.5)), flat(m)
    for i = 1, #d do assert.is_true(d[i] == 0 or close(d[i], 2 * src[i], 1e-6)) end
  end)

  it("raises errors that name the op and the offending argument", function()
    local x23 = gen({2, 3}, 1)
    assert.matches("linear: input of shape 2x3 does not fit weight of shape 4x5 %(3 ~= 5 in_features%)",
                   err(ember.linear, x23, gen({4, 5}, 1)))
    assert.matches("linear: bias of shape 3 does not fit 4 out_features",
                   err(ember.linear, x23, gen({4, 3}, 1), gen({3}, 1)))
    assert.matches("linear: expects input, weight and bias of one dtype, got f32, f64",
                   err(ember.linear, x23, gen({4, 3}, 1, "f64")))
    assert.matches("softmax: dim 3 out of range for a tensor with 2 dims", err(ember.softmax, x23, 3))
    assert.matches("softmax: input must be a floating point tensor, got i64",
                   err(ember.softmax, ember.tensor({1, 2}), 1))
    assert.matches("log_softmax: dim %-3 out of range", err(ember.log_softmax, x23, -3))
    assert.matches("layer_norm: normalized_shape 2 does not match the last dims of input of shape 2x3",
                   err(ember.layer_norm, x23, 2))
    assert.matches("layer_norm: weight of shape 2 does not match normalized_shape 3",
                   err(ember.layer_norm, x23, {3}, gen({2}, 1)))
    assert.matches("batch_norm: running_var of shape 2 does not match the 3 channels of input of shape 2x3",
                   err(ember.batch_norm, x23, gen({3}, 1), gen({2}, 1)))
    assert.matches("batch_norm: expects input of shape N x C x ..., got shape 3",
                   err(ember.batch_norm, gen({3}, 1), gen({3}, 1), gen({3}, 2)))
    local w = gen({10, 4}, 1)
    assert.matches("embedding: index 11 is out of range %[1, 10%] for weight of shape 10x4",
                   err(ember.embedding, ember.tensor({1, 11}), w))
    assert.matches("embedding: index 0 is out of range %[1, 10%]", err(ember.embedding, ember.tensor({0}), w))
    assert.matches("embedding: indices must be an integer tensor, got f32",
                   err(ember.embedding, gen({2}, 1), w))
    assert.matches("embedding: weight must be 2%-D", err(ember.embedding, ember.tensor({1}), gen({4}, 1)))
    assert.matches("dropout: probability has to be between 0 and 1, but got 1.5", err(ember.dropout, x23, 1.5))
    assert.matches("dropout: probability has to be between 0 and 1, but got %-0.1", err(ember.dropout, x23, -0.1))
    assert.matches("dropout: input must be a floating point tensor, got i64",
                   err(ember.dropout, ember.tensor({1, 2})))
    assert.matches("one_hot: class value 4 is out of range %[1, 3%] for 3 classes",
                   err(ember.one_hot, ember.tensor({1, 4}), 3))
    assert.matches("one_hot: class value 0 is out of range", err(ember.one_hot, ember.tensor({0, 2})))
    assert.matches("one_hot: indices must be an integer tensor, got f32", err(ember.one_hot, gen({2}, 1)))
    assert.matches("one_hot: num_classes must be %-1 %(inferred%) or >= 0, got %-2",
                   err(ember.one_hot, ember.tensor({1}), -2))
  end)

  it("matches torch on strided, batched and broadcast inputs", function()
    local cases, got = {}, {}
    local function case(expr, inputs, result, rtol, atol)
      cases[#cases + 1] = { expr = expr, inputs = inputs }
      got[#got + 1] = { result, rtol or 1e-5, atol or 1e-6 }
    end
    local x = gen({3, 4, 5}, 11)
    local xt = gen({5, 4, 3}, 12):permute(3, 2, 1)   -- 3x4x5, no dim contiguous
    for dim = 1, 3 do
      local py = tostring(dim - 1)
      case("torch.softmax(x[0], " .. py .. ")", { x }, x:softmax(dim))
      case("torch.log_softmax(x[0], " .. py .. ")", { xt }, xt:log_softmax(dim))
    end
    case("torch.softmax(x[0], -1)", { gen({2, 3}, 13, "f64") }, gen({2, 3}, 13, "f64"):softmax(-1), 1e-12, 1e-12)
    local wide = gen({2, 100, 70}, 14)               -- inner dim 70: more than one lane block
    case("torch.softmax(x[0], 1)", { wide }, wide:softmax(2))
    case("torch.log_softmax(x[0], 1)", { wide }, wide:log_softmax(2))
    -- layer_norm over one and two dims, with and without affine, on a strided input
    local lw, lb = gen({4, 5}, 15), gen({4, 5}, 16)
    case("F.layer_norm(x[0], [5])", { xt }, ember.layer_norm(xt, 5))
    case("F.layer_norm(x[0], [4, 5], x[1], x[2])", { xt, lw, lb }, ember.layer_norm(xt, {4, 5}, lw, lb))
    case("F.layer_norm(x[0], [5], x[1], None, eps=0.1)", { x, lw[1] },
         ember.layer_norm(x, {5}, lw[1], nil, 0.1))
    -- batch_norm on NC, NCL and NCHW, strided input
    local rm, rv, bw, bb = gen({4}, 17), gen({4}, 18):exp(), gen({4}, 19), gen({4}, 20)
    local nc = gen({4, 6}, 21):t()                   -- 6x4 transposed view
    case("F.batch_norm(x[0], x[1], x[2], x[3], x[4])", { nc, rm, rv, bw, bb }, ember.batch_norm(nc, rm, rv, bw, bb))
    local ncl = gen({2, 4, 7}, 22)
    case("F.batch_norm(x[0], x[1], x[2], eps=1e-3)", { ncl, rm, rv }, ember.batch_norm(ncl, rm, rv, nil, nil, 1e-3))
    local nchw = gen({2, 3, 5, 4}, 23):permute(1, 4, 2, 3)   -- 2x4x3x5
    case("F.batch_norm(x[0], x[1], x[2], x[3], x[4])", { nchw, rm, rv, bw, bb },
         ember.batch_norm(nchw, rm, rv, bw, bb))
    -- linear: batched input, transposed weight, bias
    local li, lwt, lbias = gen({2, 3, 6}, 24), gen({6, 5}, 25):t(), gen({5}, 26)
    case("F.linear(x[0], x[1], x[2])", { li, lwt, lbias }, ember.linear(li, lwt, lbias))
    local lis = gen({6, 3, 2}, 27):permute(3, 2, 1)  -- 2x3x6, leading dims do not fold
    case("F.linear(x[0], x[1])", { lis, lwt }, ember.linear(lis, lwt))
    case("F.linear(x[0], x[1], x[2])", { gen({6}, 28), lwt, lbias }, ember.linear(gen({6}, 28), lwt, lbias))
    case("F.linear(x[0], x[1], x[2])", { gen({4, 6}, 29, "f64"), gen({5, 6}, 30, "f64"), gen({5}, 31, "f64") },
         ember.linear(gen({4, 6}, 29, "f64"), gen({5, 6}, 30, "f64"), gen({5}, 31, "f64")), 1e-12, 1e-12)
    -- embedding and one_hot: torch's indices are 0-based
    local idx = ember.tensor({{3, 1, 7}, {2, 2, 5}})
    local ew = gen({7, 4}, 32)
    case("F.embedding(x[0] - 1, x[1])", { idx, ew }, ember.embedding(idx, ew), 0, 0)
    case("F.embedding(x[0] - 1, x[1])", { idx:t(), ew:t():contiguous():t() }, ember.embedding(idx:t(), ew:t():contiguous():t()), 0, 0)
    case("F.one_hot(x[0] - 1)", { idx }, ember.one_hot(idx), 0, 0)
    case("F.one_hot(x[0] - 1, 9)", { idx:t() }, ember.one_hot(idx:t(), 9), 0, 0)

    local r = oracle.eval(cases)
    for i, g in ipairs(got) do
      local ok, msg = pcall(oracle.assert_close, g[1], r[i], g[2], g[3])
      assert(ok, "case " .. i .. " (" .. cases[i].expr .. "): " .. tostring(msg))
    end
  end)
end)
