-- stall.lua — the last rank stops calling collectives: the others must end the job
-- within the timeout with the watchdog's message. Run by dist_spec.lua under
-- mpirun -np 3; arg[1] says what the others call: "blocking" or "async".
local dist = require "ember.dist"
local H = dofile("spec/dist/common.lua")

dist.init { timeout = 3 }
local R, N = dist.rank(), dist.world_size()
local t = ember.ones(5)
dist.allreduce(t)   -- everyone takes part once
io.stdout:write(string.format("started %d\n", R)); io.stdout:flush()
if R == N then
  H.sleep(40)   -- the job must end long before this
elseif arg[1] == "async" then
  dist.allreduce(t, "sum", { async = true }):wait()
else
  dist.allreduce(t)
end
io.stdout:write(string.format("not ok %d returned from the stalled call\n", R))
