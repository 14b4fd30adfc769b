-- safetensors_spec.lua — ember.safetensors, ember.load and ember.save: every dtype
-- round-tripped byte for byte, the reference files (written by Hugging Face's
-- safetensors) with their expected sha256 and values, the writer's layout, atomic
-- saves, the lazy API and slices, the streaming writer and sharded checkpoints.
-- The second opinion on every file is st_reader.py, a reader written in Python from
-- the format's description (values through torch.frombuffer, the float8/6/4
-- formats decoded from their definitions); slices are checked against torch.
local ember = require "ember"
local oracle = require "oracle"
local C = require "st_craft"
local json = require "dkjson"
local st = ember.safetensors

-- safetensors name, ember name, bits per element
local DTYPES = {
  { "BOOL", "bool", 8 }, { "U8", "u8", 8 }, { "I8", "i8", 8 }, { "I16", "i16", 16 },
  { "U16", "u16", 16 }, { "I32", "i32", 32 }, { "U32", "u32", 32 }, { "I64", "i64", 64 },
  { "U64", "u64", 64 }, { "F16", "f16", 16 }, { "BF16", "bf16", 16 }, { "F32", "f32", 32 },
  { "F64", "f64", 64 }, { "C64", "c64", 64 }, { "F8_E4M3", "f8_e4m3", 8 },
  { "F8_E5M2", "f8_e5m2", 8 }, { "F8_E8M0", "f8_e8m0", 8 }, { "F8_E4M3FNUZ", "f8_e4m3fnuz", 8 },
  { "F8_E5M2FNUZ", "f8_e5m2fnuz", 8 }, { "F6_E2M3", "f6_e2m3", 6 }, { "F6_E3M2", "f6_e3m2", 6 },
  { "F4", "f4", 4 },
}
-- the dtypes ember computes on (views and totable work on them directly)
local COMPUTE = { bool = true, u8 = true, i8 = true, i16 = true, i32 = true, i64 = true,
                  f16 = true, bf16 = true, f32 = true, f64 = true }

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

local function flat(t)
  if t:numel() == 0 then return {} end
  return t:contiguous():view(-1):totable()
end

