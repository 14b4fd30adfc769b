-- vk.lua — the Vulkan figures of issue 5, ember's side: each prints
-- "ember <name>\t<seconds per call>" for `ratio.lua FILE vulkan` to set beside
-- vk_torch.py's "torch <name>" lines from the same run. Timed as the best of 3 rounds
-- of n calls between ember.vk.sync()s, after warm-up calls (pipelines made, memory held).
--   ember scripts/bench/vk.lua                  the figures
--   ember scripts/bench/vk.lua small            the same at sizes lavapipe can run (a smoke test)
--   ember scripts/bench/vk.lua matmul [n ...]   square matmul in GFLOP/s (2 n^3 per
--       product), f32 and f16, n = 1024, 4096, 8192 unless given (lavapipe: small ones).
--       f16 takes the cooperative-matrix shader where the device has
--       VK_NV_cooperative_matrix; EMBER_VK_NO_COOPMAT=1 forces the tiled one,
--       EMBER_VK_MATMUL_TILE=large|medium|small a tile size of it.
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"

local mode = arg[1]
local small = mode == "small"
assert(ember.vk.available())
local info = ember.vk.info()
io.stderr:write(string.format("vulkan device: %s (%s), cooperative matrix: %s\n", info.name,
                              info.type, info.cooperative_matrix))

-- seconds per call of f: the best of 3 rounds of n calls, after `warm` calls (3)
local function best(f, n, warm)
  for _ = 1, warm or 3 do f() end
  ember.vk.sync()
  local t = math.huge
  for _ = 1, 3 do
    local t0 = ember.monotonic()
    for _ = 1, n do f() end
    ember.vk.sync()
    t = math.min(t, (ember.monotonic() - t0) / n)
  end
  return t
end

local function report(name, t) print(string.format("ember %s\t%.9g", name, t)) end

ember.manual_seed(0)
local V = { device = "vulkan" }

if mode == "matmul" then
  local sizes = {}
  for i = 2, #arg do sizes[#sizes + 1] = assert(tonumber(arg[i]), "sizes are numbers") end
  if #sizes == 0 then sizes = { 1024, 4096, 8192 } end
  print(string.format("%-6s %6s %12s %10s", "dtype", "n", "ms", "GFLOP/s"))
  for _, dt in ipairs { "f32", "f16" } do
    for _, n in ipairs(sizes) do
      local a, b = ember.randn(n, n, V):to(dt), ember.randn(n, n, V):to(dt)
      -- about 0.2 s of work per round at 10 TFLOP/s, at least 2 products
      local reps = math.max(2, math.min(200, math.floor(2e12 / (2 * n ^ 3))))
      local t = best(function() return a:matmul(b) end, reps, 2)
      print(string.format("%-6s %6d %12.4f %10.1f", dt, n, t * 1e3, 2 * n ^ 3 / t / 1e9))
    end
  end
  return
end

-- matmul f32 and f16 (the f16 one takes the cooperative-matrix path where the device has it)
for _, n in ipairs(small and { 128, 256 } or { 1024, 4096, 8192 }) do
  local a, b = ember.randn(n, n, V), ember.randn(n, n, V)
  report("matmul f32 " .. n, best(function() return a:matmul(b) end, n >= 4096 and 5 or 50))
end
for _, n in ipairs(small and { 256 } or { 4096, 8192 }) do
  local a, b = ember.randn(n, n, V):to("f16"), ember.randn(n, n, V):to("f16")
  report("matmul f16 " .. n, best(function() return a:matmul(b) end, 10))
end

-- memory-bound ops over 1 GiB of f32 (2^28 elements)
local n = small and (1 << 20) or (1 << 28)
local x, y = ember.randn(n, V), ember.randn(n, V)
report("add_ 1GiB", best(function() x:add_(y) end, 10))
report("sum 1GiB", best(function() return x:sum() end, 10))

-- rows: softmax and layer_norm over the last dim of 8192 x 8192 (256 MiB)
local rows = small and ember.randn(256, 1024, V) or ember.randn(8192, 8192, V)
report("softmax rows", best(function() return rows:softmax(2) end, 10))
local w, bias = ember.ones(rows:size(2), V), ember.zeros(rows:size(2), V)
report("layer_norm rows", best(function() return ember.layer_norm(rows, { rows:size(2) }, w, bias) end, 10))

-- the digits MLP training step (batch 32), Adam, as scripts/bench/train.lua's
local model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)):to("vulkan")
local opt = optim.Adam(model:parameters(), { lr = 1e-3 })
local xb, yb = ember.randn(32, 64, V), ember.randint(1, 11, { 32 }, V)
local loss_fn = nn.CrossEntropyLoss()
report("mlp train step", best(function()
  opt:zero_grad()
  local loss = loss_fn(model(xb), yb)
  loss:backward()
  opt:step()
end, 200))
