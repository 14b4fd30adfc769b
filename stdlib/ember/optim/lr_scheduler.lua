-- lr_scheduler.lua — learning-rate schedules that set opt.param_groups[i].lr, with
-- PyTorch's semantics and arithmetic step for step, so a schedule gives torch's
-- learning rates to the last bit.
--
--   local sched = optim.StepLR(opt, {step_size = 30, gamma = 0.1})   -- or (opt, 30, 0.1)
--   for epoch = 1, 100 do train(); sched:step() end
--
-- Construction makes the first step (last_epoch 0), as torch does; each sched:step()
-- advances last_epoch by one and writes the new rates into the groups. Most schedules
-- are chained: the next rate comes from the group's current one, so another scheduler
-- or the user may change it in between. sched:step(epoch) jumps to an epoch through a
-- closed form where there is one (SequentialLR uses it at a milestone).
-- state_dict() holds only plain data (numbers, strings, booleans, lists), so it goes
-- into a checkpoint's JSON metadata unchanged.
local Scheduler = {}
Scheduler.__index = Scheduler

local required = setmetatable({}, { __tostring = function() return "<required>" end })

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

local function has_string_key(t)
  for k in pairs(t) do
    if type(k) == "string" then return true end
  end
  return false
end

-- Arguments come as one options table or positionally in torch's order.
local function parse(C, ...)
  local name, names, defaults = C.__name, C._args, C._defaults
  local n = select("#", ...)
  local opts = {}
  local first = ...
  if n == 1 and type(first) == "table" and getmetatable(first) == nil and
     (has_string_key(first) or next(first) == nil) then
    for k, v in pairs(first) do
      if defaults[k] == nil then error(string.format("%s: unknown option %q", name, tostring(k)), 3) end
      opts[k] = v
    end
  else
    if n > #names then error(string.format("%s: too many arguments (%d; it takes %s)", name, n,
                                           table.concat(names, ", ")), 3) end
    for i = 1, n do opts[names[i]] = (select(i, ...)) end
  end
  for k, v in pairs(defaults) do
    if opts[k] == nil then
      if v == required then error(string.format("%s: option %s is required", name, k), 3) end
      opts[k] = copy(v)
    end
  end
  return opts
end

-- A scheduler class: names is the positional order of its options, defaults their
-- defaults (`required` for none), init(self, opts) sets it up.
local function class(name, names, defaults, init)
  local C = {}
  C.__index = C
  C.__name = name
  C._args = names
  C._defaults = defaults
  C.__tostring = Scheduler.__tostring
  return setmetatable(C, {
    __index = Scheduler,
    __call = function(_, optimizer, ...)
      if type(optimizer) ~= "table" or type(optimizer.param_groups) ~= "table" then
        error(string.format("%s: the first argument must be an optimizer, got %s", name, type(optimizer)), 2)
      end
      local opts = parse(C, ...)
      local self = setmetatable({ optimizer = optimizer }, C)
      local ok, err = pcall(init, self, opts)
      if not ok then error((tostring(err):gsub("^[^\n]-lr_scheduler%.lua:%d+: ", "")), 2) end
      return self
    end,
  })
end

local function fail(self, fmt, ...)
  error(self.__name .. ": " .. string.format(fmt, ...), 0)
end

local function check_number(self, opts, key, lo, hi)
  local v = opts[key]
  if type(v) ~= "number" or v ~= v or (lo and v < lo) or (hi and v > hi) then
    fail(self, "invalid %s %s%s", key, tostring(v),
         lo and hi and string.format(" (must be in [%g, %g])", lo, hi) or lo and string.format(" (must be >= %g)", lo) or "")
  end
  return v
end

local function check_count(self, opts, key, lo)
  local v = opts[key]
  if math.type(v) ~= "integer" or v < lo then
    fail(self, "%s must be an integer >= %d, got %s", key, lo, tostring(v))
  end
  return v
end

