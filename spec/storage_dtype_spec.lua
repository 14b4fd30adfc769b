-- storage_dtype_spec.lua — the storage-only dtypes (u16 u32 u64 c64, the float8 family,
-- f6 and f4), against truths that do not come from ember:
--   * every code of every minifloat format, decoded, against the format's definition
--     written out in spec/support/storage_bits.lua, and against hand-written values;
--   * encoding from f32: a brute-force nearest-code search (ties to the even code) at
--     every midpoint, either side of it, at random values, and the overflow rules
--     (E4M3 and fnuz: NaN; E5M2: inf; F6/F4: saturate; fnuz: no -0);
--   * exact codes go in through safetensors files written by hand, and come out
--     through ember.save, read back byte by byte, so both directions are bit-exact;
--   * the reference file written by torch 2.11 checks those truths against torch;
--   * integer wrap-around into the unsigned dtypes follows torch's rule for uint8
--     (checked with /usr/bin/python3's torch 1.13: int64 -1 -> 255, -70000 -> 144,
--     float -2.5 -> 254: truncate, then reduce modulo 2^n);
--   * ops refuse the storage-only dtypes; the byte-sized ones view, the packed ones do
--     not; clone, contiguous, to and printing work on all of them.
local ember = require "ember"
local sb = require "storage_bits"

local F, ORDER = sb.formats, sb.order
local BYTE_FORMATS = { "f8_e4m3", "f8_e5m2", "f8_e4m3fnuz", "f8_e5m2fnuz", "f8_e8m0" }
local PACKED = { "f6_e2m3", "f6_e3m2", "f4" }
local STORAGE_ONLY = { "u16", "u32", "u64", "c64", "f8_e4m3", "f8_e5m2", "f8_e8m0",
                       "f8_e4m3fnuz", "f8_e5m2fnuz", "f6_e2m3", "f6_e3m2", "f4" }
local REFERENCE = "data/safetensors-reference/"

local function tmpfile()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".safetensors"
end

local function hex(c) return c and string.format("0x%02X", c) or "NaN" end

