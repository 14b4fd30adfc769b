-- vk_ops_spec.lua — every op with a Vulkan kernel against the cpu backend, family by
-- family (cases in spec/vk/<family>.lua), on lavapipe in CI. Skipped as a whole only
-- when no Vulkan device can start, and then it says why.
local ember = require "ember"
local V = require "vk_check"

local ok, why = ember.vk.available()
if not ok then
  describe("vulkan", function() pending("no Vulkan device: " .. tostring(why)) end)
  return
end

-- every spec/vk/<family>.lua; VK_FAMILIES="reduce index" runs only those
local only = os.getenv("VK_FAMILIES")
local families = {}
for f in io.popen("ls spec/vk"):lines() do
  local fam = f:match("^(.+)%.lua$")
  if fam and (not only or (" " .. only .. " "):find(" " .. fam .. " ", 1, true)) then
    families[#families + 1] = fam
  end
end
for _, family in ipairs(families) do
  describe("vulkan " .. family, function()
    for _, case in ipairs(dofile("spec/vk/" .. family .. ".lua")) do
      it(case[1], function() V.check(case) end)
    end
  end)
end

describe("vulkan validation", function()
  it("the Khronos validation layer reported nothing", V.assert_validation_clean)
end)

describe("vulkan coverage", function()
  -- every op of the table has a Vulkan kernel, and a case here whose name starts
  -- with the op's name (a family file's cases run it against the cpu)
  local named = {}
  for f in io.popen("ls spec/vk"):lines() do
    local fam = f:match("^(.+)%.lua$")
    if fam then
      for _, case in ipairs(dofile("spec/vk/" .. f)) do named[case[1]:match("^[%w_]+")] = true end
    end
  end
  it("every op has a Vulkan kernel", function()
    local missing = {}
    for _, op in ipairs(ember.ops()) do
      if not op.vulkan then missing[#missing + 1] = op.name end
    end
    assert.are.equal(0, #missing, "no Vulkan kernel: " .. table.concat(missing, " "))
  end)
  it("every Vulkan kernel has a case", function()
    local missing = {}
    for _, op in ipairs(ember.ops()) do
      if op.vulkan and not named[op.name] then missing[#missing + 1] = op.name end
    end
    assert.are.equal(0, #missing, "no case in spec/vk: " .. table.concat(missing, " "))
  end)
end)
