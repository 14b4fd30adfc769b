-- ember.dist — collectives across the ranks of an MPI job, and data-parallel training.
--
--   local dist = require "ember.dist"
--   dist.init{ timeout = 600, check = true }   -- idempotent; returns dist
--   dist.rank(), dist.world_size()             -- 1..N, N
--   dist.allreduce(t, "avg")                   -- in place: sum avg max min prod
--   local h = dist.allreduce(t, "sum", { async = true }); ...; h:wait()
--
-- Ranks are 1-based here (the C layer, ember._dist, counts from 0). Every call takes
-- an optional last argument { async = true }: it then returns a handle whose :test()
-- says whether it is done and whose :wait() returns what the blocking call returns;
-- { check = false } skips the ranks' agreement check for that call (DDP's buckets).
-- A collective or a rank query before init() joins the job with the defaults.
--
-- host/dist checks what it can (dtypes, element counts, avg on an integer dtype, a
-- root outside the job) and then makes sure every rank makes the same call: a rank
-- that refuses a call still takes part in that check, so the others get an error
-- instead of waiting for it. The layout rules checked here (allgather's {N, ...}
-- result, reduce_scatter's and all_to_all's N blocks along dim 1) keep that promise
-- the same way: see refuse(). docs/dist.md has the design.
local ember = require "ember"

local C = ember._dist
local dist = {}

local OPS = { sum = true, avg = true, max = true, min = true, prod = true }