-- Asserts two lists of numbers are equal element by element (NaN equals NaN).
local function same_list(got, want, what)
  assert.equal(#want, #got, what .. ": length")
  for i = 1, #want do
    assert(C.same_float(got[i], want[i]), string.format("%s: element %d: ember %s, reader %s", what,
           i, tostring(got[i]), tostring(want[i])))
  end
end

-- A file holding one 3x8 tensor of every dtype, named t_<ember name>, in the order of
-- DTYPES (not the writer's order), with deterministic pseudo-random bytes (BOOL 0/1).
local function craft_all_dtypes(path)
  local entries, parts, off = {}, {}, 0
  for i, d in ipairs(DTYPES) do
    local n = 24 * d[3] // 8
    local bytes = C.bytes(n, i)
    if d[1] == "BOOL" then bytes = bytes:gsub(".", function(c) return string.char(c:byte() & 1) end) end
    entries[#entries + 1] = C.entry("t_" .. d[2], d[1], { 3, 8 }, off, off + n)
    parts[#parts + 1] = bytes
    off = off + n
  end
  return C.file(path, "{" .. table.concat(entries, ",") .. "}", table.concat(parts))
end

describe("safetensors", function()
  local dir = C.tmpdir()
  teardown(function() C.rmdir(dir) end)

  describe("every dtype", function()
    local orig = craft_all_dtypes(dir .. "/all.safetensors")
    local ref = C.read1(orig)

    it("the crafted file is valid for the independent reader", function()
      assert.is_true(ref.ok, ref.detail)
      assert.equal(#DTYPES, #ref.tensors)
    end)

    it("loads all 22 dtypes with their dtype and shape", function()
      local f <close> = st.open(orig)
      assert.equal(22, #f:keys())
      for _, d in ipairs(DTYPES) do
        local name = "t_" .. d[2]
        local info = f:info(name)
        assert.equal(d[2], info.dtype, name)
        assert.equal(d[1], info.st_dtype, name)
        assert.same({ 3, 8 }, info.shape, name)
        assert.same(ref.by_name[name].offsets, info.offsets, name)
        local t = f:get(name)
        assert.equal(d[2], t:dtype(), name)
        assert.same({ 3, 8 }, t:size(), name)
      end
    end)

    it("saves every dtype back byte for byte, and a second save is the same file", function()
      local tensors = ember.load(orig)
      local saved = dir .. "/all_saved.safetensors"
      ember.save(tensors, saved)
      local again = dir .. "/all_again.safetensors"
      ember.save(ember.load(saved), again)
      local r = C.reader({ saved, again }, { values = false })
      assert.is_true(r[1].ok, r[1].detail)
      for _, d in ipairs(DTYPES) do
        local name = "t_" .. d[2]
        local a, b = ref.by_name[name], r[1].by_name[name]
        assert.equal(a.dtype, b.dtype, name)
        assert.same(a.shape, b.shape, name)
        assert.equal(a.sha256, b.sha256, name)
        assert.equal(a.hex, b.hex, name)
      end
      assert.equal(C.read(saved), C.read(again))
      -- the data sections hold the same bytes, reordered by the writer's layout
      assert.equal(#C.data_section(C.read(orig)), #C.data_section(C.read(saved)))
    end)

    it("the pread backend reads the same bytes as the mapping", function()
      local a, b = dir .. "/via_mmap.safetensors", dir .. "/via_pread.safetensors"
      ember.save(ember.load(orig), a)
      ember.save(ember.load(orig, { backend = "pread" }), b)
      assert.equal(C.read(a), C.read(b))
      local f <close> = st.open(orig, { backend = "pread" })
      for _, d in ipairs(DTYPES) do
        local name = "t_" .. d[2]
        same_list(flat(f:get(name):to("f32")), ref.by_name[name].f32, name .. " (pread)")
      end
    end)

    it("converts with to(\"f32\") and to(\"bf16\") as the independent decoder and torch do", function()
      local f <close> = st.open(orig)
      for _, d in ipairs(DTYPES) do
        local name = "t_" .. d[2]
        local t, want = f:get(name), ref.by_name[name]
        same_list(flat(t:to("f32")), want.f32, name .. " to f32")
        same_list(flat(t:to("bf16")), want.bf16, name .. " to bf16")
        assert.equal("f32", t:to("f32"):dtype())
        assert.equal("bf16", t:to("bf16"):dtype())
      end
    end)

    it("reads integer and boolean values as the reader does, u64 above 2^63 included", function()
      local f <close> = st.open(orig)
      for _, d in ipairs(DTYPES) do
        local name = "t_" .. d[2]
        local want = ref.by_name[name].values
        if d[2] == "u64" then
          local got = flat(f:get(name))
          assert.equal(#want, #got)
          local high = 0
          for i = 1, #want do
            assert.equal(want[i], C.u64_text(got[i]), name .. " element " .. i)
            if got[i] < 0 then high = high + 1 end
          end
          assert.is_true(high > 0, "some u64 values lie above 2^63")
        elseif COMPUTE[d[2]] or d[2] == "u16" or d[2] == "u32" then
          same_list(flat(f:get(name)), want, name)
        end
      end
    end)

    it("decodes known bit patterns of the storage-only dtypes", function()
      -- hand-computed: code -> value in each format
      local nan, inf = 0 / 0, math.huge
      local cases = {
        { "F8_E4M3", { 0x38, 0xB8, 0x7E, 0x7F, 0xFF, 0x01, 0x08, 0x00, 0x80 },
          { 1, -1, 448, nan, nan, 2 ^ -9, 2 ^ -6, 0, -0.0 } },
        { "F8_E5M2", { 0x3C, 0x7B, 0x7C, 0xFC, 0x7D, 0x01, 0x04, 0xC0 },
          { 1, 57344, inf, -inf, nan, 2 ^ -16, 2 ^ -14, -2 } },
        { "F8_E8M0", { 0x7F, 0x80, 0x00, 0xFE, 0xFF, 0x7C },
          { 1, 2, 2 ^ -127, 2 ^ 127, nan, 0.125 } },
        { "F8_E4M3FNUZ", { 0x40, 0x80, 0x7F, 0xFF, 0x00, 0x01, 0xC0 },
          { 1, nan, 240, -240, 0, 2 ^ -10, -1 } },
        { "F8_E5M2FNUZ", { 0x40, 0x80, 0x7F, 0x01, 0xC1, 0xC4, 0x00 },
          { 1, nan, 57344, 2 ^ -17, -1.25, -2, 0 } },
        { "U16", { 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x80 }, { 65535, 1, 32768 }, 2 },
        { "U32", { 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x80 }, { 4294967296.0, 2 ^ 31 }, 4 },
        { "U64", { 0, 0, 0, 0, 0, 0, 0, 0x80, 5, 0, 0, 0, 0, 0, 0, 0 }, { 2 ^ 63, 5 }, 8 },
        -- c64 (1.5, -2) and (-0.25, 7): to a real dtype keeps the real part
        { "C64", { string.pack("<ffff", 1.5, -2, -0.25, 7):byte(1, -1) }, { 1.5, -0.25 }, 8 },
      }
      -- F6 and F4: codes packed by hand into a little-endian bit stream
      local function pack6(c) -- four 6-bit codes in three bytes
        local v = c[1] | c[2] << 6 | c[3] << 12 | c[4] << 18
        return { v & 0xFF, v >> 8 & 0xFF, v >> 16 & 0xFF }
      end
      local function cat(a, b) for _, x in ipairs(b) do a[#a + 1] = x end return a end
      -- F6_E2M3: 001000 = 1, 011111 = 7.5, 000001 = 0.125, 101000 = -1
      cases[#cases + 1] = { "F6_E2M3", pack6({ 0x08, 0x1F, 0x01, 0x28 }), { 1, 7.5, 0.125, -1 }, 0.75 }
      -- F6_E3M2: 001100 = 1, 011111 = 28, 000001 = 0.0625, 101100 = -1,
      --          000100 = 0.25, 111111 = -28, 010000 = 2, 100000 = -0
      cases[#cases + 1] = { "F6_E3M2", cat(pack6({ 0x0C, 0x1F, 0x01, 0x2C }), pack6({ 0x04, 0x3F, 0x10, 0x20 })),
                            { 1, 28, 0.0625, -1, 0.25, -28, 2, -0.0 }, 0.75 }
      -- F4 (E2M1): element 2k in the low nibble of byte k: 0x21 -> 0.5, 1; 0xF7 -> 6, -6;
      -- 0x94 -> 2, -0.5; 0x0C -> -2, 0
      cases[#cases + 1] = { "F4", { 0x21, 0xF7, 0x94, 0x0C }, { 0.5, 1, 6, -6, 2, -0.5, -2, 0 }, 0.5 }
      local paths, got_f32 = {}, {}
      for i, c in ipairs(cases) do
        local size = c[4] or 1
        local n = #c[3]
        local bytes = string.char(table.unpack(c[2]))
        assert.equal(#bytes, math.ceil(n * size), c[1])
        local path = dir .. "/known_" .. i .. ".safetensors"
        paths[i] = path
        C.file(path, "{" .. C.entry("x", c[1], { n }, 0, #bytes) .. "}", bytes)
        local t = ember.load(path).x
        assert.equal(c[1], st.open(path):info("x").st_dtype)
        local got, got_bf = flat(t:to("f32")), flat(t:to("bf16"))
        got_f32[i] = got
        for k = 1, n do
          local want = c[3][k]
          assert(C.same_float(got[k], want), string.format("%s code %d: got %s, want %s", c[1], k, got[k], want))
          if want == 0 then assert.equal(1 / want, 1 / got[k], c[1] .. " sign of zero") end
          if not c[1]:match("^U") then   -- every minifloat value is exact in bf16
            assert(C.same_float(got_bf[k], want), string.format("%s code %d to bf16: got %s", c[1], k, got_bf[k]))
          end
        end
      end
      -- the independent reader decodes the same codes the same way
      local r = C.reader(paths)
      for i, c in ipairs(cases) do same_list(got_f32[i], r[i].tensors[1].f32, c[1] .. " (reader)") end
    end)
  end)

  describe("reference files", function()
    local REF = "data/safetensors-reference/"
    local expect = json.decode(C.read(REF .. "expect.json"))
    local TORCH = {
      ["torch.float64"] = "f64", ["torch.float32"] = "f32", ["torch.float16"] = "f16",
      ["torch.bfloat16"] = "bf16", ["torch.int64"] = "i64", ["torch.int32"] = "i32",
      ["torch.int16"] = "i16", ["torch.int8"] = "i8", ["torch.uint8"] = "u8", ["torch.bool"] = "bool",
      ["torch.float8_e4m3fn"] = "f8_e4m3", ["torch.float8_e5m2"] = "f8_e5m2",
      ["torch.uint16"] = "u16", ["torch.uint32"] = "u32", ["torch.uint64"] = "u64",
      ["torch.float8_e8m0fnu"] = "f8_e8m0",
    }

    it("all_dtypes loads every tensor with the expected dtype, shape, sha256, sum and values", function()
      local want = expect["all_dtypes.safetensors"]
      local tensors, meta = ember.load(REF .. "all_dtypes.safetensors")
      assert.same(want.metadata, meta)
      local names, paths = {}, {}
      for name in pairs(want.tensors) do names[#names + 1] = name end
      table.sort(names)
      local count = 0
      for _ in pairs(tensors) do count = count + 1 end
      assert.equal(#names, count)
      -- the bytes ember holds: each tensor saved alone, its data section hashed by the reader
      for i, name in ipairs(names) do
        paths[i] = dir .. "/ref_" .. name .. ".safetensors"
        ember.save({ [name] = tensors[name] }, paths[i])
      end
      local r = C.reader(paths, { values = false })
      for i, name in ipairs(names) do
        local w, t = want.tensors[name], tensors[name]
        assert.is_not_nil(t, name)
        assert.equal(TORCH[w.dtype], t:dtype(), name)
        assert.same(w.shape, t:size(), name)
        assert.equal(w.sha256, r[i].by_name[name].sha256, name .. " sha256")
        local vals = flat(t:to("f64"))
        local sum = 0
        for _, v in ipairs(vals) do sum = sum + v end
        assert(math.abs(sum - w.f64sum) <= 1e-9 * math.max(1, math.abs(w.f64sum)),
               string.format("%s: sum %.17g, expected %.17g", name, sum, w.f64sum))
        for k, v in ipairs(w.first) do assert.equal(v, vals[k], name .. " value " .. k) end
      end
    end)

    it("the independent reader agrees with expect.json on the reference file itself", function()
      local r = C.read1(REF .. "all_dtypes.safetensors", { values = false })
      assert.is_true(r.ok)
      for name, w in pairs(expect["all_dtypes.safetensors"].tensors) do
        assert.equal(w.sha256, r.by_name[name].sha256, name)
      end
    end)

    it("no_tensors loads as metadata only", function()
      local tensors, meta = ember.load(REF .. "no_tensors.safetensors")
      assert.same({}, tensors)
      assert.same(expect["no_tensors.safetensors"].metadata, meta)
      local f <close> = st.open(REF .. "no_tensors.safetensors")
      assert.same({}, f:keys())
      assert.equal(0, #f)
    end)

    it("both reference files are written back byte for byte", function()
      local a = dir .. "/ref_all.safetensors"
      ember.save(ember.load(REF .. "all_dtypes.safetensors"), a, { { "note", "every dtype" }, { "format", "pt" } })
      assert.equal(C.read(REF .. "all_dtypes.safetensors"), C.read(a))
      local b = dir .. "/ref_none.safetensors"
      ember.save({}, b, { { "only", "metadata" } })
      assert.equal(C.read(REF .. "no_tensors.safetensors"), C.read(b))
      -- and with the pread backend
      ember.save(ember.load(REF .. "all_dtypes.safetensors", { backend = "pread" }), a,
                 { { "note", "every dtype" }, { "format", "pt" } })
      assert.equal(C.read(REF .. "all_dtypes.safetensors"), C.read(a))
    end)
  end)

  describe("writer layout", function()
    local names = { "weight", "Bias", "a.b.c", "é", 'q"uote', "back\\slash", "tab\there",
                    "nl\nline", "ctl\1", "日本語", "z", "ü" }
    local dts = { "f64", "i64", "u64", "f32", "c64", "bf16", "f16", "u16", "i16", "f8_e5m2", "u8", "bool",
                  "f6_e3m2", "f4", "f32", "i32" }
    local function mixed()
      local t = {}
      for i, name in ipairs(names) do
        local dt = dts[(i - 1) % #dts + 1]
        local vals = oracle.build({ 2, 4 }, function(k) return (k * 7 + i) % 11 - 4 + 0.5 * (k % 2) end)
        t[name] = ember.tensor(vals, "f32"):to(dt)
      end
      t.scalar = ember.tensor(2.5, "f32"):to("f64")
      t.empty = ember.zeros(0, 3):to("i16")
      t.f6_row = ember.tensor({ 1, -2, 0.25, 28 }, "f32"):to("f6_e2m3")
      return t
    end

    it("writes the header the spec's rules give, byte for byte", function()
      local path = dir .. "/layout.safetensors"
      local meta = { zeta = "last", alpha = "first", ["ü"] = "ß", ['k"q'] = "v\\\n" }
      ember.save(mixed(), path, meta)
      local bytes = C.read(path)
      local header = C.header(bytes)
      local r = C.read1(path)
      assert.is_true(r.ok, r.detail)
      assert.equal(r.canonical_header, header)
      assert.equal(0, #header % 8)
      assert.equal(#header, string.unpack("<I8", bytes))
      assert.matches("^{\"__metadata__\":{\"alpha\":\"first\",", header)
      assert.matches("}%s*$", header)
      assert.equal("__metadata__", r.key_order[1])
      assert.same(meta, r.metadata)
      assert.same({ "alpha", 'k"q', "zeta", "ü" }, r.metadata_order)
      -- the padding is spaces only, and no more than 7
      local pad = header:match("} *$"):sub(2)
      assert.is_true(#pad < 8 and not pad:find("[^ ]"))
    end)

    it("sorts tensors by dtype alignment (descending) then name, offsets contiguous", function()
      local path = dir .. "/order.safetensors"
      ember.save({ b = ember.ones(2):to("u8"), a = ember.ones(2):to("u8"), c = ember.ones(1):to("f64"),
                   d = ember.ones(3):to("f32"), e = ember.ones(2):to("f4"), f = ember.ones(1):to("u64") }, path)
      local r = C.read1(path, { values = false })
      assert.equal(r.canonical_header, C.header(C.read(path)))
      local order = {}
      for i, t in ipairs(r.tensors) do order[i] = t.name end
      assert.same({ "f", "c", "d", "a", "b", "e" }, order)   -- U64 F64 F32 U8 U8 F4
      assert.same({ 0, 8 }, r.by_name.f.offsets)
      assert.same({ 8, 16 }, r.by_name.c.offsets)
      assert.same({ 16, 28 }, r.by_name.d.offsets)
      assert.same({ 28, 30 }, r.by_name.a.offsets)
      assert.same({ 30, 32 }, r.by_name.b.offsets)
      assert.same({ 32, 33 }, r.by_name.e.offsets)
    end)

    it("files ember writes read back the same through the reader and torch", function()
      local path = dir .. "/values.safetensors"
      local tensors = mixed()
      ember.save(tensors, path)
      local r = C.read1(path)
      assert.is_true(r.ok, r.detail)
      for name, t in pairs(tensors) do
        local w = r.by_name[name]
        assert.is_not_nil(w, name)
        assert.equal(t:dtype(), ember.load(path)[name]:dtype())
        assert.same(t:size(), w.shape, name)
        same_list(flat(t:to("f32")), w.f32, name)
        if COMPUTE[t:dtype()] then same_list(flat(t), w.values, name .. " values") end
      end
    end)

    it("metadata: a table's keys sorted, {key, value} pairs in their order, none when absent", function()
      local path = dir .. "/meta.safetensors"
      local x = { x = ember.ones(1) }
      ember.save(x, path, { b = "2", a = "1" })
      assert.matches('^{"__metadata__":{"a":"1","b":"2"},"x":', C.header(C.read(path)))
      ember.save(x, path, { { "b", "2" }, { "a", "1" } })
      assert.matches('^{"__metadata__":{"b":"2","a":"1"},"x":', C.header(C.read(path)))
      ember.save(x, path)
      assert.matches('^{"x":{"dtype":"F32","shape":%[1%],"data_offsets":%[0,4%]}}', C.header(C.read(path)))
      assert.same({}, st.open(path):metadata())
      assert.matches("keys and values must be strings", err(ember.save, x, path, { a = 1 }))
      assert.matches("pair of strings", err(ember.save, x, path, { { "a" } }))
    end)

    it("scalars, zero-size tensors and an empty table save and load", function()
      local path = dir .. "/small.safetensors"
      ember.save({ s = ember.tensor(-3.25, "f32"), z = ember.zeros(2, 0, 3), one = ember.tensor({ 7 }, "i8") }, path)
      local r = C.read1(path, { values = false })
      assert.is_true(r.ok)
      assert.same({}, r.by_name.s.shape)
      assert.same({ 2, 0, 3 }, r.by_name.z.shape)
      local t = ember.load(path)
      assert.equal(0, t.s:dim())
      assert.equal(-3.25, t.s:item())
      assert.same({ 2, 0, 3 }, t.z:size())
      assert.equal(7, t.one[1])
      ember.save({}, path)
      assert.equal(string.pack("<I8", 8) .. "{}      ", C.read(path))
      assert.same({}, (ember.load(path)))
    end)

    it("saves views and non-contiguous tensors by their values", function()
      local path = dir .. "/views.safetensors"
      local base = ember.arange(24):to("f32"):view(4, 6)
      ember.save({ t = base:t(), s = base[{ { 2, 3 }, { 1, -1, 2 } }] }, path)
      local got = ember.load(path)
      assert.same(base:t():contiguous():totable(), got.t:totable())
      assert.same(base[{ { 2, 3 }, { 1, -1, 2 } }]:contiguous():totable(), got.s:totable())
      local r = C.read1(path)
      same_list(flat(base:t()), r.by_name.t.values, "transposed")
    end)

    it("refuses bad input before touching the disk", function()
      local path = dir .. "/refused.safetensors"
      assert.matches("tensors must be a table", err(ember.save, 5, path))
      assert.matches("is not a tensor", err(ember.save, { a = 1 }, path))
      assert.matches("names must be strings", err(ember.save, { ember.ones(1) }, path))
      assert.matches("__metadata__", err(ember.save, { __metadata__ = ember.ones(1) }, path))
      assert.matches("IoError", err(ember.save, { a = ember.ones(1) }, dir .. "/no/such/dir/x.safetensors"))
      assert.matches("must be UTF%-8", err(ember.save, { ["\255"] = ember.ones(1) }, path))
      assert.matches("must be UTF%-8", err(ember.save, { a = ember.ones(1) }, path, { a = "\192\175" }))
      assert.is_false(C.exists(path))
    end)
  end)

  describe("atomic writes", function()
    it("saving over a mapped file leaves mapped tensors their old values", function()
      local d = C.tmpdir(dir)
      local path = d .. "/model.safetensors"
      ember.save({ w = ember.tensor({ 1, 2, 3 }, "f32"), k = ember.tensor({ 9 }, "i64") }, path)
      local f = st.open(path)
      local t = f:get("w")
      ember.save({ w = ember.tensor({ 7, 8, 9, 10 }, "f32"), k = ember.tensor({ -1 }, "i64") }, path)
      assert.same({ 1, 2, 3 }, t:totable())
      assert.same({ 9 }, f:get("k"):totable())   -- the open file still reads the old one
      f:close()
      collectgarbage()
      assert.same({ 1, 2, 3 }, t:totable())
      local g <close> = st.open(path)
      assert.same({ 7, 8, 9, 10 }, g:get("w"):totable())
      assert.same({ -1 }, g:get("k"):totable())
      assert.same({ "model.safetensors" }, C.list(d))
      C.rmdir(d)
    end)

    it("leaves no temporary file after a save", function()
      local d = C.tmpdir(dir)
      for i = 1, 3 do ember.save({ x = ember.ones(i) }, d .. "/a.safetensors") end
      ember.save({ x = ember.ones(2) }, d .. "/b.safetensors", { format = "pt" })
      assert.same({ "a.safetensors", "b.safetensors" }, C.list(d))
      C.rmdir(d)
    end)

    it("a failed save leaves the old file whole and no temporary file", function()
      local d = C.tmpdir(dir)
      local path = d .. "/keep.safetensors"
      ember.save({ a = ember.tensor({ 1, 2 }, "f32") }, path)
      local before = C.read(path)
      -- a writer closed with a tensor missing
      local w = st.writer(path, { a = { dtype = "f32", shape = { 2 } }, b = { dtype = "f32", shape = { 3 } } })
      w:write("a", ember.tensor({ 5, 6 }, "f32"))
      local listing = C.list(d)
      assert.equal(2, #listing, "the temporary file lies beside the destination")
      assert.matches("^%.keep%.safetensors%.tmp", listing[1])
      assert.matches('"b" was declared but never written', err(w.close, w))
      assert.equal(before, C.read(path))
      assert.same({ "keep.safetensors" }, C.list(d))
      -- a shape mismatch, then abort
      w = st.writer(path, { a = { dtype = "f32", shape = { 2 } } })
      assert.matches("declared of shape 2 but has shape 3", err(w.write, w, "a", ember.tensor({ 1, 2, 3 }, "f32")))
      w:abort()
      assert.equal(before, C.read(path))
      assert.same({ "keep.safetensors" }, C.list(d))
      -- a whole-file save that fails (F4 elements not filling whole bytes)
      assert.matches("MisalignedSlice", err(ember.save, { a = ember.ones(3):to("f4") }, path))
      assert.equal(before, C.read(path))
      assert.same({ "keep.safetensors" }, C.list(d))
      -- an unclosed writer that is collected abandons its file
      do st.writer(path, { a = { dtype = "f32", shape = { 2 } } }):write("a", ember.ones(2)) end
      collectgarbage()
      collectgarbage()
      assert.equal(before, C.read(path))
      assert.same({ "keep.safetensors" }, C.list(d))
      C.rmdir(d)
    end)
  end)

  describe("lazy API", function()
    local path = dir .. "/lazy.safetensors"
    local cube = ember.arange(120):to("f32"):view(4, 5, 6)
    -- written by hand, names out of order, so keys() must sort them
    local entries = {
      C.entry("zeta", "F32", { 4, 5, 6 }, 0, 480),
      C.entry("alpha", "I16", { 3, 7 }, 480, 522),
      C.entry("Mid", "F16", { 2, 2 }, 522, 530),
      C.entry("f4", "F4", { 4, 6 }, 530, 542),
      C.entry("f6", "F6_E2M3", { 4, 4 }, 542, 554),
      C.entry("e4", "F8_E4M3", { 4, 6 }, 554, 578),
    }
    local data = {}
    for i = 0, 119 do data[#data + 1] = string.pack("<f", i) end
    for i = 1, 21 do data[#data + 1] = string.pack("<i2", (i * 37) % 200 - 100) end
    data[#data + 1] = string.pack("<I2I2I2I2", 0x3C00, 0xC000, 0x3800, 0x7C00)   -- 1, -2, 0.5, inf
    data[#data + 1] = C.bytes(12 + 12 + 24, 99)
    C.file(path, '{"__metadata__":{"format":"pt","who":"spec"},' .. table.concat(entries, ",") .. "}",
           table.concat(data))

    it("keys are sorted, metadata and info are the header's", function()
      local f <close> = st.open(path)
      assert.same({ "Mid", "alpha", "e4", "f4", "f6", "zeta" }, f:keys())
      assert.same({ format = "pt", who = "spec" }, f:metadata())
      local r = C.read1(path, { values = false })
      assert.is_true(r.ok, r.detail)
      for _, name in ipairs(f:keys()) do
        local info, w = f:info(name), r.by_name[name]
        assert.same(w.offsets, info.offsets, name)
        assert.same(w.shape, info.shape, name)
        assert.equal(w.dtype, info.st_dtype, name)
        assert.equal(1, info.shard)
      end
      assert.equal("i16", f:info("alpha").dtype)
      assert.equal(6, #f)
      assert.matches("6 tensors", tostring(f))
    end)

    it("get reads each tensor's values", function()
      local f <close> = st.open(path)
      assert.same(cube:totable(), f:get("zeta"):totable())
      assert.same({ { 1, -2 }, { 0.5, math.huge } }, f:get("Mid"):to("f32"):totable())
      local want = {}
      for i = 1, 21 do want[i] = (i * 37) % 200 - 100 end
      assert.same(want, flat(f:get("alpha")))
    end)

    -- Torch7 ranges as Python slices: {a, b, step} is a..b inclusive, 1-based, negative
    -- from the end; a number picks one index and drops the dim.
    local function py_index(ranges)
      local parts = {}
      for i, r in ipairs(ranges) do
        if type(r) == "number" then
          parts[i] = tostring(r > 0 and r - 1 or r)
        else
          local a, b, s = r[1], r[2], r[3]
          if a and not b then b = a end
          local start = a == nil and "" or tostring(a > 0 and a - 1 or a)
          local stop = (b == nil or b == -1) and "" or tostring(b > 0 and b or b + 1)
          -- torch overflows on a step near 2^63; any step past the dim's size means the same
          parts[i] = start .. ":" .. stop .. (s and ":" .. math.min(s, 1 << 31) or "")
        end
      end
      return "x[0][" .. table.concat(parts, ", ") .. "]"
    end

    local SLICES = {
      { { 2, 3 }, { 1, -1, 2 } },
      { { 1, -1, 3 }, { -3, -1 }, { 2, 5, 2 } },
      { 2, {}, { -2, -1 } },
      { {}, 3 },
      { -1 },
      { { 2, 2 }, { 1, -1 }, 4 },
      { { 1, 100 } },
      { { 3, 2 } },
      { { -2 }, { 2 }, { 1, -1, 4 } },
      { { 1, -1, 2 }, { 1, -1, 2 }, { 1, -1, 2 } },
      { { 2, -2 }, { 2, -2, 3 }, { -4, -2, 2 } },
      { 4, 5, 6 },
      { {}, {}, { 6, 6 } },
      { { 1, -1, math.maxinteger }, { 2, -1, 1000 }, { -6, -1, 5 } },
    }

    it("slices with steps, negative ends and dropped dims as torch slices, on both backends", function()
      for _, backend in ipairs({ "mmap", "pread" }) do
        local f <close> = st.open(path, { backend = backend })
        local cases, got = {}, {}
        for i, s in ipairs(SLICES) do
          got[i] = f:slice("zeta")[s]
          cases[i] = { expr = py_index(s), inputs = { cube } }
        end
        local r = oracle.eval(cases)
        for i = 1, #SLICES do
          local ok, msg = pcall(oracle.assert_close, got[i], r[i], 0, 0)
          assert(ok, backend .. " " .. cases[i].expr .. ": " .. tostring(msg))
        end
        -- a plain number as the whole index picks along the first dim
        assert.same(cube[3]:totable(), f:slice("zeta")[3]:totable())
        -- other dtypes, against the whole tensor sliced by ember's own views
        local alpha = f:get("alpha")
        assert.same(alpha[{ { 1, -1, 2 }, { 2, -2, 3 } }]:totable(), f:slice("alpha")[{ { 1, -1, 2 }, { 2, -2, 3 } }]:totable())
        local e4 = f:get("e4"):to("f32")
        same_list(flat(f:slice("e4")[{ { 2, 4, 2 }, { -5, -1, 2 } }]:to("f32")), flat(e4[{ { 2, 4, 2 }, { -5, -1, 2 } }]), "e4 slice")
        assert.equal("f8_e4m3", f:slice("e4")[{ { 1, 2 } }]:dtype())
        assert.same({ 4, 5, 6 }, f:slice("zeta"):get_shape())
        assert.equal("f32", f:slice("zeta"):dtype())
      end
    end)

    it("slices packed dtypes by whole bytes and refuses a slice that splits a byte", function()
      for _, backend in ipairs({ "mmap", "pread" }) do
        local f <close> = st.open(path, { backend = backend })
        local f4, f6 = f:get("f4"):to("f32"), f:get("f6"):to("f32")
        local rows = f:slice("f4")[{ { 2, 3 } }]
        assert.equal("f4", rows:dtype())
        assert.same({ 2, 6 }, rows:size())
        same_list(flat(rows:to("f32")), flat(f4[{ { 2, 3 } }]), "f4 rows")
        same_list(flat(f:slice("f4")[{ { 1, -1, 2 }, { 3, 6 } }]:to("f32")), flat(f4[{ { 1, -1, 2 }, { 3, 6 } }]), "f4 block")
        same_list(flat(f:slice("f6")[{ { 2, 4, 2 } }]:to("f32")), flat(f6[{ { 2, 4, 2 } }]), "f6 rows")
        assert.matches("MisalignedSlice", err(function() return f:slice("f4")[{ {}, { 1, -1, 2 } }] end))
        assert.matches("MisalignedSlice", err(function() return f:slice("f6")[{ {}, { 2, 3 } }] end))
      end
    end)

    it("slices refuse bad ranges", function()
      local f <close> = st.open(path)
      assert.matches("0 is not an index", err(function() return f:slice("zeta")[{ 0 }] end))
      assert.matches("out of range", err(function() return f:slice("zeta")[{ 5 }] end))
      assert.matches("step must be a positive integer", err(function() return f:slice("zeta")[{ { 1, 2, 0 } }] end))
      assert.matches("4 ranges", err(function() return f:slice("zeta")[{ 1, 1, 1, 1 }] end))
    end)

    it("the pread backend gives the same tensors as the mapping", function()
      local a <close> = st.open(path)
      local b <close> = st.open(path, { backend = "pread" })
      for _, name in ipairs(a:keys()) do
        assert.equal(a:get(name):dtype(), b:get(name):dtype())
        same_list(flat(b:get(name):to("f32")), flat(a:get(name):to("f32")), name)
      end
    end)

    it("a missing name is TensorNotFound; unknown devices and backends are refused", function()
      local f <close> = st.open(path)
      assert.matches('TensorNotFound.*"nope"', err(f.get, f, "nope"))
      assert.matches('TensorNotFound.*"nope"', err(f.info, f, "nope"))
      assert.matches('TensorNotFound.*"nope"', err(f.slice, f, "nope"))
      assert.matches('unknown device "tpu"', err(st.open, path, { device = "tpu" }))
      assert.matches('unknown device "tpu"', err(ember.load, path, { device = "tpu" }))
      assert.matches("unknown backend", err(st.open, path, { backend = "nfs" }))
      assert.matches("IoError", err(st.open, dir .. "/missing.safetensors"))
    end)

    it("tensors outlive the file object that gave them", function()
      local f = st.open(path)
      local t = f:get("zeta")
      local s = f:slice("zeta")[{ { 1, 2 } }]
      f:close()
      assert.matches("closed", err(f.keys, f))
      assert.matches("closed", tostring(f))
      f = nil
      collectgarbage()
      collectgarbage()
      assert.same(cube:totable(), t:totable())
      assert.same(cube[{ { 1, 2 } }]:totable(), s:totable())
      -- and writing into a mapped tensor changes this copy, never the file
      t:fill_(0)
      assert.same(cube:totable(), ember.load(path).zeta:totable())
    end)
  end)

  describe("streaming writer", function()
    it("takes tensors in any order and writes the same file as save", function()
      local a = ember.arange(6):to("f32"):view(2, 3)
      local b = ember.tensor({ 1, -1, 5 }, "i16")
      local c = ember.tensor({ 0.5, -6, 2, 3 }, "f32"):to("f4")
      local path = dir .. "/stream.safetensors"
      local w = st.writer(path, { a = { dtype = "f32", shape = { 2, 3 } }, b = { dtype = "i16", shape = { 3 } },
                                  c = { dtype = "f4", shape = { 4 } } }, { format = "pt" })
      w:write("c", c)
      w:write("b", b)
      w:write("a", a)
      w:close()
      local got = ember.load(path)
      assert.same(a:totable(), got.a:totable())
      assert.same(b:totable(), got.b:totable())
      assert.same(c:to("f32"):totable(), got.c:to("f32"):totable())
      local ref = dir .. "/stream_ref.safetensors"
      ember.save({ a = a, b = b, c = c }, ref, { format = "pt" })
      assert.equal(C.read(ref), C.read(path))
      assert.matches("already closed", err(w.close, w))
    end)

    it("refuses undeclared names, wrong shapes and wrong dtypes, and goes on", function()
      local path = dir .. "/stream_err.safetensors"
      local w = st.writer(path, { a = { dtype = "f32", shape = { 2, 2 } } })
      assert.matches('"b" was not declared', err(w.write, w, "b", ember.ones(2, 2)))
      assert.matches('"a" was declared of shape 2x2 but has shape 4', err(w.write, w, "a", ember.ones(4)))
      assert.matches('"a" was declared f32 but is f64', err(w.write, w, "a", ember.ones(2, 2):to("f64")))
      w:write("a", ember.ones(2, 2))
      w:close()
      assert.same({ { 1, 1 }, { 1, 1 } }, ember.load(path).a:totable())
      assert.matches("unknown dtype", err(st.writer, path, { a = { dtype = "f33", shape = { 1 } } }))
      assert.matches("shape must be a table", err(st.writer, path, { a = { dtype = "f32" } }))
      assert.matches("non%-negative", err(st.writer, path, { a = { dtype = "f32", shape = { -1 } } }))
      assert.matches("MisalignedSlice", err(st.writer, path, { a = { dtype = "f6_e2m3", shape = { 3 } } }))
    end)

    it("a <close> scope saves on normal exit and abandons the file on an error", function()
      local d = C.tmpdir(dir)
      local path = d .. "/scoped.safetensors"
      do
        local w <close> = st.writer(path, { x = { dtype = "i32", shape = { 3 } } })
        w:write("x", ember.tensor({ 1, 2, 3 }, "i32"))
      end
      assert.same({ 1, 2, 3 }, ember.load(path).x:totable())
      local before = C.read(path)
      local ok, msg = pcall(function()
        local w <close> = st.writer(path, { x = { dtype = "i32", shape = { 3 } } })
        w:write("x", ember.tensor({ 4, 5, 6 }, "i32"))
        error("stop here")
      end)
      assert.is_false(ok)
      assert.matches("stop here", msg)
      assert.equal(before, C.read(path))
      assert.same({ "scoped.safetensors" }, C.list(d))
      -- a scope left normally with a tensor missing raises, and saves nothing
      local path2 = d .. "/never.safetensors"
      assert.matches("never written", err(function()
        local w <close> = st.writer(path2, { x = { dtype = "i32", shape = { 3 } } })
      end))
      assert.is_false(C.exists(path2))
      assert.same({ "scoped.safetensors" }, C.list(d))
      C.rmdir(d)
    end)
  end)

  describe("sharded checkpoints", function()
    -- bytes per tensor: a 40, b 400, c 24, d 24, e 8, f 200, g 16, h 1000
    local function model()
      local sizes = { a = 10, b = 100, c = 6, d = 6, e = 2, f = 50, g = 4, h = 250 }
      local t = {}
      for name, n in pairs(sizes) do t[name] = ember.arange(n):to("f32"):add(#name * 1000 + name:byte()) end
      return t
    end

    local function nbytes(t) return t:numel() * 4 end

    it("writes shards by the Hugging Face rule and an index with total_size", function()
      local d = C.tmpdir(dir)
      local tensors, limit = model(), 256
      ember.save(tensors, d, { max_shard_size = limit, note = "sharded" })
      local files = C.list(d)
      local shards = {}
      for _, f in ipairs(files) do if f:match("%.safetensors$") then shards[#shards + 1] = f end end
      local n = #shards
      assert.is_true(n > 1)
      for k, f in ipairs(shards) do
        assert.equal(string.format("model-%05d-of-%05d.safetensors", k, n), f)
      end
      assert.same(shards, (function() local s = {} for i = 1, n do s[i] = files[i] end return s end)())
      assert.equal("model.safetensors.index.json", files[n + 1])
      assert.equal(n + 1, #files)
      -- the index, as Python's json reads it
      local index = C.python_json(d .. "/model.safetensors.index.json")
      local total, count = 0, 0
      for name, t in pairs(tensors) do
        total = total + nbytes(t)
        count = count + 1
        assert.is_not_nil(index.weight_map[name], name)
      end
      assert.equal(total, index.metadata.total_size)
      -- each shard: what the index says it holds, within the limit unless it holds one
      -- tensor larger than the limit, and greedy: the next shard's first tensor did not fit
      local r = C.reader((function() local p = {} for i, f in ipairs(shards) do p[i] = d .. "/" .. f end return p end)())
      local seen, prev_last, firsts, sizes = 0, nil, {}, {}
      for k, res in ipairs(r) do
        assert.is_true(res.ok, res.detail)
        assert.same({ format = "pt", note = "sharded" }, res.metadata)
        local size, names = 0, {}
        for _, t in ipairs(res.tensors) do
          assert.equal(shards[k], index.weight_map[t.name], t.name)
          size = size + t.offsets[2] - t.offsets[1]
          names[#names + 1] = t.name
          seen = seen + 1
          assert.same(flat(tensors[t.name]), t.values, t.name)
        end
        table.sort(names)
        if prev_last then assert.is_true(prev_last < names[1], "shards follow name order") end
        prev_last = names[#names]
        assert(size <= limit or #names == 1, string.format("shard %d holds %d bytes", k, size))
        firsts[k], sizes[k] = names[1], size
      end
      for k = 2, n do
        assert(sizes[k - 1] + nbytes(tensors[firsts[k]]) > limit,
               string.format("%s would have fitted in shard %d", firsts[k], k - 1))
      end
      assert.equal(count, seen)
      -- a tensor larger than the limit has a shard of its own
      assert.equal(1, #r[#r].tensors)
      assert.equal("h", r[#r].tensors[1].name)
      C.rmdir(d)
    end)

    it("opens through the directory and through the index", function()
      local d = C.tmpdir(dir)
      local tensors = model()
      ember.save(tensors, d, { max_shard_size = 256 })
      local index = C.python_json(d .. "/model.safetensors.index.json")
      for _, p in ipairs({ d, d .. "/model.safetensors.index.json" }) do
        for _, backend in ipairs({ "mmap", "pread" }) do
          local f <close> = st.open(p, { backend = backend })
          assert.same({ "a", "b", "c", "d", "e", "f", "g", "h" }, f:keys())
          assert.equal(tostring(math.tointeger(index.metadata.total_size)), f:metadata().total_size)
          local files = C.list(d)
          for _, name in ipairs(f:keys()) do
            assert.same(tensors[name]:totable(), f:get(name):totable(), name)
            assert.equal(index.weight_map[name], files[f:info(name).shard], name)
          end
          assert.same(tensors.h[{ { 3, 200, 7 } }]:totable(), f:slice("h")[{ { 3, 200, 7 } }]:totable())
        end
        local all = ember.load(p)
        for name, t in pairs(tensors) do assert.same(t:totable(), all[name]:totable()) end
      end
      C.rmdir(d)
    end)

    it("one shard is a plain model.safetensors; sizes may be written as text", function()
      local d = C.tmpdir(dir)
      local tensors = model()
      ember.save(tensors, d, { max_shard_size = "5GB" })
      assert.same({ "model.safetensors" }, C.list(d))
      assert.same({ format = "pt" }, st.open(d .. "/model.safetensors"):metadata())
      assert.same(tensors.b:totable(), ember.load(d).b:totable())
      C.rmdir(d)
      local total = 0
      for _, t in pairs(tensors) do total = total + nbytes(t) end
      for _, spec in ipairs({ { "1KB", 1000 }, { "1KiB", 1024 }, { "0.5kb", 500 } }) do
        d = C.tmpdir(dir)
        ember.save(tensors, d, { max_shard_size = spec[1] })
        local index = C.python_json(d .. "/model.safetensors.index.json")
        for _, f in ipairs(C.list(d)) do
          if f:match("%.safetensors$") then
            local r = C.read1(d .. "/" .. f, { values = false })
            local size = 0
            for _, t in ipairs(r.tensors) do size = size + t.offsets[2] - t.offsets[1] end
            assert(size <= spec[2] or #r.tensors == 1, spec[1] .. ": " .. f .. " holds " .. size)
          end
        end
        assert.equal(total, index.metadata.total_size)
        C.rmdir(d)
      end
      assert.matches("max_shard_size", err(ember.save, tensors, dir .. "/x", { max_shard_size = "5XB" }))
      assert.matches("max_shard_size", err(ember.save, tensors, dir .. "/x", { max_shard_size = -3 }))
    end)

    it("an index naming a missing file or tensor is an error", function()
      local d = C.tmpdir(dir)
      ember.save(model(), d, { max_shard_size = 256 })
      local idx = d .. "/model.safetensors.index.json"
      local text = C.read(idx)
      -- a file that does not exist
      C.write(idx, text:gsub('"h": "model%-00005%-of%-00005%.safetensors"', '"h": "model-00009-of-00009.safetensors"'))
      assert.matches("model%-00009%-of%-00009%.safetensors: IoError", err(st.open, d))
      -- a tensor that is in none of the files
      C.write(idx, text:gsub('"weight_map": {', '"weight_map": {\n    "ghost": "model-00001-of-00005.safetensors",'))
      assert.matches('TensorNotFound.*"ghost"', err(st.open, idx))
      -- a tensor put in a file that does not hold it
      C.write(idx, text:gsub('"a": "model%-00001', '"a": "model-00002'))
      assert.matches('TensorNotFound.*"a"', err(st.open, d))
      -- a shard name that leaves the directory
      C.write(idx, text:gsub('"a": "model%-00001', '"a": "../model-00001'))
      assert.matches("InvalidIndex", err(st.open, idx))
      -- no weight_map at all
      C.write(idx, '{"metadata": {"total_size": 0}}')
      assert.matches("InvalidIndex.*weight_map", err(st.open, idx))
      C.rmdir(d)
    end)

    it("names that JSON must escape survive the index", function()
      local d = C.tmpdir(dir)
      local tensors = { ['q"x'] = ember.ones(30), ["é"] = ember.zeros(30), ["nl\nx"] = ember.ones(30):mul(3),
                        ["back\\"] = ember.ones(30):mul(-1) }
      ember.save(tensors, d, { max_shard_size = 200 })
      local index = C.python_json(d .. "/model.safetensors.index.json")
      local f <close> = st.open(d .. "/model.safetensors.index.json")
      assert.equal(4, #f:keys())
      for name, t in pairs(tensors) do
        assert.is_not_nil(index.weight_map[name], name)
        assert.same(t:totable(), f:get(name):totable(), name)
      end
    end)

    it("a directory without an index opens every .safetensors file in it", function()
      local d = C.tmpdir(dir)
      ember.save({ a = ember.ones(2) }, d .. "/one.safetensors", { format = "pt" })
      ember.save({ b = ember.zeros(3):to("i8") }, d .. "/two.safetensors")
      local f <close> = st.open(d)
      assert.same({ "a", "b" }, f:keys())
      assert.equal(2, f:info("b").shard)
      assert.same({ 0, 0, 0 }, f:get("b"):totable())
      ember.save({ a = ember.ones(1) }, d .. "/three.safetensors")
      assert.matches('DuplicateTensorName.*"a"', err(st.open, d))
      C.rmdir(d)
    end)
  end)
end)

describe("errors from ember.load and ember.save", function()
  it("point at the caller's line, not at ember's own Lua", function()
    local ok, msg = pcall(function() ember.load("/nonexistent/ember/x.safetensors") end)
    assert.is_false(ok)
    assert.matches("^[^\n]*safetensors_spec%.lua:%d+: /nonexistent/ember/x%.safetensors: IoError", msg)
    ok, msg = pcall(function() ember.save({ a = 1 }, "/nonexistent/ember/x.safetensors") end)
    assert.is_false(ok)
    assert.matches("^[^\n]*safetensors_spec%.lua:%d+: save: \"a\" is not a tensor", msg)
    assert.is_nil(msg:match("stdlib/ember"))
  end)
end)
