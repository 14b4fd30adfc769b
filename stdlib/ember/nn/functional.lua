-- functional.lua — nn.functional: the stateless forms of the layers and losses.
--
--   local F = require "ember.nn.functional"
--   local loss = F.cross_entropy(F.linear(x, w, b), target)
--
-- Arguments follow PyTorch's order and meaning with Lua's conventions: dims are 1-based
-- (negative ones count from the end), class indices and embedding indices are 1-based,
-- and an argument left nil takes PyTorch's default. Everything here is built from ops
-- of the op table, so autograd differentiates it. Images are N x C x H x W.
local ember = require "ember"

local F = {}

local fmt = string.format
local raise = require("ember.nn.module").raise
local sqrt = math.sqrt
local is_tensor = ember.is_tensor
local linear, conv2d, conv_transpose2d = ember.linear, ember.conv2d, ember.conv_transpose2d
local embedding, where = ember.embedding, ember.where

local function pair(v, who, what)
  if type(v) == "number" then return v, v end
  if type(v) == "table" and #v == 2 then return v[1], v[2] end
  raise(fmt("%s: %s must be a number or a pair {h, w}, got %s", who, what, tostring(v)))
end

local function check_tensor(t, who, what)
  if not is_tensor(t) then raise(fmt("%s: %s must be a tensor, got %s", who, what, type(t))) end
end

local function shape_str(t) return #t:size() == 0 and "[]" or table.concat(t:size(), "x") end

-- {====== activations

F.relu = function(x, inplace)
  if inplace then return x:relu_() end
  return ember.relu(x)
end

function F.gelu(x, approximate) return ember.gelu(x, approximate or "none") end
F.silu = ember.silu
F.sigmoid = ember.sigmoid
F.tanh = ember.tanh
F.softplus = ember.softplus

local function dim_required(dim, who)
  if dim == nil then raise(who .. ": dim is required (1-based)") end
end

-- softmax(x, dim, dtype): dtype converts x first
function F.softmax(x, dim, dtype)
  dim_required(dim, "softmax")
  if dtype then x = x:to(dtype) end
  return ember.softmax(x, dim)
end

function F.log_softmax(x, dim, dtype)
  dim_required(dim, "log_softmax")
  if dtype then x = x:to(dtype) end
  return ember.log_softmax(x, dim)
end

-- dropout(x, p=0.5, training=true)
function F.dropout(x, p, training)
  if p == nil then p = 0.5 end
  if type(p) ~= "number" or p < 0 or p > 1 then
    raise(fmt("dropout: probability has to be between 0 and 1, got %s", tostring(p)))
  end
  if training == nil then training = true end
  if not training or p == 0 then return x end
  return ember.dropout(x, p, true)
end

-- }======