-- {====== arguments
-- The checks are called straight from the API functions: level 3 is the user's line.

-- The world size once joined (nil before, and after finalize).
local joined

-- Joins the job with the defaults if need be (called from the API functions);
-- returns the world size.
local function ready()
  if joined then return joined end
  if not C.initialized() then
    local ok, err = pcall(C.init)
    if not ok then error(err, 3) end
  end
  joined = C.world_size()
  return joined
end

local function check_tensor(fn, v, name)
  if not ember.is_tensor(v) then
    error(string.format("dist.%s: %s must be a tensor, got %s", fn, name,
                        type(v) == "nil" and "nothing" or "a " .. type(v)), 3)
  end
  return v
end

local function check_op(fn, op)
  if op == nil then return "sum" end
  if type(op) ~= "string" or not OPS[op] then
    error(string.format("dist.%s: op must be one of sum avg max min prod, got %s", fn,
                        type(op) == "string" and "'" .. op .. "'" or "a " .. type(op)), 3)
  end
  return op
end

-- A rank 1..n (any: nil allowed, -1 for C), 0-based for C.
local function check_rank(fn, r, name, n, any)
  if any and r == nil then return -1 end
  local i = math.type(r) and math.tointeger(r)
  if not i or i < 1 or i > n then
    error(string.format("dist.%s: %s must be a rank in 1..%d, got %s", fn, name, n,
                        type(r) == "number" and tostring(r) or "a " .. type(r)), 3)
  end
  return i - 1
end

-- An integer root for broadcast; one outside the job is host/dist's to refuse, in
-- step with the other ranks.
local function check_root(fn, r)
  if r == nil then return 0 end
  local i = math.type(r) and math.tointeger(r)
  if not i or i < -0x7fffffff or i > 0x7fffffff then
    error(string.format("dist.%s: root must be a rank (an integer), got %s", fn,
                        type(r) == "number" and tostring(r) or "a " .. type(r)), 3)
  end
  return i - 1
end

local function check_tag(fn, tag)
  if tag == nil then return 0 end
  if math.type(tag) ~= "integer" or tag < 0 or tag > 0x7fffffff then
    error(string.format("dist.%s: tag must be an integer in 0..2^31-1, got %s", fn, tostring(tag)), 3)
  end
  return tag
end

-- opts is nil or { async = bool, check = bool }; returns async, check (nil: the
-- job's setting; false skips this call's agreement check, as DDP's buckets do)
local function check_opts(fn, opts)
  if opts == nil then return false, nil end
  if type(opts) ~= "table" then
    error(string.format("dist.%s: the last argument must be an options table, got a %s", fn,
                        type(opts)), 3)
  end
  for k in pairs(opts) do
    if k ~= "async" and k ~= "check" then
      error(string.format("dist.%s: unknown option '%s' (async, check)", fn, tostring(k)), 3)
    end
  end
  local check = opts.check
  if check ~= nil then check = check and true or false end
  return opts.async and true or false, check
end

-- An options table standing where an optional argument could be.
local function is_opts(v) return type(v) == "table" end

local function shape_str(s)
  return "[" .. table.concat(s, ", ") .. "]"
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- nil when out has t's dtype and one of the shapes in `shapes`, else what is wrong
local function bad_out(fn, out, t, shapes)
  if out:dtype() ~= t:dtype() then
    return string.format("dist.%s: out is %s but t is %s", fn, out:dtype(), t:dtype())
  end
  local s = out:size()
  for _, want in ipairs(shapes) do
    if same_shape(s, want) then return nil end
  end
  local names = {}
  for i, want in ipairs(shapes) do names[i] = shape_str(want) end
  return string.format("dist.%s: out has shape %s, expected %s", fn, shape_str(s),
                       table.concat(names, " or "))
end

-- nil when t's first dim splits into n blocks, else what is wrong
local function bad_blocks(fn, t, n)
  if t:dim() == 0 or t:size(1) % n ~= 0 then
    return string.format("dist.%s: t has shape %s: its first dim must split into %d blocks "
                         .. "(one per rank)", fn, shape_str(t:size()), n)
  end
end

-- f(...) from host/dist, whose errors come without a position: raised again at the
-- line that called ember.dist (call is called from the API functions).
local function call(f, ...)
  local ok, r = pcall(f, ...)
  if not ok then error(r, 3) end
  return r
end

-- A call this rank cannot make, while the other ranks may be making theirs: it is
-- still made, with an `out` of another dtype, so that host/dist refuses it inside the
-- ranks' agreement check. When the ranks' calls differ every rank raises the core's
-- message, which names each rank's call; when they agree, this rank's reason.
local function refuse(msg, cfn, t, ...)
  local other = ember.empty({ 0 }, { dtype = t:dtype() == "u8" and "i8" or "u8" })
  local ok, err = pcall(cfn, other, t, ...)
  if not ok and tostring(err):find("ranks? %d") then error(err, 3) end
  error(msg, 3)
end

-- }======

-- {====== handles

local Handle = {}
Handle.__index = Handle
Handle.__name = "ember.dist.Handle"

-- value: what wait() returns; recv: wait() returns the sender instead
local function handle(work, value, recv)
  return setmetatable({ work = work, value = value, recv = recv }, Handle)
end

function Handle:test()
  local ok, r = pcall(self.work.test, self.work)
  if not ok then error(r, 2) end
  return r
end

function Handle:wait()
  local ok, err = pcall(self.work.wait, self.work)
  if not ok then error(err, 2) end
  if self.recv then return self.work:source() + 1 end
  return self.value
end

function Handle:__tostring() return "ember.dist.Handle: " .. tostring(self.work) end

-- }======

-- {====== the job

local INIT = { timeout = true, check = true, backend = true }

function dist.init(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("dist.init: options must be a table, got a " .. type(opts), 2)
  end
  for k in pairs(opts or {}) do
    if not INIT[k] then
      error(string.format("dist.init: unknown option '%s' (timeout, check, backend)", tostring(k)), 2)
    end
  end
  call(C.init, opts)
  joined = C.world_size()
  return dist
end

function dist.initialized() return C.initialized() end
function dist.rank() ready(); return C.rank() + 1 end
function dist.world_size() return ready() end
function dist.local_rank() ready(); return C.local_rank() + 1 end
function dist.local_size() ready(); return C.local_size() end
function dist.backend() ready(); return C.backend() end
function dist.finalize()
  joined = nil
  call(C.finalize)
end

-- Ends every rank of the job at once (exit status code, default 1).
function dist.abort(code) C.abort(code or 1) end

-- }======

-- {====== collectives

function dist.barrier(opts)
  local async, check = check_opts("barrier", opts)
  ready()
  local w = call(C.barrier, async, check)
  if async then return handle(w) end
end

-- allreduce and broadcast are the hot paths of DDP and of small messages: their
-- arguments are checked only when the call fails (checking first cost 0.3 us a call).
function dist.allreduce(t, op, opts)
  if type(op) == "table" then op, opts = nil, op end
  local async, check = false, nil
  if opts ~= nil then async, check = check_opts("allreduce", opts) end
  if not joined then ready() end
  local ok, w = pcall(C.allreduce, t, op or "sum", async, check)
  if not ok then
    check_tensor("allreduce", t, "t")
    check_op("allreduce", op)
    error(w, 2)
  end
  if async then return handle(w, t) end
  return t
end

function dist.broadcast(t, root, opts)
  if type(root) == "table" then root, opts = nil, root end
  local async, check = false, nil
  if opts ~= nil then async, check = check_opts("broadcast", opts) end
  if not joined then ready() end
  local r = root == nil and 0 or math.type(root) and root - 1   -- else C refuses it
  local ok, w = pcall(C.broadcast, t, r, async, check)
  if not ok then
    check_tensor("broadcast", t, "t")
    check_root("broadcast", root)
    error(w, 2)
  end
  if async then return handle(w, t) end
  return t
end

-- out: {N, ...t's shape}, or N * t:size(1) rows
function dist.allgather(t, out, opts)
  if is_opts(out) then out, opts = nil, out end
  check_tensor("allgather", t, "t")
  if out ~= nil then check_tensor("allgather", out, "out") end
  local async, check = check_opts("allgather", opts)
  local n = ready()
  local s = t:size()
  local stacked = { n, table.unpack(s) }
  if out == nil then
    out = ember.empty(stacked, { dtype = t:dtype(), device = t:device() })
  else
    local rows = nil
    if #s >= 1 then
      rows = { table.unpack(s) }
      rows[1] = n * s[1]
    end
    local bad = bad_out("allgather", out, t, { stacked, rows })
    if bad then refuse(bad, C.allgather, t, false, check) end
  end
  local w = call(C.allgather, out, t, async, check)
  if async then return handle(w, out) end
  return out
end

-- t: N blocks along dim 1; out: this rank's block, reduced over the ranks
function dist.reduce_scatter(t, op, out, opts)
  if is_opts(op) then op, out, opts = nil, nil, op
  elseif is_opts(out) then out, opts = nil, out end
  check_tensor("reduce_scatter", t, "t")
  op = check_op("reduce_scatter", op)
  if out ~= nil then check_tensor("reduce_scatter", out, "out") end
  local async, check = check_opts("reduce_scatter", opts)
  local n = ready()
  local bad = bad_blocks("reduce_scatter", t, n)
  if bad then refuse(bad, C.reduce_scatter, t, op, false, check) end
  local s = t:size()
  s[1] = s[1] // n
  if out == nil then
    out = ember.empty(s, { dtype = t:dtype(), device = t:device() })
  else
    bad = bad_out("reduce_scatter", out, t, { s })
    if bad then refuse(bad, C.reduce_scatter, t, op, false, check) end
  end
  local w = call(C.reduce_scatter, out, t, op, async, check)
  if async then return handle(w, out) end
  return out
end

-- block r of t (along dim 1) goes to rank r; block r of out came from rank r
function dist.all_to_all(t, out, opts)
  if is_opts(out) then out, opts = nil, out end
  check_tensor("all_to_all", t, "t")
  if out ~= nil then check_tensor("all_to_all", out, "out") end
  local async, check = check_opts("all_to_all", opts)
  local n = ready()
  local bad = bad_blocks("all_to_all", t, n)
  if bad then refuse(bad, C.all_to_all, t, false, check) end
  if out == nil then
    out = ember.empty(t:size(), { dtype = t:dtype(), device = t:device() })
  else
    bad = bad_out("all_to_all", out, t, { t:size() })
    if bad then refuse(bad, C.all_to_all, t, false, check) end
  end
  local w = call(C.all_to_all, out, t, async, check)
  if async then return handle(w, out) end
  return out
end

function dist.send(t, dst, tag, opts)
  if is_opts(tag) then tag, opts = nil, tag end
  check_tensor("send", t, "t")
  local async = check_opts("send", opts)
  local n = ready()
  dst = check_rank("send", dst, "dst", n)
  tag = check_tag("send", tag)
  local w = call(C.send, t, dst, tag, async)
  if async then return handle(w) end
end

-- src nil: from any rank. Returns the sender (1-based).
function dist.recv(t, src, tag, opts)
  if is_opts(src) then src, tag, opts = nil, nil, src
  elseif is_opts(tag) then tag, opts = nil, tag end
  check_tensor("recv", t, "t")
  local async = check_opts("recv", opts)
  local n = ready()
  src = check_rank("recv", src, "src", n, true)
  tag = check_tag("recv", tag)
  local r = call(C.recv, t, src, tag, async)
  if async then return handle(r, nil, true) end
  return r + 1
end

-- }======

-- dist.DDP (ddp.lua) loads on first use: most scripts that use collectives never need it.
return setmetatable(dist, {
  __index = function(_, k)
    if k == "DDP" then
      local ddp = require "ember.dist.ddp"
      rawset(dist, "DDP", ddp)
      return ddp
    end
  end,
})
