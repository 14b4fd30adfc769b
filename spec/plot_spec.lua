-- plot_spec.lua — ember.plot: nice tick values for known ranges and their invariants
-- on random ones; the SVG read back by Python's XML parser (/usr/bin/python3,
-- xml.etree), which also proves it well-formed: tick labels and positions, points at
-- the pixels the axes put them (corners and centre of the frame), the second y axis,
-- legend entries and colours, escaped text, gaps for non-finite values, the write by
-- rename, and error messages.
local ember = require "ember"
local plot = require "ember.plot"
local json = require "dkjson"
local helpers = require "spec_helpers"

local PY = "/usr/bin/python3"

local err = helpers.error_of

-- Everything the checks need from an SVG file, as Python's XML parser sees it.
local READER = [==[
import json, sys
import xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
def f(e, k): return float(e.get(k))
def group(cls):
    for g in root.iter(NS + "g"):
        if g.get("class") == cls: return g
    return None
def text_of(cls):
    for t in root.iter(NS + "text"):
        if t.get("class") == cls: return t.text
    return None
def ticks(cls):
    g = group(cls)
    if g is None: return None
    lines = [e for e in g if e.tag == NS + "line"]
    texts = [e for e in g if e.tag == NS + "text"]
    return {"labels": [t.text for t in texts],
            "x": [f(l, "x1") for l in lines], "y": [f(l, "y1") for l in lines],
            "x2": [f(l, "x2") for l in lines], "y2": [f(l, "y2") for l in lines]}
frame = [r for r in root.iter(NS + "rect") if r.get("class") == "frame"][0]
series = []
for g in root.iter(NS + "g"):
    if g.get("class") != "series": continue
    series.append({"stroke": g.get("stroke"), "dash": g.get("stroke-dasharray"),
                   "polylines": [[[float(v) for v in p.split(",")] for p in pl.get("points").split()]
                                 for pl in g.iter(NS + "polyline")],
                   "circles": [[f(c, "cx"), f(c, "cy")] for c in g.iter(NS + "circle")]})
legend = group("legend")
lines = [e for e in legend if e.tag == NS + "line"]
texts = [e for e in legend if e.tag == NS + "text"]
print(json.dumps({
    "tag": root.tag, "width": root.get("width"), "height": root.get("height"),
    "viewBox": root.get("viewBox"),
    "title": text_of("title"), "xlabel": text_of("xlabel"), "ylabel": text_of("ylabel"),
    "y2label": text_of("y2label"),
    "frame": [f(frame, "x"), f(frame, "y"), f(frame, "width"), f(frame, "height")],
    "xticks": ticks("xticks"), "yticks": ticks("yticks"), "y2ticks": ticks("y2ticks"),
    "series": series,
    "legend": [{"name": t.text, "stroke": l.get("stroke"), "dash": l.get("stroke-dasharray"),
                "y": f(t, "y"), "x": f(l, "x1")} for l, t in zip(lines, texts)],
}))
]==]

local function read_svg(path)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(READER)
  f:close()
  local p = assert(io.popen(PY .. " " .. script .. " " .. path .. " 2>&1"))
  local out = p:read("a")
  p:close()
  os.remove(script)
  local v = json.decode(out)
  assert(type(v) == "table", "the SVG did not parse: " .. out)
  return v
end

local function near(a, b, what) assert(math.abs(a - b) <= 0.011, string.format("%s: %.3f, expected %.3f", what, a, b)) end

