-- ember.checkpoint — a training run in one safetensors file, to resume bit-exactly.
--
--   checkpoint.save("run.safetensors", {model = m, optimizer = opt, scheduler = sched,
--                                       extra = {epoch = 3, best = 0.97}})
--   local extra = checkpoint.load("run.safetensors", {model = m, optimizer = opt, scheduler = sched})
--
-- The file: the model's tensors under their state_dict names ("fc1.weight"), the
-- optimizer's state tensors under "optimizer.state.<i>.<name>" (i numbers the
-- parameters from 1 across the groups), and in __metadata__ three JSON texts:
-- "optimizer" (hyperparameters, parameter numbers, step counts), "scheduler" and
-- "extra". A file saved with the model alone is a plain state dict:
-- model:load_state_dict(ember.load(path)) reads it, and so does PyTorch.
--
-- A model is anything with state_dict() and load_state_dict(sd), or a plain table
-- {name = tensor} (a list {t1, t2} names its tensors "1", "2"), loaded by copying
-- into those tensors. The writer is atomic (a temporary file renamed over the old).
--
-- Numbers in the JSON keep every bit and their Lua subtype: integers print as
-- integers, floats with 17 significant digits and a point or exponent, and the
-- non-finite ones as NaN, Infinity and -Infinity (as Python's json writes them), so
-- learning rates, betas and step counts come back exactly as they were.
local ember = require "ember"
local Optimizer = require "ember.optim.optimizer"

local checkpoint = {}

local OPT_PREFIX = "optimizer."

-- {====== JSON

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n',
                  ['\r'] = '\\r', ['\t'] = '\\t' }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function encode_number(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x then return "NaN" end
  if x == math.huge then return "Infinity" end
  if x == -math.huge then return "-Infinity" end
  local s = string.format("%.17g", x)
  if not s:find("[%.eEn]") then s = s .. ".0" end      -- 3.0 stays a float
  return s
end

local function encode(v, path, out)
  local t = type(v)
  if t == "number" then
    out[#out + 1] = encode_number(v)
  elseif t == "string" then
    if not utf8.len(v) then error(path .. " is a string that is not UTF-8 text", 0) end
    out[#out + 1] = encode_string(v)
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "table" and not ember.is_tensor(v) then
    local n, strings, ints = #v, {}, 0
    for k in pairs(v) do
      if type(k) == "string" then strings[#strings + 1] = k
      elseif math.type(k) == "integer" and k >= 1 and k <= n then ints = ints + 1
      else error(string.format("%s has a key %s that is neither a name nor a list position", path, tostring(k)), 0) end
    end
    if #strings > 0 and ints > 0 then
      error(path .. " mixes list entries and named entries", 0)
    end
    if ints > 0 then
      if ints ~= n then error(path .. " is a list with holes", 0) end
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], path .. "[" .. i .. "]", out)
      end
      out[#out + 1] = "]"
    else
      table.sort(strings)
      out[#out + 1] = "{"
      for i, k in ipairs(strings) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k) .. ":"
        encode(v[k], path .. "." .. k, out)
      end
      out[#out + 1] = "}"
    end
  else
    error(string.format("%s is a %s; only numbers, strings, booleans and tables of them can be saved",
                        path, ember.is_tensor(v) and "tensor" or t), 0)
  end
end

local function to_json(v, path)
  local out = {}
  encode(v, path, out)
  return table.concat(out)
end

local unescapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ['\\'] = '\\', ['/'] = '/' }
local literals = { ["true"] = true, ["false"] = false, ["NaN"] = 0 / 0, ["Infinity"] = math.huge,
                   ["-Infinity"] = -math.huge }

-- Decodes the JSON text s (what to_json writes, or any JSON without null).
local function from_json(s, what)
  local pos = 1
  local function fail(msg)
    error(string.format("%s: bad JSON at byte %d: %s", what, pos, msg), 0)
  end
  local function skip()
    pos = s:find("[^ \t\r\n]", pos) or #s + 1
  end
  local function hex4(at)
    local h = s:sub(at, at + 3)
    if not h:match("^%x%x%x%x$") then fail("bad \\u escape") end
    return tonumber(h, 16)
  end
  local function str()
    local parts = {}
    pos = pos + 1
    while true do
      local a = s:find('["\\]', pos)
      if a == nil then fail("unterminated string") end
      parts[#parts + 1] = s:sub(pos, a - 1)
      if s:byte(a) == 34 then pos = a + 1; break end
      local c = s:sub(a + 1, a + 1)
      if c == "u" then
        local cp = hex4(a + 2)
        pos = a + 6
        if cp >= 0xD800 and cp <= 0xDBFF and s:sub(pos, pos + 1) == "\\u" then
          local lo = hex4(pos + 2)
          if lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            pos = pos + 6
          end
        end
        parts[#parts + 1] = utf8.char(cp)
      elseif unescapes[c] then
        parts[#parts + 1] = unescapes[c]
        pos = a + 2
      else
        fail("bad escape \\" .. c)
      end
    end
    return table.concat(parts)
  end
  -- An object's or a list's entries, from its opening bracket to close: entry()
  -- reads one, and commas separate them.
  local function entries(close, entry)
    pos = pos + 1
    skip()
    if s:sub(pos, pos) == close then pos = pos + 1; return end
    while true do
      entry()
      skip()
      local d = s:sub(pos, pos)
      pos = pos + 1
      if d == close then return end
      if d ~= "," then fail("expected ',' or '" .. close .. "'") end
    end
  end
  local value
  function value()
    skip()
    local c = s:sub(pos, pos)
    if c == "{" then
      local obj = {}
      entries("}", function()
        skip()
        if s:sub(pos, pos) ~= '"' then fail("expected a name") end
        local k = str()
        skip()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value()
      end)
      return obj
    elseif c == "[" then
      local list = {}
      entries("]", function() list[#list + 1] = value() end)
      return list
    elseif c == '"' then
      return str()
    end
    local word = s:match("^-?[%w%.+-]+", pos)
    if word == nil then fail("unexpected " .. (c == "" and "end of text" or "'" .. c .. "'")) end
    local lit = literals[word]
    if lit == nil then
      if not word:match("^-?%d+%.?%d*[eE]?[+-]?%d*$") then fail("unexpected '" .. word .. "'") end
      lit = tonumber(word)
      if lit == nil then fail("bad number '" .. word .. "'") end
    end
    pos = pos + #word
    return lit
  end
  local v = value()
  skip()
  if pos <= #s then fail("text after the value") end
  return v
end

checkpoint._to_json, checkpoint._from_json = to_json, from_json

-- }======

local function model_state(model)
  if type(model) ~= "table" then
    error("model must have state_dict() or be a table {name = tensor}, got " .. type(model), 0)
  end
  if type(model.state_dict) == "function" then return model:state_dict() end
  local sd = {}
  for k, t in pairs(model) do
    if not ember.is_tensor(t) then
      error(string.format("model: %s is a %s, not a tensor", tostring(k), type(t)), 0)
    end
    sd[tostring(k)] = t
  end
  return sd
end

local function sizes(t)
  return table.concat(t:size(), "x")
end

-- A plain table of tensors is loaded strictly, by copying, so references to those
-- tensors (an optimizer's parameters) stay valid.
local function load_plain(model, sd)
  local problems = {}
  for k, t in pairs(model) do
    local src = sd[tostring(k)]
    if src == nil then
      problems[#problems + 1] = string.format("missing %q", tostring(k))
    elseif sizes(src) ~= sizes(t) then
      problems[#problems + 1] = string.format("%q has shape %s in the file, %s in the model", tostring(k),
                                              sizes(src), sizes(t))
    end
  end
  for name in pairs(sd) do
    local k = math.tointeger(tonumber(name)) or name
    if model[k] == nil and model[name] == nil then problems[#problems + 1] = string.format("unexpected %q", name) end
  end
  if #problems > 0 then
    table.sort(problems)
    error("model: " .. table.concat(problems, "; "), 0)
  end
  ember.no_grad(function()
    for k, t in pairs(model) do t:copy_(sd[tostring(k)]) end
  end)
end

local known = { model = true, optimizer = true, scheduler = true, extra = true }

local function check_args(fname, path, what)
  if type(path) ~= "string" then error(fname .. ": path must be a string, got " .. type(path), 0) end
  if type(what) ~= "table" then
    error(fname .. ": the second argument is a table {model = m, optimizer = opt, scheduler = s, extra = {...}}", 0)
  end
  for k in pairs(what) do
    if not known[k] then error(string.format("%s: unknown field %q (model, optimizer, scheduler, extra)", fname, tostring(k)), 0) end
  end
end

local function save(path, what)
  check_args("checkpoint.save", path, what)
  local tensors, meta = {}, { format = "pt" }
  if what.model ~= nil then
    for name, t in pairs(model_state(what.model)) do
      if type(name) ~= "string" or not ember.is_tensor(t) then
        error("checkpoint.save: model:state_dict() must map names to tensors", 0)
      end
      tensors[name] = t
    end
  end
  if what.optimizer ~= nil then
    local opt = what.optimizer
    if type(opt) ~= "table" or type(opt.state_dict) ~= "function" then
      error("checkpoint.save: optimizer must be an optimizer from ember.optim", 0)
    end
    local ot, data = Optimizer.flatten_state_dict(opt:state_dict(), OPT_PREFIX)
    for name, t in pairs(ot) do
      if tensors[name] then
        error(string.format("checkpoint.save: the model has a tensor named %q, which the optimizer's state needs", name), 0)
      end
      tensors[name] = t
    end
    meta.optimizer = to_json(data, "optimizer state")
  end
  if what.scheduler ~= nil then
    local s = what.scheduler
    if type(s) ~= "table" or type(s.state_dict) ~= "function" then
      error("checkpoint.save: scheduler must be a scheduler from ember.optim", 0)
    end
    meta.scheduler = to_json(s:state_dict(), "scheduler state")
  end
  if what.extra ~= nil then meta.extra = to_json(what.extra, "extra") end
  ember.save(tensors, path, meta)
end

local function load(path, what)
  what = what or {}
  check_args("checkpoint.load", path, what)
  local tensors, meta = ember.load(path)
  meta = meta or {}
  local model_sd, opt_tensors = {}, {}
  local has_opt = meta.optimizer ~= nil
  for name, t in pairs(tensors) do
    if has_opt and name:sub(1, #OPT_PREFIX + 6) == OPT_PREFIX .. "state." then opt_tensors[name] = t
    else model_sd[name] = t end
  end
  if what.model ~= nil then
    local m = what.model
    if type(m) ~= "table" then error("checkpoint.load: model must have load_state_dict() or be a table {name = tensor}", 0) end
    if type(m.load_state_dict) == "function" then m:load_state_dict(model_sd)
    else load_plain(m, model_sd) end
  end
  if what.optimizer ~= nil then
    if not has_opt then error("checkpoint.load: " .. path .. " holds no optimizer state", 0) end
    local data = from_json(meta.optimizer, path .. ": optimizer state")
    what.optimizer:load_state_dict(Optimizer.unflatten_state_dict(opt_tensors, data, OPT_PREFIX))
  end
  if what.scheduler ~= nil then
    if meta.scheduler == nil then error("checkpoint.load: " .. path .. " holds no scheduler state", 0) end
    what.scheduler:load_state_dict(from_json(meta.scheduler, path .. ": scheduler state"))
  end
  if meta.extra ~= nil then return from_json(meta.extra, path .. ": extra") end
  return nil
end

-- Errors come out at the caller's line, with the position inside this file and
-- the optimizer's files dropped.
local function rethrow(msg)
  error((tostring(msg):gsub("^[^\n]-%.lua:%d+: ", "")), 3)
end

-- checkpoint.save(path, {model =, optimizer =, scheduler =, extra =}): every field
-- is optional; extra is plain data (numbers, strings, booleans, tables of them).
function checkpoint.save(path, what)
  local ok, err = pcall(save, path, what)
  if not ok then rethrow(err) end
end

-- checkpoint.load(path [, {model =, optimizer =, scheduler =}]) -> extra: restores
-- what it is given (the optimizer before the scheduler, whose state refers to the
-- optimizer's groups) and returns the saved extra, or nil.
function checkpoint.load(path, what)
  local ok, extra = pcall(load, path, what)
  if not ok then rethrow(extra) end
  return extra
end

return checkpoint
