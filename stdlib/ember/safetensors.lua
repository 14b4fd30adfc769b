-- ember.load and ember.save: whole checkpoints in and out, one file or sharded the
-- way Hugging Face shards them (model-00001-of-00003.safetensors and
-- model.safetensors.index.json). The file format itself is C (host/io).
local ember = require "ember"
local st = ember.safetensors

-- ember.load(path [, opts]) -> {name = tensor}, metadata. With the mmap backend the
-- tensors are views onto the mapped file; closing the file object here is safe,
-- they keep the mapping alive.
local function load(path, opts)
  local f <close> = st.open(path, opts)
  local out = {}
  for _, name in ipairs(f:keys()) do out[name] = f:get(name) end
  return out, f:metadata()
end

-- Errors from inside this file are raised again at the caller's line, without the
-- position in this file, so a message points at the user's own call.
local function caller_error(msg)
  error((tostring(msg):gsub("^[^\n]-safetensors%.lua:%d+: ", "")), 3)
end

function ember.load(path, opts)
  local ok, out, meta = pcall(load, path, opts)
  if not ok then caller_error(out) end
  return out, meta
end

-- "5GB" -> 5e9 bytes (decimal units, binary ones spelled KiB/MiB/GiB), as
-- Hugging Face reads max_shard_size.
local units = { B = 1, KB = 10^3, MB = 10^6, GB = 10^9, TB = 10^12,
                KIB = 2^10, MIB = 2^20, GIB = 2^30, TIB = 2^40 }

local function parse_size(s)
  if math.type(s) == "integer" and s > 0 then return s end
  local num, unit = tostring(s):upper():match("^%s*([%d%.]+)%s*(%a*)%s*$")
  local scale = units[unit == "" and "B" or unit]
  if not num or not tonumber(num) or not scale or tonumber(num) <= 0 then
    error(string.format("save: max_shard_size %q is not a size like \"5GB\" or \"500MiB\"", tostring(s)), 3)
  end
  return math.floor(tonumber(num) * scale)
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local short = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
                    ['\b'] = '\\b', ['\f'] = '\\f' }
    return short[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function nbytes(t)
  return math.ceil(t:numel() * t:element_size())
end

-- Hugging Face's plan: tensors in order fill a shard until the next would pass the
-- limit; a tensor larger than the limit gets a shard of its own.
local function plan_shards(names, tensors, limit)
  local shards, cur, cur_size = {}, nil, 0
  for _, name in ipairs(names) do
    local size = nbytes(tensors[name])
    if cur == nil or cur_size + size > limit then
      cur, cur_size = {}, 0
      shards[#shards + 1] = cur
    end
    cur[#cur + 1] = name
    cur_size = cur_size + size
  end
  if #shards == 0 then shards[1] = {} end
  return shards
end

local function write_text(path, text)
  local tmp = path:gsub("([^/]*)$", ".%1.tmp")
  local f = assert(io.open(tmp, "wb"))
  local ok, err = f:write(text)
  f:close()
  if not ok then os.remove(tmp) error("save: " .. path .. ": IoError: " .. tostring(err), 3) end
  assert(os.rename(tmp, path))
end

local function save_sharded(names, tensors, dir, meta, limit)
  st._mkdir(dir)
  meta = meta or {}
  local shards = plan_shards(names, tensors, limit)
  local smeta = { format = "pt" }
  for k, v in pairs(meta) do smeta[k] = v end
  if #shards == 1 then      -- one shard: a plain model.safetensors, no index
    local list = {}
    for i, name in ipairs(shards[1]) do list[i] = tensors[name] end
    st._save(dir .. "/model.safetensors", shards[1], list, smeta)
    return
  end
  local map, total = {}, 0
  for i, shard in ipairs(shards) do
    local file = string.format("model-%05d-of-%05d.safetensors", i, #shards)
    local list = {}
    for k, name in ipairs(shard) do
      list[k] = tensors[name]
      map[#map + 1] = { name, file }
      total = total + nbytes(tensors[name])
    end
    st._save(dir .. "/" .. file, shard, list, smeta)
  end
  table.sort(map, function(a, b) return a[1] < b[1] end)
  local lines = { "{", '  "metadata": {', '    "total_size": ' .. math.tointeger(total), "  },",
                  '  "weight_map": {' }
  for i, e in ipairs(map) do
    lines[#lines + 1] = "    " .. json_string(e[1]) .. ": " .. json_string(e[2]) .. (i < #map and "," or "")
  end
  lines[#lines + 1] = "  }"
  lines[#lines + 1] = "}"
  write_text(dir .. "/model.safetensors.index.json", table.concat(lines, "\n") .. "\n")
end

-- ember.save(tensors, path [, metadata]): tensors is {name = tensor}; metadata is
-- {string = string}. The key max_shard_size (bytes, or text like "5GB") is an option,
-- not metadata: with it, path is a directory that gets the shards and their index.
local function save(tensors, path, metadata)
  if type(tensors) ~= "table" then error("save: tensors must be a table {name = tensor}", 2) end
  if type(path) ~= "string" then error("save: path must be a string", 2) end
  local names = {}
  for name, t in pairs(tensors) do
    if type(name) ~= "string" then error("save: tensor names must be strings", 2) end
    if not ember.is_tensor(t) then error(string.format("save: %q is not a tensor", name), 2) end
    names[#names + 1] = name
  end
  table.sort(names)
  local meta, limit = metadata and {} or nil, nil    -- nil: no __metadata__ at all
  for k, v in pairs(metadata or {}) do
    if k == "max_shard_size" then limit = parse_size(v) else meta[k] = v end
  end
  if limit then return save_sharded(names, tensors, path, meta, limit) end
  local list = {}
  for i, name in ipairs(names) do list[i] = tensors[name] end
  st._save(path, names, list, meta)
end

function ember.save(tensors, path, metadata)
  local ok, err = pcall(save, tensors, path, metadata)
  if not ok then caller_error(err) end
end

return st
