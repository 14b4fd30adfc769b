-- Gradient cases of the linalg family (see spec/support/gradcheck.lua for the format).
local ember = require "ember"
return {
  { op = "mm", name = "3x4 @ 4x2", inputs = { {3, 4}, {4, 2} },
    ember = function(a, b) return a:mm(b) end, torch = "x[0].mm(x[1])" },
  { op = "mm", name = "transposed views", inputs = { {4, 3}, {2, 4} },
    ember = function(a, b) return a:t():mm(b:t()) end, torch = "x[0].t().mm(x[1].t())" },
}
