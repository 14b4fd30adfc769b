-- ddp_digits.lua — the digits MLP of scripts/digits.lua trained data-parallel with
-- ember.dist.DDP: every rank reads the same shuffled batches and trains on its own
-- shard of each; DDP averages the gradients, so every rank holds the same model.
-- Rank 1 prints the progress and the final test accuracy.
--
--   mpirun --allow-run-as-root --oversubscribe -np 2 build/ember scripts/ddp_digits.lua [epochs]
--   build/ember scripts/ddp_digits.lua [epochs]          -- a world of one
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local data = require "ember.data"
local dist = require "ember.dist"

local epochs = math.tointeger(tonumber(arg and arg[1] or "")) or 30

-- digits.lua trains when it sees itself run as a script: load it with no arg
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
local script_arg = arg
arg = nil
local digits = dofile(here .. "digits.lua")
arg = script_arg
local batch_size, lr, seed = 64, 0.1, 1

dist.init()
local rank, world = dist.rank(), dist.world_size()
local function say(...) if rank == 1 then print(string.format(...)) end end

-- The same split and the same batch order on every rank (same seed).
ember.manual_seed(seed)
local ds = data.digits()
local train, test = table.unpack(data.random_split(ds, { 0.8, 0.2 }, seed))
local loader = data.DataLoader(train, { batch_size = batch_size, shuffle = true, seed = seed,
                                        drop_last = true })
local Xtest, ytest = test:get_batch(ember.arange(1, data.len(test) + 1))

-- Each rank starts from its own init; DDP broadcasts rank 1's.
ember.manual_seed(seed + rank)
local ddp = dist.DDP(digits.mlp())
local loss_fn = nn.CrossEntropyLoss()
local opt = optim.SGD(ddp:parameters(), { lr = lr, momentum = 0.9, weight_decay = 1e-4 })
local sched = optim.CosineAnnealingLR(opt, { T_max = epochs })

say("ddp_digits: %d rank%s, global batch %d, %d epochs", world, world > 1 and "s" or "",
    batch_size, epochs)
local t0 = ember.monotonic()
for epoch = 1, epochs do
  local sum, n = 0, 0
  for xb, yb in loader:iter() do
    -- this rank's rows of the batch: shards differ by at most one row
    local rows = xb:size(1)
    local lo = (rank - 1) * rows // world
    local hi = rank * rows // world
    local x, y = xb:narrow(1, lo + 1, hi - lo), yb:narrow(1, lo + 1, hi - lo)
    opt:zero_grad()
    local loss = loss_fn(ddp(x), y)
    loss:backward()
    opt:step()
    sum, n = sum + loss:item() * (hi - lo), n + (hi - lo)
  end
  sched:step()
  -- the mean training loss over every rank's rows: one small allreduce per epoch
  local totals = dist.allreduce(ember.tensor({ sum, n }, "f64"), "sum"):totable()
  if rank == 1 and (epoch == 1 or epoch == epochs or epoch % 5 == 0) then
    say("epoch %3d/%d  train loss %.4f  test accuracy %.2f%%", epoch, epochs,
        totals[1] / totals[2], 100 * digits.accuracy(ddp.module, Xtest, ytest))
  end
end

say("ddp_digits: test accuracy %.2f%% after %.1f s on %d rank%s",
    100 * digits.accuracy(ddp.module, Xtest, ytest), ember.monotonic() - t0, world,
    world > 1 and "s" or "")
dist.finalize()
