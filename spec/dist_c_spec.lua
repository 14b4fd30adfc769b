-- dist_c_spec.lua — the collectives' C API under mpirun: spec/c/test_dist.c (every
-- collective, sync and async, checked on each rank against closed-form values) on 1 to
-- 4 ranks, and the two ways a job ends instead of hanging, seen from C: ranks whose
-- calls differ all get the same error and go on; a rank that stops calling makes the
-- others end the job within the timeout.
local BUILD = os.getenv("EMBER_BUILD") or "build"
local TEST = BUILD .. "/ctest/test_dist"
local SHIM = BUILD .. "/libember_mpi.so"
local MPIRUN = require("mpirun").command_leaks .. " -x EMBER_MPI_LIB -x EMBER_DIST_TIMEOUT"

local function sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local _, _, code = f:close()
  return out, code
end

local function launch(np, args, timeout)
  local env = string.format("EMBER_MPI_LIB=%s/%s EMBER_DIST_TIMEOUT=%s", os.getenv("PWD"), SHIM, timeout or 60)
  local t0 = os.time()
  local out, code = sh(string.format("%s timeout 120 %s -np %d %s %s", env, MPIRUN, np, TEST, args or ""))
  return out, code, os.time() - t0
end

describe("the C API of ember.dist under mpirun", function()
  for np = 1, 4 do
    it("passes every check on each of " .. np .. " rank(s)", function()
      local out, code = launch(np)
      assert.is_nil(out:match("not ok[^\n]*"), out)
      local per_rank = {}
      for r in out:gmatch("ok %d+ %- rank (%d+)/" .. np .. ":") do per_rank[r] = (per_rank[r] or 0) + 1 end
      for r = 1, np do assert.equal(19, per_rank[tostring(r)], out) end
      assert.equal(0, code, out)
    end)
  end

  it("names every rank's call when they differ, the same on every rank, and goes on", function()
    local out, code = launch(3, "mismatch")
    local want = "allreduce: the ranks' calls differ: rank 1: allreduce f32 %[3%] sum; ranks 2%-3: allreduce f32 %[4%] sum"
    local n = 0
    for _ in out:gmatch(want) do n = n + 1 end
    assert.equal(3, n, out)
    assert.equal(3, select(2, out:gsub("after the error: ok", "")), out)
    assert.equal(0, code, out)
  end)

  it("ends the job within the timeout when a rank stops calling", function()
    local out, code, seconds = launch(3, "stall", 2)
    assert.truthy(out:match("ember%.dist: rank %d of 3: barrier waited [%d.]+ s for the other ranks"), out)
    assert.is_true(code ~= 0, out)
    assert.is_true(seconds < 30, "took " .. seconds .. " s")
  end)
end)
