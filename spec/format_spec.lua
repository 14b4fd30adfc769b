-- format_spec.lua — print(t): exact text of Torch7-style layouts, scale lines, blocks,
-- elision, footers, and views read through their strides.
local ember = require "ember"

-- a rows x cols nested table counting 1, 2, 3... (times k)
local function counting(rows, cols, k)
  local r = {}
  for i = 1, rows do
    r[i] = {}
    for j = 1, cols do r[i][j] = ((i - 1) * cols + j) * (k or 1) end
  end
  return r
end

local function lines(...) return table.concat({ ... }, "\n") end

describe("format", function()
  it("prints a 2x3 float tensor in aligned columns", function()
    local t = ember.tensor({{1.5, -2.25, 3}, {4, 5, 6.125}}, "f32")
    assert.equal(lines(
      " 1.5000 -2.2500  3.0000",
      " 4.0000  5.0000  6.1250",
      "[ember.FloatTensor of size 2x3 (cpu)]"), tostring(t))
  end)

  it("prints integers as integers, aligned with room for a sign", function()
    assert.equal(lines(
      "   1   -2    3",
      " 100    5 -600",
      "[ember.LongTensor of size 2x3 (cpu)]"), tostring(ember.tensor({{1, -2, 3}, {100, 5, -600}})))
    assert.equal(lines(
      " 1  2",
      " 3  4",
      "[ember.IntTensor of size 2x2 (cpu)]"), tostring(ember.tensor({{1, 2}, {3, 4}}, "i32")))
    -- integral floats print as integers too, as in Torch7
    assert.equal(lines(
      " 1  2  3",
      "[ember.DoubleTensor of size 1x3 (cpu)]"), tostring(ember.tensor({{1, 2, 3}}, "f64")))
    -- a 1-D tensor is a column
    assert.equal(lines(
      " 7",
      "-8",
      "[ember.ShortTensor of size 2 (cpu)]"), tostring(ember.tensor({7, -8}, "i16")))
  end)

  it("puts a common scale line above small or large values", function()
    local t = ember.tensor({{0.001, 0.0025}, {-0.0001, 0.005}}, "f64")
    assert.equal(lines(
      "1e-03 *",
      " 1.0000  2.5000",
      "-0.1000  5.0000",
      "[ember.DoubleTensor of size 2x2 (cpu)]"), tostring(t))
    assert.equal(lines(
      "1e+05 *",
      " 1.2346",
      " 0.2500",
      "[ember.DoubleTensor of size 2 (cpu)]"), tostring(ember.tensor({123456.5, 25000.5}, "f64")))
  end)

  it("switches to %e when magnitudes span more than four decades", function()
    assert.equal(lines(
      " 1.0000e-07",
      "-1.0000e+00",
      " 1.2300e+02",
      "[ember.DoubleTensor of size 3 (cpu)]"), tostring(ember.tensor({1e-7, -1, 123}, "f64")))
  end)

  it("prints a 2x2x2 tensor as 1-based (i,.,.) blocks", function()
    local t = ember.tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, "u8")
    assert.equal(lines(
      "(1,.,.) =",
      "  1  2",
      "  3  4",
      "",
      "(2,.,.) =",
      "  5  6",
      "  7  8",
      "[ember.ByteTensor of size 2x2x2 (cpu)]"), tostring(t))
  end)

  it("prints a 4-D tensor with two leading indices", function()
    local t = ember.tensor({{{{1}}, {{2}}}}, "i8")
    assert.equal(lines(
      "(1,1,.,.) =",
      "  1",
      "",
      "(1,2,.,.) =",
      "  2",
      "[ember.CharTensor of size 1x2x1x1 (cpu)]"), tostring(t))
  end)

  it("prints a 0-dim tensor as its value", function()
    assert.equal(lines("3.5000", "[ember.FloatTensor of size [] (cpu)]"), tostring(ember.tensor(3.5)))
    assert.equal(lines("-7", "[ember.LongTensor of size [] (cpu)]"), tostring(ember.tensor(-7)))
    assert.equal(lines("1.0000e-04", "[ember.DoubleTensor of size [] (cpu)]"),
                 tostring(ember.tensor(0.0001, "f64")))
  end)

  it("prints an empty tensor", function()
    assert.equal("[ember.FloatTensor with no elements, size 0 (cpu)]", tostring(ember.tensor({})))
  end)

  it("prints bool as true/false", function()
    assert.equal(lines(
      "  true  false",
      " false   true",
      "[ember.BoolTensor of size 2x2 (cpu)]"),
      tostring(ember.tensor({{true, false}, {false, true}})))
  end)

  it("prints nan and inf", function()
    assert.equal(lines(
      "    nan",
      "    inf",
      "   -inf",
      " 1.5000",
      "[ember.FloatTensor of size 4 (cpu)]"), tostring(ember.tensor({0 / 0, 1 / 0, -1 / 0, 1.5})))
  end)

  it("names every dtype in the footer", function()
    local names = { f32 = "Float", f64 = "Double", f16 = "Half", bf16 = "BFloat16", i8 = "Char",
                    i16 = "Short", i32 = "Int", i64 = "Long", u8 = "Byte", bool = "Bool" }
    for dtype, name in pairs(names) do
      local s = tostring(ember.tensor({1, 0}, dtype))
      assert.equal("[ember." .. name .. "Tensor of size 2 (cpu)]", s:match("[^\n]*$"))
    end
    assert.equal(lines(" 0.5000", " 0.1000", "[ember.HalfTensor of size 2 (cpu)]"),
                 tostring(ember.tensor({0.5, 0.1}, "f16")))
  end)

  it("elides the middle of a tensor with more than 1000 elements", function()
    local t = ember.tensor(counting(40, 50))          -- 2000 elements
    assert.equal(lines(
      "    1     2     3   ...    48    49    50",
      "   51    52    53   ...    98    99   100",
      "  101   102   103   ...   148   149   150",
      "  ...   ...   ...   ...   ...   ...   ...",
      " 1851  1852  1853   ...  1898  1899  1900",
      " 1901  1902  1903   ...  1948  1949  1950",
      " 1951  1952  1953   ...  1998  1999  2000",
      "[ember.LongTensor of size 40x50 (cpu)]"), tostring(t))
    local flat = {}
    for i = 1, 1001 do flat[i] = i end
    assert.equal(lines("    1", "    2", "    3", "  ...", "  999", " 1000", " 1001",
                       "[ember.LongTensor of size 1001 (cpu)]"), tostring(ember.tensor(flat)))
    -- exactly 1000 elements: all shown
    local s = tostring(ember.tensor(counting(1000, 1)))
    assert.is_nil(s:find("...", 1, true))
    assert.equal(1000, select(2, s:gsub("\n", "")))   -- 1000 value lines, then the footer
  end)

  it("elides leading dims of a big 3-D tensor with a (...) line", function()
    local c = {}
    for a = 1, 8 do c[a] = counting(2, 100, a) end    -- 1600 elements
    local s = tostring(ember.tensor(c, "i32"))
    local headers = {}
    for h in s:gmatch("%(([%d.,]+)%) =") do headers[#headers + 1] = h end
    assert.same({ "1,.,.", "2,.,.", "3,.,.", "6,.,.", "7,.,.", "8,.,." }, headers)
    assert.truthy(s:find("\n\n(...)\n\n(6,.,.) =\n", 1, true))
    -- block 8: rows 1..100 and 101..200 times 8, middle columns elided
    assert.truthy(s:find("(8,.,.) =\n     8    16    24   ...   784   792   800\n" ..
                         "   808   816   824   ...  1584  1592  1600\n", 1, true))
    assert.equal("[ember.IntTensor of size 8x2x100 (cpu)]", s:match("[^\n]*$"))
  end)

  it("cuts wide matrices into Columns chunks", function()
    local s = tostring(ember.tensor(counting(2, 30), "f32") / 8)
    local got = {}
    for l in (s .. "\n"):gmatch("(.-)\n") do got[#got + 1] = l end
    assert.same({
      "Columns 1 to 10",                            -- 10 cells of 7 + 9 spaces fit in 80
      " 0.1250  0.2500  0.3750  0.5000  0.6250  0.7500  0.8750  1.0000  1.1250  1.2500",
      " 3.8750  4.0000  4.1250  4.2500  4.3750  4.5000  4.6250  4.7500  4.8750  5.0000",
      "",
      "Columns 11 to 20",
    }, { table.unpack(got, 1, 5) })
    assert.equal("Columns 21 to 30", got[9])
    assert.equal(" 6.3750  6.5000  6.6250  6.7500  6.8750  7.0000  7.1250  7.2500  7.3750  7.5000", got[11])
    assert.equal("[ember.FloatTensor of size 2x30 (cpu)]", got[12])
    assert.equal(12, #got)
  end)

  it("reads non-contiguous views through their strides", function()
    local a = ember.tensor({{1, 2, 3}, {4, 5, 6}}, "f32")
    local at = a:t()
    assert.is_false(at:is_contiguous())
    assert.equal(lines(" 1  4", " 2  5", " 3  6", "[ember.FloatTensor of size 3x2 (cpu)]"),
                 tostring(at))
    local cols = a[{ {}, {1, 3, 2} }]                -- columns 1 and 3
    assert.equal(lines(" 1  3", " 4  6", "[ember.FloatTensor of size 2x2 (cpu)]"), tostring(cols))
    -- a big strided view elides from its own values
    local big = ember.tensor(counting(50, 40)):t()   -- 40x50, column-major
    local s = tostring(big)
    assert.equal("    1    41    81   ...  1881  1921  1961\n", s:sub(1, 42))
    local tail = "   40    80   120   ...  1920  1960  2000\n[ember.LongTensor of size 40x50 (cpu)]"
    assert.equal(tail, s:sub(-#tail))
  end)

  it("takes print options", function()
    local old = ember.set_printoptions({ threshold = 4, edgeitems = 1 })
    assert.same({ threshold = 1000, edgeitems = 3, linewidth = 80 }, old)
    local ok, s = pcall(tostring, ember.tensor({ 1, 2, 3, 4, 5 }))
    ember.set_printoptions(old)
    assert.is_true(ok, s)
    assert.equal(lines("   1", " ...", "   5", "[ember.LongTensor of size 5 (cpu)]"), s)
    local bad, err = pcall(ember.set_printoptions, { edge = 2 })
    assert.is_false(bad)
    assert.truthy(err:find("set_printoptions: unknown option \"edge\"", 1, true))
    bad, err = pcall(ember.set_printoptions, { linewidth = 0 })
    assert.is_false(bad)
    assert.truthy(err:find("set_printoptions: linewidth must be a positive integer, got 0", 1, true))
    assert.equal(1000, ember.set_printoptions({}).threshold)
  end)

  it("is what print shows", function()
    local got
    local old = print
    print = function(...) got = tostring(...) end   -- luacheck: ignore
    print(ember.tensor({1}))
    print = old                                      -- luacheck: ignore
    assert.equal(lines(" 1", "[ember.LongTensor of size 1 (cpu)]"), got)
  end)
end)
