-- demo.lua — `make demo`: a short tour of ember's tensors, then training on the digits
-- set: an MLP and a small CNN, each to at least 97% test accuracy, with a checkpoint
-- and the curves written to the folder given as the first argument (default
-- build/demo); at the end both are exported and run by ember-run, the runtime without
-- Lua, on the test set. Each step prints what it computes and checks it against a known
-- answer.
local ember = require "ember"

local function step(title) io.write("\n== ", title, "\n") end
local failures = 0
local function check(what, ok)
  if not ok then failures = failures + 1 end
  print(string.format("   %-52s %s", what, ok and "ok" or "WRONG"))
end

step("tensors from Lua tables, 1-based indexing, views")
local a = ember.tensor({{1, 2, 3}, {4, 5, 6}})
print(a)
check("a[2][3] == 6", a[2][3] == 6)
check("a[{ {}, {2, 3} }] is a 2x2 view", a[{ {}, {2, 3} }]:size()[2] == 2)
check("a:t() shares storage with a", (function() local t = a:t(); t[1][2] = 40; return a[2][1] == 40 end)())

step("broadcasting and type promotion (PyTorch rules)")
local b = ember.tensor({10, 20, 30}, "f32")
print(a + b)
check("i64 + f32 -> f32", (a + b):dtype() == "f32")
check("i64 / 2 -> f32 (true division)", (a / 2):dtype() == "f32")

step("reductions, 1-based dims and indices")
local m = ember.tensor({{3, 9, 1}, {7, 2, 8}}, "f32")
local values, indices = m:max(2)
print(values)
print(indices)
check("row maxima 9, 8 at 1-based columns 2, 3",
      values[1] == 9 and values[2] == 8 and indices[1] == 2 and indices[2] == 3)
check("sum over dim 1 keeps the dim when asked", m:sum(1, true):size()[1] == 1)

step("matmul through OpenBLAS, checked by an identity")
ember.manual_seed(42)
local x = ember.randn(64, 32)
local y = ember.randn(32, 16)
local lhs = x:matmul(y):t()
local rhs = y:t():matmul(x:t())
check("(XY)^T == Y^T X^T", (lhs - rhs):abs():max():item() < 1e-4)

step("neural-network functions")
local logits = ember.tensor({{2.0, 1.0, 0.1}})
local p = ember.softmax(logits, 2)
print(p)
check("softmax row sums to 1", math.abs(p:sum():item() - 1) < 1e-6)
local img = ember.rand(1, 3, 8, 8)
local w = ember.randn(4, 3, 3, 3)
local conv = ember.conv2d(img, w, nil, 1, 1)
check("conv2d 1x3x8x8 * 4x3x3x3 (padding 1) -> 1x4x8x8", conv:size()[2] == 4 and conv:size()[4] == 8)

step("dtypes")
local h = ember.tensor({1, 2.5, 65504, 70000}):to("f16")
print(h)
check("f16 overflows to inf past 65504", h[4] == math.huge)

step("checkpoints: safetensors, mapped and sliced")
local dir = os.tmpname()
os.remove(dir)
local path = dir .. ".safetensors"
local weights = { embed = ember.randn(100, 16), head = ember.randn(16, 10):to("bf16"),
                  scale = ember.tensor(0.5) }
ember.save(weights, path, { format = "pt", note = "demo" })
local f = ember.safetensors.open(path)
print(table.concat(f:keys(), " "), f:metadata().note)
local embed = f:get("embed")            -- a view onto the mapped file
check("saved and mapped values agree", (embed - weights.embed):abs():max():item() == 0)
local rows = f:slice("embed")[{ {11, 20, 3}, {1, 4} }]   -- reads only those rows
print(rows)
check("a slice with a step reads rows 11, 14, 17, 20",
      rows:size()[1] == 4 and rows[2][1] == weights.embed[14][1])
check("bf16 stays bf16", f:info("head").st_dtype == "BF16")
local q = ember.tensor({0.3, -1, 448, 500}):to("f8_e4m3")   -- a storage-only dtype
print(q:to("f32"))
check("f8_e4m3 rounds 0.3 to 0.3125 and 500 past its range to NaN", q:to("f32")[1] == 0.3125
      and q:to("f32")[4] ~= q:to("f32")[4])
f:close()
os.remove(path)

