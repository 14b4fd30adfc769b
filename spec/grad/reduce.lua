-- Gradient cases of the reduce family (see spec/support/gradcheck.lua for the format).
local ember = require "ember"
return {
  { op = "sum", name = "all", inputs = { {2, 3} },
    ember = function(a) return a:sum() end, torch = "x[0].sum()" },
  { op = "sum", name = "dim 2 keepdim", inputs = { {2, 3, 2} },
    ember = function(a) return a:sum(2, true) end, torch = "x[0].sum(1, keepdim=True)" },
  { op = "sum", name = "dims {1, 3}", inputs = { {2, 3, 2} },
    ember = function(a) return a:sum({1, 3}) end, torch = "x[0].sum((0, 2))" },
}
