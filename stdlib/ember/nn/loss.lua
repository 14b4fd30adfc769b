-- loss.lua — the loss modules: CrossEntropyLoss, NLLLoss, MSELoss, L1Loss,
-- SmoothL1Loss, HuberLoss, BCEWithLogitsLoss. forward(input, target) calls the
-- functional form (functional.lua has the formulas). Class targets are 1-based;
-- ignore_index defaults to -100 as in PyTorch. A class weight or pos_weight is a buffer,
-- so it is in the state dict under PyTorch's name.
local base = require "ember.nn.module"
local F = require "ember.nn.functional"

local Module, options = base.Module, base.options
local fmt = string.format
local raise = base.raise

local Lo = {}

local reductions = { mean = true, sum = true, none = true }

local function set_reduction(self, r)
  r = r or "mean"
  if not reductions[r] then
    raise(fmt("%s: reduction must be 'mean', 'sum' or 'none', got %s", self.__name, tostring(r)))
  end
  self.reduction = r
end

local function extra(self) return "reduction=" .. self.reduction end

-- CrossEntropyLoss(weight, ignore_index=-100, reduction="mean", label_smoothing=0)
local CrossEntropyLoss = Module:extend("CrossEntropyLoss")
function CrossEntropyLoss:init(...)
  local o = options("CrossEntropyLoss", { "weight", "ignore_index", "reduction", "label_smoothing" }, ...)
  self:register_buffer("weight", o.weight)
  self.ignore_index = o.ignore_index or -100
  set_reduction(self, o.reduction)
  self.label_smoothing = o.label_smoothing or 0
end
function CrossEntropyLoss:forward(input, target)
  return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)
end
function CrossEntropyLoss:extra_repr()
  local s = extra(self)
  if self.label_smoothing ~= 0 then s = s .. fmt(", label_smoothing=%g", self.label_smoothing) end
  return s
end
Lo.CrossEntropyLoss = CrossEntropyLoss

-- NLLLoss(weight, ignore_index=-100, reduction="mean"): input log-probabilities
local NLLLoss = Module:extend("NLLLoss")
function NLLLoss:init(...)
  local o = options("NLLLoss", { "weight", "ignore_index", "reduction" }, ...)
  self:register_buffer("weight", o.weight)
  self.ignore_index = o.ignore_index or -100
  set_reduction(self, o.reduction)
end
function NLLLoss:forward(input, target)
  return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)
end
NLLLoss.extra_repr = extra
Lo.NLLLoss = NLLLoss

local function pointwise(name, fn, extra_arg)
  local cls = Module:extend(name)
  local names = { "reduction", extra_arg }
  function cls:init(...)
    local o = options(name, names, ...)
    set_reduction(self, o.reduction)
    if extra_arg then self[extra_arg] = o[extra_arg] or 1 end
  end
  if extra_arg then
    function cls:forward(input, target) return fn(input, target, self.reduction, self[extra_arg]) end
    function cls:extra_repr() return fmt("reduction=%s, %s=%g", self.reduction, extra_arg, self[extra_arg]) end
  else
    function cls:forward(input, target) return fn(input, target, self.reduction) end
    cls.extra_repr = extra
  end
  Lo[name] = cls
end

-- MSELoss(reduction="mean"), L1Loss(reduction="mean"), SmoothL1Loss(reduction="mean",
-- beta=1), HuberLoss(reduction="mean", delta=1)
pointwise("MSELoss", F.mse_loss)
pointwise("L1Loss", F.l1_loss)
pointwise("SmoothL1Loss", F.smooth_l1_loss, "beta")
pointwise("HuberLoss", F.huber_loss, "delta")

-- BCEWithLogitsLoss(weight, reduction="mean", pos_weight)
local BCEWithLogitsLoss = Module:extend("BCEWithLogitsLoss")
function BCEWithLogitsLoss:init(...)
  local o = options("BCEWithLogitsLoss", { "weight", "reduction", "pos_weight" }, ...)
  self:register_buffer("weight", o.weight)
  self:register_buffer("pos_weight", o.pos_weight)
  set_reduction(self, o.reduction)
end
function BCEWithLogitsLoss:forward(input, target)
  return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
end
BCEWithLogitsLoss.extra_repr = extra
Lo.BCEWithLogitsLoss = BCEWithLogitsLoss

return Lo
