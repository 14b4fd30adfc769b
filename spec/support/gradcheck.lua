-- gradcheck.lua — checks ember's gradients two independent ways:
--   against PyTorch autograd (/usr/bin/python3) in f32, normalised error <= tol, and
--   against central finite differences of the same ember function in f64.
--
-- A case:
--   { op = "add", name = "broadcast",                -- op: the op-table name it covers
--     inputs = { {2, 3}, {3} },                      -- shapes of float inputs, or specs:
--       { shape = {2, 3}, range = {0.5, 2} }          values in [lo, hi) (default [-2, 2))
--       { shape = {4}, int = {1, 3} }                 integers in [lo, hi], i64, no grad
--       { value = ember.tensor(...) }                 this tensor as is (no grad unless float
--                                                     and grad = true)
--       { shape = {2}, grad = false }                 float, but no gradient wanted
--     ember = function(a, b) return a + b end,       -- one or more results
--     torch = "x[0] + x[1]",                         -- the same in torch over x[0], x[1], ...
--     tol = 1e-4, fd = true, fd_tol = 1e-6 }         -- fd = false: no finite differences
--                                                     (random, or not smooth at the inputs)
-- Upstream gradients are fixed pseudo-random tensors, one per floating result, so every
-- result's backward is exercised and the check is sum_k <out_k, g_k>.
local ember = require "ember"
local oracle = require "oracle"

local gradcheck = {}

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

-- Deterministic values (no RNG) so a failure reproduces anywhere.
local function values(shape, seed, lo, hi)
  local flat = {}
  for i = 1, numel(shape) do
    local u = ((i * 7919 + seed * 104729) % 2003) / 2003
    flat[i] = lo + (hi - lo) * u
  end
  return flat
end

local function make(flat, shape, dtype)
  local t = ember.tensor(flat, dtype)
  if #shape == 0 then return t:view({}) end
  return t:view(table.unpack(shape))
end

-- The inputs of case c in dtype: a list of {tensor, wants_grad}.
local function build_inputs(c, dtype)
  local xs = {}
  for i, spec in ipairs(c.inputs) do
    if spec.shape == nil and spec.value == nil then spec = { shape = spec } end
    local t, grad
    if spec.value then
      t = spec.value
      grad = spec.grad == true and t:is_floating_point()
      if grad and t:dtype() ~= dtype then t = t:to(dtype) end
      if not grad then t = t:clone() end
    elseif spec.int then
      local lo, hi = spec.int[1], spec.int[2]
      local flat = {}
      for k = 1, numel(spec.shape) do flat[k] = lo + (k * 7 + i * 3) % (hi - lo + 1) end
      t, grad = make(flat, spec.shape, "i64"), false
    else
      local r = spec.range or { -2, 2 }
      t = make(values(spec.shape, i, r[1], r[2]), spec.shape, dtype)
      grad = spec.grad ~= false
    end
    if grad then t = t:clone(); t.requires_grad = true end
    xs[i] = { t = t, grad = grad }
  end
  return xs
end

local function tensors(xs)
  local r = {}
  for i, x in ipairs(xs) do r[i] = x.t end
  return r
end

