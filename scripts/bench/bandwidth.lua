-- bandwidth.lua — add and sum over 16M f32 as bytes moved per second, beside memcpy's.
local ember = require "ember"
local n = 16 * 1024 * 1024
local p = io.popen(arg[1] .. " " .. n)
local memcpy_bps = tonumber(p:read("l"))
p:close()
local a, b = ember.rand(n), ember.rand(n)
local out = ember.empty(n)
local function best(f, reps)
  local t = math.huge
  for _ = 1, reps do
    local t0 = ember.clock()
    f()
    t = math.min(t, ember.clock() - t0)
  end
  return t
end
local c = a + b
local t_add = best(function() c = a + b end, 10)
local t_add_out = best(function() out:copy_(a):add_(b) end, 1)
local t_sum = best(function() local s = a:sum() end, 10)
local add_bps = 3 * 4 * n / t_add       -- reads a and b, writes c
local sum_bps = 4 * n / t_sum           -- reads a
print(string.format("add 16M f32   %6.2f GB/s   memcpy %6.2f GB/s   add/memcpy %5.2fx",
                    add_bps / 1e9, memcpy_bps / 1e9, add_bps / memcpy_bps))
print(string.format("sum 16M f32   %6.2f GB/s   memcpy %6.2f GB/s   sum/memcpy %5.2fx",
                    sum_bps / 1e9, memcpy_bps / 1e9, sum_bps / memcpy_bps))
local _ = t_add_out