local function near_points(want, got, what)
  assert.equal(#want, #got, what .. ": point count")
  for i = 1, #want do
    near(got[i][1], want[i][1], what .. " point " .. i .. " x")
    near(got[i][2], want[i][2], what .. " point " .. i .. " y")
  end
end

local function tmpsvg()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".svg"
end

describe("plot.ticks", function()
  it("picks 1-2-5 steps for known ranges", function()
    local cases = {
      { 0, 1, { 0, 0.2, 0.4, 0.6, 0.8, 1 }, { "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" } },
      { 0, 10, { 0, 2, 4, 6, 8, 10 }, { "0", "2", "4", "6", "8", "10" } },
      { 1, 20, { 0, 5, 10, 15, 20 }, { "0", "5", "10", "15", "20" } },
      { 1, 5, { 1, 2, 3, 4, 5 }, { "1", "2", "3", "4", "5" } },
      { 0.05, 1.84, { 0, 0.5, 1, 1.5, 2 }, { "0.0", "0.5", "1.0", "1.5", "2.0" } },
      { -3, 7, { -4, -2, 0, 2, 4, 6, 8 }, { "-4", "-2", "0", "2", "4", "6", "8" } },
      { 0.93, 0.98, { 0.93, 0.94, 0.95, 0.96, 0.97, 0.98 }, { "0.93", "0.94", "0.95", "0.96", "0.97", "0.98" } },
      { 0, 1000, { 0, 200, 400, 600, 800, 1000 }, { "0", "200", "400", "600", "800", "1000" } },
      { 2, 2, { 1.8, 1.9, 2, 2.1, 2.2 }, { "1.8", "1.9", "2.0", "2.1", "2.2" } },   -- one value: +-10 %
      { 0, 0, { -1, -0.5, 0, 0.5, 1 }, { "-1.0", "-0.5", "0.0", "0.5", "1.0" } },
    }
    for _, c in ipairs(cases) do
      local ticks, _, labels = plot.ticks(c[1], c[2])
      assert.same(c[3], ticks, string.format("ticks of %g..%g", c[1], c[2]))
      assert.same(c[4], labels, string.format("labels of %g..%g", c[1], c[2]))
    end
  end)

  it("encloses any range in evenly spaced ticks of a nice step", function()
    local g = require("ember.data").pcg32(17)
    for _ = 1, 500 do
      local scale = 10 ^ (g:below(13) - 6)
      local a = (g:next_u32() / 2 ^ 32 - 0.5) * scale
      local b = a + g:next_u32() / 2 ^ 32 * scale + 1e-3 * scale
      local ticks, step = plot.ticks(a, b)
      local mant = step / 10 ^ math.floor(math.log(step, 10) + 1e-9)
      assert(math.abs(mant - 1) < 1e-9 or math.abs(mant - 2) < 1e-9 or math.abs(mant - 5) < 1e-9,
             "step " .. step .. " is not 1, 2 or 5 times a power of ten")
      assert(ticks[1] <= a + 1e-9 * scale and ticks[#ticks] >= b - 1e-9 * scale,
             string.format("%g..%g not enclosed by %g..%g", a, b, ticks[1], ticks[#ticks]))
      assert(#ticks >= 2 and #ticks <= 8, #ticks .. " ticks for " .. a .. ".." .. b)
      for i = 2, #ticks do
        assert(math.abs(ticks[i] - ticks[i - 1] - step) <= 1e-9 * math.max(scale, step), "uneven ticks")
      end
    end
  end)

  it("refuses a range that is not one", function()
    assert.matches("plot.ticks: bad range 1..0", err(plot.ticks, 1, 0))
    assert.matches("bad range", err(plot.ticks, 0, 0 / 0))
    assert.matches("bad range", err(plot.ticks, 0, math.huge))
  end)
end)

describe("plot.lines", function()
  it("puts points at the pixels the axes give them", function()
    local path = tmpsvg()
    local layout = plot.lines{ path = path, title = "digits", xlabel = "epoch", ylabel = "loss",
      y2label = "accuracy",
      series = { { name = "train loss", x = { 0, 5, 10 }, y = { 0, 0.5, 1 } },
                 { name = "test acc", x = { 0, 10 }, y = { 0.9, 1.0 }, axis = "right" } } }
    local s = read_svg(path)
    os.remove(path)
    assert.equal("{http://www.w3.org/2000/svg}svg", s.tag)
    assert.equal("640", s.width)
    assert.equal("400", s.height)
    assert.equal("0 0 640 400", s.viewBox)
    assert.equal("digits", s.title)
    assert.equal("epoch", s.xlabel)
    assert.equal("loss", s.ylabel)
    assert.equal("accuracy", s.y2label)
    local fx, fy, fw, fh = table.unpack(s.frame)
    assert.same({ fx, fy, fw, fh }, { layout.area.left, layout.area.top, layout.area.width, layout.area.height })
    -- ticks: labels, and marks spread evenly from one edge of the frame to the other
    assert.same({ "0", "2", "4", "6", "8", "10" }, s.xticks.labels)
    assert.same({ "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" }, s.yticks.labels)
    assert.same({ "0.90", "0.92", "0.94", "0.96", "0.98", "1.00" }, s.y2ticks.labels)
    for i = 1, 6 do
      near(s.xticks.x[i], fx + fw * (i - 1) / 5, "x tick " .. i)
      near(s.yticks.y[i], fy + fh - fh * (i - 1) / 5, "y tick " .. i)
      near(s.y2ticks.y[i], fy + fh - fh * (i - 1) / 5, "y2 tick " .. i)
      near(s.yticks.x2[i], fx, "y tick " .. i .. " at the frame's left")
      near(s.y2ticks.x[i], fx + fw, "y2 tick " .. i .. " at the frame's right")
    end
    -- (0, 0), (5, 0.5), (10, 1): bottom-left corner, centre, top-right corner
    assert.equal(2, #s.series)
    near_points({ { fx, fy + fh }, { fx + fw / 2, fy + fh / 2 }, { fx + fw, fy } }, s.series[1].polylines[1], "left series")
    -- on the right axis 0.9..1.0: (0, 0.9) and (10, 1.0) are the opposite corners too
    near_points({ { fx, fy + fh }, { fx + fw, fy } }, s.series[2].polylines[1], "right series")
    assert.is_nil(s.series[1].dash)
    assert.equal("6 3", s.series[2].dash)
  end)

  it("maps any point linearly between the end ticks", function()
    local path = tmpsvg()
    local xs, ys = {}, {}
    for i = 1, 7 do xs[i] = i * 1.5; ys[i] = math.sin(i) * 3 end
    local layout = plot.lines{ path = path, width = 500, height = 300, series = { { name = "s", x = xs, y = ys } } }
    local s = read_svg(path)
    os.remove(path)
    assert.equal("500", s.width)
    local fx, fy, fw, fh = table.unpack(s.frame)
    local x0, x1 = tonumber(s.xticks.labels[1]), tonumber(s.xticks.labels[#s.xticks.labels])
    local y0, y1 = tonumber(s.yticks.labels[1]), tonumber(s.yticks.labels[#s.yticks.labels])
    assert.same({ 0, 12 }, { x0, x1 })          -- 1.5..10.5 in steps of 2
    assert.same({ -4, 4 }, { y0, y1 })          -- -2.88..2.73 in steps of 2
    assert.equal(x1, layout.x.hi)
    local want = {}
    for i = 1, 7 do want[i] = { fx + (xs[i] - x0) / (x1 - x0) * fw, fy + fh - (ys[i] - y0) / (y1 - y0) * fh } end
    near_points(want, s.series[1].polylines[1], "points")
    assert.is_nil(s.y2ticks)                    -- no right series, no right axis
    assert.is_nil(s.title)
  end)

  it("has a legend entry per series, in order, with distinct colours", function()
    local path = tmpsvg()
    local series = {}
    for k = 1, 4 do series[k] = { name = "series " .. k, y = { k, k + 1 }, axis = k == 4 and "right" or nil } end
    series[2].color = "#000000"
    plot.lines{ path = path, series = series }
    local s = read_svg(path)
    os.remove(path)
    local fx, fy, fw, fh = table.unpack(s.frame)
    assert.equal(4, #s.legend)
    local seen = {}
    for k, e in ipairs(s.legend) do
      assert.equal("series " .. k, e.name)
      assert.equal(s.series[k].stroke, e.stroke)
      assert.is_nil(seen[e.stroke], "colour " .. e.stroke .. " used twice")
      seen[e.stroke] = true
      assert.is_true(e.y > fy + fh + 30, "legend below the x axis")
      assert.is_true(e.x >= fx and e.x <= fx + fw, "legend within the plot's width")
    end
    assert.equal("#000000", s.legend[2].stroke)
    assert.equal("6 3", s.legend[4].dash)
    assert.is_nil(s.legend[1].dash)
  end)

  it("escapes text so the file stays well-formed", function()
    local path = tmpsvg()
    local title = [[loss < 1 & "acc" > 0.9 'ok']]
    plot.lines{ path = path, title = title, xlabel = "époque <n>", ylabel = "a&b",
                series = { { name = "<train> & \"test\"", y = { 1, 2 } } } }
    local s = read_svg(path)
    local f = io.open(path)
    local raw = f:read("a")
    f:close()
    os.remove(path)
    assert.equal(title, s.title)
    assert.equal("époque <n>", s.xlabel)
    assert.equal("a&b", s.ylabel)
    assert.equal("<train> & \"test\"", s.legend[1].name)
    assert.truthy(raw:find("loss &lt; 1 &amp; &quot;acc&quot; &gt; 0.9 &apos;ok&apos;", 1, true))
    assert.equal("a &lt; b", plot.escape("a < b"))
  end)

  it("leaves gaps at non-finite values and takes tensors", function()
    local path = tmpsvg()
    plot.lines{ path = path, series = {
      { name = "gappy", y = ember.tensor({ 1, 0 / 0, 2, 3, math.huge, 4, 5 }, "f64") },
      { name = "t", x = ember.tensor({ 1, 2 }, "f32"), y = ember.tensor({ 2, 2 }, "f32") } } }
    local s = read_svg(path)
    os.remove(path)
    local g = s.series[1]
    assert.equal(1, #g.circles)                 -- the lone first point
    assert.equal(2, #g.polylines)               -- 2, 3 and 4, 5
    assert.equal(2, #g.polylines[1])
    assert.equal(2, #g.polylines[2])
    assert.same({ "0", "2", "4", "6", "8" }, s.xticks.labels)   -- x defaults to 1..7
    assert.equal(1, #s.series[2].polylines)
  end)

  it("writes through a temporary file renamed into place", function()
    local path = tmpsvg()
    local f = assert(io.open(path, "w"))
    f:write(string.rep("old content that is longer than nothing ", 1000))
    f:close()
    plot.lines{ path = path, series = { { name = "a", y = { 1, 2, 3 } } } }
    local s = read_svg(path)
    assert.equal("a", s.legend[1].name)
    assert.is_nil(io.open(path .. ".tmp"))
    os.remove(path)
    assert.matches("plot.lines: cannot write /nonexistent/dir/c.svg.tmp",
                   err(plot.lines, { path = "/nonexistent/dir/c.svg", series = { { name = "a", y = { 1 } } } }))
  end)

  it("names what is wrong with the options", function()
    local p = "/tmp/never-written.svg"
    assert.matches("path %(a file name%) is required", err(plot.lines, { series = { { y = { 1 } } } }))
    assert.matches("series must be a non%-empty list", err(plot.lines, { path = p, series = {} }))
    assert.matches("series 2 %(acc%) has 3 x values and 2 y values",
      err(plot.lines, { path = p, series = { { name = "l", y = { 1 } }, { name = "acc", x = { 1, 2, 3 }, y = { 1, 2 } } } }))
    assert.matches('series 1 %(l%): axis must be "left" or "right", got up',
      err(plot.lines, { path = p, series = { { name = "l", y = { 1 }, axis = "up" } } }))
    assert.matches("series 1 %(l%).y%[2%] is a string, not a number",
      err(plot.lines, { path = p, series = { { name = "l", y = { 1, "x" } } } }))
    assert.matches("series 1 %(l%) has no y", err(plot.lines, { path = p, series = { { name = "l" } } }))
    assert.matches("series 1 %(l%).x%[1%] is not finite",
      err(plot.lines, { path = p, series = { { name = "l", x = { 0 / 0 }, y = { 1 } } } }))
    assert.matches("leave no room", err(plot.lines, { path = p, width = 50, series = { { name = "l", y = { 1 } } } }))
    assert.is_nil(io.open(p))
  end)
end)
