-- safetensors_errors_spec.lua — the reader's validation, one crafted file per rule:
-- each broken file must be refused with the rule's name in the message (by open,
-- load and both backends), and the independent reader (st_reader.py) must refuse it
-- by the same rule, which shows the file breaks that rule and no other first. Then
-- the shapes of header the reference accepts, each loaded with its values checked.
local ember = require "ember"
local C = require "st_craft"
local st = ember.safetensors

local E = C.entry
local f32x2 = string.pack("<ff", 1.5, -2)   -- 8 bytes: a valid F32 [2]

-- {name, expected error, header, data [, n (the length field)] } or {name, error, raw = bytes}
local BAD = {
  -- the length field
  { "empty file", "HeaderTooSmall", raw = "" },
  { "3 bytes", "HeaderTooSmall", raw = "\8\0\0" },
  { "7 bytes", "HeaderTooSmall", raw = "\2\0\0\0\0\0\0" },
  { "N one past the limit", "HeaderTooLarge", "{}", "", 100000001 },
  { "N = 2^63", "HeaderTooLarge", "{}", "", math.mininteger },
  { "N = 2^64 - 1", "HeaderTooLarge", "{}", "", -1 },
  { "N at the limit, file short", "InvalidHeaderLength", "{}", "", 100000000 },
  { "N one past the end", "InvalidHeaderLength", "{}  ", "", 5 },
  { "N far past the end", "InvalidHeaderLength", "{}", "", 4096 },
  -- UTF-8
  { "byte 0xFF in a name", "InvalidHeader", "{" .. E("a\255", "F32", { 2 }, 0, 8) .. "}", f32x2 },
  { "overlong encoding", "InvalidHeader", '{"__metadata__":{"k":"\192\175"}}', "" },
  { "encoded surrogate", "InvalidHeader", '{"__metadata__":{"k":"\237\160\128"}}', "" },
  { "truncated sequence at the end", "InvalidHeader", "{}\226\130", "" },
  -- JSON and its schema
  { "an array", "InvalidHeaderDeserialization", "[]", "" },
  { "a string", "InvalidHeaderDeserialization", '"x"', "" },
  { "a number", "InvalidHeaderDeserialization", "42", "" },
  { "null", "InvalidHeaderDeserialization", "null", "" },
  { "empty header", "InvalidHeaderDeserialization", "", "" },
  { "only spaces", "InvalidHeaderDeserialization", "        ", "" },
  { "unclosed object", "InvalidHeaderDeserialization", "{", "" },
  { "missing value", "InvalidHeaderDeserialization", '{"a":}', "" },
  { "trailing comma", "InvalidHeaderDeserialization", "{" .. E("a", "F32", { 2 }, 0, 8) .. ",}", f32x2 },
  { "single quotes", "InvalidHeaderDeserialization", "{'a':1}", "" },
  { "unknown dtype", "InvalidHeaderDeserialization", "{" .. E("a", "F128", { 2 }, 0, 8) .. "}", f32x2 },
  { "dtype in lower case", "InvalidHeaderDeserialization", "{" .. E("a", "f32", { 2 }, 0, 8) .. "}", f32x2 },
  { "dtype not a string", "InvalidHeaderDeserialization", '{"a":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}', f32x2 },
  { "missing dtype", "InvalidHeaderDeserialization", '{"a":{"shape":[2],"data_offsets":[0,8]}}', f32x2 },
  { "missing shape", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","data_offsets":[0,8]}}', f32x2 },
  { "missing data_offsets", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2]}}', f32x2 },
  { "tensor not an object", "InvalidHeaderDeserialization", '{"a":[1,2]}', "" },
  { "shape not an array", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', f32x2 },
  { "negative dim", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', f32x2 },
  { "negative offset", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}', f32x2 },
  { "negative end", "InvalidHeaderDeserialization", '{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,-1]}}', "" },
  { "fractional dim", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', f32x2 },
  { "fractional offset", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}', f32x2 },
  { "exponent number", "InvalidHeaderDeserialization", '{"a":{"dtype":"U8","shape":[1000],"data_offsets":[0,1e3]}}', string.rep("\0", 1000) },
  { "exponent dim", "InvalidHeaderDeserialization", '{"a":{"dtype":"U8","shape":[1E1],"data_offsets":[0,10]}}', string.rep("\0", 10) },
  { "dim past 2^64", "InvalidHeaderDeserialization", '{"a":{"dtype":"U8","shape":[18446744073709551616,0],"data_offsets":[0,0]}}', "" },
  { "NaN literal", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,8]}}', f32x2 },
  { "leading zero", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}', f32x2 },
  { "boolean dim", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}', "\0\0\0\0" },
  { "offsets of length 1", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}', f32x2 },
  { "offsets of length 3", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}', f32x2 },
  { "offsets not an array", "InvalidHeaderDeserialization", '{"a":{"dtype":"F32","shape":[2],"data_offsets":8}}', f32x2 },
  { "metadata value a number", "InvalidHeaderDeserialization", '{"__metadata__":{"a":1}}', "" },
  { "metadata value null", "InvalidHeaderDeserialization", '{"__metadata__":{"a":null}}', "" },
  { "metadata value an object", "InvalidHeaderDeserialization", '{"__metadata__":{"a":{"b":"c"}}}', "" },
  { "metadata an array", "InvalidHeaderDeserialization", '{"__metadata__":["a","b"]}', "" },
  { "metadata a string", "InvalidHeaderDeserialization", '{"__metadata__":"a"}', "" },
  { "trailing garbage", "InvalidHeaderDeserialization", "{" .. E("a", "F32", { 2 }, 0, 8) .. "} x", f32x2 },
  { "two objects", "InvalidHeaderDeserialization", "{}{}", "" },
  { "a trailing NUL", "InvalidHeaderDeserialization", "{}\0", "" },
  { "duplicate field in a tensor", "InvalidHeaderDeserialization",
    '{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32x2 },
  { "raw control character in a name", "InvalidHeaderDeserialization", "{" .. E("a", "F32", { 2 }, 0, 8):gsub('^"a"', '"a\1"') .. "}", f32x2 },
  { "lone surrogate escape", "InvalidHeaderDeserialization", '{"__metadata__":{"k":"\\ud800"}}', "" },
  -- offsets
  { "a gap", "InvalidOffset", "{" .. E("a", "F32", { 1 }, 0, 4) .. "," .. E("b", "F32", { 1 }, 5, 9) .. "}", string.rep("\0", 9) },
  { "an overlap", "InvalidOffset", "{" .. E("a", "F32", { 2 }, 0, 8) .. "," .. E("b", "F32", { 1 }, 4, 8) .. "}", f32x2 },
  { "not starting at 0", "InvalidOffset", "{" .. E("a", "F32", { 1 }, 4, 8) .. "}", f32x2 },
  { "end before begin", "InvalidOffset", "{" .. E("a", "F32", { 1 }, 0, 4) .. "," .. E("b", "U8", { 0 }, 4, 2) .. "}", "\0\0\0\0" },
  { "the same range twice", "InvalidOffset", "{" .. E("a", "F32", { 2 }, 0, 8) .. "," .. E("b", "F32", { 2 }, 0, 8) .. "}", f32x2 },
  -- sizes
  { "element count overflow", "ValidationOverflow", "{" .. E("a", "U8", { 4294967296, 4294967296 }, 0, 0) .. "}", "" },
  { "three dims overflow", "ValidationOverflow", "{" .. E("a", "F32", { 65536, 65536, 65536, 65536 }, 0, 0) .. "}", "" },
  { "byte size overflow", "ValidationOverflow", "{" .. E("a", "F64", { 4611686018427387904 }, 0, 0) .. "}", "" },
  { "size mismatch (short)", "TensorInvalidInfo", "{" .. E("a", "F32", { 2 }, 0, 4) .. "}", "\0\0\0\0" },
  { "size mismatch (long)", "TensorInvalidInfo", "{" .. E("a", "F32", { 2 }, 0, 12) .. "}", string.rep("\0", 12) },
  { "F4 size mismatch", "TensorInvalidInfo", "{" .. E("a", "F4", { 4 }, 0, 4) .. "}", "\0\0\0\0" },
  { "F4 with an odd count", "MisalignedSlice", "{" .. E("a", "F4", { 3 }, 0, 2) .. "}", "\0\0" },
  { "F6 with one element", "MisalignedSlice", "{" .. E("a", "F6_E2M3", { 1 }, 0, 1) .. "}", "\0" },
  { "F6 with six elements", "MisalignedSlice", "{" .. E("a", "F6_E3M2", { 2, 3 }, 0, 5) .. "}", string.rep("\0", 5) },
  -- the end of the data
  { "an extra byte at the end", "MetadataIncompleteBuffer", "{" .. E("a", "F32", { 2 }, 0, 8) .. "}", f32x2 .. "\0" },
  { "too few bytes", "MetadataIncompleteBuffer", "{" .. E("a", "F32", { 2 }, 0, 8) .. "}", "\0\0\0\0" },
  { "no tensors but data", "MetadataIncompleteBuffer", "{}", "\0" },
  -- names
  { "a name given twice", "DuplicateTensorName", "{" .. E("a", "F32", { 1 }, 0, 4) .. "," .. E("a", "F32", { 1 }, 4, 8) .. "}", f32x2 },
}

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

local function flat(t)
  if t:numel() == 0 then return {} end
  return t:contiguous():view(-1):totable()
end

describe("safetensors validation", function()
  local dir = C.tmpdir()
  teardown(function() C.rmdir(dir) end)

  local paths = {}
  for i, b in ipairs(BAD) do
    paths[i] = dir .. string.format("/bad_%02d.safetensors", i)
    if b.raw then C.write(paths[i], b.raw)
    else C.file(paths[i], b[3], b[4], b[5]) end
  end
  local verdicts = C.reader(paths, { values = false })

  for i, b in ipairs(BAD) do
    it(b[2] .. ": " .. b[1], function()
      -- the independent reader refuses the file by the same rule
      assert.is_false(verdicts[i].ok, "st_reader.py accepted it")
      assert.equal(b[2], verdicts[i].error, "st_reader.py: " .. tostring(verdicts[i].detail))
      for _, backend in ipairs({ "mmap", "pread" }) do
        local msg = err(st.open, paths[i], { backend = backend })
        assert.is_truthy(msg:find(b[2], 1, true), backend .. ": " .. msg)
        assert.is_truthy(msg:find(paths[i], 1, true), "the message names the file: " .. msg)
      end
      local msg = err(ember.load, paths[i])
      assert.is_truthy(msg:find(b[2], 1, true), "load: " .. msg)
    end)
  end

  it("every rule of the format has a crafted file here", function()
    local seen = {}
    for _, b in ipairs(BAD) do seen[b[2]] = true end
    for _, name in ipairs({ "HeaderTooSmall", "HeaderTooLarge", "InvalidHeaderLength", "InvalidHeader",
                            "InvalidHeaderDeserialization", "InvalidOffset", "ValidationOverflow",
                            "TensorInvalidInfo", "MetadataIncompleteBuffer", "DuplicateTensorName",
                            "MisalignedSlice" }) do
      assert.is_true(seen[name], name)
    end
  end)

  describe("accepted as the reference accepts them", function()
    -- {name, header, data, check(tensors, metadata)}
    local GOOD = {
      { "no tensors", "{}", "", function(t, m)
        assert.same({}, t)
        assert.same({}, m)
      end },
      { "no tensors, metadata only", '{"__metadata__":{"a":"b"}}', "", function(t, m)
        assert.same({}, t)
        assert.same({ a = "b" }, m)
      end },
      { "a scalar", "{" .. E("s", "F32", {}, 0, 4) .. "}", string.pack("<f", -7.25), function(t)
        assert.equal(0, t.s:dim())
        assert.same({}, t.s:size())
        assert.equal(-7.25, t.s:item())
      end },
      { "scalars of several dtypes", "{" .. E("a", "I64", {}, 0, 8) .. "," .. E("b", "F16", {}, 8, 10) .. ","
          .. E("c", "F8_E4M3", {}, 10, 11) .. "}", string.pack("<i8I2B", -5, 0x3E00, 0x38), function(t)
        assert.equal(-5, t.a:item())
        assert.equal(1.5, t.b:item())
        assert.equal(1, t.c:to("f32"):item())
      end },
      { "zero-size tensors", "{" .. E("z", "F32", { 0, 3 }, 0, 0) .. "," .. E("a", "I16", { 2 }, 0, 4) .. ","
          .. E("y", "F64", { 4, 0 }, 4, 4) .. "," .. E("f4", "F4", { 0 }, 4, 4) .. "}", string.pack("<i2i2", 3, -4), function(t)
        assert.same({ 0, 3 }, t.z:size())
        assert.same({ 4, 0 }, t.y:size())
        assert.equal(0, t.f4:numel())
        assert.same({ 3, -4 }, t.a:totable())
      end },
      { "keys in any order", '{"b":{"data_offsets":[8,12],"shape":[1],"dtype":"I32"},"__metadata__":{"z":"1","a":"2"},'
          .. '"a":{"shape":[2],"data_offsets":[0,8],"dtype":"F32"}}', f32x2 .. string.pack("<i4", 77), function(t, m)
        assert.same({ 1.5, -2 }, t.a:totable())
        assert.same({ 77 }, t.b:totable())
        assert.same({ z = "1", a = "2" }, m)
      end },
      { "extra fields inside a tensor entry", '{"a":{"dtype":"F32","note":{"x":[1,2.5,-3,1e9,null,true]},"shape":[2],'
          .. '"data_offsets":[0,8],"quant":"none","n":-1.5}}', f32x2, function(t)
        assert.same({ 1.5, -2 }, t.a:totable())
      end },
      { "__metadata__ null", '{"__metadata__":null,' .. E("a", "F32", { 2 }, 0, 8) .. "}", f32x2, function(t, m)
        assert.same({}, m)
        assert.same({ 1.5, -2 }, t.a:totable())
      end },
      { "whitespace around and inside the object", ' \n\t\r {\n  "a" : { "dtype" : "F32" , "shape" : [ 2 ] ,'
          .. ' "data_offsets" : [ 0 , 8 ] }\n}  \n  ', f32x2, function(t)
        assert.same({ 1.5, -2 }, t.a:totable())
      end },
      { "leading spaces only", "    {" .. E("a", "F32", { 2 }, 0, 8) .. "}", f32x2, function(t)
        assert.same({ 1.5, -2 }, t.a:totable())
      end },
      { "escapes in names and metadata", '{"__metadata__":{"k\\u00e9y":"a\\"b\\\\c\\n\\/\\ud83d\\ude00"},'
          .. '"\\u65e5\\u672c":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}', "\1\2\255", function(t, m)
        assert.same({ 1, 2, 255 }, t["日本"]:totable())
        assert.equal('a"b\\c\n/😀', m["kéy"])
      end },
      { "tensors in file order unlike name order", "{" .. E("z", "U8", { 1 }, 0, 1) .. "," .. E("a", "U8", { 2 }, 1, 3)
          .. "}", "\9\8\7", function(t)
        assert.same({ 9 }, t.z:totable())
        assert.same({ 8, 7 }, t.a:totable())
      end },
      { "a misaligned wide tensor (copied, not mapped)", "{" .. E("b", "U8", { 1 }, 0, 1) .. "," .. E("d", "F64", { 2 }, 1, 17)
          .. "," .. E("i", "I32", { 1 }, 17, 21) .. "}", "\5" .. string.pack("<ddi4", 0.1, -3e300, -123456), function(t)
        assert.same({ 0.1, -3e300 }, t.d:totable())
        assert.same({ -123456 }, t.i:totable())
        assert.same({ 5 }, t.b:totable())
      end },
      { "a name that looks like a path", "{" .. E("../../etc/x", "U8", { 1 }, 0, 1) .. "}", "\42", function(t)
        assert.same({ 42 }, t["../../etc/x"]:totable())
      end },
    }

    local gpaths = {}
    for i, g in ipairs(GOOD) do
      gpaths[i] = dir .. string.format("/good_%02d.safetensors", i)
      C.file(gpaths[i], g[2], g[3])
    end
    local readings = C.reader(gpaths)

    for i, g in ipairs(GOOD) do
      it(g[1], function()
        assert.is_true(readings[i].ok, "st_reader.py: " .. tostring(readings[i].detail))
        for _, backend in ipairs({ "mmap", "pread" }) do
          local t, m = ember.load(gpaths[i], { backend = backend })
          g[4](t, m)
          -- and the values are those the independent reader finds
          for _, w in ipairs(readings[i].tensors) do
            local got = flat(t[w.name]:to("f32"))
            assert.equal(#w.f32, #got, w.name)
            for k = 1, #got do assert(C.same_float(got[k], w.f32[k]), w.name .. " element " .. k) end
          end
        end
      end)
    end
  end)
end)