-- {====== the common part

-- The base setup every schedule but SequentialLR shares: base rates from each group's
-- initial_lr (set from lr on a fresh start), then the first step.
function Scheduler:_setup(last_epoch)
  if math.type(last_epoch) ~= "integer" or last_epoch < -1 then
    fail(self, "last_epoch must be an integer >= -1, got %s", tostring(last_epoch))
  end
  local groups = self.optimizer.param_groups
  local base = {}
  for i, g in ipairs(groups) do
    if last_epoch == -1 then
      if g.initial_lr == nil then g.initial_lr = g.lr end
    elseif g.initial_lr == nil then
      fail(self, "param_groups[%d] has no initial_lr to resume from (last_epoch %d)", i, last_epoch)
    end
    base[i] = g.initial_lr
  end
  self.base_lrs = base
  self.last_epoch = last_epoch
  self:_initial_step()
end

function Scheduler:_initial_step()
  self._step_count = 0
  self:step()
end

-- sched:step([epoch]): the next epoch's rates, or those of `epoch` by the closed form.
function Scheduler:step(epoch)
  self._step_count = self._step_count + 1
  local values
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    values = self:get_lr()
  else
    self.last_epoch = epoch
    values = self.closed_form and self:closed_form() or self:get_lr()
  end
  local groups = self.optimizer.param_groups
  for i, g in ipairs(groups) do g.lr = values[i] end
  self._last_lr = values
end

-- sched:get_last_lr(): the rates the last step set, one per group.
function Scheduler:get_last_lr()
  return self._last_lr
end

-- The groups' current rates times factor, or as they are when factor is nil.
local function scaled(self, factor)
  local out = {}
  for i, g in ipairs(self.optimizer.param_groups) do out[i] = factor and g.lr * factor or g.lr end
  return out
end

local skip = { optimizer = true, _schedulers = true, lr_lambdas = true }

-- sched:state_dict(): every field but the optimizer and functions, copied.
function Scheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if not skip[k] and type(v) ~= "function" then sd[k] = copy(v) end
  end
  if self._schedulers then
    local subs = {}
    for i, s in ipairs(self._schedulers) do subs[i] = s:state_dict() end
    sd._schedulers = subs
  end
  return sd
end

function Scheduler:load_state_dict(sd)
  local name = self.__name
  if type(sd) ~= "table" then
    error(string.format("%s: load_state_dict expects a table, got %s", name, type(sd)), 2)
  end
  local unexpected = {}
  for k in pairs(sd) do
    if skip[k] == nil and (self[k] == nil or type(self[k]) == "function") then
      unexpected[#unexpected + 1] = string.format("%q", tostring(k))
    end
  end
  if #unexpected > 0 then
    table.sort(unexpected)
    error(string.format("%s: load_state_dict: unexpected keys %s (a state of another scheduler?)", name,
                        table.concat(unexpected, ", ")), 2)
  end
  if self._schedulers then
    local subs = sd._schedulers
    if type(subs) ~= "table" or #subs ~= #self._schedulers then
      error(string.format("%s: load_state_dict: the state has %s schedulers, this one %d", name,
                          type(subs) == "table" and tostring(#subs) or "no", #self._schedulers), 2)
    end
    for i, s in ipairs(self._schedulers) do s:load_state_dict(subs[i]) end
  end
  for k, v in pairs(sd) do
    if not skip[k] then self[k] = copy(v) end
  end
end

function Scheduler:__tostring()
  local lr = {}
  for i, v in ipairs(self._last_lr or {}) do lr[i] = string.format("%.6g", v) end
  return string.format("%s (last_epoch %d, lr {%s})", self.__name, self.last_epoch, table.concat(lr, ", "))
end

-- }======

local M = {}

M.StepLR = class("StepLR", { "step_size", "gamma", "last_epoch" },
  { step_size = required, gamma = 0.1, last_epoch = -1 },
  function(self, o)
    self.step_size = check_count(self, o, "step_size", 1)
    self.gamma = check_number(self, o, "gamma", 0)
    self:_setup(o.last_epoch)
  end)

function M.StepLR:get_lr()
  if self.last_epoch == 0 or self.last_epoch % self.step_size ~= 0 then return scaled(self) end
  return scaled(self, self.gamma)
end

function M.StepLR:closed_form()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ (self.last_epoch // self.step_size) end
  return out
end

M.MultiStepLR = class("MultiStepLR", { "milestones", "gamma", "last_epoch" },
  { milestones = required, gamma = 0.1, last_epoch = -1 },
  function(self, o)
    if type(o.milestones) ~= "table" then fail(self, "milestones must be a list of epochs") end
    local m = {}
    for i, e in ipairs(o.milestones) do
      if math.type(e) ~= "integer" then fail(self, "milestone %d is %s, not an integer", i, tostring(e)) end
      m[i] = e
    end
    table.sort(m)
    self.milestones = m
    self.gamma = check_number(self, o, "gamma", 0)
    self:_setup(o.last_epoch)
  end)

function M.MultiStepLR:get_lr()
  local hits = 0
  for _, e in ipairs(self.milestones) do if e == self.last_epoch then hits = hits + 1 end end
  if hits == 0 then return scaled(self) end
  return scaled(self, self.gamma ^ hits)
end

function M.MultiStepLR:closed_form()
  local passed = 0          -- milestones at or before last_epoch
  for _, e in ipairs(self.milestones) do if e <= self.last_epoch then passed = passed + 1 end end
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ passed end
  return out
end

M.ConstantLR = class("ConstantLR", { "factor", "total_iters", "last_epoch" },
  { factor = 1.0 / 3, total_iters = 5, last_epoch = -1 },
  function(self, o)
    self.factor = check_number(self, o, "factor", 0, 1)
    self.total_iters = check_count(self, o, "total_iters", 0)
    self:_setup(o.last_epoch)
  end)

function M.ConstantLR:get_lr()
  if self.last_epoch == 0 then return scaled(self, self.factor) end
  if self.last_epoch ~= self.total_iters then return scaled(self) end
  return scaled(self, 1.0 / self.factor)
end

function M.ConstantLR:closed_form()
  local out = {}
  local f = self.factor + (self.last_epoch >= self.total_iters and (1 - self.factor) or 0.0)
  for i, b in ipairs(self.base_lrs) do out[i] = b * f end
  return out
end

-- LinearLR: the factor goes linearly from start_factor to end_factor over
-- total_iters steps; start_factor < 1 with end_factor 1 is the usual warm-up.
M.LinearLR = class("LinearLR", { "start_factor", "end_factor", "total_iters", "last_epoch" },
  { start_factor = 1.0 / 3, end_factor = 1.0, total_iters = 5, last_epoch = -1 },
  function(self, o)
    self.start_factor = check_number(self, o, "start_factor", 0, 1)
    if self.start_factor == 0 then fail(self, "start_factor must be > 0 (the chained form divides by it)") end
    self.end_factor = check_number(self, o, "end_factor", 0, 1)
    self.total_iters = check_count(self, o, "total_iters", 1)
    self:_setup(o.last_epoch)
  end)

function M.LinearLR:get_lr()
  local e = self.last_epoch
  if e == 0 then return scaled(self, self.start_factor) end
  if e > self.total_iters then return scaled(self) end
  local s, d = self.start_factor, self.end_factor - self.start_factor
  return scaled(self, 1. + d / (self.total_iters * s + (e - 1) * d))
end

function M.LinearLR:closed_form()
  local s, d = self.start_factor, self.end_factor - self.start_factor
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    out[i] = b * (s + d * math.min(self.total_iters, self.last_epoch) / self.total_iters)
  end
  return out
end

M.ExponentialLR = class("ExponentialLR", { "gamma", "last_epoch" },
  { gamma = required, last_epoch = -1 },
  function(self, o)
    self.gamma = check_number(self, o, "gamma", 0)
    self:_setup(o.last_epoch)
  end)

function M.ExponentialLR:get_lr()
  if self.last_epoch == 0 then return scaled(self) end
  return scaled(self, self.gamma)
end

function M.ExponentialLR:closed_form()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ self.last_epoch end
  return out
end

M.CosineAnnealingLR = class("CosineAnnealingLR", { "T_max", "eta_min", "last_epoch" },
  { T_max = required, eta_min = 0, last_epoch = -1 },
  function(self, o)
    self.T_max = check_count(self, o, "T_max", 1)
    self.eta_min = check_number(self, o, "eta_min", 0)
    self:_setup(o.last_epoch)
  end)

function M.CosineAnnealingLR:get_lr()
  local e, T, eta = self.last_epoch, self.T_max, self.eta_min
  local groups, out = self.optimizer.param_groups, {}
  if e == 0 then return scaled(self) end
  for i, g in ipairs(groups) do
    local base = self.base_lrs[i]
    if self._step_count == 1 and e > 0 then
      out[i] = eta + (base - eta) * (1 + math.cos(e * math.pi / T)) / 2
    elseif (e - 1 - T) % (2 * T) == 0 then
      out[i] = g.lr + (base - eta) * (1 - math.cos(math.pi / T)) / 2
    else
      out[i] = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (g.lr - eta) + eta
    end
  end
  return out
end

function M.CosineAnnealingLR:closed_form()
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    out[i] = self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
  end
  return out
end

-- LambdaLR: base_lr * f(last_epoch), one function for all groups or one per group.
-- The functions are not part of the state dict.
M.LambdaLR = class("LambdaLR", { "lr_lambda", "last_epoch" },
  { lr_lambda = required, last_epoch = -1 },
  function(self, o)
    local n = #self.optimizer.param_groups
    local f = o.lr_lambda
    local list = {}
    if type(f) == "function" then
      for i = 1, n do list[i] = f end
    elseif type(f) == "table" and #f == n then
      for i = 1, n do
        if type(f[i]) ~= "function" then fail(self, "lr_lambda %d is a %s, not a function", i, type(f[i])) end
        list[i] = f[i]
      end
    else
      fail(self, "lr_lambda must be a function or a list of %d functions (one per group)", n)
    end
    self.lr_lambdas = list
    self:_setup(o.last_epoch)
  end)

function M.LambdaLR:get_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.lr_lambdas[i](self.last_epoch) end
  return out
end

-- SequentialLR: schedulers[k] runs from milestones[k-1] on; at a milestone the next
-- one restarts from its epoch 0. A linear warm-up then cosine decay:
--   optim.SequentialLR(opt, {schedulers = {optim.LinearLR(opt, {start_factor = 0.1,
--     total_iters = 5}), optim.CosineAnnealingLR(opt, {T_max = 95})}, milestones = {5}})
M.SequentialLR = class("SequentialLR", { "schedulers", "milestones", "last_epoch" },
  { schedulers = required, milestones = required, last_epoch = -1 },
  function(self, o)
    local subs, ms = o.schedulers, o.milestones
    if type(subs) ~= "table" or #subs == 0 then fail(self, "schedulers must be a non-empty list of schedulers") end
    if type(ms) ~= "table" then fail(self, "milestones must be a list of epochs") end
    for i, s in ipairs(subs) do
      if type(s) ~= "table" or getmetatable(s) == nil or s.optimizer == nil then
        fail(self, "schedulers[%d] is not a scheduler", i)
      end
      if s.optimizer ~= self.optimizer then
        fail(self, "schedulers[%d] belongs to another optimizer than the one given", i)
      end
    end
    if #ms ~= #subs - 1 then
      fail(self, "expects one milestone fewer than schedulers; got %d schedulers and %d milestones", #subs, #ms)
    end
    local m = {}
    for i, e in ipairs(ms) do
      if math.type(e) ~= "integer" then fail(self, "milestone %d is %s, not an integer", i, tostring(e)) end
      if i > 1 and e < m[i - 1] then fail(self, "milestones must be increasing") end
      m[i] = e
    end
    if math.type(o.last_epoch) ~= "integer" then fail(self, "last_epoch must be an integer") end
    self._schedulers = { table.unpack(subs) }
    self._milestones = m
    self.last_epoch = o.last_epoch + 1
    for _, g in ipairs(self.optimizer.param_groups) do g.lr = g.initial_lr end
    for _, s in ipairs(subs) do s.last_epoch = s.last_epoch - 1 end   -- undo their first steps
    subs[1]:_initial_step()
    self._last_lr = subs[1]:get_last_lr()
  end)

function M.SequentialLR:step()
  self.last_epoch = self.last_epoch + 1
  local ms, k = self._milestones, 0       -- k: milestones at or before last_epoch
  while k < #ms and ms[k + 1] <= self.last_epoch do k = k + 1 end
  local s = self._schedulers[k + 1]
  if k > 0 and ms[k] == self.last_epoch then s:step(0) else s:step() end
  self._last_lr = s:get_last_lr()
end

-- OneCycleLR: from max_lr/div_factor up to max_lr over pct_start of total_steps, then
-- down to initial_lr/final_div_factor (three_phase: back to initial first); momentum
-- (or Adam's beta1) cycles the other way between max_momentum and base_momentum.
-- It is stepped after every batch, total_steps times (or epochs * steps_per_epoch).
M.OneCycleLR = class("OneCycleLR", { "max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start",
                                     "anneal_strategy", "cycle_momentum", "base_momentum",
                                     "max_momentum", "div_factor", "final_div_factor", "three_phase",
                                     "last_epoch" },
  { max_lr = required, total_steps = false, epochs = false, steps_per_epoch = false, pct_start = 0.3,
    anneal_strategy = "cos", cycle_momentum = true, base_momentum = 0.85, max_momentum = 0.95,
    div_factor = 25., final_div_factor = 1e4, three_phase = false, last_epoch = -1 },
  function(self, o)
    local opt = self.optimizer
    local groups = opt.param_groups
    if o.total_steps then
      self.total_steps = check_count(self, o, "total_steps", 1)
    elseif o.epochs and o.steps_per_epoch then
      self.total_steps = check_count(self, o, "epochs", 1) * check_count(self, o, "steps_per_epoch", 1)
    else
      fail(self, "give total_steps, or epochs and steps_per_epoch")
    end
    local pct = check_number(self, o, "pct_start", 0, 1)
    local total = self.total_steps
    if o.three_phase then
      self._schedule_phases = {
        { end_step = pct * total - 1, start_lr = "initial_lr", end_lr = "max_lr",
          start_momentum = "max_momentum", end_momentum = "base_momentum" },
        { end_step = 2 * pct * total - 2, start_lr = "max_lr", end_lr = "initial_lr",
          start_momentum = "base_momentum", end_momentum = "max_momentum" },
        { end_step = total - 1, start_lr = "initial_lr", end_lr = "min_lr",
          start_momentum = "max_momentum", end_momentum = "max_momentum" },
      }
    else
      self._schedule_phases = {
        { end_step = pct * total - 1, start_lr = "initial_lr", end_lr = "max_lr",
          start_momentum = "max_momentum", end_momentum = "base_momentum" },
        { end_step = total - 1, start_lr = "max_lr", end_lr = "min_lr",
          start_momentum = "base_momentum", end_momentum = "max_momentum" },
      }
    end
    if o.anneal_strategy ~= "cos" and o.anneal_strategy ~= "linear" then
      fail(self, "anneal_strategy must be \"cos\" or \"linear\", got %s", tostring(o.anneal_strategy))
    end
    self.anneal_strategy = o.anneal_strategy
    local function per_group(key)
      local v = o[key]
      if type(v) == "table" then
        if #v ~= #groups then fail(self, "expected %d values for %s (one per group), got %d", #groups, key, #v) end
        return v
      end
      if type(v) ~= "number" then fail(self, "%s must be a number or a list of them, got %s", key, type(v)) end
      local list = {}
      for i = 1, #groups do list[i] = v end
      return list
    end
    local max_lrs = per_group("max_lr")
    check_number(self, o, "div_factor", 0)
    check_number(self, o, "final_div_factor", 0)
    if o.last_epoch == -1 then
      for i, g in ipairs(groups) do
        g.initial_lr = max_lrs[i] / o.div_factor
        g.max_lr = max_lrs[i]
        g.min_lr = g.initial_lr / o.final_div_factor
      end
    end
    self.cycle_momentum = o.cycle_momentum and true or false
    self.use_beta1 = false
    if self.cycle_momentum then
      local d = opt.defaults or {}
      if d.momentum == nil and d.betas == nil then
        fail(self, "cycle_momentum needs an optimizer with momentum or betas (or cycle_momentum = false)")
      end
      self.use_beta1 = d.betas ~= nil
      local maxm, basem = per_group("max_momentum"), per_group("base_momentum")
      if o.last_epoch == -1 then
        for i, g in ipairs(groups) do
          if self.use_beta1 then g.betas = { maxm[i], g.betas[2] } else g.momentum = maxm[i] end
          g.max_momentum = maxm[i]
          g.base_momentum = basem[i]
        end
      end
    end
    self:_setup(o.last_epoch)
  end)

local function anneal(strategy, start, stop, pct)
  if strategy == "cos" then
    local cos_out = math.cos(math.pi * pct) + 1
    return stop + (start - stop) / 2.0 * cos_out
  end
  return (stop - start) * pct + start
end

function M.OneCycleLR:get_lr()
  local step = self.last_epoch
  if step > self.total_steps then
    fail(self, "tried to step %d times; total_steps is %d", step + 1, self.total_steps)
  end
  local phases, how = self._schedule_phases, self.anneal_strategy
  local out = {}
  for i, g in ipairs(self.optimizer.param_groups) do
    local start = 0
    for k, ph in ipairs(phases) do
      local stop = ph.end_step
      if step <= stop or k == #phases then
        local pct = (step - start) / (stop - start)
        out[i] = anneal(how, g[ph.start_lr], g[ph.end_lr], pct)
        if self.cycle_momentum then
          local m = anneal(how, g[ph.start_momentum], g[ph.end_momentum], pct)
          if self.use_beta1 then g.betas = { m, g.betas[2] } else g.momentum = m end
        end
        break
      end
      start = ph.end_step
    end
  end
  return out
end

M.Scheduler = Scheduler
return M
