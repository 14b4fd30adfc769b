-- oracle.lua — PyTorch as the reference for specs.
-- Cases go to /usr/bin/python3 (Debian's torch) in one batch; each case is a torch
-- expression over inputs x[0], x[1], ... given as tensors with dtype and values.
--   local oracle = require "oracle"
--   local r = oracle.eval({ { expr = "torch.add(x[0], x[1])", inputs = { a, b } } })
--   oracle.assert_close(ember_result, r[1], 1e-5)
-- Index values: torch's are 0-based; write "+ 1" in the expression where ember's are 1-based.
local ember = require "ember"
local json = require "dkjson"

local oracle = {}

local PY = "/usr/bin/python3"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support"

local function encode_tensor(t)
  local flat = t:contiguous():view(-1):totable()
  local data = {}
  for i, v in ipairs(flat) do
    if type(v) == "boolean" then data[i] = v and 1 or 0
    elseif math.type(v) == "float" then
      if v ~= v then data[i] = "nan" elseif v == math.huge then data[i] = "inf"
      elseif v == -math.huge then data[i] = "-inf" else data[i] = string.format("%.17g", v) end
    else data[i] = v end
  end
  return { dtype = t:dtype(), shape = t:size(), data = data }
end

-- Run a Python oracle script on a request (a JSON-able table) and decode its reply.
function oracle.call(script, req)
  local inpath, outpath = os.tmpname(), os.tmpname()
  local f = assert(io.open(inpath, "w"))
  f:write(json.encode(req))
  f:close()
  local ok = os.execute(string.format("%s %s/%s %s %s", PY, here, script, inpath, outpath))
  os.remove(inpath)
  assert(ok, "oracle: " .. PY .. " failed (is python3-torch installed? run make deps)")
  f = assert(io.open(outpath))
  local out = json.decode(f:read("a"))
  f:close()
  os.remove(outpath)
  return out
end

oracle.encode = encode_tensor

-- Evaluate cases; returns one result per case: { ok = true, outputs = {...} } or
-- { ok = false, error = "..." }. Each output: { dtype, shape, data } (numbers).
function oracle.eval(cases)
  local req = {}
  for i, c in ipairs(cases) do
    local inputs = {}
    for j, t in ipairs(c.inputs or {}) do inputs[j] = encode_tensor(t) end
    req[i] = { expr = c.expr, inputs = inputs }
  end
  return oracle.call("oracle.py", req)
end

function oracle.number(v)
  if v == "nan" then return 0 / 0 elseif v == "inf" then return math.huge
  elseif v == "-inf" then return -math.huge elseif v == true then return 1
  elseif v == false then return 0 end
  return tonumber(v)
end

local torch_dtypes = {
  float32 = "f32", float64 = "f64", float16 = "f16", bfloat16 = "bf16", int8 = "i8",
  int16 = "i16", int32 = "i32", int64 = "i64", uint8 = "u8", bool = "bool",
}

-- Check an ember tensor against one oracle output: dtype (unless opts.dtype == false),
-- shape, and values within rtol (relative) / atol (absolute). NaN matches NaN.
function oracle.close(t, ref, rtol, atol, opts)
  rtol = rtol or 1e-5
  atol = atol or rtol
  opts = opts or {}
  local want_dtype = torch_dtypes[ref.dtype] or ref.dtype
  if opts.dtype ~= false and t:dtype() ~= want_dtype then
    return false, string.format("dtype %s, torch gives %s", t:dtype(), want_dtype)
  end
  local shape = t:size()
  if #shape ~= #ref.shape then
    return false, string.format("shape %s, torch gives %s", table.concat(shape, "x"),
                                table.concat(ref.shape, "x"))
  end
  for i = 1, #shape do
    if shape[i] ~= ref.shape[i] then
      return false, string.format("shape %s, torch gives %s", table.concat(shape, "x"),
                                  table.concat(ref.shape, "x"))
    end
  end
  local got = t:numel() > 0 and t:contiguous():view(-1):totable() or {}
  for i = 1, #ref.data do
    local a, b = oracle.number(got[i]), oracle.number(ref.data[i])
    local bad
    if b ~= b then bad = a == a
    elseif b == math.huge or b == -math.huge then bad = a ~= b
    else bad = math.abs(a - b) > atol + rtol * math.abs(b) end
    if bad then
      return false, string.format("element %d: ember %.9g, torch %.9g", i, a, b)
    end
  end
  return true
end

function oracle.assert_close(t, ref, rtol, atol, opts)
  assert(ref.ok ~= false, "oracle failed: " .. tostring(ref.error))
  local r = ref.outputs and ref.outputs[1] or ref
  local ok, msg = oracle.close(t, r, rtol, atol, opts)
  assert(ok, msg)
end

-- A nested table of `shape` filled in row-major order with f(1), f(2), ...
function oracle.build(shape, f)
  local n = 0
  local function rec(d)
    if d > #shape then n = n + 1; return f(n) end
    local t = {}
    for i = 1, shape[d] do t[i] = rec(d + 1) end
    return t
  end
  return rec(1)
end

-- Deterministic values in [-amplitude, amplitude) from a formula (no RNG), so a
-- failing case reproduces anywhere; `seed` picks another sequence.
function oracle.gen(shape, seed, dtype, amplitude)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local flat = {}
  amplitude = amplitude or 1
  for i = 1, n do flat[i] = (((i * 7919 + seed * 104729) % 2003) / 1001.5 - 1) * amplitude end
  return ember.tensor(flat, dtype or "f32"):view(table.unpack(shape))
end

return oracle
