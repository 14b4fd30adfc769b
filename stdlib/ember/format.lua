-- format.lua — print(t): Torch7's layout of a tensor's values, then a footer line
-- "[ember.FloatTensor of size 2x3 (cpu)]". The C __tostring calls M.tostring.
--
-- Invariants: one number format serves every value shown (so columns line up across
-- rows and across the 2-D blocks of a bigger tensor), chosen from the shown values only;
-- every cell is right-aligned to one width that keeps a column free for a minus sign.
-- Values are read through t:totable() or t[i] views, so any strides work, and a big
-- tensor is read only where it is shown (its first and last M.edgeitems per dim).
local M = {
  threshold = 1000,   -- more elements than this: elide the middle of each long dim
  edgeitems = 3,      -- shown at each end of an elided dim
  linewidth = 80,     -- wider matrices are cut into "Columns a to b" chunks
}

local ELL = setmetatable({}, { __name = "ellipsis" })   -- stands for an elided run

-- The indices shown along a dim of size n: all, or the ends around ELL.
local function shown(n, summarize)
  local r = {}
  local e = M.edgeitems
  if summarize and n > 2 * e then
    for i = 1, e do r[#r + 1] = i end
    r[#r + 1] = ELL
    for i = n - e + 1, n do r[#r + 1] = i end
  else
    for i = 1, n do r[i] = i end
  end
  return r
end

-- Nested Lua tables of the shown values; ELL where a run is elided. t[i] gives a view
-- for 2+ dims and an element for 1 dim.
local function collect(t, idx, d)
  local out = {}
  for k, i in ipairs(idx[d]) do
    if i == ELL then out[k] = ELL
    elseif d == #idx then out[k] = t[i]
    else out[k] = collect(t[i], idx, d + 1) end
  end
  return out
end

local function each_leaf(v, fn)
  if type(v) == "table" and v ~= ELL then
    for _, x in ipairs(v) do each_leaf(x, fn) end
  elseif v ~= ELL then
    fn(v)
  end
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- Torch7's rule: digits of the largest magnitude decide between plain "%.4f", a common
-- power-of-ten scale printed above the values ("1e-03 *"), and "%.4e" when the shown
-- magnitudes span more than four decades; integral values print as integers.
local function float_cell(values, allow_scale)
  local amax, amin, integral = 0, math.huge, true
  for _, v in ipairs(values) do
    if finite(v) then
      local a = math.abs(v)
      if a > amax then amax = a end
      if a ~= 0 and a < amin then amin = a end
      if v ~= math.floor(v) then integral = false end
    end
  end
  local function digits(a) return math.floor(math.log(a, 10)) + 1 end
  local emax = amax == 0 and 1 or digits(amax)
  local emin = amin == math.huge and 1 or digits(amin)
  local fmt, scale = "%.4f", nil
  if integral then
    if emax > 9 then fmt = "%.4e" else fmt = "%.0f" end
  elseif emax - emin > 4 then
    fmt = "%.4e"
  elseif emax > 5 or emax < 0 then
    if allow_scale then scale = 10.0 ^ (emax - 1) else fmt = "%.4e" end
  end
  local function cell(v)
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return string.format(fmt, scale and v / scale or v)
  end
  return cell, scale and string.format("%.0e *", scale)
end

-- cell(v) -> text, and the scale line or nil, for the dtype's kind of values.
local function chooser(t, values, allow_scale)
  local dtype = t:dtype()
  if dtype == "bool" then
    return function(v) return v and "true" or "false" end
  end
  if not t:is_floating_point() and not t:is_complex() then   -- c64 shows its real parts
    return function(v) return string.format("%d", v) end
  end
  return float_cell(values, allow_scale)
end

-- Replace values by their text (ELL stays ELL), and find the common cell width.
local function to_text(v, cell, w)
  if v == ELL then
    w[1] = math.max(w[1], 4)
    return ELL
  end
  if type(v) == "table" then
    local r = {}
    for k, x in ipairs(v) do r[k] = to_text(x, cell, w) end
    return r
  end
  local s = cell(v)
  local width = #s + (s:sub(1, 1) == "-" and 0 or 1)   -- room for a sign
  if width > w[1] then w[1] = width end
  return s
end

local function pad(s, w)
  if s == ELL then s = "..." end
  return string.rep(" ", w - #s) .. s
end

-- The first (step 1) or last (step -1) real index of cols[a..b], for chunk headers.
local function real_index(cols, a, b, step)
  for k = a, b, step do
    if cols[k] ~= ELL then return cols[k] end
  end
  return "..."
end

-- A 2-D block of texts S (rows of cells; a row may be ELL) into lines of out.
local function matrix(S, cols, w, indent, scale_line, out)
  if scale_line then out[#out + 1] = indent .. scale_line end
  local ncols = #cols
  local per = math.max(1, (M.linewidth - #indent + 1) // (w + 1))
  for first = 1, ncols, per do
    local last = math.min(first + per - 1, ncols)
    if per < ncols then
      if first > 1 then out[#out + 1] = "" end
      out[#out + 1] = string.format("%sColumns %s to %s", indent, real_index(cols, first, last, 1),
                                    real_index(cols, last, first, -1))
    end
    for _, row in ipairs(S) do
      local parts = {}
      for c = first, last do parts[#parts + 1] = pad(row == ELL and ELL or row[c], w) end
      out[#out + 1] = indent .. table.concat(parts, " ")
    end
  end
end

-- Tensors of 3+ dims: one "(i,j,.,.) =" block per 2-D slice, 1-based indices.
local function blocks(S, idx, d, prefix, w, scale_line, out)
  if d == #idx - 1 then
    if #out > 0 then out[#out + 1] = "" end
    out[#out + 1] = "(" .. prefix .. ".,.) ="
    matrix(S, idx[#idx], w, " ", scale_line, out)
    return
  end
  for k, i in ipairs(idx[d]) do
    if i == ELL then
      out[#out + 1] = ""
      out[#out + 1] = "(...)"
    else
      blocks(S[k], idx, d + 1, prefix .. i .. ",", w, scale_line, out)
    end
  end
end

local function size_text(t)
  local size = t:size()
  if #size == 0 then return "[]" end
  return table.concat(size, "x")
end

-- ember.set_printoptions{threshold = n, edgeitems = n, linewidth = n}; returns the old ones.
function M.set_options(opts)
  local old = { threshold = M.threshold, edgeitems = M.edgeitems, linewidth = M.linewidth }
  if type(opts) ~= "table" then
    error("set_printoptions: expected a table of options, got " .. type(opts), 2)
  end
  for k, v in pairs(opts) do
    if old[k] == nil then
      error(string.format("set_printoptions: unknown option %q (threshold, edgeitems, linewidth)",
                          tostring(k)), 2)
    end
    if math.type(v) ~= "integer" or v < (k == "threshold" and 0 or 1) then
      error(string.format("set_printoptions: %s must be a positive integer, got %s", k, tostring(v)), 2)
    end
  end
  for k, v in pairs(opts) do M[k] = v end
  return old
end

function M.tostring(t)
  local device = t:device()
  local footer = string.format("[%s of size %s (%s)]", t:type(), size_text(t), device)
  if device ~= "cpu" then t = t:to("cpu") end   -- one transfer, then read on the host
  local ndim, numel = t:dim(), t:numel()
  if ndim == 0 then
    local v = t:item()
    local cell = chooser(t, { v }, false)
    return cell(v) .. "\n" .. footer
  end
  if numel == 0 then
    return string.format("[%s with no elements, size %s (%s)]", t:type(), size_text(t), device)
  end
  local summarize = numel > M.threshold
  local size = t:size()
  local idx = {}
  for d = 1, ndim do idx[d] = shown(size[d], summarize) end
  local values = summarize and collect(t, idx, 1) or t:totable()
  local flat = {}
  each_leaf(values, function(v) flat[#flat + 1] = v end)
  local cell, scale_line = chooser(t, flat, true)
  local w = { 0 }
  local S = to_text(values, cell, w)
  local out = {}
  if ndim == 1 then
    if scale_line then out[1] = scale_line end
    for _, s in ipairs(S) do out[#out + 1] = pad(s, w[1]) end
  elseif ndim == 2 then
    matrix(S, idx[2], w[1], "", scale_line, out)
  else
    blocks(S, idx, 1, "", w[1], scale_line, out)
  end
  out[#out + 1] = footer
  return table.concat(out, "\n")
end

return M
