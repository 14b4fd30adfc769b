-- vk_check.lua — runs a case on the cpu and on Vulkan and compares: the cpu backend
-- is the oracle (its kernels are checked against PyTorch by the per-family specs).
--
-- A case is { name, fn, inputs, tol = 1e-5 (normalised error for floats; integers
-- and bools must match exactly), f64tol = ... }. inputs is a list of cpu tensors or
-- of functions returning one (called once); fn(...) gets the inputs on one device and
-- returns a tensor, a number, or a list of them. Each Vulkan input is a fresh copy,
-- so in-place cases see the same starting values on both devices.
local assert = require "luassert"
local ember = require "ember"

local M = {}

-- ||a - b|| / (||b|| + tiny), over finite entries; NaN and inf must sit in the same
-- places with the same sign
local function compare(name, got, want, tol)
  assert.are.equal(want:dtype(), got:dtype(), name .. ": dtype")
  assert.are.same(want:size(), got:size(), name .. ": shape")
  assert.are.equal("vulkan", got:device(), name .. ": result device")
  local g, w = got:to("cpu"), want
  if w:numel() == 0 then return end
  if not w:is_floating_point() then
    local gt, wt = g:to("i64"):reshape(-1):totable(), w:to("i64"):reshape(-1):totable()
    for i = 1, #wt do
      if gt[i] ~= wt[i] then
        error(string.format("%s: element %d is %s on vulkan, %s on cpu", name, i, tostring(gt[i]),
                            tostring(wt[i])))
      end
    end
    return
  end
  local gd, wd = g:to("f64"):reshape(-1), w:to("f64"):reshape(-1)
  local gt, wt = gd:totable(), wd:totable()
  local scale = 0                      -- sums of squares of values near 1e308 overflow
  for i = 1, #wt do
    local b = wt[i]
    if b == b and b ~= math.huge and b ~= -math.huge then scale = math.max(scale, math.abs(b)) end
  end
  if scale == 0 then scale = 1 end
  local num, den = 0, 0
  for i = 1, #wt do
    local a, b = gt[i], wt[i]
    if b ~= b or b == math.huge or b == -math.huge then
      if not (a == b or (a ~= a and b ~= b)) then
        error(string.format("%s: element %d is %s on vulkan, %s on cpu", name, i, tostring(a), tostring(b)))
      end
    else
      if a ~= a or a == math.huge or a == -math.huge then
        error(string.format("%s: element %d is %s on vulkan, %s on cpu", name, i, tostring(a), tostring(b)))
      end
      num = num + ((a - b) / scale) ^ 2
      den = den + (b / scale) ^ 2
    end
  end
  local err = math.sqrt(num) / (math.sqrt(den) + 1e-300)
  if den == 0 then err = math.sqrt(num) * scale end
  if not (err <= tol) then
    error(string.format("%s: normalised error %.3g > %.3g", name, err, tol))
  end
end

local function results(r)
  if type(r) == "table" and getmetatable(r) == nil then return r end
  return { r }
end

-- Runs one case; returns nothing, raises with a message naming the case on a mismatch.
function M.check(case)
  local name, fn = case[1], case[2]
  local host = {}
  for i, x in ipairs(case[3] or {}) do
    host[i] = type(x) == "function" and x() or x
  end
  local cpu_in, vk_in = {}, {}
  for i, x in ipairs(host) do
    if ember.is_tensor(x) then
      cpu_in[i] = x:clone()
      vk_in[i] = x:to("vulkan")
    else
      cpu_in[i], vk_in[i] = x, x
    end
  end
  local want = results(fn(table.unpack(cpu_in, 1, #host)))
  local got = results(fn(table.unpack(vk_in, 1, #host)))
  assert.are.equal(#want, #got, name .. ": number of results")
  for k = 1, #want do
    local w, g = want[k], got[k]
    if ember.is_tensor(w) then
      local f64 = w:dtype() == "f64"
      compare(#want > 1 and name .. " #" .. k or name, g, w,
              f64 and (case.f64tol or 1e-12) or case.tol or 1e-5)
    else
      assert.are.equal(w, g, name .. ": result " .. k)
    end
  end
  -- in-place cases: the inputs changed the same way on both devices
  if case.inplace then
    for i, x in ipairs(cpu_in) do
      if ember.is_tensor(x) then compare(name .. " input " .. i, vk_in[i], x, case.tol or 1e-5) end
    end
  end
end

-- The opening of every spec/vk/<family>.lua: seeds the generator, returns the list of
-- cases (the file returns it) and the function that adds one:
--   local cases, case = V.cases(11)
--   case { "add 37", fn, { inputs } }
function M.cases(seed)
  ember.manual_seed(seed)
  local cases = {}
  return cases, function(c) cases[#cases + 1] = c end
end

-- Seeded inputs: uniform in [lo, hi), a view made by a Lua function, or integers.
local gen = ember.Generator and ember.Generator(1234) or nil
function M.rand(shape, lo, hi, dtype)
  lo, hi = lo or -2, hi or 2
  local t = ember.rand(shape, { dtype = dtype or "f32" })
  return t * (hi - lo) + lo
end

function M.randint(lo, hi, shape, dtype)
  return ember.randint(lo, hi, shape, { dtype = dtype or "i64" })
end

-- A Vulkan spec's last test: when the Khronos validation layer is on, it reported
-- nothing over the whole file.
function M.assert_validation_clean()
  ember.vk.sync()
  local info = ember.vk.info()
  if info.validation then
    local msgs = ember.vk.validation_messages()
    assert.are.equal(0, info.validation_messages, table.concat(msgs, "\n"))
  end
end

return M
