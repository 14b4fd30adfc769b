-- export.lua — inference latency of the exported digits models (the MLP 64-128-10 and
-- the CNN of scripts/digits.lua, trained 3 epochs) at batch 1 and 32: the program run
-- by ember-run (the runtime alone, no Lua, timed through the C API in its own process),
-- beside torch eager (export_torch.py, the same weights read from the same safetensors
-- file) and eager ember from Lua. Every figure is the median of n calls, each timed on
-- its own; every side runs with the same threads.
--
--   ember scripts/bench/export.lua DIR            writes into DIR, per model, the weights
--       (digits_KIND.safetensors), and per batch the program (digits_KIND_bB.ember) and
--       the input with eager ember's outputs (digits_KIND_bB_in.safetensors); prints
--       "ember-run NAME\tseconds" and "lua NAME\tseconds"
--   python3 scripts/bench/export_torch.py DIR     prints "torch NAME\tseconds"
--   ember scripts/bench/export.lua report FILE    the three side by side, with the ratios
--       and the goal (ember-run <= 0.5x torch eager's latency)
local ember = require "ember"

local GOAL = 0.5

local function report(file)
  local t, order, checks, threads = { ["ember-run"] = {}, lua = {}, torch = {} }, {}, {}, "?"
  for line in io.lines(file) do
    local who, name, v = line:match("^(%S+) (.-)\t([%d%.e%-]+)")
    if line:match("^threads\t") then threads = line:match("\t(%d+)")
    elseif who == "check" then checks[name] = tonumber(v)
    elseif who and t[who] then
      if who == "ember-run" then order[#order + 1] = name end
      t[who][name] = tonumber(v)
    end
  end
  print(string.format("median latency of one inference, %s threads each; goal: ember-run <= %.1fx torch eager",
                      threads, GOAL))
  print(string.format("%-12s %12s %12s %12s %14s %15s", "model", "ember-run", "torch eager", "eager ember",
                      "ember-run/torch", "ember-run/eager"))
  for _, name in ipairs(order) do
    local r, tt, l = t["ember-run"][name], t.torch[name], t.lua[name]
    local function us(x) return x and string.format("%9.1f us", x * 1e6) or "         -  " end
    local vs_torch = tt and string.format("%5.2fx (%s)", r / tt, r / tt <= GOAL and "meets" or "misses") or "-"
    print(string.format("%-12s %12s %12s %12s %15s %12.2fx", name, us(r), us(tt), us(l), vs_torch, r / l))
    if checks[name] == nil then print("   (torch's outputs were not checked against ember's)")
    elseif checks[name] > 1e-4 then print(string.format("   torch's outputs differ from ember's by %g", checks[name])) end
  end
end

if arg[1] == "report" then return report(arg[2]) end

local digits = dofile("scripts/digits.lua")
local dir = arg[1] or error("usage: ember scripts/bench/export.lua DIR | report FILE")
os.execute("mkdir -p '" .. dir .. "'")

-- the threads every side gets: OpenMP's default here, one per core
local function threads()
  local n = tonumber(os.getenv("OMP_NUM_THREADS") or "")
  if n then return n end
  local f = io.popen("nproc")
  n = tonumber(f:read("l"))
  f:close()
  return n or 1
end
local T = threads()
print("threads\t" .. T)

local bindir = (arg[-1] or ""):match("^(.*)/[^/]*$")
local ember_run = bindir and bindir .. "/ember-run" or "ember-run"

local function median(t)
  table.sort(t)
  return t[math.ceil(#t / 2)]
end

-- eager ember from Lua: n calls of model(x) under no_grad, each timed
local function eager(model, x, n)
  return ember.no_grad(function()
    for _ = 1, 50 do model(x) end
    local t = {}
    for i = 1, n do
      local t0 = ember.monotonic()
      model(x)
      t[i] = ember.monotonic() - t0
    end
    return median(t)
  end)
end

-- the program through ember-run: its median of n runs (inputs copied in, execute)
local function runtime(prog, ins, n)
  local cmd = string.format("'%s' '%s' '%s' --threads %d --bench %d --warmup 50", ember_run, prog, ins, T, n)
  local f = io.popen(cmd)
  local out = f:read("a")
  f:close()
  local p50 = out:match("p50 ([%d.]+) us") or error("ember-run gave no latency: " .. cmd .. "\n" .. out)
  return tonumber(p50) * 1e-6
end

for _, kind in ipairs({ "mlp", "cnn" }) do
  local model = digits.train{ model = kind, epochs = 3, quiet = true }.model
  model:eval()
  local base = string.format("%s/digits_%s", dir, kind)
  ember.save(model:state_dict(), base .. ".safetensors", { threads = tostring(T) })
  for _, batch in ipairs({ 1, 32 }) do
    ember.manual_seed(batch)
    local x = kind == "cnn" and ember.rand(batch, 1, 8, 8) or ember.rand(batch, 64)
    local name = string.format("%s b%d", kind:upper(), batch)
    local prog = string.format("%s_b%d.ember", base, batch)
    local ins = string.format("%s_b%d_in.safetensors", base, batch)
    ember.export(model, { x }, { path = prog, input_names = { "pixels" }, output_names = { "logits" } })
    ember.save({ pixels = x, expected = ember.no_grad(function() return model(x) end) }, ins)
    local n = (kind == "cnn" and batch == 32) and 300 or 1000   -- export_torch.py's too
    print(string.format("ember-run %s\t%.9g", name, runtime(prog, ins, n)))
    print(string.format("lua %s\t%.9g", name, eager(model, x, n)))
  end
end
