-- allreduce.lua — ember.dist.allreduce (f32, sum, in place) from Lua, timed the way
-- allreduce_mpi.c times MPI_Allreduce: warm-up calls, then the best of 5 rounds of
-- `reps` calls between barriers.
--   mpirun -np 2 ember scripts/bench/allreduce.lua check|nocheck BYTES...
--       one line per size on rank 1: "ember BYTES<TAB>s" (check: ember's default, which
--       first checks with a 16-byte allreduce that the ranks agree; nocheck: check = false)
--   ember scripts/bench/allreduce.lua report FILE
--       pairs the "mpi", "mpiser", "ember" and "nocheck" lines of FILE (the median of
--       each when a run was repeated): each size with its times and ember's overhead
--       over the C program (goal: at most 5%)
local ember = require "ember"

if arg[1] == "report" then
  local t, sizes = { mpi = {}, mpiser = {}, ember = {}, nocheck = {} }, {}
  for line in io.lines(arg[2]) do
    local who, bytes, s = line:match("^(%a+) (%d+)\t([%d%.e%-]+)")
    if who and t[who] then
      bytes = tonumber(bytes)
      if not (t.mpi[bytes] or t.mpiser[bytes] or t.ember[bytes] or t.nocheck[bytes]) then
        sizes[#sizes + 1] = bytes
      end
      t[who][bytes] = t[who][bytes] or {}
      table.insert(t[who][bytes], tonumber(s))
    end
  end
  table.sort(sizes)
  -- the median of the runs: each run is already its best round, and the best of the
  -- runs would pick whichever got lucky on a noisy machine
  for _, who in pairs(t) do
    for b, v in pairs(who) do
      table.sort(v)
      who[b] = #v % 2 == 1 and v[(#v + 1) // 2] or (v[#v // 2] + v[#v // 2 + 1]) / 2
    end
  end
  local function size_str(b)
    if b >= 2^20 then return string.format("%d MB", b // 2^20) end
    return string.format("%d KB", b // 1024)
  end
  local function us(s) return s and string.format("%9.1f us", s * 1e6) or "        - us" end
  local function over(e, m) return (e and m) and string.format("%+6.1f%%", (e / m - 1) * 100) or "     -" end
  for _, b in ipairs(sizes) do
    local m, ms, e, n = t.mpi[b], t.mpiser[b], t.ember[b], t.nocheck[b]
    print(string.format("allreduce %-6s C MPI_Allreduce %s (serialized %s)   ember %s %s   "
                        .. "ember check=false %s %s / serialized %s (goal <= +5%%)",
                        size_str(b), us(m), us(ms), us(e), over(e, m), us(n), over(n, m), over(n, ms)))
  end
  return
end

local dist = require "ember.dist"
local mode = arg[1]
assert(mode == "check" or mode == "nocheck", "usage: allreduce.lua check|nocheck BYTES... | report FILE")
dist.init{ check = mode == "check" }
local tag = mode == "check" and "ember" or "nocheck"

-- the same repetitions as allreduce_mpi.c
local function reps_for(bytes)
  if bytes <= 65536 then return 200 end
  if bytes <= 2^20 then return 50 end
  if bytes <= 16 * 2^20 then return 10 end
  return 3
end

for i = 2, #arg do
  local bytes = math.tointeger(tonumber(arg[i]))
  local t = ember.zeros(bytes // 4)
  local reps = reps_for(bytes)
  for _ = 1, 3 do dist.allreduce(t, "sum") end
  local best = math.huge
  for _ = 1, 5 do
    dist.barrier()
    local t0 = ember.clock()
    for _ = 1, reps do dist.allreduce(t, "sum") end
    best = math.min(best, (ember.clock() - t0) / reps)
  end
  -- the check: one more call from known values (each element sums to N(N+1)/2)
  local n = dist.world_size()
  t:fill_(dist.rank())
  dist.allreduce(t, "sum")
  if t:numel() > 0 and (t:min():item() ~= n * (n + 1) / 2 or t:max():item() ~= n * (n + 1) / 2) then
    error("allreduce.lua: wrong sum")
  end
  if dist.rank() == 1 then
    io.write(string.format("%s %d\t%.9g\n", tag, bytes, best))
    io.flush()
  end
  t = nil
  collectgarbage()
end
