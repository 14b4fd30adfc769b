-- Gradient cases of the fused losses (see spec/support/gradcheck.lua for the format).
-- Targets are 1-based class indices in ember, 0-based in torch ("x[1] - 1").
local ember = require "ember"
local targets = ember.tensor({ 2, 5, 1, 3 })
local with_ignored = ember.tensor({ 2, -100, 1, 3 })
local spatial = ember.tensor({ { { 1, 2 }, { 3, 1 } }, { { 2, 2 }, { 3, -100 } } })
local w = ember.tensor({ 0.5, 1, 2, 1.5, 0.25 }, "f32")
return {
  { op = "cross_entropy", name = "mean", inputs = { { 4, 5 }, { value = targets } },
    ember = function(x, t) return ember.cross_entropy(x, t) end,
    torch = "F.cross_entropy(x[0], x[1] - 1)" },
  { op = "cross_entropy", name = "sum, a transposed input", inputs = { { 5, 4 }, { value = targets } },
    ember = function(x, t) return ember.cross_entropy(x:t(), t, nil, { reduction = "sum" }) end,
    torch = "F.cross_entropy(x[0].t(), x[1] - 1, reduction='sum')" },
  { op = "cross_entropy", name = "none, ignore_index", inputs = { { 4, 5 }, { value = with_ignored } },
    ember = function(x, t) return ember.cross_entropy(x, t, nil, { reduction = "none" }) end,
    torch = "F.cross_entropy(x[0], torch.where(x[1] < 0, x[1], x[1] - 1), reduction='none')" },
  { op = "cross_entropy", name = "class weights, ignore_index, label smoothing",
    inputs = { { 4, 5 }, { value = with_ignored }, { value = w } },
    ember = function(x, t, wt) return ember.cross_entropy(x, t, wt, { label_smoothing = 0.2 }) end,
    torch = "F.cross_entropy(x[0], torch.where(x[1] < 0, x[1], x[1] - 1), weight=x[2], label_smoothing=0.2)" },
  { op = "cross_entropy", name = "N x C x H x W with an ignored pixel",
    inputs = { { 2, 3, 2, 2 }, { value = spatial } },
    ember = function(x, t) return ember.cross_entropy(x, t, nil, { label_smoothing = 0.1 }) end,
    torch = "F.cross_entropy(x[0], torch.where(x[1] < 0, x[1], x[1] - 1), label_smoothing=0.1)" },
  { op = "cross_entropy", name = "one unbatched row", inputs = { { 5 }, { value = ember.tensor(4) } },
    ember = function(x, t) return ember.cross_entropy(x, t) end,
    torch = "F.cross_entropy(x[0], x[1] - 1)" },
}