-- Floating results of f(inputs) and one upstream gradient for each.
local function run_forward(c, xs)
  local outs = table.pack(c.ember(table.unpack(tensors(xs))))
  local floats = {}
  for k = 1, outs.n do
    local o = outs[k]
    if ember.is_tensor(o) and o:is_floating_point() and o.requires_grad then floats[#floats + 1] = o end
  end
  return floats
end

local function upstream(floats, dtype)
  local gs = {}
  for k, o in ipairs(floats) do gs[k] = make(values(o:size(), 50 + k, -1, 1), o:size(), dtype) end
  return gs
end

local function backward(floats, gs)
  for k, o in ipairs(floats) do o:backward(gs[k], k < #floats) end
end

local function flat_of(t) return t:numel() > 0 and t:contiguous():view(-1):totable() or {} end

-- max |a - b| / max |b| over two flat lists (b all zero: the absolute error)
local function normalised_error(a, b)
  local diff, scale = 0, 0
  for i = 1, #b do
    diff = math.max(diff, math.abs(a[i] - b[i]))
    scale = math.max(scale, math.abs(b[i]))
  end
  if diff ~= diff then return math.huge end
  return scale > 0 and diff / scale or diff
end

local function describe_case(c) return string.format("%s (%s)", c.op, c.name or "?") end

-- Against torch: every case in one Python call. Returns {ok, msg} per case.
function gradcheck.oracle(cases)
  local req, prepared = {}, {}
  for i, c in ipairs(cases) do
    local ok, err = pcall(function()
      local xs = build_inputs(c, "f32")
      local floats = run_forward(c, xs)
      local gs = upstream(floats, "f32")
      backward(floats, gs)
      local inputs = {}
      for j, x in ipairs(xs) do
        inputs[j] = oracle.encode(x.t:detach())
        inputs[j].requires_grad = x.grad
      end
      local grads = {}
      for k, g in ipairs(gs) do grads[k] = oracle.encode(g) end
      prepared[i] = { xs = xs, nfloat = #floats }
      req[i] = { expr = c.torch, inputs = inputs, grads = grads }
    end)
    if not ok then
      prepared[i] = { err = tostring(err) }
      req[i] = { expr = "None", inputs = {}, grads = {} }
    end
  end
  local replies = oracle.call("grad_oracle.py", req)
  local results = {}
  for i, c in ipairs(cases) do
    local p, r = prepared[i], replies[i]
    local tol = c.tol or 1e-4
    local ok, msg = true, nil
    if p.err then
      ok, msg = false, describe_case(c) .. ": ember failed: " .. p.err
    elseif not r.ok then
      ok, msg = false, describe_case(c) .. ": torch failed: " .. tostring(r.error)
    else
      for j, x in ipairs(p.xs) do
        if x.grad then
          local ref = r.grads[j]
          local g = x.t.grad
          if ref == nil then
            if g ~= nil and normalised_error(flat_of(g), values(g:size(), 0, 0, 0)) > 0 then
              ok, msg = false, string.format("%s: input %d: torch gives no gradient, ember does", describe_case(c), j)
            end
          elseif g == nil then
            local zero = true
            for _, v in ipairs(ref.data) do if oracle.number(v) ~= 0 then zero = false end end
            if not zero then ok, msg = false, string.format("%s: input %d: ember gives no gradient", describe_case(c), j) end
          else
            local want = {}
            for k, v in ipairs(ref.data) do want[k] = oracle.number(v) end
            local got = flat_of(g)
            local shape_ok = #got == #want and #g:size() == #ref.shape
            if not shape_ok then
              ok, msg = false, string.format("%s: input %d: gradient shape %s, torch %s", describe_case(c), j,
                                             table.concat(g:size(), "x"), table.concat(ref.shape, "x"))
            else
              local e = normalised_error(got, want)
              if e > tol then
                ok, msg = false, string.format("%s: input %d: normalised error %.3g > %.3g", describe_case(c), j, e, tol)
              end
            end
          end
        end
        if not ok then break end
      end
    end
    results[i] = { ok = ok, msg = msg }
  end
  return results
end

-- Against central differences in f64: returns ok, msg.
function gradcheck.finite_differences(c)
  local eps = c.fd_eps or 1e-6
  local xs = build_inputs(c, "f64")
  local floats = run_forward(c, xs)
  local gs = upstream(floats, "f64")
  backward(floats, gs)
  local function objective(ts)
    return ember.no_grad(function()
      local outs = table.pack(c.ember(table.unpack(ts)))
      local s, k = 0, 0
      for j = 1, outs.n do
        local o = outs[j]
        if ember.is_tensor(o) and o:is_floating_point() then
          k = k + 1
          s = s + (o:to("f64") * gs[k]):sum():item()
        end
      end
      return s
    end)
  end
  for i, x in ipairs(xs) do
    if x.grad then
      local base = flat_of(x.t:detach())
      local shape = x.t:size()
      local numeric = {}
      for j = 1, #base do
        local ts = tensors(xs)
        local v = base[j]
        base[j] = v + eps
        ts[i] = make(base, shape, "f64")
        local up = objective(ts)
        base[j] = v - eps
        ts[i] = make(base, shape, "f64")
        local down = objective(ts)
        base[j] = v
        numeric[j] = (up - down) / (2 * eps)
      end
      local g = x.t.grad
      local got = g and flat_of(g) or values(shape, 0, 0, 0)
      local e = normalised_error(got, numeric)
      if e > (c.fd_tol or 1e-6) then
        return false, string.format("%s: input %d: finite differences differ, normalised error %.3g", describe_case(c), i, e)
      end
    end
  end
  return true
end

return gradcheck
