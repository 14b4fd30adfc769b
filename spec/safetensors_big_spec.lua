-- safetensors_big_spec.lua — what only shows at size: a 1 GiB file opens and gives one
-- tensor while touching only that tensor's pages (mmap: a view onto the mapping that
-- outlives the file object; pread: the same values, read into memory), and a 2 GiB
-- checkpoint streams out through ember.safetensors.writer with a flat peak RSS.
--
-- RSS is read from /proc/self/status. VmHWM covers a process's whole life, so each
-- measurement runs in a fresh ember process that prints its figures ("key value" lines).
-- The 1 GiB file is sparse: one 1 GiB tensor that is a hole, then a 4 MiB tensor whose
-- bytes are written here with string.pack, so its values are known without ember.
local ember = require "ember"

local exe = (os.getenv("EMBER_BUILD") or "build") .. "/ember"
local MiB, GiB = 1024 * 1024, 1024 * 1024 * 1024

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function shell_line(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

-- Kilobytes free on the filesystem holding dir.
local function free_kib(dir)
  local out = shell_line("df -Pk " .. sh_quote(dir))
  return tonumber(out:match("\n%S+%s+%d+%s+%d+%s+(%d+)"))
end

local function file_size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local function mapped(path)
  for line in io.lines("/proc/self/maps") do
    if line:find(path, 1, true) then return true end
  end
  return false
end

local function dir_entries(dir)
  local names = {}
  for name in shell_line("ls -A " .. sh_quote(dir)):gmatch("[^\n]+") do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- Runs body in a fresh ember process with status(key) (kB from /proc/self/status) and
-- report(key, value) defined; returns the reported table and the raw output.
local prelude = [[
local ember = require "ember"
local function status(key)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. key .. ":%s*(%d+) kB")
    if v then return tonumber(v) end
  end
  error("no " .. key .. " in /proc/self/status")
end
local function report(key, value) io.write(key, " ", tostring(value), "\n") io.flush() end
-- start the worker threads and the allocator before the first measurement
ember.ones(1024 * 1024):sum()
collectgarbage()
]]

local function run_child(body, ...)
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(prelude, body)
  f:close()
  local args = {}
  for i, a in ipairs({...}) do args[i] = sh_quote(tostring(a)) end
  -- under AddressSanitizer freed blocks sit in a quarantine that RSS would count
  local cmd = string.format('ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" ' ..
                            'timeout 300 %s %s %s 2>&1', sh_quote(exe), sh_quote(file),
                            table.concat(args, " "))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, code = p:close()
  os.remove(file)
  assert.equal(0, code, "the child process failed:\n" .. out)
  local r = {}
  for k, v in out:gmatch("(%S+) ([^\n]*)\n") do r[k] = tonumber(v) or v end
  return r, out
end

local function kib_to_mib(k) return string.format("%.1f MiB", k / 1024) end

local tmpdir = shell_line("mktemp -d /tmp/ember-big.XXXXXX"):match("[^\n]+")
assert(tmpdir and tmpdir:find("^/tmp/ember%-big%."), "mktemp -d failed")

teardown(function()
  for _, name in ipairs(dir_entries(tmpdir)) do os.remove(tmpdir .. "/" .. name) end
  os.remove(tmpdir)
end)

