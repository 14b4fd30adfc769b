-- die.lua — the last rank dies (arg[1]: "exit" = os.exit(1), "kill" = SIGKILL to
-- itself, "error" = an error out of the script) while the others wait in an allreduce:
-- the job must end, with a non-zero status, instead of hanging. Run by dist_spec.lua
-- under mpirun -np 3.
local dist = require "ember.dist"

dist.init { timeout = 10 }
local R, N = dist.rank(), dist.world_size()
dist.barrier()
io.stdout:write(string.format("started %d\n", R)); io.stdout:flush()
if R == N then
  if arg[1] == "kill" then
    local pid = assert(io.open("/proc/self/stat")):read("l"):match("^(%d+)")
    os.execute("kill -9 " .. pid)
    while true do end   -- SIGKILL arrives
  elseif arg[1] == "error" then
    error("rank " .. R .. " gives up")
  else
    os.exit(1)
  end
end
dist.allreduce(ember.ones(5))
io.stdout:write(string.format("not ok %d returned from the allreduce\n", R))
