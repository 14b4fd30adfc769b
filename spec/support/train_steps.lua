-- train_steps.lua — run by train_memory_spec.lua in a child ember process: trains the
-- digits MLP for N steps (Adam, the real data loader, cross-entropy, backward) and
-- prints the resident set size at the steps asked for, as "rss <step> <KiB>".
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local data = require "ember.data"

local steps = tonumber(arg[1]) or 10000
local marks = {}
for i = 2, #arg do marks[tonumber(arg[i])] = true end

local function rss_kib()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmRSS:%s+(%d+)")
    if v then return tonumber(v) end
  end
end

ember.manual_seed(1)
local ds = data.digits()
local loader = data.DataLoader(ds, { batch_size = 32, shuffle = true, seed = 1, drop_last = true })
local model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
local opt = optim.Adam(model:parameters(), { lr = 1e-3 })
local loss_fn = nn.CrossEntropyLoss()
local step = 0
while step < steps do
  for xb, yb in loader:iter() do
    step = step + 1
    opt:zero_grad()
    local loss = loss_fn(model(xb), yb)
    loss:backward()
    opt:step()
    if marks[step] then
      collectgarbage()
      print(string.format("rss %d %d loss %.4f", step, rss_kib(), loss:item()))
      io.stdout:flush()
    end
    if step == steps then break end
  end
end
