-- ratio.lua — pairs "ember X" with "torch X" lines from a file and prints each figure
-- beside its peer with the ratio (peer / ember: above 1 means ember is faster).
local ember_t, torch_t, order = {}, {}, {}
for line in io.lines(arg[1]) do
  local who, name, v = line:match("^(%a+) (.-)\t([%d%.e%-]+)")
  if who == "ember" then ember_t[name] = tonumber(v); order[#order + 1] = name
  elseif who == "torch" then torch_t[name] = tonumber(v) end
end
for _, name in ipairs(order) do
  local e, t = ember_t[name], torch_t[name]
  print(string.format("%-18s ember %8.3f us   torch %8.3f us   torch/ember %5.2fx",
                      name, e * 1e6, t * 1e6, t / e))
end
