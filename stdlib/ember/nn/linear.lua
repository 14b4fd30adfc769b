-- linear.lua — Identity, Linear, Embedding, Flatten, Unflatten.
local ember = require "ember"
local base = require "ember.nn.module"
local init = require "ember.nn.initializers"
local F = require "ember.nn.functional"

local Module, Parameter, options = base.Module, base.Parameter, base.options
local fmt = string.format
local raise = base.raise
local linear, embedding, flatten = ember.linear, ember.embedding, ember.flatten

local L = {}

local function positive_int(v, who, what)
  if math.type(v) ~= "integer" or v < 0 then
    raise(fmt("%s: %s must be a non-negative integer, got %s", who, what, tostring(v)))
  end
  return v
end

-- {====== Identity

local Identity = Module:extend("Identity")
function Identity:init() end
function Identity:forward(x) return x end
L.Identity = Identity

-- }======

-- {====== Linear

-- Linear(in_features, out_features, bias=true, dtype="f32"): y = x W^T + b, weight
-- out x in, initialised as PyTorch does (U(-1/sqrt(in), 1/sqrt(in)) for both).
local Linear = Module:extend("Linear")
local linear_args = { "in_features", "out_features", "bias", "dtype" }

function Linear:init(...)
  local o = options("Linear", linear_args, ...)
  local n_in = positive_int(o.in_features, "Linear", "in_features")
  local n_out = positive_int(o.out_features, "Linear", "out_features")
  self.in_features, self.out_features = n_in, n_out
  local dtype = o.dtype or "f32"
  self.weight = Parameter(ember.empty(n_out, n_in, dtype))
  if o.bias ~= false then
    self.bias = Parameter(ember.empty(n_out, dtype))
  else
    self:register_parameter("bias", nil)
  end
  self:reset_parameters()
end

function Linear:reset_parameters() init.default_layer_(self.weight, self.bias) end

function Linear:forward(x) return linear(x, self.weight, self.bias) end

function Linear:extra_repr()
  return fmt("in_features=%d, out_features=%d, bias=%s", self.in_features, self.out_features,
             tostring(self.bias ~= nil))
end
L.Linear = Linear

-- }======

-- {====== Embedding

-- Embedding(num_embeddings, embedding_dim, padding_idx, dtype="f32"): a lookup table,
-- weight num_embeddings x embedding_dim from N(0, 1). Indices are 1-based; the row
-- padding_idx (1-based, negative from the end) starts at zero and gets no gradient.
local Embedding = Module:extend("Embedding")
local embedding_args = { "num_embeddings", "embedding_dim", "padding_idx", "dtype", "_weight", "freeze" }

function Embedding:init(...)
  local o = options("Embedding", embedding_args, ...)
  local n = positive_int(o.num_embeddings, "Embedding", "num_embeddings")
  local d = positive_int(o.embedding_dim, "Embedding", "embedding_dim")
  self.num_embeddings, self.embedding_dim = n, d
  local pidx = o.padding_idx
  if pidx ~= nil then
    if math.type(pidx) ~= "integer" or pidx == 0 or pidx > n or pidx < -n then
      raise(fmt("Embedding: padding_idx must be in 1..%d or -%d..-1, got %s", n, n, tostring(pidx)))
    end
    if pidx < 0 then pidx = n + pidx + 1 end
  end
  self.padding_idx = pidx
  if o._weight ~= nil then
    local s = o._weight:size()
    if #s ~= 2 or s[1] ~= n or s[2] ~= d then
      raise(fmt("Embedding: weight must be %dx%d, got %s", n, d, table.concat(s, "x")))
    end
    self.weight = Parameter(o._weight, not o.freeze)
  else
    self.weight = Parameter(ember.empty(n, d, o.dtype or "f32"))
    self:reset_parameters()
  end
end

function Embedding:reset_parameters()
  init.normal_(self.weight)
  if self.padding_idx ~= nil then
    ember.no_grad(function() self.weight[self.padding_idx]:fill_(0) end)
  end
end

-- Embedding.from_pretrained(weight, freeze=true, padding_idx)
function Embedding.from_pretrained(weight, freeze, padding_idx)
  if freeze == nil then freeze = true end
  return Embedding(weight:size(1), weight:size(2), padding_idx, { _weight = weight, freeze = freeze })
end

function Embedding:forward(x)
  if self.padding_idx == nil then return embedding(x, self.weight) end
  return F.embedding(x, self.weight, self.padding_idx)
end

function Embedding:extra_repr()
  local s = fmt("%d, %d", self.num_embeddings, self.embedding_dim)
  if self.padding_idx then s = s .. ", padding_idx=" .. self.padding_idx end
  return s
end
L.Embedding = Embedding

-- }======

-- {====== Flatten, Unflatten

-- Flatten(start_dim=2, end_dim=-1): merges dims start_dim..end_dim (1-based; the
-- default keeps the batch dim)
local Flatten = Module:extend("Flatten")

function Flatten:init(...)
  local o = options("Flatten", { "start_dim", "end_dim" }, ...)
  self.start_dim, self.end_dim = o.start_dim or 2, o.end_dim or -1
end

function Flatten:forward(x) return flatten(x, self.start_dim, self.end_dim) end

function Flatten:extra_repr() return fmt("start_dim=%d, end_dim=%d", self.start_dim, self.end_dim) end
L.Flatten = Flatten

-- Unflatten(dim, sizes): dim (1-based) becomes the dims sizes
local Unflatten = Module:extend("Unflatten")

function Unflatten:init(...)
  local o = options("Unflatten", { "dim", "unflattened_size" }, ...)
  if math.type(o.dim) ~= "integer" or type(o.unflattened_size) ~= "table" then
    raise("Unflatten: expected a dim and a list of sizes")
  end
  self.dim, self.unflattened_size = o.dim, o.unflattened_size
end

function Unflatten:forward(x)
  local s = x:size()
  local d = self.dim < 0 and #s + self.dim + 1 or self.dim
  local shape = {}
  for i = 1, d - 1 do shape[#shape + 1] = s[i] end
  for _, v in ipairs(self.unflattened_size) do shape[#shape + 1] = v end
  for i = d + 1, #s do shape[#shape + 1] = s[i] end
  return x:reshape(shape)
end

function Unflatten:extra_repr()
  return fmt("dim=%d, unflattened_size={%s}", self.dim, table.concat(self.unflattened_size, ", "))
end
L.Unflatten = Unflatten

-- }======

return L