print(string.format("\n%d ops in the table; ember.ops() lists them", #ember.ops()))

step("autograd: gradients recorded in C, checked by hand")
local xg = ember.tensor({1, 2, 3}, "f32"):requires_grad_()
local yg = ember.sum(xg * xg * 2)          -- d/dx = 4x
yg:backward()
print(xg.grad)
check("d(sum 2x^2)/dx = 4x", xg.grad[1] == 4 and xg.grad[2] == 8 and xg.grad[3] == 12)

local out = arg and arg[1] or "build/demo"
local digits = dofile((arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "scripts") .. "/digits.lua")
local t_train = ember.monotonic()
local results = {}
for _, kind in ipairs({ "mlp", "cnn" }) do
  step("training the digits " .. kind .. " (seeded 80/20 split, SGD with momentum, cosine schedule)")
  local r = digits.train{ model = kind, out = out }
  results[kind] = r
  print(string.format("   test accuracy %.2f%% in %.1f s; checkpoint %s, curves %s",
                      100 * r.test_accuracy, r.seconds, r.checkpoint, r.curves))
  check(kind .. " test accuracy >= 97%", r.test_accuracy >= 0.97)
  local again = digits[kind]()
  local ck = require("ember.checkpoint")
  local extra = ck.load(r.checkpoint, { model = again })
  local X, y = (function()
    local data = require "ember.data"
    local ds = data.digits{ images = kind == "cnn" }
    local _, test = table.unpack(data.random_split(ds, { 0.8, 0.2 }, 1))
    return test:get_batch(ember.arange(1, data.len(test) + 1))
  end)()
  check("the reloaded checkpoint scores the same", digits.accuracy(again, X, y) == r.test_accuracy
        and extra.test_accuracy == r.test_accuracy)
end
print(string.format("\ntraining took %.1f s: MLP %.2f%%, CNN %.2f%% test accuracy",
                    ember.monotonic() - t_train, 100 * results.mlp.test_accuracy,
                    100 * results.cnn.test_accuracy))

-- the same models on the GPU (Mesa's lavapipe where there is none): moved, not rebuilt
local vk_ok, why = ember.vk.available()
if vk_ok then
  step("on Vulkan: " .. ember.vk.info().name .. " (" .. ember.vk.info().type .. ")")
  for _, kind in ipairs({ "mlp", "cnn" }) do
    local data = require "ember.data"
    local ds = data.digits{ images = kind == "cnn" }
    local _, test = table.unpack(data.random_split(ds, { 0.8, 0.2 }, 1))
    local X, y = test:get_batch(ember.arange(1, data.len(test) + 1))
    local model = results[kind].model
    model:to("vulkan")
    local acc = digits.accuracy(model, X:to("vulkan"), y:to("vulkan"))
    print(string.format("   %s test accuracy on the device %.2f%%", kind, 100 * acc))
    check("the " .. kind .. " scores the same on Vulkan", acc == results[kind].test_accuracy)
    model:to("cpu")
  end
else
  step("Vulkan: not available here (" .. tostring(why) .. ")")
end

-- the same models exported to program files and run by ember-run, which links the
-- runtime alone (no Lua); it sits beside the ember binary running this script (or on
-- the PATH, as an installed one does)
step("export: each model as a program file, run on the test set by ember-run (no Lua)")
local bindir = (arg and arg[-1] or ""):match("^(.*)/[^/]*$")
local ember_run = bindir and bindir .. "/ember-run" or "ember-run"
for _, kind in ipairs({ "mlp", "cnn" }) do
  local data = require "ember.data"
  local _, test = table.unpack(data.random_split(data.digits{ images = kind == "cnn" }, { 0.8, 0.2 }, 1))
  local X, y = test:get_batch(ember.arange(1, data.len(test) + 1))
  local model = results[kind].model
  model:eval()
  local prog_path = string.format("%s/digits_%s.ember", out, kind)
  local prog = ember.export(function(xb) local l = model(xb); return l, l:argmax(2) end, { X:narrow(1, 1, 8) },
    { path = prog_path, input_names = { "pixels" }, output_names = { "logits", "class" },
      dynamic = { batch = { dim = 1, max = 512 } } })
  print("   " .. tostring(prog))
  local ins, outs = string.format("%s/digits_%s_test.safetensors", out, kind),
                    string.format("%s/digits_%s_classes.safetensors", out, kind)
  ember.save({ pixels = X }, ins)
  local cmd = string.format("'%s' '%s' '%s' -o '%s'", ember_run, prog_path, ins, outs)
  print("   $ " .. cmd)
  local ran = os.execute(cmd)
  check("ember-run ran the " .. kind .. " program", ran == true)
  if ran then
    local class = ember.load(outs).class                 -- 0-based, as in C
    local acc_rt = class:eq(y - 1):sum():item() / y:size(1)
    local acc_lua = digits.accuracy(model, X, y)
    print(string.format("   %s test accuracy: Lua model %.2f%%, ember-run %.2f%%: %s", kind, 100 * acc_lua,
                        100 * acc_rt, acc_rt == acc_lua and "equal" or "DIFFERENT"))
    check("ember-run's " .. kind .. " accuracy equals the Lua model's", acc_rt == acc_lua)
  end
end

if failures > 0 then
  print(failures .. " check(s) WRONG")
  os.exit(1)
end
print("demo: all checks ok")
