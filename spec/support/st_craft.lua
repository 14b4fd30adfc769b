-- st_craft.lua — raw safetensors files for the specs, built byte by byte (so a file
-- can break exactly one rule), temporary directories, and the independent Python
-- reader (st_reader.py, run by /usr/bin/python3) for a second opinion on any file.
local json = require "dkjson"

local C = {}

local PY = "/usr/bin/python3"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support"

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
C.quote = quote

-- {====== files and directories

-- A fresh empty directory under the system's temporary directory, or inside parent
-- (so that removing parent removes it too, even when a failing case skips its own
-- cleanup).
local nsub = 0
function C.tmpdir(parent)
  local p
  if parent then
    nsub = nsub + 1
    p = string.format("%s/d%03d", parent, nsub)
  else
    p = os.tmpname()
    os.remove(p)
  end
  assert(os.execute("mkdir -m 700 " .. quote(p)), "cannot make " .. p)
  return p
end

-- Removes a directory made by tmpdir (and only such a one).
function C.rmdir(p)
  local base = os.tmpname()
  os.remove(base)
  local prefix = base:match("^(.*/)")
  assert(p:sub(1, #prefix) == prefix and not p:find("%.%.", 1, true), "not a temp dir: " .. p)
  os.execute("rm -rf " .. quote(p))
end

function C.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function C.write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

function C.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The names in dir (hidden ones included), sorted.
function C.list(dir)
  local p = assert(io.popen("ls -A " .. quote(dir)))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

-- }======

-- {====== bytes

-- A safetensors file: 8 bytes little-endian n (the header's length unless given),
-- the header text, the data.
function C.file(path, header, data, n)
  return C.write(path, string.pack("<I8", n or #header) .. header .. (data or ""))
end

-- A JSON string literal (for names in crafted headers).
function C.str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local short = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
                    ['\b'] = '\\b', ['\f'] = '\\f' }
    return short[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- One tensor's entry: "name":{"dtype":..,"shape":[..],"data_offsets":[b,e]}
function C.entry(name, dtype, shape, b, e)
  local dims = {}
  for i, d in ipairs(shape) do dims[i] = tostring(d) end
  return string.format('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}', C.str(name),
                       dtype, table.concat(dims, ","), b, e)
end

-- n deterministic pseudo-random bytes (a 32-bit LCG; seed picks the sequence).
function C.bytes(n, seed)
  local x = (seed or 1) * 2654435761 % 4294967296
  local out = {}
  for i = 1, n do
    x = (1664525 * x + 1013904223) % 4294967296
    out[i] = string.char(x >> 24)
  end
  return table.concat(out)
end

-- The data section of a safetensors file (everything after the header).
function C.data_section(bytes)
  local n = string.unpack("<I8", bytes)
  return bytes:sub(9 + n)
end

-- The header text of a safetensors file.
function C.header(bytes)
  local n = string.unpack("<I8", bytes)
  return bytes:sub(9, 8 + n)
end

-- }======

-- {====== the independent reader

-- Runs st_reader.py over the files; one decoded result per path:
-- {ok, error, header, canonical_header, metadata, tensors = {{name, dtype, shape,
-- offsets, sha256, hex, values, f32, bf16}}}, plus by_name[name] -> tensor entry.
function C.reader(paths, opts)
  local args = {}
  for i, p in ipairs(paths) do args[i] = quote(p) end
  if opts and opts.values == false then args[#args + 1] = "--no-values" end
  local cmd = string.format("%s %s/st_reader.py %s", PY, here, table.concat(args, " "))
  local p = assert(io.popen(cmd))
  local text = p:read("a")
  local ok = p:close()
  assert(ok, "st_reader.py failed: " .. cmd)
  local out = assert(json.decode(text), "st_reader.py: bad output")
  for _, r in ipairs(out) do
    r.by_name = {}
    for _, t in ipairs(r.tensors or {}) do r.by_name[t.name] = t end
  end
  return out
end

function C.read1(path, opts) return C.reader({ path }, opts)[1] end

-- A JSON file as Python's json module reads it, back as a Lua table.
function C.python_json(path)
  local cmd = string.format("%s -c %s %s", PY,
    quote("import json, sys; print(json.dumps(json.load(open(sys.argv[1], encoding='utf-8'))))"), quote(path))
  local p = assert(io.popen(cmd))
  local text = p:read("a")
  assert(p:close(), "python could not read " .. path .. " as JSON")
  return assert(json.decode(text))
end

-- A number from the reader's JSON: "nan", "inf", "-inf" are strings there.
function C.num(v)
  if v == "nan" then return 0 / 0 elseif v == "inf" then return math.huge
  elseif v == "-inf" then return -math.huge end
  return v
end

-- Equal as floats, NaN equal to NaN.
function C.same_float(a, b)
  a, b = C.num(a), C.num(b)
  if type(a) == "boolean" then a = a and 1 or 0 end
  if type(b) == "boolean" then b = b and 1 or 0 end
  if a ~= a then return b ~= b end
  return a == b
end

-- A Lua integer read as unsigned 64-bit, in decimal.
function C.u64_text(v)
  if v >= 0 then return string.format("%d", v) end
  local q = (v >> 1) // 5
  return string.format("%d%d", q, v - q * 10)
end

-- }======

return C
