-- common.lua — what the workers under spec/dist share: the report lines dist_spec.lua
-- reads, tensors made from a value function, and comparison with a truth computed
-- in Lua. Loaded with dofile by a worker run as `ember spec/dist/<worker>.lua`.
--
-- Report lines, one per case and rank (R is the 1-based rank), written to
-- <dir>/report.<R> (dir: the worker's first argument) and else to stdout; files, as
-- mpirun may cut the lines of several ranks' stdout into each other:
--   ok R name            not ok R name: message            done R count
local ember = ember or require "ember"

local M = {}

M.DTYPES = { "f32", "f64", "f16", "bf16", "i8", "i16", "i32", "i64", "u8", "bool" }
M.FLOAT = { f32 = true, f64 = true, f16 = true, bf16 = true }
M.OPS = { "sum", "avg", "max", "min", "prod" }
-- relative tolerance of an average (the only result that is not exact here)
M.TOL = { f32 = 2e-7, f64 = 1e-15, f16 = 1e-3, bf16 = 8e-3 }

local rank, count, out = 0, 0, io.stdout

-- r: this rank; dir: where the report goes (nil: stdout)
function M.start(r, dir)
  rank = r
  if dir and dir ~= "" then out = assert(io.open(dir .. "/report." .. r, "w")) end
end

function M.line(s)
  out:write(s, "\n")
  out:flush()
end
local line = M.line

-- Runs fn as the case `name`; a failure is reported, not raised, so the other cases
-- still run (and the ranks keep calling the same collectives).
function M.case(name, fn)
  count = count + 1
  local ok, err = xpcall(fn, debug.traceback)
  if ok then line(string.format("ok %d %s", rank, name))
  else line(string.format("not ok %d %s: %s", rank, name, tostring(err):gsub("\n", " | "))) end
end

function M.done() line(string.format("done %d %d", rank, count)) end

-- Spins for s seconds without leaving a child process behind if the job is killed.
function M.sleep(s)
  local t0 = ember.monotonic()
  while ember.monotonic() - t0 < s do os.execute("sleep 0.05") end
end

function M.numel(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

function M.shape_str(s) return "{" .. table.concat(s, ",") .. "}" end

-- A contiguous tensor of dtype dt and shape whose i-th element (flat, 1-based) is f(i).
function M.make(dt, shape, f)
  local n = M.numel(shape)
  if n == 0 then return ember.zeros(shape, { dtype = dt }) end
  local v = {}
  for i = 1, n do v[i] = f(i) end
  return ember.tensor(v, dt):view(shape)
end

-- The same values as a non-contiguous view: the transpose of a contiguous tensor
-- that holds them transposed. shape must be 2-d. Returns the view and its base.
function M.make_strided(dt, shape, f)
  local base = M.make(dt, shape, f):t():contiguous()
  return base:t(), base
end

function M.flat(t)
  if t:numel() == 0 then return {} end
  return t:to("cpu"):reshape(-1):totable()
end

-- Asserts t's values (flat) equal want[i] (a table, or a function of i); tol: relative.
function M.check(t, want, tol, what)
  local got = M.flat(t)
  local n = t:numel()
  if type(want) == "table" then
    assert(#want == n, string.format("%s: %d values, expected %d", what or "values", n, #want))
  end
  for i = 1, n do
    local w
    if type(want) == "function" then w = want(i) else w = want[i] end
    local g = got[i]
    local same
    if tol and type(w) == "number" then same = math.abs(g - w) <= tol * math.max(1, math.abs(w))
    else same = g == w end
    if not same then
      error(string.format("%s: element %d is %s, expected %s", what or "values", i,
                          tostring(g), tostring(w)), 2)
    end
  end
end

function M.check_shape(t, shape)
  local s = t:size()
  assert(#s == #shape and table.concat(s, ",") == table.concat(shape, ","),
         "shape " .. M.shape_str(s) .. ", expected " .. M.shape_str(shape))
end

-- {====== values and their truth
-- Rank r's element i for an op: small numbers, so that sums, products and averages
-- of up to 4 ranks are exact in every dtype (bf16 holds integers to 256) and fit i8
-- and u8; floats get halves. bool alternates with period 4.

function M.val(dt, op, r, i)
  if dt == "bool" then return (r * 3 + i * 5) % 4 ~= 0 end
  local v
  if op == "prod" then
    v = (r + i) % 2 + 1
    if dt ~= "u8" and (r + 2 * i) % 3 == 0 then v = -v end
  else
    v = (r * 7 + i * 3) % 11
    if dt ~= "u8" then v = v - 5 end
  end
  if M.FLOAT[dt] then v = v * 0.5 end
  return v
end

-- op over ranks 1..n of f(r)
function M.fold(dt, op, n, f)
  local acc = f(1)
  for r = 2, n do
    local v = f(r)
    if dt == "bool" then
      if op == "sum" or op == "max" then acc = acc or v else acc = acc and v end
    elseif op == "sum" or op == "avg" then acc = acc + v
    elseif op == "max" then acc = math.max(acc, v)
    elseif op == "min" then acc = math.min(acc, v)
    else acc = acc * v end
  end
  if op == "avg" then acc = acc / n end
  return acc
end

-- }======

return M
