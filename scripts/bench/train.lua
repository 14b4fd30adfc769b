-- train.lua — a whole training step timed from Lua (forward, loss, backward, SGD with
-- momentum): the MLP 64-128-10 and the digits CNN on a batch of 32, the peers of
-- train.py's torch steps. Best of 5 runs of n steps, wall time.
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local digits = dofile("scripts/digits.lua")

local function best(step, n)
  for _ = 1, 20 do step() end
  local t = math.huge
  for _ = 1, 5 do
    local t0 = ember.monotonic()
    for _ = 1, n do step() end
    t = math.min(t, (ember.monotonic() - t0) / n)
  end
  return t
end

local function bench(name, model, x, y, n)
  local opt = optim.SGD(model:parameters(), { lr = 0.01, momentum = 0.9 })
  local loss_fn = nn.CrossEntropyLoss()
  local function step()
    opt:zero_grad()
    local loss = loss_fn(model(x), y)
    loss:backward()
    opt:step()
  end
  print(string.format("ember %s\t%.9g", name, best(step, n)))
end

ember.manual_seed(0)
local x = ember.rand(32, 64)
local y = ember.randint(1, 11, { 32 })
bench("MLP 64-128-10 step", digits.mlp(), x, y, 2000)
bench("digits CNN step", digits.cnn(), x:view(32, 1, 8, 8), y, 500)
