-- gc_spec.lua — memory: the collector is paced by tensor storage it cannot see
-- (lember_gc_pace), so loops of big temporaries stay bounded; `<close>` and t:close()
-- free storage at once; views keep their storage alive until the last one goes.
local ember = require "ember"

local PAGE = 4096
local MiB = 1024 * 1024

-- resident set size in bytes (second field of /proc/self/statm, in pages)
local function rss()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("n", "n")
  f:close()
  return resident * PAGE
end

-- Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default)
-- before it is reused, so RSS bounds get that much slack there.
local function sanitized()
  for line in io.lines("/proc/self/maps") do
    if line:find("libasan", 1, true) then return true end
  end
  return false
end
local SLACK = sanitized() and 256 * 1024 * 1024 or 0

-- The kernel's high-water mark of RSS (VmHWM), reset first where /proc/self/clear_refs
-- allows it: it sees a peak that sampling between iterations could miss.
local function reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then
    f:write("5")
    f:close()
  end
end

local function hwm()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+) kB")) * 1024
end

-- A fresh f32 tensor of n elements whose pages are all written (so they count in RSS).
local function filled(n)
  return ember.ones(n)
end

describe("memory", function()
  it("keeps peak RSS bounded in a loop making 10 000 fresh 1 MiB tensors", function()
    collectgarbage("collect")
    local base = rss()
    local peak = base
    reset_peak()
    for i = 1, 10000 do
      local t = filled(262144)                 -- 1 MiB of f32
      assert(t:numel() == 262144)
      if i % 50 == 0 then peak = math.max(peak, rss()) end
      if i % 1000 == 0 then t[1] = i end       -- touch it through a view too
    end
    peak = math.max(peak, hwm())
    assert.is_true(peak - base < 200 * MiB + SLACK,
                   string.format("peak RSS grew by %.1f MiB", (peak - base) / MiB))
  end)

  it("keeps a loop of op results (a + b, views, in-place) bounded too", function()
    collectgarbage("collect")
    local base = rss()
    local peak = base
    reset_peak()
    local a = filled(262144)
    for i = 1, 2000 do
      local c = a + 1                          -- a new 1 MiB result
      c:mul_(2)
      local v = c:view(512, 512):t()           -- a view that holds c's storage
      assert(v:size(1) == 512)
      if i % 50 == 0 then peak = math.max(peak, rss()) end
    end
    peak = math.max(peak, hwm())
    assert.is_true(peak - base < 200 * MiB + SLACK,
                   string.format("peak RSS grew by %.1f MiB", (peak - base) / MiB))
  end)

  -- ember keeps a few freed blocks of up to 128 MiB for reuse (host/core/storage.c), so
  -- a block bigger than that shows its release directly in RSS.
  local BIG = 160 * MiB

  it("frees a <close> tensor's storage when its scope ends, without the collector", function()
    collectgarbage("collect")
    collectgarbage("stop")                     -- only <close> may free it
    local before = rss()
    local escaped
    do
      local big <close> = filled(BIG // 4)
      escaped = big
      assert.is_true(rss() - before > BIG - 4 * MiB)
    end
    local after = rss()
    collectgarbage("restart")
    assert.is_true(after - before < 8 * MiB,
                   string.format("%.1f MiB still resident after close", (after - before) / MiB))
    -- the userdata lives on, closed: using it raises instead of touching freed memory
    local ok, err = pcall(function() return escaped:numel() end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("tensor was closed", 1, true))
    ok, err = pcall(function() return escaped + 1 end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("closed", 1, true))
    -- closing twice (or collecting after closing) is harmless
    escaped:close()
    escaped = nil
    collectgarbage("collect")
  end)

  it("frees storage on t:close(), but only when the last view of it goes", function()
    collectgarbage("collect")
    collectgarbage("stop")
    local before = rss()
    local big = filled(BIG // 4)
    local part = big:narrow(1, 1, 16)          -- a view: holds the whole storage
    big:close()
    assert.is_true(rss() - before > BIG - 4 * MiB)   -- still alive through the view
    assert.equal(1, part[16])
    part:close()
    local after = rss()
    collectgarbage("restart")
    assert.is_true(after - before < 8 * MiB,
                   string.format("%.1f MiB still resident after the last close", (after - before) / MiB))
  end)

  it("keeps no storage alive after a failed call or a failed index", function()
    local bad = {
      ["a[{5}]"] = function(a) return a[{ 5 }] end,                     -- select fails
      ["a[{{}, {0}}]"] = function(a) return a[{ {}, { 0 } }] end,       -- slice start 0
      ["a[{{1, 1.5}, {}}]"] = function(a) return a[{ { 1, 1.5 }, {} }] end,
      ["a[{1, 'x'}]"] = function(a) return a[{ 1, "x" }] end,
      ["a[{{}, {1, 2, 0}}]"] = function(a) return a[{ {}, { 1, 2, 0 } }] end,
      ["a[9] = 1"] = function(a) a[9] = 1 end,
      ["a:narrow(2, 1, 10^9)"] = function(a) return a:narrow(2, 1, 1000000000) end,
      ["a + ones(3)"] = function(a) return a + ember.ones(3) end,
      ["a:view(7)"] = function(a) return a:view(7) end,
      ["ember.cat({a, ones(3)})"] = function(a) return ember.cat({ a, ember.ones(3) }) end,
    }
    local leaks = {}
    for name, fn in pairs(bad) do
      collectgarbage("collect")
      local before = rss()
      do
        local a = filled(BIG // 4):view(2, -1)
        assert.is_false((pcall(fn, a)), name .. " succeeded")
      end
      collectgarbage("collect")
      collectgarbage("collect")
      local kept = rss() - before
      if kept > 8 * MiB then leaks[#leaks + 1] = string.format("%s kept %.0f MiB", name, kept / MiB) end
    end
    table.sort(leaks)
    assert.same({}, leaks)
  end)

  it("survives the collector finalizing tensors, views and closed tensors together", function()
    for _ = 1, 200 do
      local t = filled(1000)
      local v1, v2 = t:narrow(1, 2, 10), t:view(10, 100)
      if _ % 2 == 0 then t:close() end
      v1:close()
      local _ = v2:t()
    end
    collectgarbage("collect")
    collectgarbage("collect")
    assert.equal(3, (filled(3) + 0):sum():item())
  end)
end)
