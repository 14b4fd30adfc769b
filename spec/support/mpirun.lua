-- mpirun.lua — the mpirun command the specs launch ranks with.
-- --allow-run-as-root and --oversubscribe: CI runs as root in a container with 2 cores
-- and the specs start up to 4 ranks.
-- Under `make sanitize` (ASAN_OPTIONS set) OpenMPI keeps memory to the end by design, in
-- plugins it has unloaded by then; LeakSanitizer can set that aside
-- (spec/support/lsan_mpi.supp) only when every allocation is unwound fully, which makes
-- a Lua rank several times slower. So:
-- - command: ranks run with AddressSanitizer and UBSan but without leak checking;
-- - command_leaks: ranks also check leaks, unwinding fully: for the C test of the
--   collectives (spec/dist_c_spec.lua), whose few allocations go through every path of
--   host/dist under MPI.
local M = {}

local asan = os.getenv("ASAN_OPTIONS")
local base = "mpirun --allow-run-as-root --oversubscribe"
M.flags, M.leak_flags = "", ""
if asan and asan ~= "" then
  M.flags = "-x ASAN_OPTIONS=" .. asan .. ":detect_leaks=0"
  M.leak_flags = "-x ASAN_OPTIONS=" .. asan .. ":fast_unwind_on_malloc=0 -x LSAN_OPTIONS"
end
M.command = base .. " " .. M.flags
M.command_leaks = base .. " " .. M.leak_flags

return M
