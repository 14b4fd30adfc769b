-- container.lua — Sequential, ModuleList, ModuleDict.
--
-- Sequential and ModuleList hold their children at the integer keys 1..n, so Lua code
-- writes seq[1], #seq and ipairs(list), while the state dict names them from 0 as
-- PyTorch does ("0.weight" is seq[1].weight).
local base = require "ember.nn.module"

local Module, is_module = base.Module, base.is_module
local fmt = string.format
local raise = base.raise

local Co = {}

local function check_module(v, who, i)
  if not is_module(v) then
    raise(fmt("%s: argument %s is a %s, not a Module", who, tostring(i), type(v)))
  end
end

-- {====== Sequential

-- Sequential(m1, m2, ...) or Sequential{ {"name", m1}, {"name2", m2}, ... } (named
-- children, in that order); forward feeds each child's output to the next.
local Sequential = Module:extend("Sequential")

function Sequential:init(...)
  local n = select("#", ...)
  local first = ...
  if n == 1 and type(first) == "table" and not is_module(first) then
    for i, entry in ipairs(first) do
      if type(entry) ~= "table" or type(entry[1]) ~= "string" then
        raise(fmt("Sequential: entry %d must be {name, module}", i))
      end
      check_module(entry[2], "Sequential", entry[1])
      self:add_module(entry[1], entry[2])
    end
    rawset(self, "_named", true)
    return
  end
  for i = 1, n do
    local m = select(i, ...)
    check_module(m, "Sequential", i)
    self[i] = m
  end
end

function Sequential:forward(x)
  if rawget(self, "_named") then
    local keys = self._reg.m
    for i = 1, #keys do
      local m = rawget(self, keys[i])
      if m ~= nil then x = m(x) end
    end
    return x
  end
  for i = 1, rawlen(self) do x = self[i](x) end
  return x
end

function Sequential:append(m)
  check_module(m, "Sequential:append", 1)
  if rawget(self, "_named") then
    self:add_module(tostring(#self._reg.m), m)
  else
    self[rawlen(self) + 1] = m
  end
  return self
end

-- #seq counts the children of either form
function Sequential:__len() return #self._reg.m end
Co.Sequential = Sequential

-- }======

-- {====== ModuleList

-- ModuleList({m1, m2, ...}): a list of children; ipairs, #, list[i]. PyTorch's extend
-- is extend_list here, since extend makes subclasses.
local ModuleList = Module:extend("ModuleList")

function ModuleList:init(modules)
  if modules ~= nil then self:extend_list(modules) end
end

function ModuleList:append(m)
  check_module(m, "ModuleList:append", 1)
  self[#self + 1] = m
  return self
end

function ModuleList:extend_list(modules)
  if type(modules) ~= "table" or is_module(modules) and getmetatable(modules) ~= ModuleList then
    raise("ModuleList: expected a list of modules")
  end
  for i, m in ipairs(modules) do
    check_module(m, "ModuleList", i)
    self[#self + 1] = m
  end
  return self
end

-- insert(i, m): m becomes list[i]; the children from i on move up by one
function ModuleList:insert(i, m)
  check_module(m, "ModuleList:insert", 2)
  local n = #self
  if math.type(i) == "integer" and i < 0 then i = n + i + 1 end   -- -1: before the last
  if math.type(i) ~= "integer" or i < 1 or i > n + 1 then
    raise(fmt("ModuleList:insert: index %s out of range 1..%d", tostring(i), n + 1))
  end
  if i == n + 1 then self[i] = m; return self end
  self[n + 1] = self[n]
  for k = n, i + 1, -1 do rawset(self, k, rawget(self, k - 1)) end
  rawset(self, i, m)
  return self
end

function ModuleList:forward()
  raise("ModuleList: has no forward; call its children")
end
Co.ModuleList = ModuleList

-- }======

-- {====== ModuleDict

-- ModuleDict{ name = m, ... } (keys in sorted order) or ModuleDict{ {"name", m}, ... }
-- (in the given order); md.name or md["name"]
local ModuleDict = Module:extend("ModuleDict")

function ModuleDict:init(modules)
  if modules ~= nil then self:update(modules) end
end

function ModuleDict:set(name, m)
  if type(name) ~= "string" then raise(fmt("ModuleDict: keys are strings, got %s", type(name))) end
  if rawget(self, name) == nil and ModuleDict[name] ~= nil then
    raise(fmt("ModuleDict: key '%s' would hide the method of that name", name))
  end
  check_module(m, "ModuleDict", name)
  self:add_module(name, m)
  return m
end

function ModuleDict:update(modules)
  if type(modules) ~= "table" then raise("ModuleDict: expected a table of modules") end
  if #modules > 0 then
    for i, entry in ipairs(modules) do
      if type(entry) ~= "table" or type(entry[1]) ~= "string" then
        raise(fmt("ModuleDict: entry %d must be {name, module}", i))
      end
      self:set(entry[1], entry[2])
    end
  else
    local keys = {}
    for k in pairs(modules) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do self:set(k, modules[k]) end
  end
  return self
end

function ModuleDict:keys()
  local list = {}
  for name in self:named_children() do list[#list + 1] = name end
  return list
end

function ModuleDict:values() return self:children() end

-- for name, m in md:items() do ... end, in order
function ModuleDict:items() return self:named_children() end

function ModuleDict:contains(name) return self._reg.kind[name] == "m" and rawget(self, name) ~= nil end

function ModuleDict:forward()
  raise("ModuleDict: has no forward; call its children")
end
Co.ModuleDict = ModuleDict

-- }======

return Co
