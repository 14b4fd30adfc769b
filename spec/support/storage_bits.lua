-- storage_bits.lua — independent truths for the storage-only dtypes, written from the
-- format definitions rather than from ember's code: each minifloat format as sign /
-- exponent / mantissa / bias with its special codes, a brute-force encoder (nearest of
-- all codes, ties to the even code), a bit-at-a-time packer for the sub-byte formats,
-- and a safetensors file writer and raw reader built by hand, so a spec can put exact
-- codes into ember and read exact codes back out.
local json = require "dkjson"

local M = {}

local NAN = 0 / 0

-- special: "ieee" (all-ones exponent: inf, or NaN with a mantissa), "fn" (no inf;
-- only S.1111.111 is NaN), "fnuz" (no inf, no -0; 0x80 alone is NaN), "finite" (every
-- code a number), "e8m0" (2^(code - 127), 0xFF NaN, no sign).
M.formats = {
  f8_e4m3     = { st = "F8_E4M3",     bits = 8, ebits = 4, mbits = 3, bias = 7,   special = "fn" },
  f8_e5m2     = { st = "F8_E5M2",     bits = 8, ebits = 5, mbits = 2, bias = 15,  special = "ieee" },
  f8_e4m3fnuz = { st = "F8_E4M3FNUZ", bits = 8, ebits = 4, mbits = 3, bias = 8,   special = "fnuz" },
  f8_e5m2fnuz = { st = "F8_E5M2FNUZ", bits = 8, ebits = 5, mbits = 2, bias = 16,  special = "fnuz" },
  f8_e8m0     = { st = "F8_E8M0",     bits = 8, ebits = 8, mbits = 0, bias = 127, special = "e8m0" },
  f6_e2m3     = { st = "F6_E2M3",     bits = 6, ebits = 2, mbits = 3, bias = 1,   special = "finite" },
  f6_e3m2     = { st = "F6_E3M2",     bits = 6, ebits = 3, mbits = 2, bias = 3,   special = "finite" },
  f4          = { st = "F4",          bits = 4, ebits = 2, mbits = 1, bias = 1,   special = "finite" },
}
M.order = { "f8_e4m3", "f8_e5m2", "f8_e4m3fnuz", "f8_e5m2fnuz", "f8_e8m0", "f6_e2m3", "f6_e3m2", "f4" }
for name, f in pairs(M.formats) do
  f.name = name
  f.ncodes = 1 << f.bits
  f.signbit = f.special == "e8m0" and 0 or 1 << (f.ebits + f.mbits)
end

-- The magnitude of a sign-less code, by the normal/subnormal rule alone (no specials):
-- e = 0: 0.m * 2^(1 - bias); otherwise 1.m * 2^(e - bias). The exponent is not masked,
-- so the code just past the top of the range gives the next power of two.
local function magnitude(f, code)
  local e = code >> f.mbits
  local m = code & ((1 << f.mbits) - 1)
  local frac = m / (1 << f.mbits)
  if e == 0 then return frac * 2.0 ^ (1 - f.bias) end
  return (1 + frac) * 2.0 ^ (e - f.bias)
end
M.magnitude = magnitude

function M.decode(f, code)
  if f.special == "e8m0" then
    if code == 0xFF then return NAN end
    return 2.0 ^ (code - 127)
  end
  local neg = code & f.signbit ~= 0
  local mag_code = code & (f.signbit - 1)
  local eall = (1 << f.ebits) - 1
  local e, m = mag_code >> f.mbits, mag_code & ((1 << f.mbits) - 1)
  if f.special == "fnuz" and code == f.signbit then return NAN end
  if f.special == "ieee" and e == eall then
    if m ~= 0 then return NAN end
    return neg and -math.huge or math.huge
  end
  if f.special == "fn" and e == eall and m == (1 << f.mbits) - 1 then return NAN end
  local v = magnitude(f, mag_code)
  if neg then return -v end
  return v
end

-- The largest finite magnitude code of a format.
function M.max_code(f)
  if f.special == "e8m0" then return 0xFE end
  local eall, mall = (1 << f.ebits) - 1, (1 << f.mbits) - 1
  if f.special == "ieee" then return ((eall - 1) << f.mbits) | mall end
  if f.special == "fn" then return (eall << f.mbits) | (mall - 1) end
  return f.signbit - 1
end

