-- collectives.lua — every collective of ember.dist on every rank, checked against a
-- truth computed here from the rank numbers (rank r contributes val(r, i), so every
-- result is known in closed form). Run by dist_spec.lua as
--   mpirun -np N ember spec/dist/collectives.lua     (N = 1..4)
--   ember spec/dist/collectives.lua                  (a world of one, backend "local")
-- with arg[1] a fresh directory for the reports (spec/dist/common.lua): one
-- `ok R name` / `not ok R name: msg` line per case and rank, then `done R count`.
-- Every rank runs the same cases in the same order.
local dist = require "ember.dist"
local H = dofile("spec/dist/common.lua")
local val, fold, make, check, case = H.val, H.fold, H.make, H.check, H.case

dist.init { timeout = 30 }
local R, N = dist.rank(), dist.world_size()
H.start(R, arg[1])
local SHAPES = { { 1 }, { 7 }, { 1023 }, { 3, 5, 2 }, { 0 }, { 0, 3 } }

-- {====== the job

case("identity", function()
  assert(R >= 1 and R <= N, "rank " .. R .. " out of 1.." .. N)
  assert(dist.local_rank() == R, "local_rank " .. dist.local_rank() .. " on one host")
  assert(dist.local_size() == N, "local_size " .. dist.local_size())
  local want = os.getenv("OMPI_COMM_WORLD_SIZE") and "mpi" or "local"
  assert(dist.backend() == want, "backend " .. dist.backend() .. ", expected " .. want)
  assert(dist.initialized() == true)
  assert(dist.init() == dist, "init again returns dist")
  if want == "mpi" then
    assert(tonumber(os.getenv("OMPI_COMM_WORLD_RANK")) == R - 1, "rank against the launcher's")
    assert(tonumber(os.getenv("OMPI_COMM_WORLD_SIZE")) == N, "size against the launcher's")
  end
  -- every rank distinct: gather the ranks
  local all = dist.allgather(ember.tensor({ R }, "i32"))
  check(all, function(i) return i end, nil, "gathered ranks")
end)

case("barrier", function()
  assert(dist.barrier() == nil)
  local h = dist.barrier({ async = true })
  assert(type(h:test()) == "boolean")
  assert(h:wait() == nil)
  assert(h:test() == true)
end)

-- }======

