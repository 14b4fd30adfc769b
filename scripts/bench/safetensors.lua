-- safetensors.lua — 1 GiB of f32 weights through ember.safetensors; safetensors.py times
-- torch and numpy on the same tensors in the same run, and `report` pairs the two.
--   ember safetensors.lua DIR [REPS]   writes DIR/model.safetensors, prints "ember NAME\tseconds"
--   ember safetensors.lua report FILE  prints each ember figure beside its peers, as ratios
-- The weights are shaped like a GPT-2-medium-sized model rather than 16 equal blocks, so the
-- header has the ~200 entries of a real checkpoint: a 65536x1024 embedding, 16 layers of
-- four matrices (1024x3072, 1024x1024, 1024x4096, 4096x1024) and eight vectors, and a
-- final layer norm: 195 tensors, 1024 MiB of matrices and 840 KiB of vectors.
-- Every figure is the median of REPS runs (default 7; the machine is shared and noisy).
-- "cold" runs drop the page cache first (needs root); without root only warm figures come.
local ember = require "ember"

local function median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

if arg[1] == "report" then
  local v, order = {}, {}
  for line in io.lines(arg[2]) do
    local key, x = line:match("^(.-)\t(.*)$")
    if key then
      if v[key] == nil then order[#order + 1] = key end
      v[key] = tonumber(x) or x
    end
  end
  local peers = {       -- figure -> its peers, in print order
    ["open+first cold"] = { "torch.load", "np.load mmap .npy" },
    ["open+first warm"] = { "torch.load", "np.load mmap .npy" },
    ["load+touch cold"] = { "torch.load" },
    ["load+touch warm"] = { "torch.load" },
    ["save"]            = { "torch.save", "torch.save+fsync" },
  }
  for _, key in ipairs(order) do
    local fig = key:match("^ember (.*)$")
    if fig and peers[fig] then
      local e = v[key]
      for _, peer in ipairs(peers[fig]) do
        local p = v[peer .. " " .. fig]
        if p then
          print(string.format("%-16s ember %10.3f ms   %-18s %10.3f ms   peer/ember %8.2fx",
                              fig, e * 1e3, peer, p * 1e3, p / e))
        end
      end
    end
  end
  if v["note"] then print("note: " .. v["note"]) end
  -- Both sides sum every tensor they loaded; the totals must agree, or one read wrong bytes.
  local a, b = v["ember checksum"], v["torch checksum"]
  if a and b then
    local ok = math.abs(a - b) <= 1e-5 * math.abs(b)
    print(string.format("checksum         ember %.6f   torch %.6f   %s", a, b, ok and "agree" or "DIFFER"))
    if not ok then os.exit(1) end
  end
  return
end

local dir, reps = assert(arg[1], "usage: safetensors.lua DIR [REPS]"), tonumber(arg[2]) or 7
local path = dir .. "/model.safetensors"

-- Drop the page cache so that a "cold" run reads from the disk; false where not allowed.
local function drop_caches()
  return os.execute("sync; (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null") == true
end

local function model()
  ember.manual_seed(0)
  local d, t = 1024, {}
  t["wte.weight"] = ember.rand(65536, d)
  for i = 0, 15 do
    local h = "h." .. i .. "."
    t[h .. "ln_1.weight"], t[h .. "ln_1.bias"] = ember.rand(d), ember.rand(d)
    t[h .. "attn.c_attn.weight"], t[h .. "attn.c_attn.bias"] = ember.rand(d, 3 * d), ember.rand(3 * d)
    t[h .. "attn.c_proj.weight"], t[h .. "attn.c_proj.bias"] = ember.rand(d, d), ember.rand(d)
    t[h .. "ln_2.weight"], t[h .. "ln_2.bias"] = ember.rand(d), ember.rand(d)
    t[h .. "mlp.c_fc.weight"], t[h .. "mlp.c_fc.bias"] = ember.rand(d, 4 * d), ember.rand(4 * d)
    t[h .. "mlp.c_proj.weight"], t[h .. "mlp.c_proj.bias"] = ember.rand(4 * d, d), ember.rand(d)
  end
  t["ln_f.weight"], t["ln_f.bias"] = ember.rand(d), ember.rand(d)
  return t
end

local function out(name, x) print(string.format("ember %s\t%.9g", name, x)) end

-- save: the file is removed and the disk synced before each run, untimed, as for torch.
do
  local tensors, times = model(), {}
  for r = 1, reps do
    os.remove(path)
    os.execute("sync")
    local t0 = ember.clock()
    ember.save(tensors, path)
    times[r] = ember.clock() - t0
  end
  out("save", median(times))
end
collectgarbage()

local first = ember.safetensors.open(path):keys()[1]
collectgarbage()

local function open_first()
  local t0 = ember.clock()
  local f = ember.safetensors.open(path)
  local v = f:get(first)
  while type(v) ~= "number" do v = v[1] end
  local dt = ember.clock() - t0
  f:close()
  return dt
end

local function load_touch()
  local t0 = ember.clock()
  local ts, s = ember.load(path), 0
  for _, t in pairs(ts) do s = s + t:sum():item() end
  return ember.clock() - t0, s
end

local function run(f, n, cold)
  local times, extra = {}, nil
  for r = 1, n do
    if cold then drop_caches() end
    times[r], extra = f()
    collectgarbage()       -- unmaps the previous run's views, untimed
  end
  return median(times), extra
end

local cold = drop_caches()
if cold then out("open+first cold", run(open_first, reps, true)) end
open_first()
out("open+first warm", run(open_first, 201, false))
local sum
if cold then out("load+touch cold", (run(load_touch, reps, true))) end
load_touch()
local t
t, sum = run(load_touch, reps, false)
out("load+touch warm", t)
print(string.format("ember checksum\t%.17g", sum))
if not cold then print("note\tno root: the page cache could not be dropped; all figures are warm-cache, for both sides") end
