-- module.lua — nn.Module: the class system, registration of parameters, buffers and
-- children, traversal, train/eval, state dicts.
--
-- Classes. A class is a table; `Module:extend(name)` makes a subclass, calling a class
-- makes an instance, and calling an instance runs its forward:
--
--   local Net = nn.Module:extend("Net")
--   function Net:init(n_in, n_out)          -- the instance is already a working Module
--     self.fc = nn.Linear(n_in, n_out)      -- a Module in a field: a child, named "fc"
--     self.scale = nn.Parameter(ember.ones(n_out))  -- a parameter, named "scale"
--     self:register_buffer("count", ember.zeros(1)) -- a buffer (in the state dict)
--   end
--   function Net:forward(x) return self.fc(x) * self.scale end
--   local net = Net(4, 2); local y = net(x)
--
-- init gets an instance whose registries already exist, so calling the parent's init
-- (`nn.Module.init(self)`, `nn.Linear.init(self, ...)`) is needed only for what the
-- parent itself adds. Methods are looked up through the class chain; forward is found
-- on the class (or its ancestors) each call, so redefining it takes effect at once.
--
-- Registration. The first assignment of a field decides its kind: a Module makes a
-- child, a tensor made by nn.Parameter a parameter; anything else (plain tensors
-- included) is an ordinary field. Later assignments of a registered name replace its
-- value and keep its place; nil leaves the name registered with no value (PyTorch's
-- None), skipped by every traversal. The registry keeps names in the order of first
-- registration, so parameters(), state_dict() and repr walk in PyTorch's order.
-- Children held at integer keys (Sequential, ModuleList, or `self[1] = m`) are named
-- from 0 as PyTorch names them: self[1] is "0", so a PyTorch checkpoint's "0.weight"
-- lands in the first layer while Lua code writes m[1].
--
-- Every instance holds two raw fields besides its own: `training` and `_reg`
-- (kind[key] = "p" | "b" | "m", then the ordered lists p, b, m of keys, and
-- nonpersistent[name] for buffers left out of the state dict).
local ember = require "ember"

local M = {}

local is_tensor = ember.is_tensor
local math_type = math.type
local fmt = string.format

-- The folder of ember.nn's files; raise skips their frames.
local nn_dir = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""

