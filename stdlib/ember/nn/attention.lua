-- attention.lua — MultiheadAttention and TransformerEncoderLayer, with PyTorch's
-- parameter names (in_proj_weight, in_proj_bias, out_proj.*; self_attn.*, linear1,
-- linear2, norm1, norm2) so their state dicts load from PyTorch unchanged.
--
-- batch_first = true takes N x L x E inputs; the default, as in PyTorch, is L x N x E.
-- 2-D inputs L x E are one unbatched sequence either way. Bool masks mark with true
-- what is left out (attn_mask L x S or N*num_heads x L x S, key_padding_mask N x S);
-- float masks are added to the attention scores.
local ember = require "ember"
local base = require "ember.nn.module"
local init = require "ember.nn.initializers"
local F = require "ember.nn.functional"
local L = require "ember.nn.linear"
local Nm = require "ember.nn.norm"
local A = require "ember.nn.activation"

local Module, Parameter, options = base.Module, base.Parameter, base.options
local fmt = string.format
local raise = base.raise
local mha_forward = F.multi_head_attention_forward

local T = {}

-- {====== MultiheadAttention

-- MultiheadAttention(embed_dim, num_heads, dropout=0, bias=true, batch_first=false,
-- dtype="f32"); forward(query, key, value, key_padding_mask, need_weights=true,
-- attn_mask, average_attn_weights=true, is_causal=false) -> output, weights (nil
-- unless need_weights)
local MultiheadAttention = Module:extend("MultiheadAttention")
local mha_args = { "embed_dim", "num_heads", "dropout", "bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim",
                   "batch_first", "dtype" }

function MultiheadAttention:init(...)
  local o = options("MultiheadAttention", mha_args, ...)
  local e, h = o.embed_dim, o.num_heads
  if math.type(e) ~= "integer" or math.type(h) ~= "integer" or e < 1 or h < 1 or e % h ~= 0 then
    raise(fmt("MultiheadAttention: embed_dim %s must be divisible by num_heads %s", tostring(e), tostring(h)))
  end
  if o.add_bias_kv or o.add_zero_attn then
    raise("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
  end
  if (o.kdim ~= nil and o.kdim ~= e) or (o.vdim ~= nil and o.vdim ~= e) then
    raise("MultiheadAttention: kdim and vdim other than embed_dim are not supported")
  end
  self.embed_dim, self.num_heads, self.head_dim = e, h, e // h
  self.dropout = o.dropout or 0
  self.batch_first = o.batch_first == true
  local dtype = o.dtype or "f32"
  self.in_proj_weight = Parameter(ember.empty(3 * e, e, dtype))
  if o.bias ~= false then
    self.in_proj_bias = Parameter(ember.empty(3 * e, dtype))
  else
    self:register_parameter("in_proj_bias", nil)
  end
  self.out_proj = L.Linear(e, e, o.bias ~= false, dtype)
  self:reset_parameters()
end

function MultiheadAttention:reset_parameters()
  init.xavier_uniform_(self.in_proj_weight)
  if self.in_proj_bias ~= nil then
    init.zeros_(self.in_proj_bias)
    init.zeros_(self.out_proj.bias)
  end
end

local mha_call = { "query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
                   "average_attn_weights", "is_causal" }

function MultiheadAttention:forward(...)
  local o = options("MultiheadAttention:forward", mha_call, ...)
  return mha_forward(o.query, o.key or o.query, o.value or o.key or o.query, self.num_heads,
                     self.in_proj_weight, self.in_proj_bias, self.out_proj.weight, self.out_proj.bias, {
    batch_first = self.batch_first, key_padding_mask = o.key_padding_mask, attn_mask = o.attn_mask,
    need_weights = o.need_weights, average_attn_weights = o.average_attn_weights, is_causal = o.is_causal,
    dropout_p = self.dropout, training = self.training,
  })
end

function MultiheadAttention:extra_repr()
  return fmt("embed_dim=%d, num_heads=%d, dropout=%g, batch_first=%s", self.embed_dim, self.num_heads,
             self.dropout, tostring(self.batch_first))
end
T.MultiheadAttention = MultiheadAttention

-- }======

-- {====== TransformerEncoderLayer

-- TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
-- activation="relu" | "gelu" | a function | a Module, layer_norm_eps=1e-5,
-- batch_first=false, norm_first=false, bias=true, dtype="f32");
-- forward(src, src_mask, src_key_padding_mask, is_causal)
local TransformerEncoderLayer = Module:extend("TransformerEncoderLayer")
local tel_args = { "d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps",
                   "batch_first", "norm_first", "bias", "dtype" }

local activations = { relu = ember.relu, gelu = function(x) return ember.gelu(x, "none") end }

function TransformerEncoderLayer:init(...)
  local o = options("TransformerEncoderLayer", tel_args, ...)
  local d, ff = o.d_model, o.dim_feedforward or 2048
  local p = o.dropout
  if p == nil then p = 0.1 end
  local dtype = o.dtype or "f32"
  local bias = o.bias ~= false
  local eps = o.layer_norm_eps or 1e-5
  self.self_attn = MultiheadAttention(d, o.nhead, { dropout = p, bias = bias, batch_first = o.batch_first,
                                                    dtype = dtype })
  self.linear1 = L.Linear(d, ff, bias, dtype)
  self.dropout = A.Dropout(p)
  self.linear2 = L.Linear(ff, d, bias, dtype)
  self.norm_first = o.norm_first == true
  self.norm1 = Nm.LayerNorm(d, { eps = eps, bias = bias, dtype = dtype })
  self.norm2 = Nm.LayerNorm(d, { eps = eps, bias = bias, dtype = dtype })
  self.dropout1 = A.Dropout(p)
  self.dropout2 = A.Dropout(p)
  local act = o.activation or "relu"
  if type(act) == "string" then
    local fn = activations[act]
    if fn == nil then
      raise(fmt("TransformerEncoderLayer: activation should be relu or gelu, not %s", act))
    end
    self.activation_name, self.activation = act, fn
  elseif base.is_module(act) or type(act) == "function" then
    self.activation = act
  else
    raise(fmt("TransformerEncoderLayer: activation must be a name, a function or a Module, got %s", type(act)))
  end
end

function TransformerEncoderLayer:_sa_block(x, attn_mask, key_padding_mask, is_causal)
  local y = self.self_attn(x, x, x, { attn_mask = attn_mask, key_padding_mask = key_padding_mask,
                                      need_weights = false, is_causal = is_causal })
  return self.dropout1(y)
end

function TransformerEncoderLayer:_ff_block(x)
  return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
end

local tel_call = { "src", "src_mask", "src_key_padding_mask", "is_causal" }

function TransformerEncoderLayer:forward(...)
  local o = options("TransformerEncoderLayer:forward", tel_call, ...)
  local x = o.src
  if self.norm_first then
    x = x + self:_sa_block(self.norm1(x), o.src_mask, o.src_key_padding_mask, o.is_causal)
    x = x + self:_ff_block(self.norm2(x))
  else
    x = self.norm1(x + self:_sa_block(x, o.src_mask, o.src_key_padding_mask, o.is_causal))
    x = self.norm2(x + self:_ff_block(x))
  end
  return x
end
T.TransformerEncoderLayer = TransformerEncoderLayer

-- }======

return T
