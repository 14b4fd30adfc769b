-- progress_spec.lua — ember.progress and the OS helpers under it: the exact lines of
-- both modes against a fake clock (hand-computed bars, rates and ETAs), throttling
-- (one redraw per 0.1 s on a terminal, one line per second piped), time formatting,
-- and real child processes: piped stderr gets plain lines, a pseudo-terminal (from
-- script(1)) gets \r redraws; ember.isatty and ember.monotonic themselves.
local ember = require "ember"
local progress = require "ember.progress"
local helpers = require "spec_helpers"

local err = helpers.error_of

-- A stream that records each write call's text, and a clock the test sets.
local function fake()
  local s = { chunks = {}, now = 0 }
  s.stream = { write = function(_, ...) s.chunks[#s.chunks + 1] = table.concat({ ... }) end }
  s.clock = function() return s.now end
  function s.text() return table.concat(s.chunks) end
  return s
end

local function lines(text)
  local t = {}
  for l in text:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("progress, piped", function()
  it("prints plain lines in the documented format", function()
    local f = fake()
    f.now = 10
    local bar = progress.new{ total = 100, desc = "epoch 1/5", unit = "samples", stream = f.stream,
                              clock = f.clock, tty = false }
    f.now = 10.25; bar:update(10, { loss = 0.25, acc = 0.5 })
    f.now = 10.5;  bar:update(10, { loss = 0.125 })
    f.now = 10.75; bar:update(10)
    assert.equal("", f.text())                         -- nothing before a second has passed
    f.now = 11;    bar:update(10)
    -- 40 in 1 s: 40 samples/s; 60 left at that rate: 1.5 s, shown rounded as 0:02
    assert.equal("epoch 1/5  40%  40/100 samples  acc=0.5 loss=0.125  40 samples/s  ETA 0:02\n", f.text())
    f.now = 14;    bar:update(60, { acc = 0.96875 })
    bar:close()
    assert.same({ "epoch 1/5  40%  40/100 samples  acc=0.5 loss=0.125  40 samples/s  ETA 0:02",
                  "epoch 1/5  100%  100/100 samples  acc=0.9688 loss=0.125  25 samples/s  ETA 0:00",
                  "epoch 1/5  100%  100/100 samples  acc=0.9688 loss=0.125  25 samples/s  done in 0:04" },
                lines(f.text()))
    bar:close()                                        -- closing twice adds nothing
    assert.equal(3, #lines(f.text()))
    assert.matches("update after close", err(bar.update, bar, 1))
  end)

  it("prints at most one line a second however often it is updated", function()
    local f = fake()
    local bar = progress.new{ total = 1000, stream = f.stream, clock = f.clock, tty = false }
    local times = {}
    local write = f.stream.write
    f.stream.write = function(...) times[#times + 1] = f.now; return write(...) end
    for k = 1, 1000 do
      f.now = k / 100                                   -- 100 updates a second for 10 s
      bar:update()
    end
    assert.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, times)
    bar:close()
    local l = lines(f.text())
    assert.equal(11, #l)
    assert.equal("30%  300/1000 it  100 it/s  ETA 0:07", l[3])
    assert.equal("100%  1000/1000 it  100 it/s  done in 0:10", l[11])
  end)

  it("works without a total, and with a short loop prints only the final line", function()
    local f = fake()
    local bar = progress.new{ desc = "eval", unit = "batches", stream = f.stream, clock = f.clock, tty = false }
    f.now = 0.5; bar:update(5)
    f.now = 0.75; bar:update(1, { loss = 2 })
    bar:close()
    assert.equal("eval  6 batches  loss=2  8 batches/s  done in 0:01\n", f.text())
  end)
end)

describe("progress, on a terminal", function()
  it("redraws one line with a bar fit to the width", function()
    local f = fake()
    local bar = progress.new{ total = 100, desc = "train", stream = f.stream, clock = f.clock,
                              tty = true, width = 80 }
    f.now = 0.5
    bar:update(25, { loss = 1.5 })
    -- "train   25% |" is 13 columns and "| 25/100 it  loss=1.5  50 it/s  ETA 0:02" 40;
    -- 79 usable columns leave 26 cells, a quarter of them 6.5: six full and a half
    local want = "\rtrain   25% |" .. ("█"):rep(6) .. "▌" .. (" "):rep(19) ..
                 "| 25/100 it  loss=1.5  50 it/s  ETA 0:02"
    assert.equal(want, f.text())
    assert.equal(79, utf8.len(want) - 1)
    f.chunks = {}
    f.now = 2
    bar:update(75)
    -- at the total: a full bar, drawn at once; "100/100" takes one column more than
    -- "25/100", so the bar has 25 cells
    assert.equal("\rtrain  100% |" .. ("█"):rep(25) .. "| 100/100 it  loss=1.5  50 it/s  ETA 0:00", f.text())
    f.chunks = {}
    bar:close()
    -- the final line ends the redrawn one; "done in 0:02" is longer than "ETA 0:00",
    -- so the bar gives up four cells
    assert.equal("\rtrain  100% |" .. ("█"):rep(21) .. "| 100/100 it  loss=1.5  50 it/s  done in 0:02\n", f.text())
  end)

  it("draws eighths of a cell and blanks out what a longer line left", function()
    local f = fake()
    local bar = progress.new{ total = 64, stream = f.stream, clock = f.clock, tty = true, width = 80 }
    f.now = 1
    bar:update(3, { note = "a long note" })
    -- "  4% |" 6 columns, "| 3/64 it  note=a long note  3 it/s  ETA 0:20" 45: 28 cells;
    -- 3/64 of 28 is 1.3125: one full cell and two eighths
    assert.equal("\r  4% |█▎" .. (" "):rep(26) .. "| 3/64 it  note=a long note  3 it/s  ETA 0:20", f.text())
    f.chunks = {}
    f.now = 2
    local narrow = progress.new{ stream = f.stream, clock = f.clock, tty = true, width = 80 }
    f.now = 3
    narrow:update(7, { s = "xxxxxxxx" })
    f.now = 4
    narrow:update(1, { s = "x" })
    -- no total: no bar; the second line is 7 columns shorter and spaces cover the rest
    assert.same({ "\r7 it  s=xxxxxxxx  7 it/s", "\r8 it  s=x  4 it/s" .. (" "):rep(7) }, f.chunks)
  end)

  it("redraws at most every 0.1 s, always at the total and at close", function()
    local f = fake()
    local bar = progress.new{ total = 100, stream = f.stream, clock = f.clock, tty = true, width = 60 }
    for k = 1, 100 do
      f.now = k / 32                                    -- 32 updates a second, exact in binary
      bar:update()
    end
    -- the first update draws (k = 1); then every fourth, 4/32 s >= 0.1 s > 3/32 s
    -- (k = 5, 9, ..., 97), and the total (k = 100)
    assert.equal(1 + 24 + 1, #f.chunks)
    bar:close()
    assert.equal(27, #f.chunks)
    assert.matches("\n$", f.chunks[27])
    for i = 1, 26 do assert.is_nil(f.chunks[i]:find("\n")) end
  end)

  it("drops the bar when the line leaves no room for it", function()
    local f = fake()
    local bar = progress.new{ total = 10, desc = "a rather long description", stream = f.stream,
                              clock = f.clock, tty = true, width = 50 }
    f.now = 1
    bar:update(5, { loss = 0.5 })
    -- "a rather long description   50%  5/10 it  loss=0.5  5 it/s  ETA 0:01" clipped to 49 columns
    assert.equal("\ra rather long description   50%  5/10 it  loss=0.", f.text())
  end)
end)

describe("progress helpers", function()
  it("formats times as M:SS and H:MM:SS", function()
    assert.equal("0:00", progress.format_time(0))
    assert.equal("0:00", progress.format_time(0.49))
    assert.equal("0:59", progress.format_time(59.4))
    assert.equal("1:00", progress.format_time(59.5))
    assert.equal("59:59", progress.format_time(3599.4))
    assert.equal("1:00:00", progress.format_time(3599.6))
    assert.equal("1:02:05", progress.format_time(3725))
    assert.equal("?", progress.format_time(0 / 0))
  end)

  it("computes the ETA from the average rate", function()
    local f = fake()
    local bar = progress.new{ total = 10000, stream = f.stream, clock = f.clock, tty = false }
    f.now = 1
    bar:update(1)
    -- 1 item a second, 9999 left: 2 h 46 min 39 s
    assert.equal("0%  1/10000 it  1 it/s  ETA 2:46:39\n", f.text())
    f.chunks = {}
    local b2 = progress.new{ total = 120, stream = f.stream, clock = f.clock, tty = false }
    f.now = 16
    b2:update(30)
    -- 30 in 15 s: 2 a second; 90 left: 45 s
    assert.equal("25%  30/120 it  2 it/s  ETA 0:45\n", f.text())
  end)

  it("refuses unknown options and bad arguments", function()
    assert.matches("unknown option 'totl'", err(progress.new, { totl = 3 }))
    assert.matches("total must be a non%-negative number", err(progress.new, { total = -1 }))
    local f = fake()
    local bar = progress.new{ stream = f.stream, clock = f.clock, tty = false }
    assert.matches("count must be a number", err(bar.update, bar, "x"))
    assert.matches("stats must be a table", err(bar.update, bar, 1, 5))
  end)

  it("closes at the end of a <close> scope, also on error", function()
    local f = fake()
    local ok = pcall(function()
      local bar <close> = progress.new{ total = 2, stream = f.stream, clock = f.clock, tty = false }
      f.now = 1
      bar:update(1)
      error("boom")
    end)
    assert.is_false(ok)
    assert.same({ "50%  1/2 it  1 it/s  ETA 0:01", "50%  1/2 it  1 it/s  done in 0:01" }, lines(f.text()))
  end)
end)

describe("OS helpers", function()
  local CHILD = helpers.child_command()

  it("ember.monotonic advances with real time", function()
    local a = ember.monotonic()
    assert.equal("float", math.type(a))
    os.execute("sleep 0.2")
    local d = ember.monotonic() - a
    assert.is_true(d >= 0.19 and d < 5, "slept 0.2 s, the clock moved " .. d)
  end)

  it("ember.isatty is false for a file and true on a pseudo-terminal", function()
    local out = os.tmpname()
    os.execute(string.format("%s -e 'io.write(tostring(require(\"ember\").isatty(2)))' 2>%s >%s",
                             CHILD, out, out))
    local f = io.open(out)
    assert.equal("false", f:read("a"))
    f:close()
    -- script(1) (util-linux, in every Debian) runs the command on a new pseudo-terminal
    local p = io.popen(string.format("script -qec \"%s -e 'io.write(tostring(require(\\\"ember\\\").isatty(2)))'\" /dev/null </dev/null",
                                     CHILD))
    local got = p:read("a")
    p:close()
    os.remove(out)
    assert.matches("true", got)
    assert.matches("bad argument #1 to 'ember.isatty' %(number expected, got string%)", err(ember.isatty, "x"))
    assert.matches("not a file descriptor", err(ember.isatty, -1))
  end)

  it("prints plain lines when stderr is a file, at most one a second", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local ember = require "ember"
local progress = require "ember.progress"
local t0 = ember.monotonic()
local bar = progress.new{ total = 8, desc = "child", unit = "steps" }
for i = 1, 8 do
  os.execute("sleep 0.3")
  bar:update(1, { loss = 1 / i })
end
bar:close()
io.write(ember.monotonic() - t0)
]])
    f:close()
    local errfile = os.tmpname()
    local p = io.popen(string.format("%s %s 2>%s", CHILD, script, errfile))
    local elapsed = tonumber(p:read("a"))
    p:close()
    f = io.open(errfile)
    local text = f:read("a")
    f:close()
    os.remove(script)
    os.remove(errfile)
    assert.is_nil(text:find("\r"))
    local l = lines(text)
    assert.is_true(#l >= 2, "expected progress lines and a final line, got: " .. text)
    for i = 1, #l - 1 do
      assert.matches("^child  %d+%%  %d/8 steps  loss=[%d.]+  [%d.]+ steps/s  ETA %d:%d%d$", l[i])
    end
    assert.matches("^child  100%%  8/8 steps  loss=0.125  [%d.]+ steps/s  done in 0:0[234]$", l[#l])
    assert.is_true(#l - 1 <= math.floor(elapsed), string.format("%d lines in %.2f s", #l - 1, elapsed))
  end)

  it("redraws with \\r when stderr is a terminal", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local progress = require "ember.progress"
local bar = progress.new{ total = 3, desc = "tty" }
for i = 1, 3 do os.execute("sleep 0.15") bar:update(1) end
bar:close()
]])
    f:close()
    local p = io.popen(string.format("COLUMNS=60 script -qec \"%s %s\" /dev/null </dev/null", CHILD, script))
    local got = p:read("a")
    p:close()
    os.remove(script)
    local draws = {}
    -- the terminal turns the final \n into \r\n: skip what that \r starts
    for d in got:gmatch("\r([^\r\n]*)") do if d ~= "" then draws[#draws + 1] = d end end
    assert.is_true(#draws >= 3, "expected redraws, got: " .. got)
    -- a multi-byte character takes no pattern repetition: count the cells as #
    assert.matches("^tty  100%% |#+| 3/3 it  [%d.]+ it/s  done in 0:0%d$", (draws[#draws]:gsub("█", "#")))
    assert.equal(59, utf8.len(draws[#draws]))
  end)
end)
