-- digits.lua — trains a classifier of the digits set (1797 8x8 images, 10 classes) on a
-- seeded 80/20 split: an MLP or a small CNN with batch norm. A plain Lua training loop
-- over ember.nn, ember.optim and ember.data, with a progress bar, a checkpoint and an
-- SVG of the curves.
--
--   build/ember scripts/digits.lua [mlp|cnn] [out_dir]      -- train one, print accuracy
--   local digits = dofile("scripts/digits.lua")             -- or use it from Lua:
--   local r = digits.train{ model = "cnn", epochs = 15, out = "build/demo" }
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local data = require "ember.data"
local progress = require "ember.progress"
local plot = require "ember.plot"
local checkpoint = require "ember.checkpoint"

local digits = {}

function digits.mlp()
  return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
end

function digits.cnn()
  return nn.Sequential(
    nn.Conv2d(1, 16, 3, { padding = 1 }), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, { padding = 1 }), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
end

-- Fraction of rows of X whose highest score is the class in y, in eval mode.
function digits.accuracy(model, X, y)
  local was = model.training
  model:eval()
  local pred = ember.no_grad(function() return model(X):argmax(2) end)
  model:train(was)
  return pred:eq(y):sum():item() / y:size(1)
end

local defaults = {
  mlp = { epochs = 30, lr = 0.1 },
  cnn = { epochs = 15, lr = 0.05 },
}

-- train{model = "mlp"|"cnn", epochs, lr, batch_size = 32, seed = 1, out = dir|nil,
-- quiet = false} -> {model, test_accuracy, history = {loss, test_acc}, seconds,
-- checkpoint, curves}
function digits.train(opts)
  opts = opts or {}
  local kind = opts.model or "mlp"
  local d = defaults[kind] or error("digits.train: model must be \"mlp\" or \"cnn\", got " .. tostring(kind), 2)
  local epochs, lr = opts.epochs or d.epochs, opts.lr or d.lr
  local seed = opts.seed or 1
  local t0 = ember.monotonic()

  ember.manual_seed(seed)
  local ds = data.digits{ images = kind == "cnn" }
  local train, test = table.unpack(data.random_split(ds, { 0.8, 0.2 }, seed))
  local loader = data.DataLoader(train, { batch_size = opts.batch_size or 32, shuffle = true, seed = seed })
  local Xtest, ytest = test:get_batch(ember.arange(1, data.len(test) + 1))

  local model = digits[kind]()
  local loss_fn = nn.CrossEntropyLoss()
  local opt = optim.SGD(model:parameters(), { lr = lr, momentum = 0.9, weight_decay = 1e-4 })
  local sched = optim.CosineAnnealingLR(opt, { T_max = epochs })
  local history = { loss = {}, test_acc = {} }

  for epoch = 1, epochs do
    local bar = progress.new{ total = data.len(train), unit = "samples",
                              desc = string.format("%s epoch %d/%d", kind, epoch, epochs),
                              stream = opts.quiet and { write = function() end } or nil }
    local sum, n, step = 0, 0, 0
    for xb, yb in loader:iter() do
      opt:zero_grad()
      local loss = loss_fn(model(xb), yb)
      loss:backward()
      opt:step()
      local l = loss:item()
      sum, n = sum + l * xb:size(1), n + xb:size(1)
      step = step + 1
      bar:update(xb:size(1), { loss = l, step = step })
    end
    sched:step()
    history.loss[epoch] = sum / n
    history.test_acc[epoch] = digits.accuracy(model, Xtest, ytest)
    bar:update(0, { loss = sum / n, test_acc = history.test_acc[epoch] })
    bar:close()
  end

  local r = { model = model, history = history, test_accuracy = history.test_acc[epochs],
              seconds = ember.monotonic() - t0 }
  if opts.out then
    os.execute("mkdir -p '" .. opts.out .. "'")
    r.checkpoint = opts.out .. "/digits_" .. kind .. ".safetensors"
    checkpoint.save(r.checkpoint, { model = model, optimizer = opt, scheduler = sched,
                                    extra = { epochs = epochs, seed = seed, test_accuracy = r.test_accuracy } })
    r.curves = opts.out .. "/digits_" .. kind .. ".svg"
    plot.lines{ path = r.curves, title = "digits " .. kind, xlabel = "epoch",
                ylabel = "train loss", y2label = "test accuracy",
                series = { { name = "train loss", y = history.loss },
                           { name = "test accuracy", y = history.test_acc, axis = "right" } } }
  end
  return r
end

-- Run as a script: train what the arguments name and print the accuracy.
if arg and arg[0] and arg[0]:match("digits%.lua$") then
  local r = digits.train{ model = arg[1] or "mlp", out = arg[2] }
  print(string.format("%s: test accuracy %.2f%% after %.1f s", arg[1] or "mlp",
                      100 * r.test_accuracy, r.seconds))
end

return digits
