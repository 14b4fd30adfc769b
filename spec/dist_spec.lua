-- dist_spec.lua — ember.dist across ranks: the workers under spec/dist run under
-- `mpirun -np N` (N = 1..4), each rank reporting `ok R case` / `not ok R case: msg`
-- (spec/dist/common.lua); every rank must report the same cases, all ok, and the job
-- must exit 0. Then the failures a
-- job must survive or end cleanly on: different tensors on different ranks (an error
-- on every rank, the job goes on), a rank that stalls (the watchdog ends the job within
-- its timeout), a rank that dies (the job ends instead of hanging). The argument checks
-- of the Lua module run here, in this process, as a world of one.
local ember = require "ember"
local dist = require "ember.dist"

local BUILD = os.getenv("EMBER_BUILD") or "build"
local EMBER = BUILD .. "/ember"
local MPIRUN = require("mpirun").command

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs cmd under `timeout limit`; returns its output (stdout and stderr), its exit
-- status and the seconds it took.
local function run(cmd, limit)
  local t0 = ember.monotonic()
  local p = io.popen(string.format("timeout %d %s 2>&1; echo \"exit=$?\"", limit, cmd))
  local out = p:read("a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return out:gsub("exit=%d+%s*$", ""), code, ember.monotonic() - t0
end

local function mpirun(np, worker, args, limit)
  return run(string.format("%s -np %d %s spec/dist/%s %s", MPIRUN, np, EMBER, worker, args or ""),
             limit or 60)
end

-- Runs a worker that reports into a fresh directory (spec/dist/common.lua), with
-- mpirun when np is given; returns the reports and the output, the exit status.
local function reported(np, worker, limit)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. sh_quote(dir)))
  local out, code
  if np then out, code = mpirun(np, worker, sh_quote(dir), limit)
  else out, code = run(string.format("%s spec/dist/%s %s", EMBER, worker, sh_quote(dir)), limit) end
  local p = io.popen("cat " .. sh_quote(dir) .. "/report.* 2>/dev/null")
  local reports = p:read("a")
  p:close()
  os.execute("rm -rf " .. sh_quote(dir))
  return reports .. out, code
end