-- A tensor of dtype dt holding exactly these codes, read from a file written by hand.
-- A 3-byte u8 tensor goes first, so the codes do not start at offset 0.
local function tensor_of_codes(dt, codes, shape, backend)
  local f = F[dt]
  local path = tmpfile()
  sb.write_safetensors(path, {
    { name = "pad", dtype = "U8", shape = { 3 }, data = "\1\2\3" },
    { name = "x", dtype = f.st, shape = shape or { #codes }, data = sb.pack(f.bits, codes) },
  })
  local file <close> = ember.safetensors.open(path, { backend = backend or "mmap" })
  local t = file:get("x")
  os.remove(path)                  -- a mapped tensor keeps the mapping, not the name
  return t
end

local function all_codes(dt)
  local codes = {}
  for c = 0, F[dt].ncodes - 1 do codes[#codes + 1] = c end
  return codes
end

-- The codes ember stored for t, and the dtype name it wrote: through ember.save and a
-- byte-level read of the file.
local function codes_of(t)
  local path = tmpfile()
  ember.save({ x = t }, path)
  local raw = sb.read_safetensors(path).x
  os.remove(path)
  local f = F[t:dtype()]
  return sb.unpack(f.bits, raw.data, t:numel()), raw.dtype
end

-- f32 inputs padded with zeros to a whole number of bytes in every packed format.
local function f32_tensor(values)
  local v = table.move(values, 1, #values, 1, {})
  while #v % 4 ~= 0 do v[#v + 1] = 0.0 end
  return ember.tensor(v, "f32"), v
end

-- Encodes f32 values with ember and compares each code with the brute-force truth:
-- bit for bit where the truth is a number, NaN-ness where it is a NaN.
local function check_encode(dt, values, what)
  local f = F[dt]
  local x, v = f32_tensor(values)
  local t = x:to(dt)
  assert.equal(dt, t:dtype())
  local got, stname = codes_of(t)
  assert.equal(f.st, stname)
  local back = t:to("f32"):totable()
  local bad = {}
  for i, xi in ipairs(v) do
    local want = sb.encode(f, xi)
    local ok
    if want == nil then ok = back[i] ~= back[i] and sb.decode(f, got[i]) ~= sb.decode(f, got[i])
    else ok = got[i] == want end
    if not ok and #bad < 8 then
      bad[#bad + 1] = string.format("%.9g -> %s, want %s", xi, hex(got[i]), hex(want))
    end
  end
  assert(#bad == 0, dt .. " (" .. what .. "): " .. table.concat(bad, "; "))
  return #v
end

describe("storage-only dtypes", function()
  describe("decoding", function()
    for _, dt in ipairs(ORDER) do
      local f = F[dt]
      for _, backend in ipairs({ "mmap", "pread" }) do
        it(dt .. ": all " .. f.ncodes .. " codes decode as the format defines (" .. backend .. ")", function()
          local codes = all_codes(dt)
          local shape = f.bits == 8 and { 16, 16 } or { #codes }
          local t = tensor_of_codes(dt, codes, shape, backend)
          assert.equal(dt, t:dtype())
          assert.same(shape, t:size())
          local via32 = t:to("f32"):view(-1):totable()
          local via64 = t:to("f64"):view(-1):totable()
          local direct = f.bits == 8 and t:view(-1):totable() or t:totable()
          for i, c in ipairs(codes) do
            local want = sb.decode(f, c)
            assert(sb.same(via32[i], want), string.format("%s %s: to f32 %s, want %s", dt, hex(c), via32[i], want))
            assert(sb.same(via64[i], want), string.format("%s %s: to f64 %s, want %s", dt, hex(c), via64[i], want))
            assert(sb.same(direct[i], want), string.format("%s %s: totable %s, want %s", dt, hex(c), direct[i], want))
          end
          if f.bits == 8 then      -- element by element, through t[r][c]
            for c = 0, 255 do
              local v = t[c // 16 + 1][c % 16 + 1]
              assert(sb.same(v, sb.decode(f, c)), dt .. " " .. hex(c) .. " via t[r][c]")
            end
          end
        end)
      end
    end

    it("hand-picked codes have their hand-written values", function()
      local NAN, INF = "nan", math.huge
      local cases = {
        f8_e4m3 = { { 0x38, 1.0 }, { 0x7E, 448.0 }, { 0x7F, NAN }, { 0xFF, NAN }, { 0x01, 2^-9 },
                    { 0x07, 0.013671875 }, { 0x08, 2^-6 }, { 0x3C, 1.5 }, { 0x77, 240.0 },
                    { 0x80, -0.0 }, { 0xC0, -2.0 }, { 0xFE, -448.0 }, { 0x00, 0.0 } },
        f8_e5m2 = { { 0x3C, 1.0 }, { 0x7B, 57344.0 }, { 0x7C, INF }, { 0xFC, -INF }, { 0x7D, NAN },
                    { 0x7E, NAN }, { 0x7F, NAN }, { 0xFF, NAN }, { 0x01, 2^-16 }, { 0x04, 2^-14 },
                    { 0x3E, 1.5 }, { 0x80, -0.0 }, { 0xFB, -57344.0 } },
        f8_e4m3fnuz = { { 0x80, NAN }, { 0x7F, 240.0 }, { 0x40, 1.0 }, { 0x01, 2^-10 },
                        { 0x00, 0.0 }, { 0xC0, -1.0 }, { 0xFF, -240.0 }, { 0x78, 128.0 } },
        f8_e5m2fnuz = { { 0x80, NAN }, { 0x7F, 57344.0 }, { 0x40, 1.0 }, { 0x01, 2^-17 },
                        { 0xFF, -57344.0 }, { 0x7C, 32768.0 }, { 0x00, 0.0 } },
        f8_e8m0 = { { 0x7F, 1.0 }, { 0x00, 2^-127 }, { 0xFF, NAN }, { 0xFE, 2^127 }, { 0x80, 2.0 },
                    { 0x7E, 0.5 }, { 0x82, 8.0 } },
        f6_e2m3 = { { 0x00, 0.0 }, { 0x01, 0.125 }, { 0x07, 0.875 }, { 0x08, 1.0 }, { 0x1F, 7.5 },
                    { 0x20, -0.0 }, { 0x3F, -7.5 }, { 0x18, 4.0 } },
        f6_e3m2 = { { 0x00, 0.0 }, { 0x01, 0.0625 }, { 0x04, 0.25 }, { 0x0C, 1.0 }, { 0x1F, 28.0 },
                    { 0x3F, -28.0 }, { 0x20, -0.0 }, { 0x1C, 16.0 } },
        f4 = { { 0x0, 0.0 }, { 0x1, 0.5 }, { 0x2, 1.0 }, { 0x3, 1.5 }, { 0x4, 2.0 }, { 0x5, 3.0 },
               { 0x6, 4.0 }, { 0x7, 6.0 }, { 0x8, -0.0 }, { 0x9, -0.5 }, { 0xF, -6.0 } },
      }
      for _, dt in ipairs(ORDER) do
        local list = cases[dt]
        local codes = {}
        for i, c in ipairs(list) do codes[i] = c[1] end
        while #codes * F[dt].bits % 8 ~= 0 do codes[#codes + 1] = 0 end
        local got = tensor_of_codes(dt, codes):to("f64"):totable()
        for i, c in ipairs(list) do
          local want = c[2] == NAN and 0 / 0 or c[2]
          assert(sb.same(got[i], want), string.format("%s %s: got %s, want %s", dt, hex(c[1]), got[i], c[2]))
          assert(sb.same(sb.decode(F[dt], c[1]), want), "storage_bits disagrees on " .. dt .. " " .. hex(c[1]))
        end
      end
    end)

    it("packs f4 two to a byte, low nibble first, and f6 four to three bytes", function()
      local path = tmpfile()
      -- bytes by hand: f4 0x21 0x7F -> codes 1 2 F 7; f6 codes 1 2 3 4 in a little-endian
      -- bit stream -> 0x81 0x30 0x10 (1 | 2 << 6, 2 >> 2 | 3 << 4, 3 >> 4 | 4 << 2)
      sb.write_safetensors(path, {
        { name = "a", dtype = "F4", shape = { 2, 2 }, data = "\x21\x7F" },
        { name = "b", dtype = "F6_E2M3", shape = { 4 }, data = "\x81\x30\x10" },
        { name = "c", dtype = "F6_E3M2", shape = { 1, 4 }, data = "\x81\x30\x10" },
      })
      local file <close> = ember.safetensors.open(path)
      assert.same({ { 0.5, 1.0 }, { -6.0, 6.0 } }, file:get("a"):to("f32"):totable())
      assert.same({ 0.125, 0.25, 0.375, 0.5 }, file:get("b"):to("f32"):totable())
      assert.same({ { 0.0625, 0.125, 0.1875, 0.25 } }, file:get("c"):to("f32"):totable())
      -- and ember packs the same way: the bytes it writes are the bytes we wrote
      local out = tmpfile()
      ember.save({ a = file:get("a"), b = file:get("b"), c = file:get("c"):clone() }, out)
      local raw = sb.read_safetensors(out)
      assert.equal("\x21\x7F", raw.a.data)
      assert.equal("\x81\x30\x10", raw.b.data)
      assert.equal("\x81\x30\x10", raw.c.data)
      assert.equal("F6_E3M2", raw.c.dtype)
      os.remove(path)
      os.remove(out)
    end)

    it("reads one element of a packed tensor by index", function()
      local t = tensor_of_codes("f4", { 1, 2, 3, 4 })          -- 0.5 1 1.5 2
      assert.same({ 0.5, 1.0, 1.5, 2.0 }, { t[1], t[2], t[3], t[4] })
      local s = tensor_of_codes("f6_e2m3", { 1, 2, 3, 4 })     -- 0.125 0.25 0.375 0.5
      assert.same({ 0.125, 0.25, 0.375, 0.5 }, { s[1], s[2], s[3], s[4] })
      assert.equal(0.375, s[-2])
    end)

    it("index assignment into or out of a storage-only tensor is exact, or refused", function()
      -- either answer is fine; a wrong value is not
      local function exact_or_refused(fn, check)
        local ok, msg = pcall(fn)
        if ok then check() else assert.matches("storage%-only", msg) end
      end
      local f4 = tensor_of_codes("f4", { 1, 2, 3, 4 })
      exact_or_refused(function() f4[{}] = 3 end,
                       function() assert.same({ 3.0, 3.0, 3.0, 3.0 }, f4:to("f32"):totable()) end)
      local f6 = tensor_of_codes("f6_e2m3", { 1, 2, 3, 4 })
      exact_or_refused(function() f6[{}] = ember.tensor({ 7.5, -0.125, 100, 1 }) end,
                       function() assert.same({ 7.5, -0.125, 7.5, 1.0 }, f6:to("f32"):totable()) end)
      local x = ember.zeros(4)
      exact_or_refused(function() x[{}] = tensor_of_codes("f4", { 1, 2, 3, 4 }) end,
                       function() assert.same({ 0.5, 1.0, 1.5, 2.0 }, x:totable()) end)
      local e = ember.tensor({ 1, 2, 3, 4 }, "f32"):to("f8_e4m3")
      exact_or_refused(function() e[{ { 2, 3 } }] = ember.tensor({ 464, -0.0 }) end,
                       function() assert.same({ 0x38, 0x7E, 0x80, 0x48 }, codes_of(e)) end)
      local u = ember.tensor({ 1, 2 }, "u16")
      exact_or_refused(function() u[2] = 70000 end, function() assert.same({ 1, 4464 }, u:totable()) end)
    end)

    it("agrees with the float8 and unsigned tensors torch 2.11 wrote", function()
      local json = require "dkjson"
      local fh = assert(io.open(REFERENCE .. "expect.json"))
      local expect = json.decode(fh:read("a"))["all_dtypes.safetensors"].tensors
      fh:close()
      local raw = sb.read_safetensors(REFERENCE .. "all_dtypes.safetensors")
      local file <close> = ember.safetensors.open(REFERENCE .. "all_dtypes.safetensors")
      local cases = {
        { "t_float8_e4m3fn", "F8_E4M3", function(s, i) return sb.decode(F.f8_e4m3, s:byte(i)) end, 1 },
        { "t_float8_e5m2", "F8_E5M2", function(s, i) return sb.decode(F.f8_e5m2, s:byte(i)) end, 1 },
        { "t_float8_e8m0fnu", "F8_E8M0", function(s, i) return sb.decode(F.f8_e8m0, s:byte(i)) end, 1 },
        { "t_uint16", "U16", function(s, i) return (string.unpack("<I2", s, 2 * i - 1)) end, 2 },
        { "t_uint32", "U32", function(s, i) return (string.unpack("<I4", s, 4 * i - 3)) end, 4 },
        { "t_uint64", "U64", function(s, i) return (string.unpack("<I8", s, 8 * i - 7)) end, 8 },
      }
      for _, c in ipairs(cases) do
        local name, stname, read, size = c[1], c[2], c[3], c[4]
        local e, r = expect[name], raw[name]
        assert.equal(stname, r.dtype)
        local n = #r.data // size
        local truth, sum = {}, 0
        for i = 1, n do truth[i] = read(r.data, i); sum = sum + truth[i] end
        for i = 1, 4 do assert.equal(e.first[i], truth[i], name .. " first[" .. i .. "]") end
        assert.equal(e.f64sum, sum, name .. " sum")
        local t = file:get(name)
        assert.same(e.shape, t:size())
        local got = t:to("f64"):view(-1):totable()
        for i = 1, n do assert.equal(truth[i], got[i], name .. " element " .. i) end
      end
    end)
  end)

  describe("encoding from f32", function()
    for _, dt in ipairs(ORDER) do
      local f = F[dt]
      it(dt .. ": every non-NaN code survives encode(decode(c)) bit for bit", function()
        local values, codes = {}, {}
        for c = 0, f.ncodes - 1 do
          local v = sb.decode(f, c)
          if v == v then values[#values + 1] = v; codes[#codes + 1] = c end
        end
        local x = f32_tensor(values)
        local got = codes_of(x:to(dt))
        for i, c in ipairs(codes) do
          assert(got[i] == c, string.format("%s: %.9g -> %s, want %s", dt, values[i], hex(got[i]), hex(c)))
        end
      end)

      it(dt .. ": rounds to nearest even at each midpoint and one f32 ulp either side", function()
        -- the positive values in order, and the next power of two past the largest
        local mags = {}
        if dt == "f8_e8m0" then
          for c = 1, 0xFE do mags[#mags + 1] = 2.0 ^ (c - 127) end  -- 2^-127 is an f32 subnormal
          mags[#mags + 1] = 2.0 ^ 128
        else
          for c = 0, sb.max_code(f) do mags[#mags + 1] = sb.decode(f, c) end
          mags[#mags + 1] = sb.magnitude(f, sb.max_code(f) + 1)
        end
        local values = {}
        for k = 1, #mags - 1 do
          local mid = (mags[k] + mags[k + 1]) / 2
          assert.equal(mid, sb.f32(mid))     -- one more bit than the format: exact in f32
          for _, v in ipairs({ mid, sb.f32_down(mid), sb.f32_up(mid) }) do
            values[#values + 1] = v
            values[#values + 1] = -v
          end
        end
        check_encode(dt, values, "midpoints")
      end)

      it(dt .. ": random f32 values across the range and past it", function()
        local seed = 12345 + #dt
        local function rnd()                  -- an LCG: the same values every run
          seed = (seed * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
          return (seed >> 11) / 2^52
        end
        local lo, hi
        if dt == "f8_e8m0" then lo, hi = -126, 128
        else lo, hi = math.log(sb.decode(f, 1), 2) - 2, math.log(sb.decode(f, sb.max_code(f)), 2) + 1 end
        local values = {}
        for i = 1, 600 do
          local v = sb.f32(2.0 ^ (lo + (hi - lo) * rnd()))
          if v >= 2^-126 and v < math.huge then values[#values + 1] = i % 2 == 0 and v or -v end
        end
        check_encode(dt, values, "random")
      end)
    end

    it("follows each format's overflow, zero and NaN rules", function()
      local NAN = "nan"
      local cases = {
        -- E4M3 (fn): 464 is the tie between 448 and 480 -> the even 448; past it NaN
        { "f8_e4m3", 464, 0x7E }, { "f8_e4m3", 465, NAN }, { "f8_e4m3", 1e6, NAN },
        { "f8_e4m3", math.huge, NAN }, { "f8_e4m3", -math.huge, NAN }, { "f8_e4m3", -464, 0xFE },
        { "f8_e4m3", 0 / 0, NAN }, { "f8_e4m3", -0.0, 0x80 }, { "f8_e4m3", -1e-30, 0x80 },
        { "f8_e4m3", 2^-10, 0x00 }, { "f8_e4m3", 3 * 2^-10, 0x02 }, { "f8_e4m3", 17, 0x58 },
        -- E5M2 (ieee): 61440 is the tie between 57344 and 65536 -> the even 65536: inf
        { "f8_e5m2", 61440, 0x7C }, { "f8_e5m2", 61439, 0x7B }, { "f8_e5m2", -61440, 0xFC },
        { "f8_e5m2", 1e30, 0x7C }, { "f8_e5m2", math.huge, 0x7C }, { "f8_e5m2", -math.huge, 0xFC },
        { "f8_e5m2", 0 / 0, NAN }, { "f8_e5m2", -0.0, 0x80 },
        -- fnuz: overflow is the one NaN 0x80; no -0, so negatives that round to 0 are 0x00
        { "f8_e4m3fnuz", 248, NAN }, { "f8_e4m3fnuz", 247, 0x7F }, { "f8_e4m3fnuz", -1e6, NAN },
        { "f8_e4m3fnuz", math.huge, NAN }, { "f8_e4m3fnuz", -0.0, 0x00 },
        { "f8_e4m3fnuz", -1e-30, 0x00 }, { "f8_e4m3fnuz", -2^-12, 0x00 }, { "f8_e4m3fnuz", -1, 0xC0 },
        { "f8_e5m2fnuz", 61440, NAN }, { "f8_e5m2fnuz", 61439, 0x7F }, { "f8_e5m2fnuz", -0.0, 0x00 },
        { "f8_e5m2fnuz", -1e-30, 0x00 }, { "f8_e5m2fnuz", -math.huge, NAN },
        -- F6 and F4 saturate; NaN becomes +0 (ember's rule: they have no NaN)
        { "f6_e2m3", 100, 0x1F }, { "f6_e2m3", -100, 0x3F }, { "f6_e2m3", math.huge, 0x1F },
        { "f6_e2m3", 7.75, 0x1F }, { "f6_e2m3", -0.0, 0x20 }, { "f6_e2m3", 0 / 0, 0x00 },
        { "f6_e3m2", 1e6, 0x1F }, { "f6_e3m2", -30, 0x3F }, { "f6_e3m2", 0 / 0, 0x00 },
        { "f4", 100, 0x7 }, { "f4", -100, 0xF }, { "f4", math.huge, 0x7 }, { "f4", 5, 0x6 },
        { "f4", 2.5, 0x4 }, { "f4", 0.25, 0x0 }, { "f4", 0.75, 0x2 }, { "f4", -0.0, 0x8 },
        { "f4", 0 / 0, 0x0 },
        -- E8M0: the nearest power of two, the tie 1.5 * 2^e up, no sign; NaN/inf -> 0xFF
        { "f8_e8m0", 1.5, 0x80 }, { "f8_e8m0", 1.4, 0x7F }, { "f8_e8m0", 3, 0x81 },
        { "f8_e8m0", 0.75, 0x7F }, { "f8_e8m0", 0.7, 0x7E }, { "f8_e8m0", 6, 0x82 },
        { "f8_e8m0", -2, 0x80 }, { "f8_e8m0", 0, 0x00 }, { "f8_e8m0", 0 / 0, NAN },
        { "f8_e8m0", math.huge, NAN }, { "f8_e8m0", 2^127, 0xFE },
        -- past 2^127 the nearest power is 2^128, which E8M0 lacks: torch gives NaN
        { "f8_e8m0", 1.5 * 2^127, NAN }, { "f8_e8m0", 1.99 * 2^127, NAN }, { "f8_e8m0", 1.49 * 2^127, 0xFE },
      }
      for _, c in ipairs(cases) do
        local dt, x, want = c[1], c[2], c[3]
        local got = codes_of(f32_tensor({ x }):to(dt))[1]
        local v = f32_tensor({ x }):to(dt):to("f32"):totable()[1]
        if want == NAN then
          assert(v ~= v, string.format("%s: %.9g -> %s (%s), want NaN", dt, x, hex(got), v))
        else
          assert(got == want, string.format("%s: %.9g -> %s, want %s", dt, x, hex(got), hex(want)))
        end
        -- the hand-written answer is also what the brute-force truth says
        local t = sb.encode(F[dt], sb.f32(x))
        assert(t == (want ~= NAN and want or nil), dt .. " storage_bits disagrees at " .. tostring(x))
      end
    end)

    it("converts from every compute dtype, and between the formats", function()
      -- integers and halves are exact in every source dtype
      local wide = { 0, 1, 2, 3, 5, 17, 100, 448, 464, 480, -7, -33, 250, 57344, 61440, 1 }
      local short = { 0, 1, 2, 3, 5, 17, 100, 448, 464, 480, -7, -33, 250, -32768, 32767, 1 }
      for _, src in ipairs({ "f64", "f16", "bf16", "i64", "i32", "i16" }) do
        local values = src == "i16" and short or wide
        local x = ember.tensor(values, src)
        for _, dt in ipairs(ORDER) do
          local got = codes_of(x:to(dt))
          for i, v in ipairs(values) do
            local want = sb.encode(F[dt], v)
            if want == nil then
              assert(sb.decode(F[dt], got[i]) ~= sb.decode(F[dt], got[i]), src .. " -> " .. dt .. " " .. v)
            else
              assert(got[i] == want, string.format("%s -> %s: %d -> %s, want %s", src, dt, v, hex(got[i]), hex(want)))
            end
          end
        end
      end
      -- format to format: every code of the source, re-encoded by the truth
      local pairs_checked = 0
      for _, from in ipairs(ORDER) do
        local t = tensor_of_codes(from, all_codes(from))
        for _, to in ipairs(ORDER) do
          if to ~= from then
            local got = codes_of(t:to(to))
            for c = 0, F[from].ncodes - 1 do
              local v = sb.decode(F[from], c)
              local want = sb.encode(F[to], v)
              if want == nil then
                assert(sb.decode(F[to], got[c + 1]) ~= sb.decode(F[to], got[c + 1]),
                       string.format("%s %s -> %s: want NaN, got %s", from, hex(c), to, hex(got[c + 1])))
              else
                assert(got[c + 1] == want,
                       string.format("%s %s (%s) -> %s: %s, want %s", from, hex(c), v, to, hex(got[c + 1]), hex(want)))
              end
            end
            pairs_checked = pairs_checked + 1
          end
        end
      end
      assert.equal(56, pairs_checked)
    end)
  end)

  describe("unsigned and complex dtypes", function()
    it("converts u16 u32 u64 to the compute dtypes exactly", function()
      assert.same({ 65535, 0, 1 }, ember.tensor({ 65535, 0, 1 }, "u16"):to("f32"):totable())
      assert.same({ 65535, 32768 }, ember.tensor({ 65535, 32768 }, "u16"):to("i64"):totable())
      assert.same({ 4294967295, 2147483648 }, ember.tensor({ 4294967295, 2147483648 }, "u32"):to("i64"):totable())
      assert.same({ 4294967295.0 }, ember.tensor({ 4294967295 }, "u32"):to("f64"):totable())
      local big = 1 << 53
      local u = ember.tensor({ big, big + 1, big + 2 }, "u64")
      assert.same({ big, big + 1, big + 2 }, u:to("i64"):totable())
      -- f64: 2^53 exact; 2^53 + 1 is a tie between 2^53 and 2^53 + 2 -> the even 2^53
      assert.same({ 2.0 ^ 53, 2.0 ^ 53, 2.0 ^ 53 + 2 }, u:to("f64"):totable())
    end)

    it("reads the full unsigned ranges from a file", function()
      local path = tmpfile()
      sb.write_safetensors(path, {
        { name = "a", dtype = "U16", shape = { 3 }, data = string.pack("<I2I2I2", 0xFFFF, 0x8000, 7) },
        { name = "b", dtype = "U32", shape = { 2 }, data = string.pack("<I4I4", 0xFFFFFFFF, 0x80000000) },
        { name = "c", dtype = "U64", shape = { 3 }, data = string.pack("<i8i8i8", -1, math.mininteger, 1 << 53) },
      })
      local file <close> = ember.safetensors.open(path)
      assert.same({ 65535.0, 32768.0, 7.0 }, file:get("a"):to("f64"):totable())
      assert.same({ 4294967295.0, 2147483648.0 }, file:get("b"):to("f64"):totable())
      -- 2^64 - 1 rounds to 2^64 in f64; 2^63 is exact
      assert.same({ 2.0 ^ 64, 2.0 ^ 63, 2.0 ^ 53 }, file:get("c"):to("f64"):totable())
      assert.same({ 4294967295, 2147483648 }, file:get("b"):to("i64"):totable())
      os.remove(path)
    end)

    it("wraps integers into the unsigned dtypes modulo 2^n, as torch does for uint8", function()
      local values = { -1, -70000, 65536, 65537, 1 << 40, -(1 << 33) - 5 }
      local want16, want32 = {}, {}
      for i, v in ipairs(values) do want16[i] = v % 65536; want32[i] = v % (1 << 32) end
      assert.same(want16, ember.tensor(values):to("u16"):totable())
      assert.same(want32, ember.tensor(values):to("u32"):totable())
      -- u64 keeps all 64 bits: -1 is 2^64 - 1, which reads back as -1 through i64
      local u = ember.tensor({ -1, -2 }):to("u64")
      assert.same({ -1, -2 }, u:to("i64"):totable())
      assert.same({ 2.0 ^ 64, 2.0 ^ 64 }, u:to("f64"):totable())
      -- a float is truncated toward zero first (torch: -2.5 -> uint8 254)
      assert.same({ 65535, 65534, 65236 }, ember.tensor({ -1.0, -2.5, -300.7 }, "f32"):to("u16"):totable())
    end)

    it("makes c64 with imaginary part 0 and converts back to the real part", function()
      local c = ember.tensor({ 1, 2, 3 }, "c64")
      assert.equal("c64", c:dtype())
      assert.equal(8, c:element_size())
      local path = tmpfile()
      ember.save({ c = c }, path)
      local raw = sb.read_safetensors(path).c
      os.remove(path)
      assert.equal("C64", raw.dtype)
      assert.equal(string.pack("<ffffff", 1, 0, 2, 0, 3, 0), raw.data)
      assert.same({ 1.0, 2.0, 3.0 }, c:to("f32"):totable())
      -- from a file: real and imaginary parts written by hand
      sb.write_safetensors(path, {
        { name = "z", dtype = "C64", shape = { 2, 2 }, data = string.pack("<ffffffff", 1, 2, -3.5, 4, 5, -6, 0.25, 8) },
      })
      local file <close> = ember.safetensors.open(path)
      local z = file:get("z")
      assert.same({ { 1.0, -3.5 }, { 5.0, 0.25 } }, z:to("f32"):totable())
      assert.same({ { 1.0, 5.0 }, { -3.5, 0.25 } }, z:t():to("f64"):totable())
      -- a copy keeps the imaginary parts
      local out = tmpfile()
      ember.save({ z = z:t():contiguous() }, out)
      assert.equal(string.pack("<ffffffff", 1, 2, 5, -6, -3.5, 4, 0.25, 8), sb.read_safetensors(out).z.data)
      os.remove(path)
      os.remove(out)
    end)
  end)

  describe("ops and views", function()
    local function sample(dt)
      return ember.tensor({ { 1, 2, 3, 4 }, { 0.5, 6, -1, 0 } }, "f32"):to(dt)
    end

    it("refuse storage-only dtypes, naming the op and the dtype", function()
      for _, dt in ipairs(STORAGE_ONLY) do
        local t = sample(dt)
        local calls = {
          add = function() return t:add(t) end,
          mul = function() return t * 2 end,
          sum = function() return t:sum() end,
          abs = function() return t:abs() end,
          matmul = function() return t:matmul(t:to("f32"):t():contiguous():to(dt)) end,
          fill = function() return t:fill_(1) end,
          copy = function() return t:copy_(t) end,
          cat = function() return ember.cat({ t, t }, 1) end,
        }
        for op, fn in pairs(calls) do
          local ok, msg = pcall(fn)
          assert(not ok, op .. " on " .. dt .. " did not fail")
          assert.matches(op .. ": " .. dt .. " is a storage%-only dtype", msg)
        end
      end
      for _, dt in ipairs(STORAGE_ONLY) do
        local ok, msg = pcall(ember.zeros, 2, dt)
        assert.is_false(ok)
        assert.matches("zeros: " .. dt .. " is a storage%-only dtype", msg)
      end
    end)

    it("view the byte-sized ones without copying; the packed ones refuse views", function()
      local views = {
        transpose = function(t) return t:transpose(1, 2) end,
        t = function(t) return t:t() end,
        slice = function(t) return t[{ {}, { 2, 3 } }] end,
        narrow = function(t) return t:narrow(2, 2, 2) end,
        select = function(t) return t[2] end,
        view = function(t) return t:view(4, 2) end,
        permute = function(t) return t:permute(2, 1) end,
        unsqueeze = function(t) return t:unsqueeze(1) end,
        expand = function(t) return t:unsqueeze(1):expand(2, 2, 4) end,
      }
      for _, dt in ipairs(STORAGE_ONLY) do
        local t = sample(dt)
        local ref = t:to("f32")
        local packed = dt:match("^f[46]") ~= nil
        for name, fn in pairs(views) do
          if packed then
            local ok, msg = pcall(fn, t)
            assert(not ok, name .. " on " .. dt .. " did not fail")
            assert.matches(dt .. " is a storage%-only dtype", msg)
          else
            local v = fn(t)
            assert.equal(dt, v:dtype())
            assert.same(fn(ref):totable(), v:to("f32"):totable(), name .. " on " .. dt)
            assert.same(fn(ref):totable(), v:contiguous():to("f32"):totable(), name .. " on " .. dt)
            assert.same(fn(ref):totable(), v:clone():to("f32"):totable(), name .. " on " .. dt)
          end
        end
        if not packed then      -- a view shares the storage: same base pointer
          assert.equal(t:data_ptr(), t:t():data_ptr())
          assert.equal(1, t:narrow(2, 2, 2):storage_offset())
        end
        if F[dt] and not packed then  -- a strided view saves as its contiguous copy does
          assert.same(codes_of(t:t():contiguous()), codes_of(t:t()))
          local c = codes_of(t)
          assert.same({ c[2], c[3], c[6], c[7] }, codes_of(t[{ {}, { 2, 3 } }]))
        end
      end
    end)

    it("clone, contiguous and to work on every storage-only dtype", function()
      for _, dt in ipairs(STORAGE_ONLY) do
        local t = sample(dt)
        local want = t:to("f32"):totable()
        local c = t:clone()
        assert.equal(dt, c:dtype())
        assert.are_not.equal(t:data_ptr(), c:data_ptr())
        assert.same(want, c:to("f32"):totable())
        assert.equal(t:data_ptr(), t:contiguous():data_ptr())
        assert.equal(t:data_ptr(), t:to(dt):data_ptr())
        assert.same(want, ember.tensor(t):to("f32"):totable())
        if F[dt] then
          assert.same(codes_of(t), codes_of(c))
        end
      end
    end)

    it("print as their values in a compute dtype do, with the dtype's Torch7-style name", function()
      local names = {
        u16 = "UInt16Tensor", u32 = "UInt32Tensor", u64 = "UInt64Tensor", c64 = "ComplexFloatTensor",
        f8_e4m3 = "Float8E4M3Tensor", f8_e5m2 = "Float8E5M2Tensor", f8_e8m0 = "Float8E8M0Tensor",
        f8_e4m3fnuz = "Float8E4M3FNUZTensor", f8_e5m2fnuz = "Float8E5M2FNUZTensor",
        f6_e2m3 = "Float6E2M3Tensor", f6_e3m2 = "Float6E3M2Tensor", f4 = "Float4Tensor",
      }
      for _, dt in ipairs(STORAGE_ONLY) do
        local t = sample(dt)
        local s = tostring(t)
        assert.equal("ember." .. names[dt], t:type())
        assert.matches("\n%[ember%." .. names[dt] .. " of size 2x4 %(cpu%)%]$", s)
        local as = (t:is_floating_point() or t:is_complex()) and "f32" or "i64"
        local body = tostring(t:to(as)):gsub("\n%[[^\n]*%]$", "")
        assert.equal(body, s:gsub("\n%[[^\n]*%]$", ""), dt)
      end
      local s = tostring(tensor_of_codes("f8_e5m2", { 0x7C, 0xFC, 0x7F, 0x3C }))
      assert.matches("inf", s)
      assert.matches("%-inf", s)
      assert.matches("nan", s)
    end)

    it("report element_size and is_floating_point", function()
      -- element_size: bytes per element, a fraction for the packed ones (an f4 pair is a byte)
      local sizes = { u16 = 2, u32 = 4, u64 = 8, c64 = 8, f8_e4m3 = 1, f8_e5m2 = 1, f8_e8m0 = 1,
                      f8_e4m3fnuz = 1, f8_e5m2fnuz = 1, f6_e2m3 = 0.75, f6_e3m2 = 0.75, f4 = 0.5 }
      -- torch: complex and unsigned types are not floating point, float8 types are
      local floating = { f8_e4m3 = true, f8_e5m2 = true, f8_e8m0 = true, f8_e4m3fnuz = true,
                         f8_e5m2fnuz = true, f6_e2m3 = true, f6_e3m2 = true, f4 = true }
      for _, dt in ipairs(STORAGE_ONLY) do
        local t = sample(dt)
        assert.equal(sizes[dt], t:element_size(), dt)
        assert.equal(floating[dt] or false, t:is_floating_point(), dt)
      end
      assert.is_true(sample("c64"):is_complex())
      -- PyTorch's long names reach the same dtypes
      local long = { float8_e4m3fn = "f8_e4m3", float8_e5m2 = "f8_e5m2", float8_e8m0fnu = "f8_e8m0",
                     float8_e4m3fnuz = "f8_e4m3fnuz", float8_e5m2fnuz = "f8_e5m2fnuz",
                     float6_e2m3fn = "f6_e2m3", float6_e3m2fn = "f6_e3m2", float4_e2m1fn = "f4",
                     uint16 = "u16", uint32 = "u32", uint64 = "u64", complex64 = "c64" }
      for name, dt in pairs(long) do assert.equal(dt, ember.zeros(1):to(name):dtype(), name) end
    end)
  end)
end)
