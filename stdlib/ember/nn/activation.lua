-- activation.lua — ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softplus, Softmax,
-- LogSoftmax and Dropout. Each forward is one op call on a cached function.
local ember = require "ember"
local base = require "ember.nn.module"

local Module, options = base.Module, base.options
local fmt = string.format
local raise = base.raise
local relu, gelu, silu, tanh, sigmoid = ember.relu, ember.gelu, ember.silu, ember.tanh, ember.sigmoid
local softmax, log_softmax, dropout, softplus = ember.softmax, ember.log_softmax, ember.dropout, ember.softplus

local A = {}

-- ReLU(inplace=false)
local ReLU = Module:extend("ReLU")
function ReLU:init(...) self.inplace = options("ReLU", { "inplace" }, ...).inplace == true end
function ReLU:forward(x)
  if self.inplace then return x:relu_() end
  return relu(x)
end
function ReLU:extra_repr() return self.inplace and "inplace=true" or "" end
A.ReLU = ReLU

-- LeakyReLU(negative_slope=0.01)
local LeakyReLU = Module:extend("LeakyReLU")
function LeakyReLU:init(...)
  self.negative_slope = options("LeakyReLU", { "negative_slope" }, ...).negative_slope or 0.01
end
function LeakyReLU:forward(x) return ember.where(x:gt(0), x, x * self.negative_slope) end
function LeakyReLU:extra_repr() return fmt("negative_slope=%g", self.negative_slope) end
A.LeakyReLU = LeakyReLU

-- GELU(approximate="none" | "tanh")
local GELU = Module:extend("GELU")
function GELU:init(...)
  local approximate = options("GELU", { "approximate" }, ...).approximate or "none"
  if approximate ~= "none" and approximate ~= "tanh" then
    raise(fmt("GELU: approximate must be 'none' or 'tanh', got %s", tostring(approximate)))
  end
  self.approximate = approximate
end
function GELU:forward(x) return gelu(x, self.approximate) end
function GELU:extra_repr() return self.approximate == "none" and "" or "approximate='tanh'" end
A.GELU = GELU

local function simple(name, fn)
  local cls = Module:extend(name)
  function cls:init() end
  function cls:forward(x) return fn(x) end
  A[name] = cls
end
simple("SiLU", silu)
simple("Tanh", tanh)
simple("Sigmoid", sigmoid)

-- Softplus(beta=1, threshold=20)
local Softplus = Module:extend("Softplus")
function Softplus:init(...)
  local o = options("Softplus", { "beta", "threshold" }, ...)
  self.beta, self.threshold = o.beta or 1, o.threshold or 20
end
function Softplus:forward(x) return softplus(x, self.beta, self.threshold) end
function Softplus:extra_repr() return fmt("beta=%g, threshold=%g", self.beta, self.threshold) end
A.Softplus = Softplus

-- Softmax(dim), LogSoftmax(dim): dim 1-based, required
local function along(name, fn)
  local cls = Module:extend(name)
  function cls:init(...)
    local dim = options(name, { "dim" }, ...).dim
    if math.type(dim) ~= "integer" then
      raise(fmt("%s: dim (1-based) is required, got %s", name, tostring(dim)))
    end
    self.dim = dim
  end
  function cls:forward(x) return fn(x, self.dim) end
  function cls:extra_repr() return "dim=" .. self.dim end
  A[name] = cls
end
along("Softmax", softmax)
along("LogSoftmax", log_softmax)

-- Dropout(p=0.5, inplace=false): in training each element is zeroed with probability p
-- and the rest scaled by 1/(1-p); in evaluation the identity
local Dropout = Module:extend("Dropout")
function Dropout:init(...)
  local o = options("Dropout", { "p", "inplace" }, ...)
  local p = o.p
  if p == nil then p = 0.5 end
  if type(p) ~= "number" or p < 0 or p > 1 then
    raise(fmt("Dropout: probability has to be between 0 and 1, got %s", tostring(p)))
  end
  self.p, self.inplace = p, o.inplace == true
end
function Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  local y = dropout(x, self.p, true)
  if self.inplace then return x:copy_(y) end
  return y
end
function Dropout:extra_repr() return fmt("p=%g, inplace=%s", self.p, tostring(self.inplace)) end
A.Dropout = Dropout

return A
