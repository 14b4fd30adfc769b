-- net_ddp.lua — the worker of spec/dist_net_spec.lua and of the DDP benchmark: one rank
-- of a DDP job, wherever mpirun put it (the two network namespaces of
-- scripts/dist/twohosts.sh, or one host).
--
--   ember spec/dist/net_ddp.lua train OUT_DIR
--       K SGD steps of the digits CNN under DDP, each rank on its own rows; each rank
--       writes OUT_DIR/train.R.lua: its parameters, its network namespace, local_size
--   ember spec/dist/net_ddp.lua step OUT_DIR [width layers batch bucket_cap_mb rounds label]
--       times the training step of an MLP (layers Linear+ReLU of width x width, batch
--       rows per rank) under DDP with buckets that overlap the backward ("overlap") and
--       with one bucket, one allreduce of every gradient after the backward ("single");
--       rank 1 writes OUT_DIR/step.lua and prints one line (with label). Rounds of 4
--       steps alternate between the two, so load that comes and goes hits both alike;
--       each figure is the median over rounds. Beside the step it times the exposed
--       communication: from the last parameter's gradient (the last post-accumulate
--       hook) to the end of backward, the reductions the backward could not hide
--       (median over steps, mean over ranks).
local ember = require "ember"
local nn = require "ember.nn"
local optim = require "ember.optim"
local data = require "ember.data"
local dist = require "ember.dist"

local mode, out_dir = arg[1], arg[2]
assert((mode == "train" or mode == "step") and out_dir,
       "usage: net_ddp.lua train|step OUT_DIR [width layers batch bucket_cap_mb rounds]")

dist.init()
local rank, N = dist.rank(), dist.world_size()
local loss_fn = nn.CrossEntropyLoss()

local function write(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
end

-- the network namespace this process runs in ("" outside the named ones)
local function netns()
  local p = io.popen("ip netns identify $PPID 2>/dev/null")
  local s = p and p:read("l") or ""
  if p then p:close() end
  return s or ""
end

if mode == "train" then
  local K, B = 6, 16
  local ds = data.digits()
  local X, Y = ds.tensors[1]:view(-1, 1, 8, 8), ds.tensors[2]
  ember.manual_seed(100 + rank)            -- ranks differ until DDP broadcasts rank 1's
  local model = dofile("scripts/digits.lua").cnn()
  -- small buckets, so several allreduces cross the link in each backward
  local ddp = dist.DDP(model, { bucket_cap_mb = 0.008, first_bucket_mb = 0.002 })
  local init = {}
  for i, p in ipairs(model:parameters()) do init[i] = p:detach():clone() end
  local opt = optim.SGD(ddp:parameters(), { lr = 0.05, momentum = 0.9 })
  for k = 1, K do
    local idx = ember.arange((k - 1) * N * B + (rank - 1) * B + 1, (k - 1) * N * B + rank * B + 1)
    opt:zero_grad()
    loss_fn(ddp(X:index_select(1, idx)), Y:index_select(1, idx)):backward()
    opt:step()
  end
  local lines, moved = {}, 0
  for i, p in ipairs(model:parameters()) do
    moved = math.max(moved, (p:detach() - init[i]):abs():max():item())
    local v = p:detach():reshape(-1):totable()
    for j = 1, #v do v[j] = string.format("%.9g", v[j]) end
    lines[i] = "{" .. table.concat(v, ",") .. "}"
  end
  write(string.format("%s/train.%d.lua", out_dir, rank), string.format(
    "return { ns = %q, local_size = %d, buckets = %d, moved = %.9g, params = {\n%s\n} }\n",
    netns(), dist.local_size(), #ddp:buckets(), moved, table.concat(lines, ",\n")))
  dist.finalize()
  return
end

-- {====== step: overlap against one allreduce after the backward

local W = math.tointeger(tonumber(arg[3])) or 512
local L = math.tointeger(tonumber(arg[4])) or 8
local B = math.tointeger(tonumber(arg[5])) or 64
local CAP = tonumber(arg[6]) or 2
local ROUNDS = math.tointeger(tonumber(arg[7])) or 5
local LABEL = arg[8] or ""
local STEPS = 4

local function mlp()
  ember.manual_seed(7)
  local layers = {}
  for _ = 1, L do
    layers[#layers + 1] = nn.Linear(W, W)
    layers[#layers + 1] = nn.ReLU()
  end
  layers[#layers + 1] = nn.Linear(W, 10)
  return nn.Sequential(table.unpack(layers))
end

local bytes = 0
for _, p in ipairs(mlp():parameters()) do bytes = bytes + 4 * p:numel() end
local whole = bytes / 2^20 + 1
-- the order matters: every rank makes the same DDPs (and their broadcasts) in turn
local names = { "overlap", "single" }
local ddps = {
  overlap = dist.DDP(mlp(), { bucket_cap_mb = CAP, first_bucket_mb = math.min(1, CAP) }),
  single = dist.DDP(mlp(), { bucket_cap_mb = whole, first_bucket_mb = whole }),
}
local opts, last_grad = {}, 0
for _, k in ipairs(names) do
  opts[k] = optim.SGD(ddps[k]:parameters(), { lr = 1e-3 })
  -- registered after DDP's own hooks, so they run after them
  for _, p in ipairs(ddps[k]:parameters()) do
    p:register_post_accumulate_grad_hook(function() last_grad = ember.clock() end)
  end
end
ember.manual_seed(11 + rank)
local x, y = ember.randn(B, W), ember.randint(1, 11, { B })

-- one step; returns the exposed communication
local function step(k)
  opts[k]:zero_grad()
  local loss = loss_fn(ddps[k](x), y)
  loss:backward()
  local exposed = ember.clock() - last_grad
  opts[k]:step()
  return exposed
end

-- two steps each first: the buckets' rebuild after the first backward, warm caches
for _, k in ipairs(names) do step(k); step(k) end
local times, exposed = { overlap = {}, single = {} }, { overlap = {}, single = {} }
for _ = 1, ROUNDS do
  for _, k in ipairs(names) do
    dist.barrier()
    local t0 = ember.clock()
    for _ = 1, STEPS do exposed[k][#exposed[k] + 1] = step(k) end
    times[k][#times[k] + 1] = (ember.clock() - t0) / STEPS
  end
end

local function median(v)
  table.sort(v)
  local n = #v
  return n % 2 == 1 and v[(n + 1) // 2] or (v[n // 2] + v[n // 2 + 1]) / 2
end

-- the exposed time includes waiting for a rank still in its backward: the mean over
-- ranks counts that skew once for the rank that waited and not for the one waited for
local e = ember.tensor({ median(exposed.overlap), median(exposed.single) }, "f64")
dist.allreduce(e, "avg")
if rank == 1 then
  local o, s = median(times.overlap), median(times.single)
  local eo, es = table.unpack(e:totable())
  write(out_dir .. "/step.lua", string.format(
    "return { ranks = %d, width = %d, layers = %d, batch = %d, grad_mb = %.3f, buckets = %d, "
    .. "overlap = %.9g, single = %.9g, exposed_overlap = %.9g, exposed_single = %.9g }\n",
    N, W, L, B, bytes / 2^20, #ddps.overlap:buckets(), o, s, eo, es))
  print(string.format("DDP step %d ranks%s: overlap %.1f ms   one allreduce after backward %.1f ms   "
                      .. "overlap/one %.2f (goal <= 0.80)   exposed communication %.1f vs %.1f ms",
                      N, LABEL ~= "" and " " .. LABEL or "", o * 1e3, s * 1e3, o / s, eo * 1e3, es * 1e3))
end
dist.finalize()

-- }======