-- Every rank 1..n reported the same cases, all ok, and got to its done line.
local function all_ok(out, n, code)
  local cases, fails, done = {}, {}, {}
  for line in out:gmatch("[^\n]+") do
    local r, name = line:match("^ok (%d+) (.+)$")
    if r then
      r = tonumber(r)
      cases[r] = cases[r] or {}
      cases[r][name] = true
    end
    if line:match("^not ok ") then fails[#fails + 1] = line end
    local dr, count = line:match("^done (%d+) (%d+)$")
    if dr then done[tonumber(dr)] = tonumber(count) end
  end
  assert(#fails == 0, table.concat(fails, "\n"))
  assert(code == 0, "exit status " .. tostring(code) .. ":\n" .. out:sub(-3000))
  local names = {}
  for name in pairs(cases[1] or {}) do names[#names + 1] = name end
  table.sort(names)
  assert(#names > 0, "no case reported:\n" .. out:sub(-3000))
  for r = 1, n do
    assert(done[r], "rank " .. r .. " did not finish:\n" .. out:sub(-3000))
    local mine = cases[r] or {}
    local count = 0
    for _ in pairs(mine) do count = count + 1 end
    assert(count == done[r], string.format("rank %d reported %d cases ok of %d", r, count, done[r]))
    for _, name in ipairs(names) do assert(mine[name], "rank " .. r .. " did not report " .. name) end
    assert(count == #names, string.format("rank %d ran %d cases, rank 1 %d", r, count, #names))
  end
  return #names
end

describe("dist collectives", function()
  for n = 1, 4 do
    it("every collective, dtype and op on " .. n .. " rank" .. (n > 1 and "s" or ""), function()
      local out, code = reported(n, "collectives.lua", 120)
      local count = all_ok(out, n, code)
      assert.is_true(count > 700, "only " .. count .. " cases")
    end)
  end

  it("runs as a world of one without mpirun (backend local)", function()
    local out, code = reported(nil, "collectives.lua", 60)
    assert.is_true(all_ok(out, 1, code) > 700)
    assert.truthy(out:find("ok 1 identity", 1, true))
  end)
end)

describe("dist failures", function()
  it("different shapes on different ranks: the same error on every rank, then it goes on", function()
    local out, code = reported(3, "mismatch.lua", 60)
    all_ok(out, 3, code)
    -- each error message is the same on every rank
    local msgs = {}
    for r, name, text in out:gmatch("msg (%d+) (%S+) ([^\n]*)") do
      msgs[name] = msgs[name] or {}
      -- without the chunk position, and from the list of calls on when there is one:
      -- each rank names the call it made itself first
      text = text:gsub("^[^ ]-:%d+: ", "")
      msgs[name][tonumber(r)] = text:match("calls differ: (.*)") or text
    end
    local seen = 0
    for name, by in pairs(msgs) do
      seen = seen + 1
      for r = 2, 3 do assert.are.equal(by[1], by[r], name .. " on rank " .. r) end
    end
    assert.are.equal(10, seen)
  end)

  for _, mode in ipairs { "blocking", "async" } do
    it("a rank that stops calling collectives: the others end the job within the timeout (" .. mode .. ")",
       function()
      local out, code, secs = mpirun(3, "stall.lua", mode, 60)
      assert.is_not.equal(0, code, out)
      assert.is_not.equal(124, code, "mpirun hung:\n" .. out)
      assert.is_true(secs < 15, string.format("took %.1f s with a timeout of 3 s", secs))
      assert.truthy(out:find("ember.dist: rank %d of 3: allreduce.- waited [%d.]+ s for the other ranks"), out)
      assert.truthy(out:find("a rank has died or is not making the same calls in the same order", 1, true), out)
      assert.falsy(out:find("not ok", 1, true), out)
    end)
  end

  for _, mode in ipairs { "exit", "kill", "error" } do
    it("a rank that dies (" .. mode .. "): the job ends non-zero instead of hanging", function()
      local out, code, secs = mpirun(3, "die.lua", mode, 60)
      assert.is_not.equal(0, code, out)
      assert.is_not.equal(124, code, "mpirun hung:\n" .. out)
      assert.is_true(secs < 30, string.format("took %.1f s", secs))
      local started = select(2, out:gsub("started %d", ""))
      assert.are.equal(3, started, out)
      assert.falsy(out:find("not ok", 1, true), out)
    end)
  end
end)

describe("dist arguments", function()
  dist.init()
  local function fails(pattern, f, ...)
    local ok, err = pcall(f, ...)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  end

  it("is a world of one here", function()
    assert.are.equal(1, dist.rank())
    assert.are.equal(1, dist.world_size())
    assert.are.equal(1, dist.local_rank())
    assert.are.equal(1, dist.local_size())
    assert.are.equal("local", dist.backend())
    assert.are.equal(dist, dist.init { timeout = 5 })
  end)

  it("names the function and the bad argument", function()
    local t = ember.ones(4)
    fails("dist.allreduce: op must be one of sum avg max min prod, got 'mean'", dist.allreduce, t, "mean")
    fails("dist.allreduce: t must be a tensor, got a table", dist.allreduce, { 1, 2 })
    fails("dist.allreduce: t must be a tensor, got nothing", dist.allreduce)
    fails("allreduce: avg needs a float tensor, got i32", dist.allreduce, ember.ones(3, { dtype = "i32" }), "avg")
    fails("reduce_scatter: avg needs a float tensor, got bool", dist.reduce_scatter,
          ember.ones(3, { dtype = "bool" }), "avg")
    fails("broadcast: root 2 is not a rank of this job (it has 1)", dist.broadcast, t, 2)
    fails("broadcast: root 0 is not a rank of this job (it has 1)", dist.broadcast, t, 0)
    fails("dist.broadcast: root must be a rank (an integer), got 1.5", dist.broadcast, t, 1.5)
    fails("dist.send: dst must be a rank in 1..1, got a nil", dist.send, t)
    fails("dist.send: dst must be a rank in 1..1, got 3", dist.send, t, 3)
    fails("dist.recv: src must be a rank in 1..1, got -1", dist.recv, t, -1)
    fails("dist.send: tag must be an integer in 0..2^31-1, got -2", dist.send, t, 1, -2)
    fails("dist.allreduce: unknown option 'asynch' (async, check)", dist.allreduce, t, "sum", { asynch = true })
    fails("dist.allgather: out has shape [3], expected [1, 4] or [4]", dist.allgather, t, ember.zeros(3))
    fails("dist.allgather: out is f64 but t is f32", dist.allgather, t,
          ember.zeros(1, 4, { dtype = "f64" }))
    fails("dist.reduce_scatter: out has shape [2], expected [4]", dist.reduce_scatter, t, "sum",
          ember.zeros(2))
    fails("dist.reduce_scatter: t has shape []: its first dim must split into 1 blocks",
          dist.reduce_scatter, ember.tensor(1.0))
    fails("dist.all_to_all: out has shape [4, 1], expected [4]", dist.all_to_all, t, ember.zeros(4, 1))
    fails("dist.init: unknown option 'timeot' (timeout, check, backend)", dist.init, { timeot = 3 })
    fails("dist.init: options must be a table, got a number", dist.init, 3)
  end)

  it("loads dist.DDP on first use", function()
    assert.is_nil(rawget(dist, "DDP"))
    local DDP = dist.DDP
    assert.truthy(DDP)
    assert.are.equal(require "ember.dist.ddp", DDP)
    assert.are.equal(DDP, rawget(dist, "DDP"))
    assert.is_nil(dist.no_such_function)
  end)

  it("keeps working after the errors, in place and async", function()
    local t = ember.tensor({ 1, 2, 3 }, "f32")
    assert.are.equal(t, dist.allreduce(t, "avg"))
    assert.are.same({ 1, 2, 3 }, t:totable())
    local h = dist.allgather(t, { async = true })
    local g = h:wait()
    assert.is_true(h:test())
    assert.are.same({ { 1, 2, 3 } }, g:totable())
    local hs = dist.send(ember.tensor({ 7, 8, 9 }, "f32"), 1, 5, { async = true })
    assert.are.equal(1, dist.recv(t, nil, 5))
    assert.is_nil(hs:wait())
    assert.are.same({ 7, 8, 9 }, t:totable())
  end)
end)