-- raise(msg): a Lua error positioned at the first caller outside ember.nn, so a bad
-- argument is reported at the user's line however deep in the package it is found.
function M.raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil then level = 2; break end
    if info.what ~= "C" and info.source:sub(2, #nn_dir + 1) ~= nn_dir then break end
    level = level + 1
  end
  error(msg, level)
end
local raise = M.raise

-- {====== parameters

-- Tensors made parameters; weak keys, so a dropped parameter is collected.
local parameter_set = setmetatable({}, { __mode = "k" })

-- nn.Parameter(t, requires_grad=true): marks t as a parameter (a leaf; a tensor with
-- history is detached first) and returns it.
function M.Parameter(t, requires_grad)
  if not is_tensor(t) then
    raise(fmt("nn.Parameter: expected a tensor, got %s", type(t)))
  end
  if requires_grad == nil then requires_grad = true end
  if not t.is_leaf then t = t:detach() end
  if t.requires_grad ~= requires_grad then t.requires_grad = requires_grad end
  parameter_set[t] = true
  return t
end

function M.is_parameter(t) return parameter_set[t] == true end

-- }======

-- {====== options

-- Layer constructors take PyTorch's arguments positionally, or some positionally and
-- the rest in one trailing table of named options, or all in that table:
--   nn.Conv2d(3, 8, 3, {stride = 2, padding = 1}),  nn.Linear{in_features = 4, out_features = 2}
-- A table of options has no array part and no metatable (a size such as {3, 3} has an
-- array part). Returns a table name -> value; names not given are nil.
local known_cache = setmetatable({}, { __mode = "k" })

local function is_options(v)
  return type(v) == "table" and getmetatable(v) == nil and rawlen(v) == 0
end

function M.options(who, names, ...)
  local n = select("#", ...)
  local kw
  if n > 0 and is_options((select(n, ...))) then
    kw = select(n, ...)
    n = n - 1
  end
  if n > #names then
    raise(fmt("%s: takes at most %d positional arguments, got %d", who, #names, n))
  end
  local o = {}
  for i = 1, n do o[names[i]] = (select(i, ...)) end
  if kw then
    local known = known_cache[names]
    if known == nil then
      known = {}
      for _, name in ipairs(names) do known[name] = true end
      known_cache[names] = known
    end
    for k, v in pairs(kw) do
      if not known[k] then
        raise(fmt("%s: unknown option '%s' (options: %s)", who, tostring(k), table.concat(names, ", ")))
      end
      if o[k] ~= nil then raise(fmt("%s: '%s' given twice", who, k)) end
      o[k] = v
    end
  end
  return o
end

-- }======

-- {====== class system

local Module = {}
Module.__index = Module
Module.__name = "Module"

local function is_module(v) return type(v) == "table" and rawget(v, "_reg") ~= nil end
M.is_module = is_module

local function new_reg()
  return { kind = {}, p = {}, b = {}, m = {}, nonpersistent = {} }
end

local function construct(cls, ...)
  local self = setmetatable({ training = true, _reg = new_reg() }, cls)
  cls.init(self, ...)
  return self
end

local function class_tostring(cls) return "nn." .. rawget(cls, "__name") .. " (class)" end

-- metamethods are read raw from an instance's class, so each class carries its own
local metamethods = { "__newindex", "__call", "__tostring", "__len", "__pairs" }

function Module.extend(parent, name)
  if type(name) ~= "string" then
    raise(fmt("Module:extend: expected a class name, got %s", type(name)))
  end
  local cls = {}
  for _, k in ipairs(metamethods) do cls[k] = rawget(parent, k) end
  cls.__index = cls
  cls.__name = name
  cls.super = parent
  return setmetatable(cls, { __index = parent, __call = construct, __tostring = class_tostring })
end

setmetatable(Module, { __call = construct, __tostring = class_tostring })

function Module:init() end

function Module:forward()
  raise(fmt("%s: forward is not defined", self.__name))
end

function Module.__call(self, ...) return self:forward(...) end

-- }======

-- {====== registration

local function child_name(key)
  if math_type(key) == "integer" then return tostring(key - 1) end
  return key
end

local function register(self, reg, kind, key)
  local old = reg.kind[key]
  if old == kind then return end
  if old ~= nil then
    local what = { p = "parameter", b = "buffer", m = "child module" }
    raise(fmt("%s: '%s' is already a %s", self.__name, tostring(key), what[old]))
  end
  reg.kind[key] = kind
  local list = reg[kind]
  list[#list + 1] = key
end

-- Runs for fields not yet present in the instance (the first assignment, or one after
-- the field was set to nil).
function Module.__newindex(self, key, v)
  local reg = rawget(self, "_reg")
  local kind = reg.kind[key]
  if kind == nil then
    if is_module(v) then register(self, reg, "m", key)
    elseif parameter_set[v] then register(self, reg, "p", key) end
  elseif v ~= nil then
    if kind == "m" and not is_module(v) then
      raise(fmt("%s: cannot assign a %s to child module '%s' (a Module or nil)", self.__name, type(v), tostring(key)))
    elseif kind == "p" and not parameter_set[v] then
      raise(fmt("%s: cannot assign a %s to parameter '%s' (an nn.Parameter or nil)", self.__name,
                is_tensor(v) and "plain tensor" or type(v), key))
    elseif kind == "b" and not is_tensor(v) then
      raise(fmt("%s: cannot assign a %s to buffer '%s' (a tensor or nil)", self.__name, type(v), key))
    end
  end
  rawset(self, key, v)
end

-- m:register_parameter(name, t | nil): t becomes a parameter (nn.Parameter(t) when it
-- is not one yet) under name.
function Module:register_parameter(name, t)
  if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
    raise(fmt("%s: register_parameter: bad name %s", self.__name, tostring(name)))
  end
  if t ~= nil and not is_tensor(t) then
    raise(fmt("%s: register_parameter '%s': expected a tensor or nil, got %s", self.__name, name, type(t)))
  end
  if t ~= nil and not parameter_set[t] then t = M.Parameter(t) end
  register(self, self._reg, "p", name)
  rawset(self, name, t)
  return t
end

-- m:register_buffer(name, t | nil, persistent=true): non-persistent buffers stay out
-- of the state dict.
function Module:register_buffer(name, t, persistent)
  if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
    raise(fmt("%s: register_buffer: bad name %s", self.__name, tostring(name)))
  end
  if t ~= nil and not is_tensor(t) then
    raise(fmt("%s: register_buffer '%s': expected a tensor or nil, got %s", self.__name, name, type(t)))
  end
  local reg = self._reg
  register(self, reg, "b", name)
  reg.nonpersistent[name] = persistent == false or nil
  rawset(self, name, t)
  return t
end

-- m:add_module(name, child | nil); a number name n is the child self[n + 1]
function Module:add_module(name, m)
  local key = name
  if math_type(name) == "integer" then key = name + 1
  elseif type(name) ~= "string" or name == "" or name:find(".", 1, true) then
    raise(fmt("%s: add_module: bad name %s", self.__name, tostring(name)))
  elseif name:match("^%d+$") then key = tonumber(name) + 1 end
  if m ~= nil and not is_module(m) then
    raise(fmt("%s: add_module '%s': expected a Module, got %s", self.__name, tostring(name), type(m)))
  end
  register(self, self._reg, "m", key)
  rawset(self, key, m)
  return m
end
Module.register_module = Module.add_module

-- }======

-- {====== traversal

-- fn(module, prefix) for self and every descendant, parents first; with `seen`, a
-- module reached twice is visited once.
local function walk(self, prefix, fn, seen)
  if seen then
    if seen[self] then return end
    seen[self] = true
  end
  fn(self, prefix)
  local reg = rawget(self, "_reg")
  local keys = reg.m
  for i = 1, #keys do
    local key = keys[i]
    local child = rawget(self, key)
    if child ~= nil then walk(child, prefix .. child_name(key) .. ".", fn, seen) end
  end
end

local function list_iter(names, values)
  local i = 0
  return function()
    i = i + 1
    return names[i], values[i]
  end
end

-- names and tensors of one kind ("p" or "b") in registration order
local function named_members(self, kind, prefix, recurse)
  local names, values, seen = {}, {}, {}
  local function visit(m, pre)
    local reg = rawget(m, "_reg")
    local keys = reg[kind]
    for i = 1, #keys do
      local t = rawget(m, keys[i])
      if t ~= nil and not seen[t] then
        seen[t] = true
        names[#names + 1] = pre .. keys[i]
        values[#values + 1] = t
      end
    end
  end
  prefix = prefix and prefix ~= "" and prefix .. "." or ""
  if recurse == false then visit(self, prefix) else walk(self, prefix, visit, {}) end
  return names, values
end

-- for name, p in m:named_parameters() do ... end   (shared tensors once)
function Module:named_parameters(prefix, recurse)
  return list_iter(named_members(self, "p", prefix, recurse))
end

-- the parameters as a list
function Module:parameters(recurse)
  local _, values = named_members(self, "p", nil, recurse)
  return values
end

function Module:named_buffers(prefix, recurse)
  return list_iter(named_members(self, "b", prefix, recurse))
end

function Module:buffers(recurse)
  local _, values = named_members(self, "b", nil, recurse)
  return values
end

-- for name, child in m:named_children() do ... end
function Module:named_children()
  local names, values, seen = {}, {}, {}
  local keys = self._reg.m
  for i = 1, #keys do
    local c = rawget(self, keys[i])
    if c ~= nil and not seen[c] then
      seen[c] = true
      names[#names + 1] = child_name(keys[i])
      values[#values + 1] = c
    end
  end
  return list_iter(names, values)
end

function Module:children()
  local list = {}
  for _, c in self:named_children() do list[#list + 1] = c end
  return list
end

-- for name, m in net:named_modules() do ... end: self first (named ""), then its
-- descendants parents first, each once
function Module:named_modules(prefix)
  local names, values = {}, {}
  walk(self, prefix and prefix ~= "" and prefix .. "." or "", function(m, pre)
    names[#names + 1] = pre:sub(1, -2)
    values[#values + 1] = m
  end, {})
  return list_iter(names, values)
end

function Module:modules()
  local list = {}
  walk(self, "", function(m) list[#list + 1] = m end, {})
  return list
end

-- net:get_submodule("encoder.0.fc")
function Module:get_submodule(target)
  local m = self
  if target == nil or target == "" then return m end
  for part in target:gmatch("[^.]+") do
    local key = part:match("^%d+$") and tonumber(part) + 1 or part
    local reg = rawget(m, "_reg")
    local child = reg.kind[key] == "m" and rawget(m, key) or nil
    if child == nil then
      raise(fmt("%s: no submodule '%s' (at '%s')", self.__name, target, part))
    end
    m = child
  end
  return m
end

-- }======

-- {====== modes and grads

-- m:train(mode=true) sets .training on m and every descendant; returns m
function Module:train(mode)
  if mode == nil then mode = true end
  walk(self, "", function(m) rawset(m, "training", mode) end)
  return self
end

function Module:eval() return self:train(false) end

function Module:requires_grad_(flag)
  if flag == nil then flag = true end
  for _, p in ipairs(self:parameters()) do p.requires_grad = flag end
  return self
end

-- Drops every parameter's gradient (p.grad = nil); no tables made, so it costs one
-- field store per parameter.
local function zero_grad(m)
  local reg = rawget(m, "_reg")
  local keys = reg.p
  for i = 1, #keys do
    local p = rawget(m, keys[i])
    if p ~= nil then p.grad = nil end
  end
  keys = reg.m
  for i = 1, #keys do
    local c = rawget(m, keys[i])
    if c ~= nil then zero_grad(c) end
  end
end

function Module:zero_grad()
  zero_grad(self)
end

-- m:apply(fn): fn(child) for every descendant, children before parents, then fn(m)
function Module:apply(fn)
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

local float_dtypes = { f32 = true, f64 = true, f16 = true, bf16 = true }

-- m:to(dtype): floating parameters and buffers converted (each shared tensor once, so
-- tied weights stay tied); integer buffers such as num_batches_tracked keep theirs.
function Module:to(target)
  local floating_only = float_dtypes[target]
  local memo = {}
  ember.no_grad(function()
    walk(self, "", function(m)
      local reg = rawget(m, "_reg")
      for _, kind in ipairs({ "p", "b" }) do
        for _, key in ipairs(reg[kind]) do
          local t = rawget(m, key)
          if t ~= nil and not (floating_only and not t:is_floating_point()) then
            local new = memo[t]
            if new == nil then
              if t:dtype() == target or t:device() == target then new = t
              else
                new = t:to(target)
                if kind == "p" then new = M.Parameter(new, t.requires_grad) end
              end
              memo[t] = new
            end
            rawset(m, key, new)
          end
        end
      end
    end)
  end)
  return self
end

function Module:float() return self:to("f32") end
function Module:double() return self:to("f64") end
function Module:half() return self:to("f16") end

-- }======

-- {====== state dict

local function shape_str(t)
  local s = t:size()
  if #s == 0 then return "[]" end
  return table.concat(s, "x")
end

-- name -> tensor for parameters and persistent buffers, and the names in order (as
-- PyTorch orders them: a module's parameters, its buffers, then its children). The
-- tensors are detached and share storage with the module's.
local function state_entries(self, prefix)
  local names, values = {}, {}
  walk(self, prefix or "", function(m, pre)
    local reg = rawget(m, "_reg")
    for _, key in ipairs(reg.p) do
      local t = rawget(m, key)
      if t ~= nil then names[#names + 1] = pre .. key; values[#values + 1] = t end
    end
    for _, key in ipairs(reg.b) do
      local t = rawget(m, key)
      if t ~= nil and not reg.nonpersistent[key] then
        names[#names + 1] = pre .. key; values[#values + 1] = t
      end
    end
  end)
  return names, values
end

function Module:state_dict(prefix)
  local names, values = state_entries(self, prefix)
  local sd = {}
  for i, name in ipairs(names) do sd[name] = values[i]:detach() end
  return sd, names
end

-- m:load_state_dict(sd, strict=true): copies sd's tensors into the module's (values
-- converted to each tensor's dtype). Mis-shaped keys are always an error; missing and
-- unexpected keys are errors when strict. The error names every bad key at once.
-- Returns { missing_keys = {...}, unexpected_keys = {...} }.
function Module:load_state_dict(sd, strict)
  if type(sd) ~= "table" then
    raise(fmt("%s: load_state_dict: expected a table name -> tensor, got %s", self.__name, type(sd)))
  end
  if strict == nil then strict = true end
  local names, values = state_entries(self)
  local expected = {}
  local missing, unexpected, mismatched = {}, {}, {}
  for i, name in ipairs(names) do
    expected[name] = true
    local src = sd[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif not is_tensor(src) then
      mismatched[#mismatched + 1] = fmt("%s: a %s in the state dict, not a tensor", name, type(src))
    else
      local a, b = src:size(), values[i]:size()
      local same = #a == #b
      for d = 1, #a do same = same and a[d] == b[d] end
      if not same then
        mismatched[#mismatched + 1] = fmt("size mismatch for %s: %s in the state dict, %s in the model",
                                          name, shape_str(src), shape_str(values[i]))
      end
    end
  end
  for name in pairs(sd) do
    if not expected[name] then unexpected[#unexpected + 1] = tostring(name) end
  end
  table.sort(unexpected)
  local problems = {}
  if strict and #missing > 0 then
    problems[#problems + 1] = "missing keys: " .. table.concat(missing, ", ")
  end
  if strict and #unexpected > 0 then
    problems[#problems + 1] = "unexpected keys: " .. table.concat(unexpected, ", ")
  end
  for _, line in ipairs(mismatched) do problems[#problems + 1] = line end
  if #problems > 0 then
    raise(fmt("%s: error loading state_dict:\n  %s", self.__name, table.concat(problems, "\n  ")))
  end
  ember.no_grad(function()
    for i, name in ipairs(names) do
      local src = sd[name]
      if src ~= nil then values[i]:copy_(src) end
    end
  end)
  return { missing_keys = missing, unexpected_keys = unexpected }
end

-- }======

-- {====== repr

function Module:extra_repr() return "" end

local function indent(s)
  return (s:gsub("\n", "\n  "))
end

function Module.__tostring(self)
  local lines = {}
  local extra = self:extra_repr()
  if extra ~= "" then
    for line in (extra .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  end
  local reg = rawget(self, "_reg")
  for _, key in ipairs(reg.m) do
    local c = rawget(self, key)
    if c ~= nil then lines[#lines + 1] = "(" .. child_name(key) .. "): " .. indent(tostring(c)) end
  end
  local name = self.__name
  if #reg.m == 0 then return name .. "(" .. extra .. ")" end
  return name .. "(\n  " .. table.concat(lines, "\n  ") .. "\n)"
end

-- }======

M.Module = Module
M.child_name = child_name
return M
