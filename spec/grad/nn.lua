-- Gradient cases of the nn family (see spec/support/gradcheck.lua for the format).
local ember = require "ember"

-- The scaled mask dropout(p) draws right after manual_seed(7) for a tensor of this
-- shape: 0 where dropped, 1/(1-p) where kept (f32, the dtype torch multiplies in).
local function dropout_mask(shape, p)
  ember.manual_seed(7)
  return ember.dropout(ember.ones(table.unpack(shape)), p, true)
end

-- Every third element exactly 0, so some zeros are kept and some dropped: a kept zero
-- must still pass its gradient on, which the output alone cannot show.
local function with_zeros(n)
  local v = {}
  for i = 1, n do v[i] = i % 3 == 0 and 0 or ((i * 37) % 11) / 5 - 1 end
  return ember.tensor(v, "f64"):view(4, n // 4)
end

-- batch_norm's running statistics: no gradient (they are not differentiable)
local function mean_of(c) return { shape = {c}, grad = false } end
local function var_of(c) return { shape = {c}, range = { 0.5, 2 }, grad = false } end

return {
  { op = "linear", name = "2-D input with bias", inputs = { {3, 4}, {5, 4}, {5} },
    ember = function(x, w, b) return ember.linear(x, w, b) end, torch = "F.linear(x[0], x[1], x[2])" },
  { op = "linear", name = "no bias", inputs = { {3, 4}, {2, 4} },
    ember = function(x, w) return ember.linear(x, w) end, torch = "F.linear(x[0], x[1])" },
  { op = "linear", name = "1-D input", inputs = { {4}, {3, 4}, {3} },
    ember = function(x, w, b) return ember.linear(x, w, b) end, torch = "F.linear(x[0], x[1], x[2])" },
  { op = "linear", name = "batched 3-D input", inputs = { {2, 3, 4}, {5, 4}, {5} },
    ember = function(x, w, b) return ember.linear(x, w, b) end, torch = "F.linear(x[0], x[1], x[2])" },
  { op = "linear", name = "bias of one element broadcast", inputs = { {3, 4}, {2, 4}, {1} },
    ember = function(x, w, b) return ember.linear(x, w, b) end, torch = "F.linear(x[0], x[1], x[2])" },
  { op = "linear", name = "transposed views of input and weight", inputs = { {2, 4, 3}, {4, 5}, {5} },
    ember = function(x, w, b) return ember.linear(x:transpose(2, 3), w:t(), b) end,
    torch = "F.linear(x[0].transpose(1, 2), x[1].t(), x[2])" },
  { op = "linear", name = "weight only wants a gradient",
    inputs = { { shape = {3, 4}, grad = false }, {2, 4} },
    ember = function(x, w) return ember.linear(x, w) end, torch = "F.linear(x[0], x[1])" },

  { op = "softmax", name = "dim 2", inputs = { {3, 4} },
    ember = function(x) return x:softmax(2) end, torch = "x[0].softmax(1)" },
  { op = "softmax", name = "dim 1 of 3-D", inputs = { {3, 2, 2} },
    ember = function(x) return x:softmax(1) end, torch = "x[0].softmax(0)" },
  { op = "softmax", name = "dim -1 of a transposed view", inputs = { {4, 3} },
    ember = function(x) return x:t():softmax(-1) end, torch = "x[0].t().softmax(-1)" },
  { op = "log_softmax", name = "dim 2", inputs = { {3, 4} },
    ember = function(x) return x:log_softmax(2) end, torch = "x[0].log_softmax(1)" },
  { op = "log_softmax", name = "dim 2 of 3-D", inputs = { {2, 3, 2} },
    ember = function(x) return x:log_softmax(2) end, torch = "x[0].log_softmax(1)" },
  { op = "log_softmax", name = "dim -1 of a transposed view, large values",
    inputs = { { shape = {4, 3}, range = {50, 60} } },
    ember = function(x) return x:t():log_softmax(-1) end, torch = "x[0].t().log_softmax(-1)" },

  { op = "layer_norm", name = "last dim, weight and bias", inputs = { {3, 5}, {5}, {5} },
    ember = function(x, w, b) return ember.layer_norm(x, {5}, w, b) end,
    torch = "F.layer_norm(x[0], (5,), x[1], x[2])" },
  { op = "layer_norm", name = "last two dims of 3-D", inputs = { {2, 3, 4}, {3, 4}, {3, 4} },
    ember = function(x, w, b) return ember.layer_norm(x, {3, 4}, w, b) end,
    torch = "F.layer_norm(x[0], (3, 4), x[1], x[2])" },
  { op = "layer_norm", name = "no weight, no bias", inputs = { {3, 7} },
    ember = function(x) return ember.layer_norm(x, {7}) end, torch = "F.layer_norm(x[0], (7,))" },
  { op = "layer_norm", name = "weight only, eps 0.1", inputs = { {3, 4}, {4} },
    ember = function(x, w) return ember.layer_norm(x, {4}, w, nil, 0.1) end,
    torch = "F.layer_norm(x[0], (4,), x[1], None, 0.1)" },
  { op = "layer_norm", name = "bias only", inputs = { {3, 4}, {4} },
    ember = function(x, b) return ember.layer_norm(x, {4}, nil, b) end,
    torch = "F.layer_norm(x[0], (4,), None, x[1])" },
  { op = "layer_norm", name = "1-D input", inputs = { {6}, {6}, {6} },
    ember = function(x, w, b) return ember.layer_norm(x, {6}, w, b) end,
    torch = "F.layer_norm(x[0], (6,), x[1], x[2])" },
  { op = "layer_norm", name = "transposed view", inputs = { {4, 3}, {4}, {4} },
    ember = function(x, w, b) return ember.layer_norm(x:t(), {4}, w, b) end,
    torch = "F.layer_norm(x[0].t(), (4,), x[1], x[2])" },

  { op = "batch_norm", name = "N x C x L with weight and bias",
    inputs = { {2, 3, 4}, mean_of(3), var_of(3), {3}, {3} },
    ember = function(x, m, v, w, b) return ember.batch_norm(x, m, v, w, b) end,
    torch = "F.batch_norm(x[0], x[1], x[2], x[3], x[4], training=False)" },
  { op = "batch_norm", name = "N x C", inputs = { {4, 3}, mean_of(3), var_of(3), {3}, {3} },
    ember = function(x, m, v, w, b) return ember.batch_norm(x, m, v, w, b) end,
    torch = "F.batch_norm(x[0], x[1], x[2], x[3], x[4], training=False)" },
  { op = "batch_norm", name = "N x C x H x W, eps 0.1",
    inputs = { {2, 2, 2, 3}, mean_of(2), var_of(2), {2}, {2} },
    ember = function(x, m, v, w, b) return ember.batch_norm(x, m, v, w, b, 0.1) end,
    torch = "F.batch_norm(x[0], x[1], x[2], x[3], x[4], training=False, eps=0.1)" },
  { op = "batch_norm", name = "no weight, no bias", inputs = { {2, 3, 2}, mean_of(3), var_of(3) },
    ember = function(x, m, v) return ember.batch_norm(x, m, v) end,
    torch = "F.batch_norm(x[0], x[1], x[2], training=False)" },
  { op = "batch_norm", name = "weight and bias only (input fixed)",
    inputs = { { shape = {2, 3, 2}, grad = false }, mean_of(3), var_of(3), {3}, {3} },
    ember = function(x, m, v, w, b) return ember.batch_norm(x, m, v, w, b) end,
    torch = "F.batch_norm(x[0], x[1], x[2], x[3], x[4], training=False)" },

  -- the training form: batch statistics, one op each way (the first result, y, is what
  -- the gradient flows through; mean and var carry none)
  { op = "batch_norm_train", name = "N x C x L with weight and bias", inputs = { {3, 2, 4}, {2}, {2} },
    ember = function(x, w, b) return (ember.batch_norm_train(x, w, b)) end,
    torch = "F.batch_norm(x[0], None, None, x[1], x[2], training=True)" },
  { op = "batch_norm_train", name = "N x C", inputs = { {5, 3}, {3}, {3} },
    ember = function(x, w, b) return (ember.batch_norm_train(x, w, b)) end,
    torch = "F.batch_norm(x[0], None, None, x[1], x[2], training=True)" },
  { op = "batch_norm_train", name = "N x C x H x W, eps 0.1", inputs = { {2, 2, 3, 2}, {2}, {2} },
    ember = function(x, w, b) return (ember.batch_norm_train(x, w, b, 0.1)) end,
    torch = "F.batch_norm(x[0], None, None, x[1], x[2], training=True, eps=0.1)" },
  { op = "batch_norm_train", name = "no weight, no bias", inputs = { {4, 3, 2} },
    ember = function(x) return (ember.batch_norm_train(x)) end,
    torch = "F.batch_norm(x[0], None, None, training=True)" },
  { op = "batch_norm_train", name = "transposed view, weight only", inputs = { {3, 4}, {3} },
    ember = function(x, w) return (ember.batch_norm_train(x:t(), w)) end,
    torch = "F.batch_norm(x[0].t(), None, None, x[1], training=True)" },
  { op = "batch_norm_train", name = "weight and bias only (input fixed)",
    inputs = { { shape = {3, 2, 2}, grad = false }, {2}, {2} },
    ember = function(x, w, b) return (ember.batch_norm_train(x, w, b)) end,
    torch = "F.batch_norm(x[0], None, None, x[1], x[2], training=True)" },

  -- indices 1, 3, 5, 2, 4, 1: row 1 picked twice, its gradients add up
  { op = "embedding", name = "2-D indices, a repeated row",
    inputs = { { shape = {2, 3}, int = {1, 5} }, {5, 4} },
    ember = function(i, w) return ember.embedding(i, w) end, torch = "F.embedding(x[0] - 1, x[1])" },
  { op = "embedding", name = "1-D indices, rows left unused",
    inputs = { { shape = {3}, int = {2, 3} }, {6, 2} },
    ember = function(i, w) return ember.embedding(i, w) end, torch = "F.embedding(x[0] - 1, x[1])" },
  { op = "embedding", name = "transposed weight", inputs = { { shape = {4}, int = {1, 3} }, {2, 3} },
    ember = function(i, w) return ember.embedding(i, w:t()) end,
    torch = "F.embedding(x[0] - 1, x[1].t())" },

  -- dropout draws anew at every call; reseeding inside the function makes it the same
  -- function every time (finite differences need that), and the mask it draws is
  -- handed to torch as a second input
  { op = "dropout", name = "training, p = 0.3, zeros kept and dropped",
    inputs = { { value = with_zeros(20), grad = true }, { value = dropout_mask({4, 5}, 0.3) } },
    ember = function(x) ember.manual_seed(7) return ember.dropout(x, 0.3, true) end,
    torch = "x[0] * x[1]" },
  { op = "dropout", name = "training, p = 0.5, transposed view",
    inputs = { {3, 4}, { value = dropout_mask({4, 3}, 0.5) } },
    ember = function(x) ember.manual_seed(7) return ember.dropout(x:t(), 0.5, true) end,
    torch = "x[0].t() * x[1]" },
  { op = "dropout", name = "eval mode is the identity", inputs = { {3, 4} },
    ember = function(x) return ember.dropout(x, 0.3, false) end,
    torch = "F.dropout(x[0], 0.3, training=False)" },
  { op = "dropout", name = "p = 0 is the identity", inputs = { {3, 4} },
    ember = function(x) return ember.dropout(x, 0, true) end, torch = "F.dropout(x[0], 0.0)" },
  { op = "dropout", name = "p = 1 passes nothing", inputs = { {3, 4} },
    ember = function(x) return ember.dropout(x, 1, true) end, torch = "F.dropout(x[0], 1.0)" },
}