-- Round x to the format: the nearest of every finite magnitude, ties to the even code;
-- the code after the largest stands for "rounds past the largest finite": inf for
-- ieee, NaN for fn/fnuz, the largest finite for finite. Returns the code, or nil when
-- the answer is a NaN (whose sign bit the spec does not pin down).
-- E8M0 is PyTorch's rule: the nearest power of two (the tie 1.5 * 2^e goes up), the
-- sign ignored, past 2^127 NaN; inputs below 2^-126 are not modelled.
function M.encode(f, x)
  if x ~= x then
    if f.special == "finite" then return 0 end   -- no NaN: ember's documented +0
    return nil
  end
  local a = math.abs(x)
  local top = M.max_code(f) + 1
  local best
  if a == math.huge or (f.special ~= "e8m0" and a >= magnitude(f, top)) then
    best = top                                   -- (far past it, a - v loses the difference)
  elseif f.special == "e8m0" then
    for c = 0, 0xFF do
      local d, bd = math.abs(a - 2.0 ^ (c - 127)), best and math.abs(a - 2.0 ^ (best - 127))
      if best == nil or d <= bd then best = c end  -- "<=": a tie goes to the larger
    end
    return best <= 0xFE and best or nil
  else
    for c = 0, top do
      local d = math.abs(a - magnitude(f, c))
      local bd = best and math.abs(a - magnitude(f, best))
      if best == nil or d < bd or (d == bd and c % 2 == 0) then best = c end
    end
  end
  if f.special == "e8m0" then return nil end     -- inf
  if best == top then
    if f.special == "ieee" then best = top       -- the inf code
    elseif f.special == "finite" then best = top - 1
    else return nil end
  end
  local neg = x < 0 or (x == 0 and 1 / x < 0)
  if neg and not (f.special == "fnuz" and best == 0) then best = best | f.signbit end
  return best
end

-- Is ember's value v the truth t? NaN matches NaN; zeros must agree in sign.
function M.same(v, t)
  if t ~= t then return v ~= v end
  if t == 0 then return v == 0 and 1 / v == 1 / t end
  return v == t
end

-- {====== bits and bytes

-- Codes laid end to end in a little-endian bit stream, one bit at a time: code i
-- (1-based) at bits [bits*(i-1), bits*i).
function M.pack(bits, codes)
  local bytes = {}
  for k = 1, (#codes * bits + 7) // 8 do bytes[k] = 0 end
  for i, c in ipairs(codes) do
    for b = 0, bits - 1 do
      if (c >> b) & 1 == 1 then
        local pos = (i - 1) * bits + b
        bytes[pos // 8 + 1] = bytes[pos // 8 + 1] | (1 << (pos % 8))
      end
    end
  end
  local out = {}
  for k, v in ipairs(bytes) do out[k] = string.char(v) end
  return table.concat(out)
end

function M.unpack(bits, s, n)
  local codes = {}
  for i = 1, n do
    local c = 0
    for b = 0, bits - 1 do
      local pos = (i - 1) * bits + b
      if (s:byte(pos // 8 + 1) >> (pos % 8)) & 1 == 1 then c = c | (1 << b) end
    end
    codes[i] = c
  end
  return codes
end

-- f32 helpers through string.pack, which stores a C float.
function M.f32(x) return (string.unpack("<f", string.pack("<f", x))) end
function M.f32_bits(x) return (string.unpack("<I4", string.pack("<f", x))) end
function M.f32_from_bits(u) return (string.unpack("<f", string.pack("<I4", u))) end
-- The f32 neighbours of a positive finite f32 value.
function M.f32_up(x) return M.f32_from_bits(M.f32_bits(x) + 1) end
function M.f32_down(x) return M.f32_from_bits(M.f32_bits(x) - 1) end

-- }======

-- {====== safetensors by hand

-- Writes a safetensors file: entries = { {name, dtype = "F8_E4M3", shape = {..},
-- data = bytes}, ... }, laid out in the order given. The header is compact JSON padded
-- with spaces to a multiple of 8 bytes.
function M.write_safetensors(path, entries)
  local parts, offset, blobs = {}, 0, {}
  for i, e in ipairs(entries) do
    local shape = {}
    for k, d in ipairs(e.shape) do shape[k] = string.format("%d", d) end
    parts[i] = string.format('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}',
                             e.name, e.dtype, table.concat(shape, ","), offset, offset + #e.data)
    offset = offset + #e.data
    blobs[i] = e.data
  end
  local header = "{" .. table.concat(parts, ",") .. "}"
  header = header .. string.rep(" ", (8 - #header % 8) % 8)
  local f = assert(io.open(path, "wb"))
  f:write(string.pack("<I8", #header), header, table.concat(blobs))
  f:close()
end

-- Reads a safetensors file without ember: name -> {dtype, shape, data = bytes}.
function M.read_safetensors(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  local n = string.unpack("<I8", s)
  local header = assert(json.decode(s:sub(9, 8 + n)))
  local out = {}
  for name, e in pairs(header) do
    if name ~= "__metadata__" then
      local b, en = math.tointeger(e.data_offsets[1]), math.tointeger(e.data_offsets[2])
      out[name] = { dtype = e.dtype, shape = e.shape, data = s:sub(9 + n + b, 8 + n + en) }
    end
  end
  return out
end

-- }======

return M
