-- progress.lua — a progress bar on stderr for long loops (ember.progress).
--
--   local progress = require "ember.progress"
--   local bar = progress.new{ total = #train, desc = "epoch 1/5", unit = "samples" }
--   for xb, yb in loader:iter() do
--     ...
--     bar:update(xb:size(1), { loss = loss:item(), acc = acc })
--   end
--   bar:close()                       -- or: local bar <close> = progress.new{...}
--
-- update(k, stats) adds k (default 1) to the count and keeps the latest value of each
-- stat; stats print sorted by name. The rate is the average since new(), and the ETA
-- is what is left at that rate.
--
-- On a terminal (stderr a tty) the bar redraws one line with \r, at most every 0.1 s
-- (and at the first update, on reaching the total, and at close):
--   epoch 1/5   33% |█████████▍                   | 480/1437 samples  acc=0.97 loss=0.31  2513 samples/s  ETA 0:00
-- The bar takes what is left of the width: $COLUMNS, else the terminal's, else 80.
-- Piped, it prints a plain line at most once a second, the first a second after new(),
-- and a last line at close:
--   epoch 1/5  33%  480/1437 samples  acc=0.97 loss=0.31  2513 samples/s  ETA 0:00
--   epoch 1/5  100%  1437/1437 samples  acc=0.97 loss=0.29  2490 samples/s  done in 0:01
-- Without a total there is no percentage, bar or ETA.
--
-- For tests and other sinks, new() also takes stream (anything with :write; one other
-- than io.stderr or io.stdout counts as no terminal), tty (forces the mode), clock (a
-- function returning seconds), width (columns) and interval (seconds between lines).
local ember = require "ember"

local progress = {}

local Bar = {}
Bar.__index = Bar
Bar.__name = "ember.progress.Bar"

local PARTIAL = { "▏", "▎", "▍", "▌", "▋", "▊", "▉" }   -- 1/8 .. 7/8 of a cell
local FULL = "█"

local OPTIONS = { total = true, desc = true, unit = true, stream = true, tty = true,
                  clock = true, width = true, interval = true }

-- Seconds as M:SS, or H:MM:SS from an hour on.
function progress.format_time(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  local h, m, sec = s // 3600, s % 3600 // 60, s % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, sec) end
  return string.format("%d:%02d", m, sec)
end

local function format_rate(r)
  if r >= 100 then return string.format("%.0f", r) end
  return string.format("%.3g", r)
end

local function format_value(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return string.format("%.4g", v) end
  return tostring(v)
end

-- Display width: one column per code point (what the block characters take).
local function columns(s) return utf8.len(s) or #s end

local function clip(s, w)
  if columns(s) <= w then return s end
  local ok, cut = pcall(utf8.offset, s, w + 1)
  return s:sub(1, ok and cut and cut - 1 or w)
end

local function terminal_width()
  local c = math.tointeger(tonumber(os.getenv("COLUMNS") or ""))
  if c and c > 0 then return c end
  if ember.termwidth then c = ember.termwidth(2) end
  return c or 80
end

function progress.new(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTIONS[k] then error("progress.new: unknown option '" .. tostring(k) .. "'", 2) end
  end
  local total = opts.total
  if total ~= nil and (type(total) ~= "number" or total < 0) then
    error("progress.new: total must be a non-negative number, got " .. tostring(total), 2)
  end
  local stream = opts.stream or io.stderr
  local tty = opts.tty
  if tty == nil then
    -- only the standard streams have a descriptor to ask; any other sink is plain
    local fd = (stream == io.stderr and 2) or (stream == io.stdout and 1) or nil
    tty = fd ~= nil and ember.isatty ~= nil and ember.isatty(fd)
  end
  local clock = opts.clock or ember.monotonic or os.clock
  local b = setmetatable({
    total = total, desc = opts.desc and tostring(opts.desc) or nil, unit = opts.unit or "it",
    stream = stream, tty = tty, clock = clock,
    width = opts.width or (tty and terminal_width() or 80),
    interval = opts.interval or (tty and 0.1 or 1.0),
    n = 0, stats = {}, drawn = 0, closed = false,
  }, Bar)
  b.start = clock()
  -- piped, the first line waits a whole interval; on a tty the first update draws
  b.last = tty and -math.huge or b.start
  return b
end

-- The pieces of a line, joined by two spaces; final replaces the ETA by the elapsed time.
function Bar:line(now, final)
  local elapsed = now - self.start
  local rate = (elapsed > 0 and self.n > 0) and self.n / elapsed or nil
  local count = self.total and string.format("%d/%d %s", self.n, self.total, self.unit)
                or string.format("%d %s", self.n, self.unit)
  local names = {}
  for k in pairs(self.stats) do names[#names + 1] = k end
  table.sort(names)
  local stats = {}
  for i, k in ipairs(names) do stats[i] = k .. "=" .. format_value(self.stats[k]) end
  local tail = {}
  if #stats > 0 then tail[#tail + 1] = table.concat(stats, " ") end
  tail[#tail + 1] = (rate and format_rate(rate) or "?") .. " " .. self.unit .. "/s"
  if final then tail[#tail + 1] = "done in " .. progress.format_time(elapsed)
  elseif self.total then
    tail[#tail + 1] = "ETA " .. (rate and progress.format_time(math.max(self.total - self.n, 0) / rate) or "?")
  end
  local frac = self.total and (self.total > 0 and math.min(self.n / self.total, 1) or 1)
  local pct = frac and math.floor(frac * 100)
  local head = self.desc and (self.desc .. "  ") or ""
  local rest = table.concat(tail, "  ")
  if not self.tty then
    return head .. (pct and (pct .. "%  ") or "") .. count .. "  " .. rest
  end
  if not pct then return head .. count .. "  " .. rest end
  local before = head .. string.format("%3d%% |", pct)
  local after = "| " .. count .. "  " .. rest
  local room = self.width - 1 - columns(before) - columns(after)   -- the last column wraps
  if room < 10 then return clip(head .. string.format("%3d%%  ", pct) .. count .. "  " .. rest, self.width - 1) end
  local cells = frac * room
  local full = math.floor(cells)
  local eighths = math.floor((cells - full) * 8)
  local bar = FULL:rep(full) .. (eighths > 0 and PARTIAL[eighths] or "")
  bar = bar .. (" "):rep(room - full - (eighths > 0 and 1 or 0))
  return before .. bar .. after
end

function Bar:draw(now, final)
  local line = self:line(now, final)
  local s = self.stream
  if self.tty then
    local w = columns(line)
    s:write("\r", line, (" "):rep(math.max(self.drawn - w, 0)), final and "\n" or "")
    self.drawn = w
  else
    s:write(line, "\n")
  end
  if s.flush then s:flush() end
  self.last = now
end

-- Add k (default 1) to the count; stats (optional) is a table name -> value.
function Bar:update(k, stats)
  if self.closed then error("progress: update after close", 2) end
  k = k or 1
  if type(k) ~= "number" then error("progress: update count must be a number, got " .. type(k), 2) end
  self.n = self.n + k
  if stats then
    if type(stats) ~= "table" then error("progress: stats must be a table", 2) end
    for name, v in pairs(stats) do self.stats[name] = v end
  end
  local now = self.clock()
  local reached = self.tty and self.total and self.n >= self.total and not self.reached
  if reached then self.reached = true end
  if reached or now - self.last >= self.interval then self:draw(now, false) end
end

-- The final line (a newline ends the redrawn one on a terminal). Closing twice is a no-op.
function Bar:close(stats)
  if self.closed then return end
  if stats then for name, v in pairs(stats) do self.stats[name] = v end end
  self.closed = true
  self:draw(self.clock(), true)
end
-- `local bar <close> = progress.new{...}`: closes on leaving the scope, error or not
Bar.__close = function(self) self:close() end

return progress
