-- ember.export: trace a Lua function or an nn module into a program file that the
-- runtime (libember_rt, ember-run) runs without Lua; ember.program: load one.
-- docs/export.md is the reference. The C side (bindings/l_export.c) records and
-- plans; this file decides what to trace and in which order the passes run.

local ember = require "ember"
local X = ember._export
local fmt = string.format

local Program = {}
Program.__index = Program

local is_tensor = ember.is_tensor

local function is_module(m)
  return type(m) == "table" and type(m.forward) == "function" and type(m.named_parameters) == "function"
end

-- The outputs of one call, as a list, and whether the function gave one tensor.
local function outputs_of(res)
  if res.n == 1 and type(res[1]) == "table" and not is_tensor(res[1]) then
    return res[1], false
  end
  local list = {}
  for i = 1, res.n do list[i] = res[i] end
  return list, res.n == 1
end

-- One trace of fn on ins: a graph, and whether it returned a single tensor.
local function trace(fn, ins, module, opts)
  local tr = X.trace_begin()
  local names = opts.input_names or {}
  local ok, err = pcall(function()
    for i, t in ipairs(ins) do tr:input(names[i] or ("input" .. i), t) end
    if module then
      for name, p in module:named_parameters() do tr:name(p, name) end
      for name, b in module:named_buffers() do tr:name(b, name) end
    end
  end)
  if not ok then tr:abort(); error(err, 0) end
  local res
  ok, err = pcall(function()
    res = table.pack(ember.no_grad(function() return fn(table.unpack(ins, 1, #ins)) end))
  end)
  if not ok then
    tr:abort()
    error(err, 0)
  end
  local list, single = outputs_of(res)
  return tr:finish(list, opts.output_names), single
end

-- ins with dim d (1-based) of input k made size n: the example's slices repeated or
-- cut, so that values (token ids) stay valid.
local function resized(ins, k, d, n)
  local x = ins[k]
  local have = x:size(d)
  local idx = {}
  for j = 1, n do idx[j] = (j - 1) % have + 1 end
  local out = {}
  for i, t in ipairs(ins) do out[i] = t end
  out[k] = x:index_select(d, ember.tensor(idx, "i64"))
  return out
end

local function check_dynamic(dynamic, ins)
  local dims = {}
  for name, spec in pairs(dynamic) do
    if type(name) ~= "string" or type(spec) ~= "table" then
      error("export: dynamic must map dim names to {input = i, dim = d, max = m}", 3)
    end
    local k, d, max = spec.input or 1, spec.dim, spec.max
    local x = ins[k]
    if x == nil then error(fmt("export: dynamic dim %q names input %s, which was not given", name, tostring(k)), 3) end
    if type(d) ~= "number" or d < 1 or d > x:dim() then
      error(fmt("export: dynamic dim %q: dim %s is not a dim of input %d (%d dims)", name, tostring(d), k, x:dim()), 3)
    end
    if type(max) ~= "number" or max < x:size(d) then
      error(fmt("export: dynamic dim %q: max %s is below the example's size %d", name, tostring(max), x:size(d)), 3)
    end
    dims[#dims + 1] = { name = name, input = k, dim = d, max = max, size = x:size(d) }
  end
  table.sort(dims, function(a, b) return a.name < b.name end)
  return dims
end

local function disabled_passes(passes)
  if passes == nil or passes == true then return "" end
  if passes == false then return "dce,fold,cse,fold_bn,fuse" end
  local off = {}
  for name, on in pairs(passes) do if on == false then off[#off + 1] = name end end
  table.sort(off)
  return table.concat(off, ",")
end

local function tmpname()
  local dir = os.getenv("TMPDIR") or "/tmp"
  return fmt("%s/ember-export-%d-%d.ember", dir, os.time(), math.random(1 << 30))
end

local function open(path, opts, extra)
  local p = setmetatable(extra or {}, Program)
  p.rt = X.rt_load(path, opts and opts.device or "cpu")
  p.path = path
  return p
end

-- ember.export(fn_or_module, example_inputs, opts) -> program
function ember.export(fn, inputs, opts)
  opts = opts or {}
  local module
  if is_module(fn) then
    module = fn
    fn = function(...) return module:forward(...) end
  elseif type(fn) ~= "function" and not (getmetatable(fn) or {}).__call then
    error("export: expected a function or an nn module, got " .. type(fn), 2)
  end
  local ins = is_tensor(inputs) and { inputs } or inputs
  if type(ins) ~= "table" then error("export: example inputs must be a tensor or a list of tensors", 2) end
  for i, t in ipairs(ins) do
    if not is_tensor(t) then error(fmt("export: example input %d is a %s, not a tensor", i, type(t)), 2) end
  end
  local dims = check_dynamic(opts.dynamic or {}, ins)
  local g, single = trace(fn, ins, module, opts)
  for i, dim in ipairs(dims) do
    g:add_dim(dim.name, dim.max, dim.size)
    local other = dim.size + 1 <= dim.max and dim.size + 1 or dim.size - 1
    if other < 1 then
      error(fmt("export: dynamic dim %q: max %d leaves no second size to trace", dim.name, dim.max), 2)
    end
    local h = trace(fn, resized(ins, dim.input, dim.dim, other), module, opts)
    g:unify(h, i, dim.size, other)
  end
  local traced = g:dump()
  g:optimize(disabled_passes(opts.passes))
  g:plan()
  local meta = {}
  for k, v in pairs(opts.metadata or {}) do meta[k] = v end
  -- kernel scratch is measured by one run at the bounds, then written into the plan
  local probe = tmpname()
  g:save(probe, 0, nil, meta)
  local ok, rt = pcall(X.rt_load, probe)
  os.remove(probe)
  if not ok then error(rt, 2) end
  local workspace = rt:measure_workspace()
  rt:close()
  local path = opts.path or tmpname()
  g:save(path, workspace, nil, meta)
  local prog = open(path, opts, { traced_graph = traced, graph_text = g:dump(), single = single })
  if not opts.path then
    os.remove(path)   -- the mapping stays valid; nothing is left on disk
    prog.path = nil
  end
  return prog
end

-- ember.program(path, {device = "cpu" | "vulkan"}) -> program
function ember.program(path, opts)
  if type(path) ~= "string" then error("program: expected a path", 2) end
  return open(path, opts)
end

-- prog:run(x, ...) or prog:run{x, ...} -> the outputs (one value per output)
function Program:run(...)
  local ins = { ... }
  if #ins == 1 and type(ins[1]) == "table" and not is_tensor(ins[1]) then ins = ins[1] end
  local outs = self.rt:run(ins)
  return table.unpack(outs, 1, #outs)
end
Program.__call = function(self, ...) return self:run(...) end

function Program:graph(which) return which == "traced" and self.traced_graph or self.graph_text end
function Program:inputs() return self.rt:inputs() end
function Program:outputs() return self.rt:outputs() end
function Program:sizes() return self.rt:sizes() end
function Program:profile(on) return self.rt:profile(on) end
function Program:close() self.rt:close() end

function Program:__tostring()
  local s = self.rt:sizes()
  local function list(t)
    local parts = {}
    for _, x in ipairs(t) do
      local shape = {}
      for d, n in ipairs(x.shape) do shape[d] = x.dims[d] or tostring(n) end
      parts[#parts + 1] = fmt("%s: %s[%s]", x.name, x.dtype, table.concat(shape, "x"))
    end
    return table.concat(parts, ", ")
  end
  return fmt("ember.program(%s) -> (%s); arena %d bytes, weights %d bytes",
             list(self.rt:inputs()), list(self.rt:outputs()), s.arena, s.weights)
end

-- the module's own table (not ember: Lua would name ember's functions through it)
return { export = ember.export, program = ember.program, Program = Program }
