-- mpirun.lua — the mpirun command the specs launch ranks with.
-- --allow-run-as-root and --oversubscribe: CI runs as root in a container with 2 cores
-- and the specs start up to 4 ranks. Under `make sanitize` (ASAN_OPTIONS set) each
-- rank unwinds every allocation fully, so that LeakSanitizer sees OpenMPI's frames and
-- spec/support/lsan_mpi.supp can set aside what OpenMPI keeps to the end by design.
local M = {}

local asan = os.getenv("ASAN_OPTIONS")
-- the flags that pass the sanitizers' settings on ("" outside make sanitize)
M.flags = ""
if asan and asan ~= "" then
  M.flags = "-x ASAN_OPTIONS=" .. asan .. ":fast_unwind_on_malloc=0 -x LSAN_OPTIONS"
end
M.command = "mpirun --allow-run-as-root --oversubscribe " .. M.flags

return M