describe("a 1 GiB file, one tensor read", function()
  local path = tmpdir .. "/sparse.safetensors"
  local BIG = GiB                       -- bytes of "big": 2^28 f32, never written (a hole)
  local ROWS, COLS = 1024, 1024         -- "small": 4 MiB of f32 after it
  local NSMALL = ROWS * COLS
  local function value(i) return i % 1021 - 510 end   -- element i (0-based, row-major)
  local expect_sum, header_len = 0, nil
  for i = 0, NSMALL - 1 do expect_sum = expect_sum + value(i) end

  setup(function()
    local header = string.format(
      '{"__metadata__":{"what":"sparse"},' ..
      '"big":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]},' ..
      '"small":{"dtype":"F32","shape":[%d,%d],"data_offsets":[%d,%d]}}',
      BIG // 4, BIG, ROWS, COLS, BIG, BIG + 4 * NSMALL)
    header = header .. string.rep(" ", (8 - #header % 8) % 8)
    header_len = #header
    local f = assert(io.open(path, "wb"))
    f:write(string.pack("<I8", #header), header)
    f:seek("set", 8 + #header + BIG)
    local fmt, row = "<" .. string.rep("f", COLS), {}
    for r = 0, ROWS - 1 do
      for c = 1, COLS do row[c] = value(r * COLS + c - 1) end
      f:write(string.pack(fmt, table.unpack(row)))
    end
    f:close()
  end)

  it("is the file it should be", function()
    assert.equal(8 + header_len + BIG + 4 * NSMALL, file_size(path))
    assert.is_true(file_size(path) > GiB)
    local f <close> = ember.safetensors.open(path)
    assert.same({ "big", "small" }, f:keys())
    assert.same({ what = "sparse" }, f:metadata())
    assert.same({ dtype = "f32", st_dtype = "F32", shape = { ROWS, COLS },
                  offsets = { BIG, BIG + 4 * NSMALL }, shard = 1 }, f:info("small"))
    assert.same({ BIG // 4 }, f:info("big").shape)
  end)

  for _, backend in ipairs({ "mmap", "pread" }) do
    it(backend .. ": open + get + sum of every value grows RSS by far less than 1 GiB", function()
      local r, out = run_child([[
local path, backend = ...
local before, file0, anon0 = status("VmRSS"), status("RssFile"), status("RssAnon")
local f = ember.safetensors.open(path, { backend = backend })
local opened = status("VmRSS")
local t = f:get("small")
f:close()                     -- the tensor keeps what it needs
f = nil
collectgarbage()
collectgarbage()
report("sum", t:sum():item())
report("min", t:min():item())
report("max", t:max():item())
report("v_first", t[{1, 1}]:item())
report("v_last", t[{1024, 1024}]:item())
report("v_mid", t[{700, 3}]:item())
report("open_kib", opened - before)
report("rss_kib", status("VmRSS") - before)
report("file_kib", status("RssFile") - file0)
report("anon_kib", status("RssAnon") - anon0)
]], path, backend)
      assert.equal(expect_sum, r.sum, out)
      assert.equal(-510, r.min, out)
      assert.equal(510, r.max, out)
      assert.equal(value(0), r.v_first)
      assert.equal(value(NSMALL - 1), r.v_last)
      assert.equal(value(699 * COLS + 2), r.v_mid)
      print(string.format("# %s: open +%s, after get + sum +%s (file-backed +%s, anonymous +%s)",
                          backend, kib_to_mib(r.open_kib), kib_to_mib(r.rss_kib),
                          kib_to_mib(r.file_kib), kib_to_mib(r.anon_kib)))
      assert.is_true(r.open_kib < 16 * 1024, "opening grew RSS by " .. kib_to_mib(r.open_kib))
      assert.is_true(r.rss_kib < 64 * 1024, "reading one 4 MiB tensor grew RSS by " .. kib_to_mib(r.rss_kib))
      if backend == "mmap" then
        -- the 4 MiB were read where they lie: file pages, not a copy
        assert.is_true(r.file_kib >= 4 * 1024 - 64, "file-backed RSS grew only " .. kib_to_mib(r.file_kib))
        assert.is_true(r.anon_kib < 2 * 1024, "anonymous RSS grew " .. kib_to_mib(r.anon_kib))
      else
        -- the copy lives in the heap (which may reuse memory freed before, so no lower
        -- bound); the file is read, not mapped
        assert.is_true(r.file_kib < 2 * 1024, "file-backed RSS grew " .. kib_to_mib(r.file_kib))
      end
    end)
  end

  -- every value, against a tensor built from the formula
  local function expected()
    return ember.arange(0, NSMALL):remainder(1021):sub(510):to("f32"):view(ROWS, COLS)
  end
  local function same_values(t)
    return t:dtype() == "f32" and ember.eq(t, expected()):all():item()
  end

  it("mmap: the tensor is a view onto the mapping, which it keeps alive", function()
    collectgarbage()
    collectgarbage()
    assert.is_false(mapped(path))
    local f = ember.safetensors.open(path)
    assert.is_true(mapped(path))
    local t, t2 = f:get("small"), f:get("small")
    assert.equal(tostring(t:data_ptr()), tostring(t2:data_ptr()))   -- the same bytes, no copy
    t2 = nil
    f:close()
    f = nil
    collectgarbage()
    collectgarbage()
    assert.is_true(mapped(path))            -- the tensor holds the mapping
    assert.is_true(same_values(t))
    assert.equal(expect_sum, t:sum():item())
    -- a write into the view changes this process's copy of the page, never the file
    t:add_(1)
    assert.equal(expect_sum + NSMALL, t:sum():item())
    t = nil
    collectgarbage()
    collectgarbage()
    assert.is_false(mapped(path))           -- the last view gone, the mapping goes
    local g <close> = ember.safetensors.open(path, { backend = "pread" })
    assert.is_true(same_values(g:get("small")))
  end)

  it("pread: the same values, a copy per get, no mapping", function()
    collectgarbage()
    collectgarbage()
    local f = ember.safetensors.open(path, { backend = "pread" })
    local t, t2 = f:get("small"), f:get("small")
    assert.is_false(mapped(path))
    assert.are_not.equal(tostring(t:data_ptr()), tostring(t2:data_ptr()))
    f:close()
    assert.is_true(same_values(t))
    assert.is_true(same_values(t2))
    t:add_(1)                               -- copies are independent
    assert.equal(expect_sum, t2:sum():item())
  end)

  for _, backend in ipairs({ "mmap", "pread" }) do
    it(backend .. ": slices near the 1 GiB offset", function()
      local f <close> = ember.safetensors.open(path, { backend = backend })
      local tail = f:slice("big")[{ { -4, -1 } }]           -- the hole reads as zeros
      assert.same({ 0, 0, 0, 0 }, tail:totable())
      local s = f:slice("small")[{ { -3, -1, 2 }, { 1, -1, 511 } }]   -- rows 1022, 1024; cols 1, 512, 1023
      local want = {}
      for i, r in ipairs({ 1021, 1023 }) do
        want[i] = {}
        for j, c in ipairs({ 0, 511, 1022 }) do want[i][j] = value(r * COLS + c) end
      end
      assert.same(want, s:totable())
      assert.same({ value(5 * COLS + 0), value(5 * COLS + 1) }, f:slice("small")[{ 6, { 1, 2 } }]:totable())
    end)
  end

  it("removes the file", function()
    collectgarbage()
    collectgarbage()
    assert.is_true(os.remove(path))
  end)
end)

describe("the streaming writer, 2 GiB", function()
  local path = tmpdir .. "/stream.safetensors"
  local R, C = 4096, 8192                     -- 32 Mi elements: 128 MiB of f32 or i32
  local NF32 = 14
  local function fname(k) return string.format("f32.%02d", k) end
  -- 14 f32 tensors filled with k + 0.25, an i32 tensor holding its flat index (shape
  -- 8192x4096), a bf16 tensor of 8192x8192 filled with -2.5: 16 x 128 MiB
  local specs = { idx = { dtype = "i32", shape = { C, R } }, half = { dtype = "bf16", shape = { C, C } } }
  for k = 1, NF32 do specs[fname(k)] = { dtype = "f32", shape = { R, C } } end

  it("writes out of order with peak RSS under 300 MiB", function()
    local free = free_kib(tmpdir)
    assert.is_true(free ~= nil and free > 3 * 1024 * 1024,
                   "needs 3 GiB free on the filesystem of " .. tmpdir .. "; has " ..
                   tostring(free and kib_to_mib(free)))
    local t0 = os.time()
    local ok, err = pcall(function()
      local r, out = run_child([[
local path, R, C, NF32 = ...
R, C, NF32 = math.tointeger(R), math.tointeger(C), math.tointeger(NF32)
local function fname(k) return string.format("f32.%02d", k) end
local specs = { idx = { dtype = "i32", shape = { C, R } }, half = { dtype = "bf16", shape = { C, C } } }
for k = 1, NF32 do specs[fname(k)] = { dtype = "f32", shape = { R, C } } end
local start = status("VmRSS")
local w = ember.safetensors.writer(path, specs, { note = "streamed" })
local t = ember.full({ C, C }, -2.5, { dtype = "bf16" })
w:write("half", t)
t = nil
collectgarbage()
for j = 0, NF32 - 1 do
  local k = (j * 5) % NF32 + 1                -- 1, 6, 11, 2, 7, ...: not file order
  t = ember.full({ R, C }, k + 0.25)
  w:write(fname(k), t)
  t = nil
  collectgarbage()
  if j == 6 then
    t = ember.arange(0, R * C, 1, { dtype = "i32" }):view(C, R)
    w:write("idx", t)
    t = nil
    collectgarbage()
  end
end
w:close()
report("start_kib", start)
report("hwm_write_kib", status("VmHWM"))
-- reading back: slices only
local f = ember.safetensors.open(path)
for name in pairs(specs) do
  report("corner." .. name, f:slice(name)[{ { 1, 2 }, { -2, -1 } }]:sum():item())
end
report("idx_sum", f:slice("idx")[{ { 1, -1, 2731 }, { 1, -1, 1365 } }]:sum():item())
f:close()
report("hwm_end_kib", status("VmHWM"))
]], path, R, C, NF32)
      -- what the child read back
      for k = 1, NF32 do assert.equal(4 * (k + 0.25), r["corner." .. fname(k)], out) end
      assert.equal(4 * -2.5, r["corner.half"], out)
      -- idx rows 1, 2 and cols 4095, 4096 (1-based): flat indices 4094, 4095, 8190, 8191
      assert.equal(4094 + 4095 + 8190 + 8191, r["corner.idx"], out)
      local s = 0
      for _, row in ipairs({ 0, 2731, 5462 }) do
        for _, col in ipairs({ 0, 1365, 2730, 4095 }) do s = s + row * R + col end
      end
      assert.equal(s, r.idx_sum, out)
      print(string.format("# streaming 2 GiB: RSS at start %s, peak after writing %s, peak after reading %s",
                          kib_to_mib(r.start_kib), kib_to_mib(r.hwm_write_kib), kib_to_mib(r.hwm_end_kib)))
      assert.is_true(r.hwm_write_kib < 300 * 1024, "peak RSS while writing: " .. kib_to_mib(r.hwm_write_kib))
      assert.is_true(r.hwm_end_kib < 300 * 1024, "peak RSS after reading: " .. kib_to_mib(r.hwm_end_kib))

      -- the file, from this process
      assert.same({ "stream.safetensors" }, dir_entries(tmpdir))     -- no temporary left
      local fh = assert(io.open(path, "rb"))
      local n = string.unpack("<I8", fh:read(8))
      fh:close()
      assert.equal(0, n % 8)
      assert.equal(8 + n + 2 * GiB, file_size(path))
      local f <close> = ember.safetensors.open(path)
      assert.same({ note = "streamed" }, f:metadata())
      -- laid out by dtype (F32, then I32, then BF16), then by name
      local off = 0
      for k = 1, NF32 do
        assert.same({ off, off + 128 * MiB }, f:info(fname(k)).offsets)
        off = off + 128 * MiB
      end
      assert.same({ off, off + 128 * MiB }, f:info("idx").offsets)
      assert.same({ off + 128 * MiB, 2 * GiB }, f:info("half").offsets)
      assert.same({ C, C }, f:info("half").shape)
      for k = 1, NF32 do
        local v = f:slice(fname(k))[{ { 1, -1, 4095 }, { -1 } }]    -- rows 1, 4096; last col
        assert.same({ { k + 0.25 }, { k + 0.25 } }, v:totable())
      end
      assert.same({ { 4096 * 8191 + 4095 } }, f:slice("idx")[{ { -1 }, { -1 } }]:totable())
      assert.same({ 4096 * 4000 + 17, 4096 * 4000 + 18 }, f:slice("idx")[{ 4001, { 18, 19 } }]:totable())
      assert.same({ -2.5, -2.5 }, f:slice("half")[{ 8192, { 1, -1, 8191 } }]:to("f32"):totable())
    end)
    os.remove(path)
    print(string.format("# streaming case: %d s", os.time() - t0))
    assert(ok, err)
    assert.same({}, dir_entries(tmpdir))
  end)
end)
