-- Gradient cases of the elementwise family (see spec/support/gradcheck.lua for the format).
local ember = require "ember"
return {
  { op = "add", name = "same shape", inputs = { {2, 3}, {2, 3} },
    ember = function(a, b) return a + b end, torch = "x[0] + x[1]" },
  { op = "add", name = "broadcast and alpha", inputs = { {2, 3}, {3} },
    ember = function(a, b) return ember.add(a, b, 2.5) end, torch = "torch.add(x[0], x[1], alpha=2.5)" },
  { op = "add", name = "broadcast both ways", inputs = { {2, 1, 3}, {4, 1} },
    ember = function(a, b) return a + b end, torch = "x[0] + x[1]" },
  { op = "mul", name = "broadcast with a number", inputs = { {3, 2}, {1, 2} },
    ember = function(a, b) return a * b * 3 end, torch = "x[0] * x[1] * 3" },
  { op = "mul", name = "same tensor twice", inputs = { {5} },
    ember = function(a) return a * a end, torch = "x[0] * x[0]" },
  { op = "relu", name = "mixed signs", inputs = { {3, 4} },
    ember = function(a) return a:relu() end, torch = "torch.relu(x[0])" },
}
