-- dispatch.lua — per-call cost of small ops from Lua: a + b and a:add_(b), 64 f32.
-- Prints "name seconds-per-call"; best of 5 rounds (the machine is shared and noisy).
local ember = require "ember"
local a, b = ember.ones(64), ember.ones(64)
local function best(f, n)
  local t = math.huge
  for _ = 1, 5 do
    local c0 = os.clock()
    f(n)
    t = math.min(t, (os.clock() - c0) / n)
  end
  return t
end
local n = 200000
print("ember a+b", best(function(n) for _ = 1, n do local c = a + b end end, n))
print("ember a:add_(b)", best(function(n) for _ = 1, n do a:add_(b) end end, n))