-- {====== linear and convolutions

F.linear = linear

-- circular padding of the last two dims by {left, right, top, bottom}
local function circular_pad(x, pads)
  local function wrap(t, dim, before, after)
    local n = t:size(dim)
    if before > n or after > n then
      raise(fmt("pad: circular padding %d, %d is larger than the dim of size %d", before, after, n))
    end
    local parts = {}
    if before > 0 then parts[#parts + 1] = t:narrow(dim, n - before + 1, before) end
    parts[#parts + 1] = t
    if after > 0 then parts[#parts + 1] = t:narrow(dim, 1, after) end
    return #parts == 1 and t or ember.cat(parts, dim)
  end
  local nd = x:dim()
  x = wrap(x, nd, pads[1] or 0, pads[2] or 0)
  if pads[3] then x = wrap(x, nd - 1, pads[3], pads[4] or 0) end
  return x
end

-- pad(x, {left, right, top, bottom, ...}, mode="constant", value=0); mode also
-- "reflect", "replicate" or "circular"
function F.pad(x, pads, mode, value)
  if mode == "circular" then return circular_pad(x, pads) end
  return ember.pad(x, pads, mode, value)
end

-- Padding for padding="same" (stride 1): total d*(k-1) per dim, the odd one on the
-- right/bottom as PyTorch puts it. Returns the symmetric padding {ph, pw} for the
-- convolution, or nil and the explicit pads {left, right, top, bottom}.
function F._same_padding(weight, dilation, who)
  local dh, dw = pair(dilation or 1, who, "dilation")
  local th, tw = dh * (weight:size(3) - 1), dw * (weight:size(4) - 1)
  local ph, pw = th // 2, tw // 2
  if th % 2 == 0 and tw % 2 == 0 then return { ph, pw } end
  return nil, { pw, tw - pw, ph, th - ph }
end

-- conv2d(input, weight, bias, stride=1, padding=0, dilation=1, groups=1); padding may
-- be "valid" (none) or "same" (output as large as the input; stride 1 only)
function F.conv2d(input, weight, bias, stride, padding, dilation, groups)
  if type(padding) == "string" then
    if padding == "valid" then
      padding = 0
    elseif padding == "same" then
      local sh, sw = pair(stride or 1, "conv2d", "stride")
      if sh ~= 1 or sw ~= 1 then raise("conv2d: padding='same' is not supported for strided convolutions") end
      local pads
      padding, pads = F._same_padding(weight, dilation, "conv2d")
      if pads then
        input = ember.pad(input, pads)
        padding = 0
      end
    else
      raise(fmt("conv2d: padding must be a number, a pair, 'same' or 'valid', got '%s'", padding))
    end
  end
  return conv2d(input, weight, bias, stride or 1, padding or 0, dilation or 1, groups or 1)
end

-- conv_transpose2d(input, weight (in x out/groups x kh x kw), bias, stride=1, padding=0,
-- output_padding=0, groups=1, dilation=1)
function F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
  return conv_transpose2d(input, weight, bias, stride or 1, padding or 0, output_padding or 0,
                          groups or 1, dilation or 1)
end

-- }======

-- {====== normalisation

-- a C vector shaped to broadcast along dim 2 of an nd-dim input
local function channel_view(t, nd)
  if nd <= 2 then return t end
  if nd == 3 then return t:view(-1, 1) end
  if nd == 4 then return t:view(-1, 1, 1) end
  local shape = { -1 }
  for k = 3, nd do shape[k - 1] = 1 end
  return t:view(shape)
end
F._channel_view = channel_view

-- batch_norm(input, running_mean, running_var, weight, bias, training=false,
-- momentum=0.1, eps=1e-5). Training normalises with the batch's mean and biased
-- variance over every dim but 2, and moves the running statistics (when given) toward
-- the batch's mean and unbiased variance by momentum; otherwise the running statistics
-- normalise.
function F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
  check_tensor(input, "batch_norm", "input")
  eps = eps or 1e-5
  if not training then
    if running_mean == nil or running_var == nil then
      raise("batch_norm: evaluation needs running_mean and running_var (or training = true)")
    end
    return ember.batch_norm(input, running_mean, running_var, weight, bias, eps)
  end
  local nd = input:dim()
  if nd < 2 then raise(fmt("batch_norm: expected an input N x C x ..., got %s", shape_str(input))) end
  local c = input:size(2)
  local n = c > 0 and input:numel() // c or 0
  if n <= 1 then
    raise(fmt("batch_norm: expected more than 1 value per channel when training, got input of size %s",
              shape_str(input)))
  end
  -- one op each way (batch_norm_train and its backward kernel); the batch mean and
  -- biased variance it returns carry no gradient, so the updates record nothing
  local y, mean, var = ember.batch_norm_train(input, weight, bias, eps)
  if momentum == nil then momentum = 0.1 end
  if running_mean ~= nil then
    running_mean:mul_(1 - momentum):add_(mean * momentum)
  end
  if running_var ~= nil then
    running_var:mul_(1 - momentum):add_(var * (momentum * n / (n - 1)))
  end
  return y
end

-- layer_norm(input, normalized_shape, weight, bias, eps=1e-5): over the last dims
function F.layer_norm(input, normalized_shape, weight, bias, eps)
  return ember.layer_norm(input, normalized_shape, weight, bias, eps or 1e-5)
end

-- group_norm(input N x C x ..., num_groups, weight C, bias C, eps=1e-5): each group of
-- C/num_groups channels normalised over its channels and positions (biased variance)
function F.group_norm(input, num_groups, weight, bias, eps)
  check_tensor(input, "group_norm", "input")
  local size = input:size()
  if #size < 2 then raise(fmt("group_norm: expected an input N x C x ..., got %s", shape_str(input))) end
  local c = size[2]
  if math.type(num_groups) ~= "integer" or num_groups < 1 or c % num_groups ~= 0 then
    raise(fmt("group_norm: %d channels do not split into %s groups", c, tostring(num_groups)))
  end
  local x = input:reshape(size[1], num_groups, -1)
  local mean = x:mean(3, true)
  local xc = x - mean
  local var = (xc * xc):mean(3, true)
  local y = (xc * (var + (eps or 1e-5)):rsqrt()):view(size)
  if weight ~= nil then y = y * channel_view(weight, #size) end
  if bias ~= nil then y = y + channel_view(bias, #size) end
  return y
end

-- }======

-- {====== embedding and pooling

-- embedding(indices, weight, padding_idx): rows of weight at the (1-based) indices; the
-- row padding_idx gets no gradient (negative padding_idx counts from the end)
function F.embedding(input, weight, padding_idx)
  if padding_idx ~= nil then
    if padding_idx < 0 then padding_idx = weight:size(1) + padding_idx + 1 end
    if weight.requires_grad and ember.is_grad_enabled() then
      local pad = input:eq(padding_idx):unsqueeze(-1)
      return where(pad, embedding(input, weight:detach()), embedding(input, weight))
    end
  end
  return embedding(input, weight)
end

-- max_pool2d(input, kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=false)
function F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
  if return_indices then raise("max_pool2d: return_indices is not supported") end
  return ember.max_pool2d(input, kernel_size, stride or kernel_size, padding or 0, dilation or 1,
                          ceil_mode or false)
end

-- avg_pool2d(input, kernel_size, stride=kernel_size, padding=0, ceil_mode=false,
-- count_include_pad=true, divisor_override)
function F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
  if count_include_pad == nil then count_include_pad = true end
  return ember.avg_pool2d(input, kernel_size, stride or kernel_size, padding or 0, ceil_mode or false,
                          count_include_pad, divisor_override)
end

F.adaptive_avg_pool2d = ember.adaptive_avg_pool2d
F.flatten = ember.flatten
F.one_hot = ember.one_hot

-- }======

-- {====== losses

local function reduce(loss, reduction, who)
  if reduction == nil or reduction == "mean" then return loss:mean() end
  if reduction == "sum" then return loss:sum() end
  if reduction == "none" then return loss end
  raise(fmt("%s: reduction must be 'mean', 'sum' or 'none', got %s", who, tostring(reduction)))
end

local function check_reduction(reduction, who)
  if reduction ~= nil and reduction ~= "mean" and reduction ~= "sum" and reduction ~= "none" then
    raise(fmt("%s: reduction must be 'mean', 'sum' or 'none', got %s", who, tostring(reduction)))
  end
end

local function same_shape(a, b)
  local x, y = a:size(), b:size()
  if #x ~= #y then return false end
  for i = 1, #x do if x[i] ~= y[i] then return false end end
  return true
end

-- Checks a class-index target against log-probabilities N x C x d1 ... (or C): the
-- target is N x d1 ... (or 0-dim) of integers.
local integer_dtypes = { i8 = true, i16 = true, i32 = true, i64 = true, u8 = true }
local function check_class_target(input, target, who)
  if not integer_dtypes[target:dtype()] then
    raise(fmt("%s: class targets must be integers (1-based), got %s", who, target:dtype()))
  end
  local is, ts = input:size(), target:size()
  local ok = #ts == #is - 1
  if ok then
    local cd = #is == 1 and 1 or 2
    local j = 1
    for i = 1, #is do
      if i ~= cd then
        ok = ok and ts[j] == is[i]
        j = j + 1
      end
    end
  end
  if not ok then
    raise(fmt("%s: input %s needs a target of its shape without the class dim, got %s", who,
              shape_str(input), shape_str(target)))
  end
end

-- The per-element negative log-likelihood of class-index targets and what the mean
-- divides by. Returns loss (target's shape, ignored elements 0), the per-element
-- weights (nil when all are 1), the ignore mask (nil when nothing is ignored) and the
-- index tensor with ignored entries replaced by 1.
local function nll_elements(logp, target, weight, ignore_index, who)
  check_class_target(logp, target, who)
  local cd = logp:dim() == 1 and 1 or 2
  local ignore = target:eq(ignore_index)
  if ignore:any():item() then
    target = where(ignore, 1, target)
  else
    ignore = nil
  end
  local loss = logp:gather(cd, target:unsqueeze(cd)):squeeze(cd):neg()
  local w
  if weight ~= nil then
    w = weight:index_select(1, target:reshape(-1)):view(target:size())
    if ignore then w = w:masked_fill(ignore, 0) end
  elseif ignore then
    w = ignore:logical_not():to(logp:dtype())
  end
  if w ~= nil then loss = loss * w end
  return loss, w, ignore, target
end

-- The common case in one gather: input N x C, target N of classes, no weight, an
-- ignore_index that is no class (< 1), reduction mean or sum. A target equal to
-- ignore_index fails the gather (its index is out of range), and then the general
-- path runs. Returns nil when the case does not apply.
local pgather = ember.Tensor.gather
local function nll_fast(logp, target, weight, ignore_index, reduction)
  if weight ~= nil or ignore_index >= 1 or (reduction ~= nil and reduction ~= "mean" and reduction ~= "sum")
     or logp:dim() ~= 2 or target:dim() ~= 1 or target:size(1) ~= logp:size(1)
     or not integer_dtypes[target:dtype()] then
    return nil
  end
  local ok, picked = pcall(pgather, logp, 2, target:unsqueeze(2))
  if not ok then return nil end
  if reduction == "sum" then return picked:sum():neg() end
  return picked:mean():neg()
end

local function reduce_weighted(loss, w, reduction, who)
  if reduction == nil or reduction == "mean" then
    if w == nil then return loss:mean() end
    return loss:sum() / w:sum()
  end
  return reduce(loss, reduction, who)
end

-- nll_loss(log_probs N x C (x d1 ...) or C, target class indices 1..C, weight C,
-- ignore_index=-100, reduction="mean"); the mean divides by the summed weights of the
-- elements not ignored
function F.nll_loss(input, target, weight, ignore_index, reduction)
  check_tensor(input, "nll_loss", "input")
  check_tensor(target, "nll_loss", "target")
  check_reduction(reduction, "nll_loss")
  local fast = nll_fast(input, target, weight, ignore_index or -100, reduction)
  if fast then return fast end
  local loss, w = nll_elements(input, target, weight, ignore_index or -100, "nll_loss")
  return reduce_weighted(loss, w, reduction, "nll_loss")
end

-- cross_entropy(input logits N x C (x d1 ...) or C, target, weight C, ignore_index=-100,
-- reduction="mean", label_smoothing=0). target: class indices 1..C (integers, input's
-- shape without dim 2), or class probabilities (floats, input's shape).
function F.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
  check_tensor(input, "cross_entropy", "input")
  check_tensor(target, "cross_entropy", "target")
  check_reduction(reduction, "cross_entropy")
  local eps = label_smoothing or 0
  if type(eps) ~= "number" or eps < 0 or eps > 1 then
    raise(fmt("cross_entropy: label_smoothing must be in [0, 1], got %s", tostring(label_smoothing)))
  end
  local cd = input:dim() == 1 and 1 or 2
  if not target:is_floating_point() then
    -- class indices: one fused op (log_softmax, the pick, weights, smoothing, reduction)
    local ok, r = pcall(ember.cross_entropy, input, target, weight, ignore_index or -100,
                        reduction or "mean", eps)
    if not ok then raise((tostring(r):gsub("^[^\n]-%.lua:%d+: ", ""))) end
    return r
  end
  local logp = ember.log_softmax(input, cd)
  local c = input:size(cd)
  local wview = weight ~= nil and (cd == 1 and weight or channel_view(weight, input:dim())) or nil
  if not same_shape(input, target) then
    raise(fmt("cross_entropy: probability targets must have the input's shape %s, got %s",
              shape_str(input), shape_str(target)))
  end
  if eps > 0 then target = target * (1 - eps) + eps / c end
  local prod = logp * target
  if wview ~= nil then prod = prod * wview end
  local loss = prod:sum(cd):neg()
  if reduction == nil or reduction == "mean" then
    return loss:sum() / (input:numel() // c)
  end
  return reduce(loss, reduction, "cross_entropy")
end

-- mse_loss(input, target, reduction="mean"); shapes broadcast
function F.mse_loss(input, target, reduction)
  check_reduction(reduction, "mse_loss")
  local d = input - target
  return reduce(d * d, reduction, "mse_loss")
end

function F.l1_loss(input, target, reduction)
  check_reduction(reduction, "l1_loss")
  return reduce((input - target):abs(), reduction, "l1_loss")
end

-- smooth_l1_loss(input, target, reduction="mean", beta=1): 0.5 d^2 / beta where
-- |d| < beta, else |d| - beta / 2; beta = 0 is the L1 loss
function F.smooth_l1_loss(input, target, reduction, beta)
  check_reduction(reduction, "smooth_l1_loss")
  beta = beta or 1
  if beta < 0 then raise(fmt("smooth_l1_loss: beta must be >= 0, got %g", beta)) end
  local d = (input - target):abs()
  if beta == 0 then return reduce(d, reduction, "smooth_l1_loss") end
  local loss = where(d:lt(beta), d * d * (0.5 / beta), d - 0.5 * beta)
  return reduce(loss, reduction, "smooth_l1_loss")
end

-- huber_loss(input, target, reduction="mean", delta=1): 0.5 d^2 where |d| < delta,
-- else delta * (|d| - delta / 2)
function F.huber_loss(input, target, reduction, delta)
  check_reduction(reduction, "huber_loss")
  delta = delta or 1
  local d = (input - target):abs()
  local loss = where(d:lt(delta), d * d * 0.5, (d - 0.5 * delta) * delta)
  return reduce(loss, reduction, "huber_loss")
end

-- binary_cross_entropy_with_logits(input, target, weight, reduction="mean", pos_weight):
-- (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), with softplus stable for any x
function F.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)
  check_tensor(input, "binary_cross_entropy_with_logits", "input")
  check_tensor(target, "binary_cross_entropy_with_logits", "target")
  check_reduction(reduction, "binary_cross_entropy_with_logits")
  if not same_shape(input, target) then
    raise(fmt("binary_cross_entropy_with_logits: target size %s must be the input size %s",
              shape_str(target), shape_str(input)))
  end
  local sp = ember.softplus(input:neg())
  local loss
  if pos_weight ~= nil then
    loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * sp
  else
    loss = (1 - target) * input + sp
  end
  if weight ~= nil then loss = loss * weight end
  return reduce(loss, reduction, "binary_cross_entropy_with_logits")
end

-- }======

-- {====== attention

local neg_inf = -math.huge

-- scaled_dot_product_attention(q ... x L x E, k ... x S x E, v ... x S x Ev, attn_mask,
-- dropout_p=0, is_causal=false, scale=1/sqrt(E)) -> ... x L x Ev, and the weights.
-- A bool attn_mask marks the pairs that take part (true = attend); a float one is added
-- to the scores.
function F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale)
  local l, s = q:size(-2), k:size(-2)
  local scores = q:matmul(k:transpose(-2, -1)) * (scale or 1 / sqrt(q:size(-1)))
  if is_causal then
    scores = scores:masked_fill(ember.ones(l, s):triu(1):gt(0), neg_inf)
  end
  if attn_mask ~= nil then
    if attn_mask:dtype() == "bool" then scores = scores:masked_fill(attn_mask:logical_not(), neg_inf)
    else scores = scores + attn_mask end
  end
  local attn = scores:softmax(-1)
  if dropout_p and dropout_p > 0 then attn = ember.dropout(attn, dropout_p, true) end
  return attn:matmul(v), attn
end

-- A mask for MHA: bool (true = leave out) becomes -inf where true; float is added.
local function apply_mask(scores, mask)
  if mask:dtype() == "bool" then return scores:masked_fill(mask, neg_inf) end
  return scores + mask
end

-- multi_head_attention_forward(query, key, value, num_heads, in_proj_weight 3E x E,
-- in_proj_bias 3E, out_proj_weight E x E, out_proj_bias E, opts) -> output, weights.
-- opts: batch_first (inputs N x L x E, else L x N x E; 2-D inputs L x E are unbatched),
-- key_padding_mask N x S, attn_mask L x S or N*num_heads x L x S (bool: true = leave
-- out; float: added), need_weights=true, average_attn_weights=true, is_causal (a causal
-- mask when no attn_mask is given), dropout_p=0, training=true.
-- The weights are N x L x S (averaged over heads) or N x num_heads x L x S; nil
-- unless need_weights.
function F.multi_head_attention_forward(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                                        out_proj_weight, out_proj_bias, opts)
  opts = opts or {}
  local who = "multi_head_attention_forward"
  check_tensor(query, who, "query")
  local self_attn = rawequal(query, key) and rawequal(key, value)
  local kv_same = rawequal(key, value)
  local unbatched = query:dim() == 2
  local key_padding_mask, attn_mask = opts.key_padding_mask, opts.attn_mask
  if unbatched then
    query, key, value = query:unsqueeze(1), key:unsqueeze(1), value:unsqueeze(1)
    if key_padding_mask ~= nil then key_padding_mask = key_padding_mask:unsqueeze(1) end
  elseif not opts.batch_first then
    query, key, value = query:transpose(1, 2), key:transpose(1, 2), value:transpose(1, 2)
  end
  if query:dim() ~= 3 or key:dim() ~= 3 or value:dim() ~= 3 then
    raise(fmt("%s: query, key and value must all be 3-D (or all 2-D), got %s, %s, %s", who,
              shape_str(query), shape_str(key), shape_str(value)))
  end
  local n, l, e = query:size(1), query:size(2), query:size(3)
  local s = key:size(2)
  if key:size(1) ~= n or value:size(1) ~= n or value:size(2) ~= s then
    raise(fmt("%s: key %s and value %s do not match query %s", who, shape_str(key), shape_str(value),
              shape_str(query)))
  end
  local h = num_heads
  if e % h ~= 0 then raise(fmt("%s: embed_dim %d is not divisible by num_heads %d", who, e, h)) end
  local hd = e // h
  local q, k, v
  if self_attn then
    q, k, v = table.unpack(linear(query, in_proj_weight, in_proj_bias):chunk(3, -1))
  else
    local function part(i, len)
      return in_proj_weight:narrow(1, i, len), in_proj_bias and in_proj_bias:narrow(1, i, len)
    end
    local wq, bq = part(1, e)
    q = linear(query, wq, bq)
    if kv_same then
      local wkv, bkv = part(e + 1, 2 * e)
      k, v = table.unpack(linear(key, wkv, bkv):chunk(2, -1))
    else
      local wk, bk = part(e + 1, e)
      local wv, bv = part(2 * e + 1, e)
      k, v = linear(key, wk, bk), linear(value, wv, bv)
    end
  end
  -- heads: N x L x E -> N x H x L x hd
  q = q:reshape(n, l, h, hd):transpose(2, 3)
  k = k:reshape(n, s, h, hd):transpose(2, 3)
  v = v:reshape(n, s, h, hd):transpose(2, 3)
  local scores = (q * (1 / sqrt(hd))):matmul(k:transpose(3, 4))
  if attn_mask ~= nil then
    if attn_mask:dim() == 3 then attn_mask = attn_mask:reshape(n, h, l, s) end
    scores = apply_mask(scores, attn_mask)
  elseif opts.is_causal then
    scores = scores:masked_fill(ember.ones(l, s):triu(1):gt(0), neg_inf)
  end
  if key_padding_mask ~= nil then
    scores = apply_mask(scores, key_padding_mask:reshape(n, 1, 1, s))
  end
  local attn = scores:softmax(-1)
  local p = opts.dropout_p or 0
  if p > 0 and opts.training ~= false then attn = ember.dropout(attn, p, true) end
  local out = attn:matmul(v):transpose(2, 3):reshape(n, l, e)
  out = linear(out, out_proj_weight, out_proj_bias)
  local weights
  if opts.need_weights ~= false then
    weights = opts.average_attn_weights == false and attn or attn:mean(2)
    if unbatched then weights = weights:squeeze(1) end
  end
  if unbatched then out = out:squeeze(1)
  elseif not opts.batch_first then out = out:transpose(1, 2) end
  return out, weights
end

-- }======

return F
