-- plot.lua — line charts as SVG files (ember.plot), for loss and accuracy curves.
--
--   local plot = require "ember.plot"
--   plot.lines{ path = "curves.svg", title = "digits", xlabel = "epoch", ylabel = "loss",
--               y2label = "accuracy",
--               series = { { name = "train loss", x = {1, 2, 3}, y = {0.9, 0.4, 0.2} },
--                          { name = "test acc", y = {0.8, 0.9, 0.95}, axis = "right" } } }
--
-- Each series has y (a list or 1-D tensor), optional x (default 1, 2, ...), optional
-- axis ("left", the default, or "right": a second y axis on the right, drawn dashed)
-- and optional color. Non-finite y values leave a gap. Axes run between "nice" tick
-- values, steps of 1, 2 or 5 times a power of ten, that enclose the data. Options:
-- width = 640, height = 400 (pixels). The file is written beside path and renamed
-- into place, so a reader never sees half a chart. Returns the layout: the plot area
-- {left, top, width, height} and per axis {lo, hi, ticks}.
local ember = require "ember"

local plot = {}

-- The Tableau 10 palette: ten hues told apart easily, also by most colour-blind eyes.
local COLORS = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" }

local function escape(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                         ['"'] = "&quot;", ["'"] = "&apos;" }))
end
plot.escape = escape

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- plot.ticks(lo, hi, count=5) -> ticks, step, labels: tick values from a multiple of
-- step at or below lo to one at or above hi, step the smallest of 1, 2, 5 x 10^k at
-- least (hi - lo) / count. Values are rounded to the step's decimals, so 0..1 gives
-- exactly 0, 0.2, 0.4, 0.6, 0.8, 1.
function plot.ticks(lo, hi, count)
  count = count or 5
  if not (finite(lo) and finite(hi)) or lo > hi then
    error(string.format("plot.ticks: bad range %s..%s", tostring(lo), tostring(hi)), 2)
  end
  if lo == hi then
    local pad = lo ~= 0 and math.abs(lo) * 0.1 or 1
    lo, hi = lo - pad, hi + pad
  end
  local raw = (hi - lo) / count
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step
  for _, m in ipairs({ 1, 2, 5, 10 }) do
    if m * mag >= raw * (1 - 1e-9) then step = m * mag break end
  end
  local first = math.floor(lo / step + 1e-9)
  local last = math.ceil(hi / step - 1e-9)
  local decimals = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  local plain = step >= 1e-6 and math.max(math.abs(first), math.abs(last)) * step < 1e15
  local fmt = "%." .. decimals .. "f"
  local ticks, labels = {}, {}
  for k = first, last do
    local v = k * step
    local s = plain and string.format(fmt, v) or string.format("%g", v)
    ticks[#ticks + 1] = tonumber(s)
    labels[#labels + 1] = s
  end
  return ticks, step, labels
end

local function values_of(v, what)
  if ember.is_tensor(v) then
    if v:dim() ~= 1 then error("plot.lines: " .. what .. " must be 1-D", 4) end
    return v:numel() > 0 and v:contiguous():totable() or {}
  end
  if type(v) ~= "table" then error("plot.lines: " .. what .. " must be a list of numbers", 4) end
  for i = 1, #v do
    if type(v[i]) ~= "number" then
      error(string.format("plot.lines: %s[%d] is a %s, not a number", what, i, type(v[i])), 4)
    end
  end
  return v
end

-- Checked copies of the series: x and y lists of equal length, axis, colour.
local function normalize(series)
  if type(series) ~= "table" or #series == 0 then
    error("plot.lines: series must be a non-empty list of {name, y, x?, axis?}", 3)
  end
  local out = {}
  for k, s in ipairs(series) do
    local what = string.format("series %d", k)
    if type(s) ~= "table" then error("plot.lines: " .. what .. " must be a table", 3) end
    local name = s.name ~= nil and tostring(s.name) or what
    what = what .. string.format(" (%s)", name)
    if s.y == nil then error("plot.lines: " .. what .. " has no y", 3) end
    local y = values_of(s.y, what .. ".y")
    local x = {}
    if s.x ~= nil then
      x = values_of(s.x, what .. ".x")
      if #x ~= #y then
        error(string.format("plot.lines: %s has %d x values and %d y values", what, #x, #y), 3)
      end
      for i = 1, #x do
        if not finite(x[i]) then error(string.format("plot.lines: %s.x[%d] is not finite", what, i), 3) end
      end
    else
      for i = 1, #y do x[i] = i end
    end
    local axis = s.axis or "left"
    if axis ~= "left" and axis ~= "right" then
      error("plot.lines: " .. what .. ": axis must be \"left\" or \"right\", got " .. tostring(axis), 3)
    end
    out[k] = { name = name, x = x, y = y, axis = axis, color = s.color or COLORS[(k - 1) % #COLORS + 1] }
  end
  return out
end

local function range(list, pick, filter)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(list) do
    if filter == nil or filter(s) then
      for _, v in ipairs(s[pick]) do
        if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
      end
    end
  end
  if lo > hi then return 0, 1 end
  return lo, hi
end

local function axis(lo, hi)
  local ticks, _, labels = plot.ticks(lo, hi)
  return { lo = ticks[1], hi = ticks[#ticks], ticks = ticks, labels = labels }
end

-- Legend entries packed into rows no wider than the plot: a 22-pixel line sample,
-- the name (about 7 pixels a character at 12 px) and a gap.
local function legend_rows(series, width)
  local rows, row = {}, { width = 0 }
  for _, s in ipairs(series) do
    local w = 28 + 7 * (utf8.len(s.name) or #s.name) + 20
    if row.width > 0 and row.width + w > width then rows[#rows + 1] = row; row = { width = 0 } end
    row[#row + 1] = { series = s, width = w }
    row.width = row.width + w
  end
  rows[#rows + 1] = row
  return rows
end

local function num(v) return string.format("%.2f", v) end

function plot.lines(opts)
  if type(opts) ~= "table" then error("plot.lines: expects a table of options", 2) end
  if type(opts.path) ~= "string" or opts.path == "" then error("plot.lines: path (a file name) is required", 2) end
  local series = normalize(opts.series)
  local W, H = opts.width or 640, opts.height or 400
  local has_right = false
  for _, s in ipairs(series) do if s.axis == "right" then has_right = true end end
  local ax = axis(range(series, "x"))
  local ay = axis(range(series, "y", function(s) return s.axis == "left" end))
  local ay2 = has_right and axis(range(series, "y", function(s) return s.axis == "right" end)) or nil
  local left, right = 64, has_right and 64 or 24
  local rows = legend_rows(series, W - left - right)
  local top, bottom = opts.title and 40 or 20, 48 + 18 * #rows
  local area = { left = left, top = top, width = W - left - right, height = H - top - bottom }
  if area.width < 20 or area.height < 20 then
    error(string.format("plot.lines: %dx%d pixels leave no room for the plot", W, H), 2)
  end
  local legend = {}
  for r, row in ipairs(rows) do
    local x = left + (area.width - row.width) / 2
    for _, e in ipairs(row) do
      legend[#legend + 1] = { series = e.series, x = x, y = top + area.height + 38 + 18 * r }
      x = x + e.width
    end
  end
  local function px(x) return left + (x - ax.lo) / (ax.hi - ax.lo) * area.width end
  local function py(y, a) return top + area.height - (y - a.lo) / (a.hi - a.lo) * area.height end

  local o = {}
  local function add(...) o[#o + 1] = string.format(...) end
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" ' ..
      'font-family="sans-serif" font-size="12">\n', W, H, W, H)
  add('<rect width="%d" height="%d" fill="white"/>\n', W, H)
  if opts.title then
    add('<text class="title" x="%s" y="24" text-anchor="middle" font-size="16">%s</text>\n',
        num(W / 2), escape(opts.title))
  end
  -- grid and ticks; the frame goes on top of the grid
  add('<g class="grid" stroke="#e0e0e0" stroke-width="1">\n')
  for _, v in ipairs(ay.ticks) do add('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', num(left), num(py(v, ay)), num(left + area.width), num(py(v, ay))) end
  add('</g>\n')
  add('<rect class="frame" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="black"/>\n',
      num(left), num(top), num(area.width), num(area.height))
  local yb = top + area.height
  add('<g class="xticks" text-anchor="middle">\n')
  for i, v in ipairs(ax.ticks) do
    add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', num(px(v)), num(yb), num(px(v)), num(yb + 5))
    add('<text x="%s" y="%s">%s</text>\n', num(px(v)), num(yb + 18), escape(ax.labels[i]))
  end
  add('</g>\n<g class="yticks" text-anchor="end">\n')
  for i, v in ipairs(ay.ticks) do
    add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', num(left - 5), num(py(v, ay)), num(left), num(py(v, ay)))
    add('<text x="%s" y="%s">%s</text>\n', num(left - 8), num(py(v, ay) + 4), escape(ay.labels[i]))
  end
  add('</g>\n')
  if ay2 then
    local xr = left + area.width
    add('<g class="y2ticks" text-anchor="start">\n')
    for i, v in ipairs(ay2.ticks) do
      add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/>', num(xr), num(py(v, ay2)), num(xr + 5), num(py(v, ay2)))
      add('<text x="%s" y="%s">%s</text>\n', num(xr + 8), num(py(v, ay2) + 4), escape(ay2.labels[i]))
    end
    add('</g>\n')
  end
  if opts.xlabel then
    add('<text class="xlabel" x="%s" y="%s" text-anchor="middle">%s</text>\n', num(left + area.width / 2), num(yb + 36), escape(opts.xlabel))
  end
  local mid = top + area.height / 2
  if opts.ylabel then
    add('<text class="ylabel" x="16" y="%s" text-anchor="middle" transform="rotate(-90 16 %s)">%s</text>\n', num(mid), num(mid), escape(opts.ylabel))
  end
  if ay2 and opts.y2label then
    add('<text class="y2label" x="%s" y="%s" text-anchor="middle" transform="rotate(90 %s %s)">%s</text>\n',
        num(W - 12), num(mid), num(W - 12), num(mid), escape(opts.y2label))
  end
  -- the curves: one polyline per run of finite points; a lone point gets a dot
  for _, s in ipairs(series) do
    local a = s.axis == "right" and ay2 or ay
    local dash = s.axis == "right" and ' stroke-dasharray="6 3"' or ""
    add('<g class="series" stroke="%s" fill="none" stroke-width="2"%s>\n', s.color, dash)
    local run = {}
    local function flush()
      if #run == 1 then add('<circle cx="%s" cy="%s" r="2.5" fill="%s"/>\n', run[1][1], run[1][2], s.color)
      elseif #run > 1 then
        local pts = {}
        for i, p in ipairs(run) do pts[i] = p[1] .. "," .. p[2] end
        add('<polyline points="%s"/>\n', table.concat(pts, " "))
      end
      run = {}
    end
    for i = 1, #s.y do
      if finite(s.y[i]) then run[#run + 1] = { num(px(s.x[i])), num(py(s.y[i], a)) } else flush() end
    end
    flush()
    add('</g>\n')
  end
  -- the legend: rows of entries under the x label, out of the curves' way
  add('<g class="legend">\n')
  for _, e in ipairs(legend) do
    local s = e.series
    add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>',
        num(e.x), num(e.y - 4), num(e.x + 22), num(e.y - 4), s.color, s.axis == "right" and ' stroke-dasharray="6 3"' or "")
    add('<text x="%s" y="%s">%s</text>\n', num(e.x + 28), num(e.y), escape(s.name))
  end
  add('</g>\n</svg>\n')

  local tmp = opts.path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error("plot.lines: cannot write " .. err, 2) end
  local ok, werr = f:write(table.concat(o))
  f:close()
  if not ok then os.remove(tmp) error("plot.lines: writing " .. tmp .. ": " .. tostring(werr), 2) end
  local rok, rerr = os.rename(tmp, opts.path)
  if not rok then os.remove(tmp) error("plot.lines: cannot move " .. tmp .. " to " .. opts.path .. ": " .. tostring(rerr), 2) end
  return { path = opts.path, width = W, height = H, area = area, x = ax, y = ay, y2 = ay2 }
end

return plot