-- {====== allreduce

for _, dt in ipairs(H.DTYPES) do
  for _, op in ipairs(H.OPS) do
    local bad = op == "avg" and not H.FLOAT[dt]
    for _, shape in ipairs(SHAPES) do
      local name = string.format("allreduce %s %s %s", dt, op, H.shape_str(shape))
      case(name, function()
        local t = make(dt, shape, function(i) return val(dt, op, R, i) end)
        if bad then
          local ok, err = pcall(dist.allreduce, t, op)
          assert(not ok and err:find(dt, 1, true) and err:find("avg", 1, true), tostring(err))
          -- the C layer refuses it too, before any rank waits
          ok, err = pcall(ember._dist.allreduce, t, op, false)
          assert(not ok and err:find(dt, 1, true), tostring(err))
          return
        end
        assert(dist.allreduce(t, op) == t, "returns t")
        H.check_shape(t, shape)
        assert(t:dtype() == dt)
        check(t, function(i) return fold(dt, op, N, function(r) return val(dt, op, r, i) end) end,
              op == "avg" and H.TOL[dt] or nil, name)
      end)
    end
    if not bad then
      local name = string.format("allreduce async %s %s", dt, op)
      case(name, function()
        local t = make(dt, { 7 }, function(i) return val(dt, op, R, i) end)
        local h = dist.allreduce(t, op, { async = true })
        assert(type(h:test()) == "boolean", "test() before wait")
        assert(h:wait() == t, "wait returns t")
        assert(h:test() == true, "test() after wait")
        check(t, function(i) return fold(dt, op, N, function(r) return val(dt, op, r, i) end) end,
              op == "avg" and H.TOL[dt] or nil, name)
      end)
    end
  end
  case("allreduce default op is sum " .. dt, function()
    local t = make(dt, { 5 }, function(i) return val(dt, "sum", R, i) end)
    dist.allreduce(t, { async = true }):wait()
    dist.allreduce(t)   -- twice: the sum of N copies of the first sum
    check(t, function(i)
      local s = fold(dt, "sum", N, function(r) return val(dt, "sum", r, i) end)
      return fold(dt, "sum", N, function() return s end)
    end, nil, "sum of sums")
  end)
  case("allreduce strided in place " .. dt, function()
    local nc, base = H.make_strided(dt, { 3, 5 }, function(i) return val(dt, "max", R, i) end)
    assert(not nc:is_contiguous())
    dist.allreduce(nc, "max")
    local want = function(i) return fold(dt, "max", N, function(r) return val(dt, "max", r, i) end) end
    check(nc, want, nil, "view")
    check(base:t(), want, nil, "base")   -- written back into the same storage
    local h = dist.allreduce(nc, "min", { async = true })
    h:wait()
    check(nc, want, nil, "min of equal values")
  end)
end

-- several asynchronous reductions in flight at once, waited for out of order
case("allreduce async many in flight", function()
  local ts, hs = {}, {}
  for k = 1, 8 do
    ts[k] = make("f32", { 100 + k }, function(i) return R * k + i end)
    hs[k] = dist.allreduce(ts[k], "sum", { async = true })
  end
  for k = 8, 1, -1 do
    hs[k]:wait()
    check(ts[k], function(i) return k * N * (N + 1) / 2 + N * i end, nil, "tensor " .. k)
  end
end)

-- test() is false while another rank has not made its call yet. The others wait for
-- a file rank 1 makes after testing: no MPI call can signal it, as rank 1's
-- communication thread is inside the reduction until they join.
local SIGNAL = arg[1] and arg[1] ~= "" and arg[1] .. "/tested"
if N > 1 and SIGNAL then
  case("allreduce async test() false until all ranks call", function()
    local t = make("f64", { 3 }, function(i) return R + i end)
    local h, early
    if R == 1 then
      h = dist.allreduce(t, "sum", { async = true })
      early = h:test()
      assert(io.open(SIGNAL, "w")):close()
    else
      local t0 = ember.monotonic()
      while not io.open(SIGNAL) do
        assert(ember.monotonic() - t0 < 20, "rank 1 never signalled")
        os.execute("sleep 0.01")
      end
      h = dist.allreduce(t, "sum", { async = true })
    end
    h:wait()
    assert(h:test() == true)
    if R == 1 then assert(early == false, "test() was true before the other ranks called") end
    check(t, function(i) return N * (N + 1) / 2 + N * i end, nil, "sum")
  end)
end

case("allreduce i64 beyond 2^53", function()
  local t = make("i64", { 4 }, function(i) return (1 << 60) + R * 1000 + i end)
  dist.allreduce(t, "sum")
  check(t, function(i) return N * (1 << 60) + 1000 * N * (N + 1) // 2 + N * i end, nil, "i64")
  local m = make("i64", { 2 }, function(i) return (1 << 62) + R * 2 + i end)
  dist.allreduce(m, "max")
  check(m, function(i) return (1 << 62) + N * 2 + i end, nil, "i64 max")
end)

case("allreduce f16 bf16 rounded once", function()
  -- 2048 + (N - 1) ones: summed one at a time in f16 each 1 is lost (2049 rounds to
  -- 2048); summed in f32 and rounded once it is the f16 nearest 2047 + N
  for _, dt in ipairs { "f16", "bf16" } do
    local big = dt == "f16" and 2048 or 256
    local t = ember.tensor({ R == 1 and big or 1 }, dt)
    dist.allreduce(t, "sum")
    local want = ember.tensor({ big - 1 + N }, "f64"):to(dt):item()
    check(t, { want }, nil, dt)
  end
end)

case("allreduce scalar", function()
  local t = ember.tensor({ R * 1.5 }, "f64"):view({})
  dist.allreduce(t, "sum")
  assert(t:dim() == 0)
  check(t, { 1.5 * N * (N + 1) / 2 }, nil, "scalar")
end)

-- }======

-- {====== broadcast

for _, dt in ipairs(H.DTYPES) do
  for _, shape in ipairs { { 1 }, { 7 }, { 1023 }, { 3, 5, 2 }, { 0 } } do
    case(string.format("broadcast %s %s", dt, H.shape_str(shape)), function()
      for root = 1, N do
        local t = make(dt, shape, function(i) return val(dt, "sum", R, i) end)
        assert(dist.broadcast(t, root) == t)
        check(t, function(i) return val(dt, "sum", root, i) end, nil, "root " .. root)
      end
    end)
  end
  case("broadcast async and strided " .. dt, function()
    local t = make(dt, { 6 }, function(i) return val(dt, "sum", R, i) end)
    local h = dist.broadcast(t, N, { async = true })
    assert(type(h:test()) == "boolean")
    assert(h:wait() == t and h:test() == true)
    check(t, function(i) return val(dt, "sum", N, i) end, nil, "async from " .. N)
    local nc, base = H.make_strided(dt, { 4, 3 }, function(i) return val(dt, "sum", R, i) end)
    dist.broadcast(nc)   -- root 1 by default
    check(nc, function(i) return val(dt, "sum", 1, i) end, nil, "strided")
    check(base:t(), function(i) return val(dt, "sum", 1, i) end, nil, "base")
  end)
end

-- }======

-- {====== allgather

for _, dt in ipairs(H.DTYPES) do
  for _, shape in ipairs { { 1 }, { 7 }, { 1023 }, { 3, 5, 2 }, { 0 }, { 2, 0 } } do
    local name = string.format("allgather %s %s", dt, H.shape_str(shape))
    case(name, function()
      local n = H.numel(shape)
      local t = make(dt, shape, function(i) return val(dt, "sum", R, i) end)
      local want = function(i) return val(dt, "sum", (i - 1) // n + 1, (i - 1) % n + 1) end
      local out = dist.allgather(t)
      H.check_shape(out, { N, table.unpack(shape) })
      assert(out:dtype() == dt)
      check(out, want, nil, "new out")
      -- out given: N * size(1) rows
      local rows = { table.unpack(shape) }
      rows[1] = N * rows[1]
      local o2 = ember.zeros(rows, { dtype = dt })
      assert(dist.allgather(t, o2) == o2)
      check(o2, want, nil, "rows out")
      local h = dist.allgather(t, { async = true })
      local o3 = h:wait()
      assert(h:test() == true)
      H.check_shape(o3, { N, table.unpack(shape) })
      check(o3, want, nil, "async")
    end)
  end
  case("allgather strided out and in " .. dt, function()
    -- out {N, 5} as the transpose of a {5, N} tensor; in a column of a {5, 2} tensor
    local base = ember.zeros({ 5, N }, { dtype = dt })
    local out = base:t()
    local src = make(dt, { 5, 2 }, function(i) return val(dt, "sum", R, (i + 1) // 2) end)
    local col = src:select(2, 2)
    assert(not col:is_contiguous() and (N == 1 or not out:is_contiguous()))
    local h = dist.allgather(col, out, { async = true })
    assert(h:wait() == out)
    local want = function(i) return val(dt, "sum", (i - 1) // 5 + 1, (i - 1) % 5 + 1) end
    check(out, want, nil, "out")
    check(base:t(), want, nil, "base")
  end)
end

-- }======

-- {====== reduce_scatter: t is N blocks along dim 1; this rank gets block R reduced

for _, dt in ipairs(H.DTYPES) do
  for _, op in ipairs(H.OPS) do
    if op ~= "avg" or H.FLOAT[dt] then
      for _, rest in ipairs { { 1 }, { 7 }, { 3, 5, 2 }, { 0, 3 } } do
        local shape = { N * rest[1], table.unpack(rest, 2) }
        local name = string.format("reduce_scatter %s %s %s", dt, op, H.shape_str(shape))
        case(name, function()
          local bn = H.numel(rest)
          local t = make(dt, shape, function(i) return val(dt, op, R, i) end)
          local want = function(j)
            return fold(dt, op, N, function(r) return val(dt, op, r, (R - 1) * bn + j) end)
          end
          local tol = op == "avg" and H.TOL[dt] or nil
          local out = dist.reduce_scatter(t, op)
          H.check_shape(out, rest)
          check(out, want, tol, "new out")
          local o2 = ember.zeros(rest, { dtype = dt })
          local h = dist.reduce_scatter(t, op, o2, { async = true })
          assert(type(h:test()) == "boolean")
          assert(h:wait() == o2 and h:test() == true)
          check(o2, want, tol, "async out")
        end)
      end
    end
  end
  case("reduce_scatter strided " .. dt, function()
    -- t {N * 2, 3} as a transpose; out {2, 3} over every other element of a {6, 2}
    local t = H.make_strided(dt, { N * 2, 3 }, function(i) return val(dt, "sum", R, i) end)
    local base = ember.zeros({ 6, 2 }, { dtype = dt })
    local out = base:select(2, 1):view(2, 3)
    dist.reduce_scatter(t, nil, out)
    check(out, function(j)
      return fold(dt, "sum", N, function(r) return val(dt, "sum", r, (R - 1) * 6 + j) end)
    end, nil, "strided")
  end)
  case("reduce_scatter default op is sum " .. dt, function()
    local t = make(dt, { N }, function(i) return val(dt, "sum", R, i) end)
    local out = dist.reduce_scatter(t, { async = true }):wait()
    check(out, { fold(dt, "sum", N, function(r) return val(dt, "sum", r, R) end) }, nil, "sum")
  end)
end

-- }======

-- {====== all_to_all: block d of rank s's t lands in block s of rank d's out

for _, dt in ipairs(H.DTYPES) do
  for _, rest in ipairs { { 1 }, { 7 }, { 3, 5, 2 }, { 0 } } do
    local shape = { N * rest[1], table.unpack(rest, 2) }
    case(string.format("all_to_all %s %s", dt, H.shape_str(shape)), function()
      local bn = H.numel(rest)
      local t = make(dt, shape, function(i) return val(dt, "sum", R, i) end)
      local want = function(i)
        local s, j = (i - 1) // bn + 1, (i - 1) % bn + 1
        return val(dt, "sum", s, (R - 1) * bn + j)
      end
      local out = dist.all_to_all(t)
      H.check_shape(out, shape)
      check(out, want, nil, "new out")
      local o2 = ember.zeros(shape, { dtype = dt })
      local h = dist.all_to_all(t, o2, { async = true })
      assert(h:wait() == o2 and h:test() == true)
      check(o2, want, nil, "async")
      -- strided in and out
      local tin = H.make_strided(dt, { N * 2, 3 }, function(i) return val(dt, "sum", R, i) end)
      local obase = ember.zeros({ 3, N * 2 }, { dtype = dt })
      dist.all_to_all(tin, obase:t())
      check(obase:t(), function(i)
        local s, j = (i - 1) // 6 + 1, (i - 1) % 6 + 1
        return val(dt, "sum", s, (R - 1) * 6 + j)
      end, nil, "strided")
    end)
  end
end

-- }======

-- {====== send and recv around the ring R -> R + 1

local NEXT, PREV = R % N + 1, (R - 2) % N + 1

for _, dt in ipairs(H.DTYPES) do
  case("send recv ring " .. dt, function()
    local mine = make(dt, { 7 }, function(i) return val(dt, "sum", R, i) end)
    local want = function(i) return val(dt, "sum", PREV, i) end
    -- blocking: rank 1 sends first, the others receive then pass theirs on
    local got = ember.zeros({ 7 }, { dtype = dt })
    if N == 1 then
      local hs = dist.send(mine, 1, 0, { async = true })
      assert(dist.recv(got, 1) == 1)
      hs:wait()
    elseif R == 1 then
      assert(dist.send(mine, NEXT) == nil)
      assert(dist.recv(got, PREV) == PREV)
    else
      assert(dist.recv(got, PREV) == PREV)
      dist.send(mine, NEXT)
    end
    check(got, want, nil, "blocking")
    -- asynchronous both ways, any source, a non-contiguous target
    local nc, base = H.make_strided(dt, { 7, 2 }, function() return val(dt, "sum", R, 1) end)
    local hr = dist.recv(nc:select(2, 1), { async = true })
    local hs = dist.send(mine, NEXT, { async = true })
    assert(type(hr:test()) == "boolean")
    assert(hr:wait() == PREV, "async recv returns the sender")
    assert(hs:wait() == nil and hs:test() == true and hr:test() == true)
    check(base:t():select(2, 1), want, nil, "async strided")
    check(base:t():select(2, 2), function() return val(dt, "sum", R, 1) end, nil, "column untouched")
  end)
end

case("send recv tags out of order", function()
  local a = ember.tensor({ R, 1 }, "i32")
  local b = ember.tensor({ R, 2, 2 }, "i32")
  local hs1 = dist.send(a, NEXT, 11, { async = true })
  local hs2 = dist.send(b, NEXT, 22, { async = true })
  local gb, ga = ember.zeros({ 3 }, { dtype = "i32" }), ember.zeros({ 2 }, { dtype = "i32" })
  assert(dist.recv(gb, nil, 22) == PREV)   -- any sender, tag 22 first
  assert(dist.recv(ga, PREV, 11) == PREV)
  hs1:wait(); hs2:wait()
  check(ga, { PREV, 1 }, nil, "tag 11")
  check(gb, { PREV, 2, 2 }, nil, "tag 22")
end)

case("send recv zero-size and 1023", function()
  local z = ember.zeros({ 0 }, { dtype = "f32" })
  local big = make("f64", { 1023 }, function(i) return R * 10000 + i end)
  local hs = dist.send(z, NEXT, 3, { async = true })
  local hb = dist.send(big, NEXT, 4, { async = true })
  assert(dist.recv(ember.zeros({ 0 }), PREV, 3) == PREV)
  local gb = ember.zeros({ 1023 }, { dtype = "f64" })
  assert(dist.recv(gb, nil, 4, { async = true }):wait() == PREV)
  hs:wait(); hb:wait()
  check(gb, function(i) return PREV * 10000 + i end, nil, "1023")
end)

if N > 1 then
  case("recv async test() false until the send", function()
    local t = ember.zeros({ 4 }, { dtype = "i16" })
    local h, early
    if R == 1 then h = dist.recv(t, 2, 9, { async = true }); early = h:test() end
    dist.barrier()   -- a recv in flight does not hold the barrier back
    if R == 2 then dist.send(ember.tensor({ 5, 6, 7, 8 }, "i16"), 1, 9) end
    if R == 1 then
      assert(early == false, "test() true before anything was sent")
      assert(h:wait() == 2 and h:test() == true)
      check(t, { 5, 6, 7, 8 }, nil, "received")
    end
  end)
end

-- }======

-- {====== Vulkan tensors go through host staging

local vk_ok = ember.vk.available()
if vk_ok then
  local info = ember.vk.info()
  for _, dt in ipairs(H.DTYPES) do
    if (dt ~= "f64" or info.f64) and (dt ~= "f16" or info.f16) then
      case("vulkan " .. dt, function()
        local name = "vulkan " .. dt
        local t = make(dt, { 3, 5 }, function(i) return val(dt, "max", R, i) end):to("vulkan")
        dist.allreduce(t, "max")
        assert(t:device() == "vulkan")
        check(t, function(i) return fold(dt, "max", N, function(r) return val(dt, "max", r, i) end) end,
              nil, name .. " allreduce")
        local b = make(dt, { 7 }, function(i) return val(dt, "sum", R, i) end):to("vulkan")
        dist.broadcast(b, N, { async = true }):wait()
        check(b, function(i) return val(dt, "sum", N, i) end, nil, name .. " broadcast")
        local g = dist.allgather(b:narrow(1, 2, 3))
        assert(g:device() == "vulkan")
        check(g, function(i) return val(dt, "sum", N, (i - 1) % 3 + 2) end, nil, name .. " allgather")
        local blocks = make(dt, { N, 2 }, function(i) return val(dt, "sum", R, i) end):to("vulkan")
        local rs = ember.zeros({ 1, 2 }, { dtype = dt }):to("vulkan")
        dist.reduce_scatter(blocks, "sum", rs)
        check(rs, function(j)
          return fold(dt, "sum", N, function(r) return val(dt, "sum", r, (R - 1) * 2 + j) end)
        end, nil, name .. " reduce_scatter")
        local got = ember.zeros({ 7 }, { dtype = dt }):to("vulkan")
        local mine = make(dt, { 7 }, function(i) return val(dt, "sum", R, i) end):to("vulkan")
        local hs = dist.send(mine, NEXT, { async = true })
        assert(dist.recv(got) == PREV)
        hs:wait()
        check(got, function(i) return val(dt, "sum", PREV, i) end, nil, name .. " recv")
      end)
    end
  end
  case("vulkan validation layer silent", function()
    ember.vk.sync()
    local i = ember.vk.info()
    if i.validation then
      assert(i.validation_messages == 0, table.concat(ember.vk.validation_messages(), "\n"))
    end
  end)
end

-- }======

H.done()
