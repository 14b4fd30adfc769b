-- ratio.lua — pairs "ember X" with "torch X" lines from a file and prints each figure
-- beside its peer with the ratio (peer / ember: above 1 means ember is faster).
--   ember scripts/bench/ratio.lua FILE          times in us (dispatch.lua, train.lua)
--   ember scripts/bench/ratio.lua FILE vulkan   vk.lua's figures beside vk_torch.py's:
--       the throughput where the work is known (matmul in TFLOP/s, the 1 GiB ops in
--       GB/s), the ratio ember/torch in throughput (1.0: as fast) and the issue's goals
--       (matmul f32 >= 0.7, f16 >= 0.5, add and sum >= 0.85); a figure with no torch
--       peer in the run stands alone.
local ember_t, torch_t, order = {}, {}, {}
for line in io.lines(arg[1]) do
  local who, name, v = line:match("^(%a+) (.-)\t([%d%.e%-]+)")
  if who == "ember" then ember_t[name] = tonumber(v); order[#order + 1] = name
  elseif who == "torch" then torch_t[name] = tonumber(v) end
end

if arg[2] ~= "vulkan" then
  for _, name in ipairs(order) do
    local e, t = ember_t[name], torch_t[name]
    print(string.format("%-18s ember %8.3f us   torch %8.3f us   torch/ember %5.2fx",
                        name, e * 1e6, t * 1e6, t / e))
  end
  return
end

-- the work of one call and its unit, for the figures measured as throughput
local function work(name)
  local n = tonumber(name:match("^matmul %a+%d* (%d+)"))
  if n then return 2 * n ^ 3, "TFLOP/s", 1e12 end
  if name:match("1GiB") then
    return (name:match("^add") and 3 or 1) * 2 ^ 30, "GB/s", 1e9   -- bytes read + written
  end
  return nil
end

local goals = { ["matmul f32"] = 0.7, ["matmul f16"] = 0.5, ["add_"] = 0.85, ["sum"] = 0.85 }
for _, name in ipairs(order) do
  local e, t = ember_t[name], torch_t[name]
  local w, unit, scale = work(name)
  local line
  if w then
    line = string.format("%-18s ember %9.2f %s", name, w / e / scale, unit)
    if t then line = line .. string.format("   torch %9.2f %s", w / t / scale, unit) end
  else
    line = string.format("%-18s ember %10.1f us", name, e * 1e6)
    if t then line = line .. string.format("   torch %10.1f us", t * 1e6) end
  end
  if t then
    line = line .. string.format("   ember/torch %5.2fx", t / e)
    for key, goal in pairs(goals) do
      if name:sub(1, #key) == key then line = line .. string.format(" (goal >= %.2f)", goal) end
    end
  else
    line = line .. "   (no torch peer in this run)"
  end
  print(line)
end
