-- mismatch.lua — ranks that call a collective with different tensors, or different
-- collectives, all get the same error naming every rank's call, and the job goes on.
-- Run by dist_spec.lua under mpirun -np 3 with a directory for the reports, as
-- collectives.lua is. Each error message is also reported as `msg R name text`, for
-- the spec to compare across ranks.
local dist = require "ember.dist"
local H = dofile("spec/dist/common.lua")
local case = H.case

dist.init { timeout = 20 }
local R, N = dist.rank(), dist.world_size()
H.start(R, arg[1])

local function expect_error(name, f)
  local ok, err = pcall(f)
  assert(not ok, name .. " did not fail")
  err = tostring(err)
  H.line(string.format("msg %d %s %s", R, name, (err:gsub("\n", " | "))))
  return err
end

-- every rank's call named, in rank order, as in "rank 2: allreduce f32 [3, 5] sum"
local function shapes_named(err, kind)
  local at = 0
  for r = 1, N do
    local want = string.format("rank %d: %s f32 [3, %d]", r, kind, 3 + r)
    local i = err:find(want, at + 1, true)
    assert(i, "no '" .. want .. "' after the previous rank's in: " .. err)
    at = i
  end
end

case("allreduce shapes differ", function()
  local err = expect_error("allreduce", function() dist.allreduce(ember.zeros(3, 3 + R), "sum") end)
  assert(err:find("allreduce: the ranks' calls differ", 1, true), err)
  shapes_named(err, "allreduce")
end)

case("then a collective works", function()
  local t = ember.tensor({ R, 2 * R }, "f32")
  dist.allreduce(t, "sum")
  H.check(t, { N * (N + 1) / 2, N * (N + 1) }, nil, "sum")
end)

case("async allreduce shapes differ", function()
  local err = expect_error("async", function()
    dist.allreduce(ember.zeros(3, 3 + R), "max", { async = true }):wait()
  end)
  shapes_named(err, "allreduce")
end)

case("dtypes differ", function()
  local dt = R == 2 and "f64" or "f32"
  local err = expect_error("dtype", function() dist.broadcast(ember.zeros({ 4 }, { dtype = dt }), 1) end)
  assert(err:find("f64", 1, true) and err:find("f32", 1, true), err)
end)

case("roots differ", function()
  expect_error("root", function() dist.broadcast(ember.zeros(2), R) end)
end)

case("ops differ", function()
  expect_error("op", function() dist.allreduce(ember.zeros(2), R == 1 and "max" or "min") end)
end)

case("collectives differ", function()
  local err = expect_error("kind", function()
    if R == 1 then dist.broadcast(ember.zeros(2), 1) else dist.allreduce(ember.zeros(2)) end
  end)
  assert(err:find("broadcast", 1, true) and err:find("allreduce", 1, true), err)
end)

case("allgather in shapes differ", function()
  local err = expect_error("allgather", function() dist.allgather(ember.zeros(3, 3 + R)) end)
  shapes_named(err, "allgather")
end)

-- checked by ember.dist itself, not host/dist: the rank that refuses still takes part
-- in the agreement check, so nobody waits for it
case("reduce_scatter blocks do not split on one rank", function()
  local rows = R == 2 and N + 1 or N
  local err = expect_error("reduce_scatter", function() dist.reduce_scatter(ember.zeros(rows, 2)) end)
  assert(err:find("rank 2", 1, true) and err:find(string.format("[%d, 2]", N + 1), 1, true), err)
end)

case("allgather out of the wrong shape on one rank", function()
  local out = R == 1 and ember.zeros(1, N * 2) or ember.zeros(N, 2)
  local err = expect_error("allgather_out", function() dist.allgather(ember.zeros(2), out) end)
  assert(err:find("rank 1", 1, true), err)
end)

case("all_to_all out of the wrong shape on every rank", function()
  local err = expect_error("all_to_all", function() dist.all_to_all(ember.zeros(N), ember.zeros(N, 1)) end)
  assert(err:find("dist.all_to_all: out has shape [" .. N .. ", 1], expected [" .. N .. "]", 1, true), err)
end)

case("still works after all that", function()
  local t = ember.tensor({ R }, "i64")
  dist.allreduce(t, "prod")
  local p = 1
  for r = 1, N do p = p * r end
  H.check(t, { p }, nil, "prod")
  dist.barrier()
end)

H.done()
