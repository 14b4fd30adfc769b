-- optimizer.lua — the base every optimizer shares: parameter groups, options,
-- per-parameter state, zero_grad, step and state dicts.
--
-- An optimizer holds param_groups, a list of tables {params = {t...}, lr = ..., ...}
-- whose hyperparameters a scheduler (or the user) may change between steps; each step
-- reads them afresh. State lives in opt.state[p], keyed by the parameter tensor
-- itself, and is made lazily the first time p has a gradient, as PyTorch does.
--
-- A state dict has PyTorch's shape with Lua's numbering:
--   { state = { [i] = {step = 3, exp_avg = t, ...} },
--     param_groups = { {lr = 0.1, ..., params = {1, 2}}, ... } }
-- where i numbers the parameters from 1 across the groups in order. Its flat form
-- (optim.flatten_state_dict) splits it into tensors named "<prefix>state.<i>.<name>"
-- and plain data, which is what a safetensors file can hold.
local ember = require "ember"

local Optimizer = {}
Optimizer.__index = Optimizer

-- A default that the caller must supply (SGD's lr).
Optimizer.required = setmetatable({}, { __tostring = function() return "<required>" end })

local function is_list(t)
  return type(t) == "table" and not ember.is_tensor(t)
end

-- Options of a list value (betas) are copied so that groups never share one table.
local function copy_value(v)
  if type(v) ~= "table" or ember.is_tensor(v) or v == Optimizer.required then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy_value(x) end
  return c
end

local function collect(params)
  if type(params) == "function" then     -- an iterator, as model:parameters() may give
    local list = {}
    for p in params do list[#list + 1] = p end
    return list
  end
  return params
end

-- Makes the subclass `name`: defaults is {option = default}; check(name, group)
-- validates a group's hyperparameters; update(self, group) updates its parameters.
function Optimizer.class(name, defaults, check, update)
  local C = {}
  C.__index = C
  C.__name = name
  C.defaults = defaults
  C._check = check
  C._update = update
  C.__tostring = Optimizer.__tostring
  return setmetatable(C, {
    __index = Optimizer,
    __call = function(_, params, options)
      local self = Optimizer.new(C, params, options)   -- not a tail call: errors name level 3
      return self
    end,
  })
end

function Optimizer.new(C, params, options)
  local name = C.__name
  if type(options) == "number" then options = { lr = options } end
  if options ~= nil and type(options) ~= "table" then
    error(string.format("%s: options must be a table like {lr = 0.1}, got %s", name, type(options)), 3)
  end
  local defaults = {}
  for k, v in pairs(C.defaults) do defaults[k] = copy_value(v) end
  for k, v in pairs(options or {}) do
    if C.defaults[k] == nil then
      error(string.format("%s: unknown option %q", name, tostring(k)), 3)
    end
    defaults[k] = copy_value(v)
  end
  local self = setmetatable({ defaults = defaults, state = {}, param_groups = {} }, C)
  params = collect(params)
  if ember.is_tensor(params) or not is_list(params) then
    error(string.format("%s: params must be a list of tensors or of groups {params = {...}}, got %s",
                        name, ember.is_tensor(params) and "a tensor" or type(params)), 3)
  end
  if #params == 0 then error(name .. ": got an empty parameter list", 3) end
  local ok, err
  if is_list(params[1]) and params[1].params ~= nil then
    for i, g in ipairs(params) do
      ok, err = pcall(self.add_param_group, self, g)
      if not ok then error(err:gsub("^[^\n]-optimizer%.lua:%d+: ", "") .. " (group " .. i .. ")", 3) end
    end
  else
    ok, err = pcall(self.add_param_group, self, { params = params })
    if not ok then error((err:gsub("^[^\n]-optimizer%.lua:%d+: ", "")), 3) end
  end
  return self
end

-- opt:add_param_group{params = {...}, lr = ...}: the group's missing options come
-- from the optimizer's defaults.
function Optimizer:add_param_group(group)
  local name = self.__name
  if not is_list(group) or group.params == nil then
    error(name .. ": a parameter group is a table {params = {...}, option = value, ...}", 2)
  end
  local params = collect(group.params)
  if ember.is_tensor(params) then params = { params } end
  if not is_list(params) then
    error(string.format("%s: params of a group must be a list of tensors, got %s", name, type(params)), 2)
  end
  if #params == 0 then error(name .. ": a parameter group has an empty parameter list", 2) end
  local seen = {}
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do seen[p] = true end
  end
  local list = {}
  for i, p in ipairs(params) do
    if not ember.is_tensor(p) then
      error(string.format("%s: parameter %d is a %s, not a tensor", name, i, type(p)), 2)
    end
    if not p:is_floating_point() then
      error(string.format("%s: parameter %d has dtype %s; only floating-point tensors can be optimized",
                          name, i, p:dtype()), 2)
    end
    if not p.is_leaf then
      error(string.format("%s: parameter %d is not a leaf tensor (it came from an op); optimize the leaf, or detach it",
                          name, i), 2)
    end
    if seen[p] then
      error(string.format("%s: parameter %d appears twice among the parameters", name, i), 2)
    end
    seen[p] = true
    list[i] = p
  end
  local g = { params = list }
  for k, v in pairs(group) do
    if k ~= "params" then
      if self.defaults[k] == nil then
        error(string.format("%s: unknown option %q in a parameter group", name, tostring(k)), 2)
      end
      g[k] = copy_value(v)
    end
  end
  for k, v in pairs(self.defaults) do
    if g[k] == nil then
      if v == Optimizer.required then
        error(string.format("%s: option %s is required", name, k), 2)
      end
      g[k] = copy_value(v)
    end
  end
  local ok, err = pcall(self._check, name, g)
  if not ok then error((tostring(err):gsub("^[^\n]-%.lua:%d+: ", "")), 2) end
  self.param_groups[#self.param_groups + 1] = g
end

-- Shared checks of hyperparameters, each naming the optimizer and the value.
function Optimizer.check_number(name, group, key, lo, hi, lo_open)
  local v = group[key]
  if type(v) ~= "number" then
    error(string.format("%s: %s must be a number, got %s", name, key, type(v)), 0)
  end
  if v ~= v or v < lo or (lo_open and v == lo) or (hi and v >= hi) then
    local range = hi and string.format("in [%g, %g)", lo, hi) or string.format("%s %g", lo_open and ">" or ">=", lo)
    error(string.format("%s: invalid %s %s (must be %s)", name, key, tostring(v), range), 0)
  end
end

function Optimizer.check_bool(name, group, key)
  if type(group[key]) ~= "boolean" then
    error(string.format("%s: %s must be a boolean, got %s", name, key, type(group[key])), 0)
  end
end

local function update_all(self)
  for _, group in ipairs(self.param_groups) do self:_update(group) end
end

-- opt:step([closure]): one update of every parameter that has a gradient. The
-- closure, when given, reevaluates the model with grad mode on and returns the loss,
-- which step returns.
function Optimizer:step(closure)
  local loss
  if closure ~= nil then loss = ember.enable_grad(closure) end
  ember.no_grad(update_all, self)
  return loss
end

-- opt:zero_grad([set_to_none = true]): drops every gradient, or fills it with zeros.
function Optimizer:zero_grad(set_to_none)
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      if set_to_none == false then
        local g = p.grad
        if g ~= nil then g:zero_() end
      else
        p.grad = nil
      end
    end
  end
end

function Optimizer:__tostring()
  local lines = { self.__name .. " (" }
  for i, g in ipairs(self.param_groups) do
    local keys = {}
    for k in pairs(g) do if k ~= "params" then keys[#keys + 1] = k end end
    table.sort(keys)
    lines[#lines + 1] = string.format("  group %d: %d parameters", i, #g.params)
    for _, k in ipairs(keys) do
      local v = g[k]
      if type(v) == "table" then
        local parts = {}
        for j, x in ipairs(v) do parts[j] = tostring(x) end
        v = "{" .. table.concat(parts, ", ") .. "}"
      end
      lines[#lines + 1] = string.format("    %s: %s", k, tostring(v))
    end
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

-- {====== state dicts

-- opt:state_dict(): the state by parameter number and the groups' hyperparameters.
-- The tensors are the optimizer's own, not copies.
function Optimizer:state_dict()
  local state, groups, index = {}, {}, 0
  for gi, g in ipairs(self.param_groups) do
    local packed = {}
    for k, v in pairs(g) do
      if k ~= "params" then packed[k] = copy_value(v) end
    end
    local ids = {}
    for j, p in ipairs(g.params) do
      index = index + 1
      ids[j] = index
      local s = self.state[p]
      if s ~= nil then
        local c = {}
        for k, v in pairs(s) do c[k] = v end
        state[index] = c
      end
    end
    packed.params = ids
    groups[gi] = packed
  end
  return { state = state, param_groups = groups }
end

local function sizes(t)
  return table.concat(t:size(), "x")
end

-- opt:load_state_dict(sd): the groups must match the optimizer's in number and size.
-- State tensors are copied into memory of the optimizer's own, in each parameter's
-- dtype, so a mapped checkpoint file can go away.
function Optimizer:load_state_dict(sd)
  local name = self.__name
  if type(sd) ~= "table" or type(sd.param_groups) ~= "table" or type(sd.state) ~= "table" then
    error(name .. ": load_state_dict expects a table {state = {...}, param_groups = {...}}", 2)
  end
  local groups = self.param_groups
  if #sd.param_groups ~= #groups then
    error(string.format("%s: load_state_dict: the state dict has %d parameter groups, the optimizer %d",
                        name, #sd.param_groups, #groups), 2)
  end
  local byindex = {}
  for gi, g in ipairs(groups) do
    local saved = sd.param_groups[gi]
    if type(saved) ~= "table" or type(saved.params) ~= "table" then
      error(string.format("%s: load_state_dict: parameter group %d has no params list", name, gi), 2)
    end
    if #saved.params ~= #g.params then
      error(string.format("%s: load_state_dict: parameter group %d has %d parameters in the state dict, %d in the optimizer",
                          name, gi, #saved.params, #g.params), 2)
    end
    for j, id in ipairs(saved.params) do byindex[id] = g.params[j] end
  end
  local state = {}
  for id, s in pairs(sd.state) do
    local p = byindex[id]
    if p == nil then
      error(string.format("%s: load_state_dict: the state dict has state for parameter %s, which no group lists",
                          name, tostring(id)), 2)
    end
    if type(s) ~= "table" then
      error(string.format("%s: load_state_dict: state of parameter %s is a %s, not a table", name, tostring(id), type(s)), 2)
    end
    local c = {}
    for k, v in pairs(s) do
      if ember.is_tensor(v) then
        if v:dim() ~= p:dim() or v:numel() ~= p:numel() or sizes(v) ~= sizes(p) then
          error(string.format("%s: load_state_dict: %s of parameter %s has shape %s, the parameter has shape %s",
                              name, k, tostring(id), sizes(v), sizes(p)), 2)
        end
        v = ember.no_grad(function() return v:to(p:dtype()):clone() end)
      else
        v = copy_value(v)
      end
      c[k] = v
    end
    state[p] = c
  end
  for gi, g in ipairs(groups) do
    local new = { params = g.params }
    for k, v in pairs(sd.param_groups[gi]) do
      if k ~= "params" then new[k] = copy_value(v) end
    end
    groups[gi] = new
  end
  self.state = state
end

-- flatten_state_dict(sd [, prefix]) -> tensors, data: tensors named
-- "<prefix>state.<i>.<name>", and everything else as plain tables, numbers, strings
-- and booleans (JSON-able; state keys become strings there).
function Optimizer.flatten_state_dict(sd, prefix)
  prefix = prefix or ""
  local tensors, state = {}, {}
  for id, s in pairs(sd.state) do
    local rest = {}
    for k, v in pairs(s) do
      if ember.is_tensor(v) then tensors[string.format("%sstate.%d.%s", prefix, id, k)] = v
      else rest[k] = copy_value(v) end
    end
    state[tostring(id)] = rest
  end
  local groups = {}
  for i, g in ipairs(sd.param_groups) do groups[i] = copy_value(g) end
  return tensors, { state = state, param_groups = groups }
end

-- unflatten_state_dict(tensors, data [, prefix]): the inverse; names in tensors
-- without the prefix are left alone.
function Optimizer.unflatten_state_dict(tensors, data, prefix)
  prefix = prefix or ""
  if type(data) ~= "table" or type(data.param_groups) ~= "table" then
    error("unflatten_state_dict: data must hold param_groups", 2)
  end
  local state = {}
  for k, s in pairs(data.state or {}) do
    local id = math.tointeger(tonumber(k))
    if id == nil then error(string.format("unflatten_state_dict: state key %q is not a parameter number", tostring(k)), 2) end
    state[id] = copy_value(s)
  end
  local plen = #prefix
  for name, t in pairs(tensors) do
    if name:sub(1, plen) == prefix then
      local id, key = name:sub(plen + 1):match("^state%.(%d+)%.(.+)$")
      if id == nil then
        error(string.format("unflatten_state_dict: tensor %q is not named %sstate.<i>.<name>", name, prefix), 2)
      end
      id = math.tointeger(tonumber(id))
      state[id] = state[id] or {}
      state[id][key] = t
    end
  end
  local groups = {}
  for i, g in ipairs(data.param_groups) do groups[i] = copy_value(g) end
  return { state = state, param_groups = groups }
end

-- }======

return Optimizer
