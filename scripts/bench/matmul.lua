-- matmul.lua — f32 matmul from Lua vs a C program calling cblas_sgemm on the same sizes.
local ember = require "ember"
local sgemm = arg[1]
-- os.clock counts CPU time of every OpenBLAS thread; wall time is the fair figure
local function time_best(f, reps)
  local best = math.huge
  for _ = 1, reps do
    local t0 = ember.clock()
    f()
    local t = ember.clock() - t0
    best = math.min(best, t)
  end
  return best
end
for _, n in ipairs({256, 1024, 2048}) do
  local reps = n <= 256 and 50 or n <= 1024 and 10 or 4
  local a, b = ember.rand(n, n), ember.rand(n, n)
  local c = a:matmul(b)   -- warm
  local e = time_best(function() c = a:matmul(b) end, reps)
  local p = io.popen(string.format("%s %d %d", sgemm, n, reps))
  local s = tonumber(p:read("l"))
  p:close()
  local flops = 2 * n * n * n
  print(string.format("matmul %4d^2  ember %8.2f GFLOP/s   C sgemm %8.2f GFLOP/s   ember/C %5.2fx",
                      n, flops / e / 1e9, flops / s / 1e9, s / e))
end
