-- export_vk_spec.lua — programs on Vulkan (issue 6, item 6): the weights uploaded once
-- at load, the whole graph recorded once into a command buffer that each execute
-- replays, inputs and outputs through mapped staging. Every program's outputs are
-- compared with eager cpu ember on the same inputs (1e-5 of the largest value); the
-- Khronos validation layer must report nothing.
local ember = require "ember"
local nn = require "ember.nn"

local ok, why = ember.vk.available()
if not ok then
  describe("programs on vulkan", function() pending("no Vulkan device: " .. tostring(why)) end)
  return
end

local function tmpfile()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".ember"
end

-- largest |a - b| relative to the largest |b| (or 1)
local function close(a, b, what)
  assert.are.same(b:size(), a:size(), what)
  assert.are.equal(b:dtype(), a:dtype(), what)
  assert.are.equal("cpu", a:device(), what)
  local scale = math.max(b:abs():max():item(), 1)
  local e = (a:to("f64") - b:to("f64")):abs():max():item() / scale
  assert.is_true(e <= 1e-5, (what or "") .. ": error " .. e)
end

local function same(a, b, what)
  assert.are.same(b:size(), a:size(), what)
  assert.are.same(b:totable(), a:totable(), what)
end

-- Exports f at example x (batch dynamic up to 16 when dynamic), loads the file on
-- Vulkan; returns the program and the file's path.
local function on_vulkan(f, x, opts)
  local path = tmpfile()
  opts = opts or {}
  ember.export(f, type(x) == "table" and x or { x }, {
    path = path, passes = opts.passes,
    dynamic = opts.dynamic and { batch = { dim = 1, max = 16 } } or nil,
  })
  local p = ember.program(path, { device = "vulkan" })
  return p, path
end

local function mlp()
  ember.manual_seed(7)
  local m = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 10))
  m:eval()
  return function(x)
    local lp = m(x):log_softmax(2)
    return lp, lp:argmax(2)
  end
end

local function cnn()
  ember.manual_seed(8)
  local m = nn.Sequential(nn.Conv2d(1, 8, 3, { padding = 1 }), nn.BatchNorm2d(8), nn.ReLU(),
    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
  m:train()
  for _ = 1, 3 do m(ember.randn(16, 1, 8, 8) * 2 + 0.5) end   -- the running stats move
  m:eval()
  return m
end

local function encoder()
  ember.manual_seed(9)
  local m = nn.TransformerEncoderLayer(16, 2, 32, 0.1, { batch_first = true })
  m:eval()
  return m
end

local models = {
  { "an MLP with log_softmax and argmax", mlp, function(b) return ember.randn(b, 12) end },
  { "a CNN (conv2d, batch_norm, relu, max_pool2d, flatten, linear)", cnn,
    function(b) return ember.randn(b, 1, 8, 8) end },
  { "a TransformerEncoderLayer (d_model 16, 2 heads, feedforward 32, batch_first)", encoder,
    function(b) return ember.randn(b, 5, 16) end },
}

local function outputs(...) return { ... } end

local function check_outputs(got, want, what)
  assert.are.equal(#want, #got, what)
  for k = 1, #want do
    if want[k]:is_floating_point() then close(got[k], want[k], what .. " output " .. k)
    else same(got[k], want[k], what .. " output " .. k) end
  end
end

describe("programs on vulkan", function()
  for _, m in ipairs(models) do
    local name, make, input = m[1], m[2], m[3]
    for _, fuse in ipairs({ true, false }) do
      local how = fuse and "fused" or "unfused"
      it(name .. " gives eager ember's outputs, " .. how .. ", at two batch sizes", function()
        local f = make()
        local p, path = on_vulkan(f, input(4), { passes = { fuse = fuse }, dynamic = true })
        for _, b in ipairs({ 3, 11 }) do
          local x = input(b)
          check_outputs(outputs(p:run(x)), outputs(f(x)), how .. " batch " .. b)
        end
        p:close()
        os.remove(path)
      end)
    end
  end

  it("fused and unfused programs differ in their nodes, not in their results", function()
    local f = cnn()
    local x = ember.randn(5, 1, 8, 8)
    local pf, a = on_vulkan(f, x)
    local pu, b = on_vulkan(f, x, { passes = { fuse = false } })
    local function fused_nodes(p)
      local n = 0
      for _, node in ipairs(p:profile()) do n = n + (node.op:find("^fused_") and 1 or 0) end
      return n
    end
    assert.is_true(fused_nodes(pf) > 0)
    assert.are.equal(0, fused_nodes(pu))
    local yf, yu = pf:run(x), pu:run(x)
    close(yf, f(x), "fused")
    close(yu, f(x), "unfused")
    local cpu = ember.program(a)
    close(yf, cpu:run(x), "cpu program")
    pf:close(); pu:close(); cpu:close()
    os.remove(a); os.remove(b)
  end)

  it("each execute reads its new inputs: a replay is not a stale result", function()
    local f = mlp()
    local p, path = on_vulkan(f, ember.randn(6, 12))
    local x1, x2 = ember.randn(6, 12), ember.randn(6, 12) * 3
    local a1, c1 = p:run(x1)
    local a2, c2 = p:run(x2)
    local w1, v1 = f(x1)
    local w2, v2 = f(x2)
    close(a1, w1, "first")
    same(c1, v1, "first argmax")
    close(a2, w2, "second")
    same(c2, v2, "second argmax")
    assert.is_true((a1 - a2):abs():max():item() > 1e-3)
    local a3 = p:run(x1)
    close(a3, w1, "first again")
    p:close()
    os.remove(path)
  end)

  it("records the graph once for ten executes, and again only when the shapes change", function()
    local f = cnn()
    local p, path = on_vulkan(f, ember.randn(4, 1, 8, 8))
    assert.are.equal(1, p:sizes().records)                 -- at load
    for i = 1, 10 do
      local x = ember.randn(4, 1, 8, 8)
      close(p:run(x), f(x), "run " .. i)
    end
    assert.are.equal(1, p:sizes().records)
    p:close()
    local d, dpath = on_vulkan(f, ember.randn(4, 1, 8, 8), { dynamic = true })
    assert.are.equal(1, d:sizes().records)                 -- at load, at the bounds
    for _ = 1, 10 do d:run(ember.randn(3, 1, 8, 8)) end
    assert.are.equal(2, d:sizes().records)                 -- batch 3
    local x = ember.randn(9, 1, 8, 8)
    close(d:run(x), f(x), "batch 9")
    close(d:run(x), f(x), "batch 9 again")
    assert.are.equal(3, d:sizes().records)
    x = ember.randn(3, 1, 8, 8)
    close(d:run(x), f(x), "batch 3 again")
    assert.are.equal(4, d:sizes().records)
    local cpu = ember.program(dpath)
    cpu:run(x)
    assert.are.equal(0, cpu:sizes().records)               -- the cpu records nothing
    d:close(); cpu:close()
    os.remove(path); os.remove(dpath)
  end)

  it("an index out of range in an Embedding input is an error that names it; the next run works", function()
    ember.manual_seed(5)
    local emb = nn.Embedding(20, 6)
    local lin = nn.Linear(6, 4)
    local function f(ids)
      local logits = lin(emb(ids))
      return logits, logits:argmax(2)
    end
    local ids = ember.tensor({ { 1, 5, 20 }, { 3, 3, 7 } }, "i64")
    local p, path = on_vulkan(f, ids)
    assert.is_true(p:inputs()[1].index)
    assert.is_true(p:outputs()[2].index)
    local logits, cls = p:run(ids)                         -- 1-based in and out, as eager
    local el, ec = f(ids)
    close(logits, el, "logits")
    same(cls, ec, "argmax")
    for _, bad in ipairs({ 21, 0, -4 }) do
      local ok, err = pcall(p.run, p, ember.tensor({ { 1, bad, 2 }, { 1, 1, 1 } }, "i64"))
      assert.is_false(ok)
      err = tostring(err)
      assert.truthy(err:find("embedding", 1, true), err)
      assert.truthy(err:find("out of range", 1, true), err)
      assert.truthy(err:find(tostring(bad), 1, true), err)
    end
    local other = ember.tensor({ { 2, 19, 4 }, { 20, 1, 6 } }, "i64")
    logits, cls = p:run(other)
    el, ec = f(other)
    close(logits, el, "after the errors")
    same(cls, ec, "argmax after the errors")
    p:close()
    os.remove(path)
  end)

  it("a 0-dim constant read both as a host scalar and by a kernel that takes device tensors", function()
    -- mul takes the constant in its push constants; exp (kept: no passes) needs it on
    -- the device: the program keeps it on the cpu and shows exp a device copy
    local t = ember.tensor(0.5)
    local function f(x) return x * t + t:exp() end
    local x = ember.randn(3, 5)
    local p, path = on_vulkan(f, x, { passes = false })
    local ops = {}
    for _, node in ipairs(p:profile()) do ops[node.op] = true end
    assert.is_true(ops.exp and ops.mul and ops.add)
    close(p:run(x), f(x), "first")
    local x2 = ember.randn(3, 5)
    close(p:run(x2), f(x2), "second")
    p:close()
    os.remove(path)
    -- an op over two 0-dim constants only: it runs on the device over their copies
    local u = ember.tensor(2.0)
    local function g(y) return y * (t + u) end
    p, path = on_vulkan(g, x, { passes = false })
    assert.are.equal("add", p:profile()[1].op)
    close(p:run(x2), g(x2), "two constants")
    p:close()
    os.remove(path)
  end)

  it("a graph longer than a batch: 600 kernels, more than a batch's budget and descriptor pool", function()
    local function f(x)
      for i = 1, 200 do x = (x * (1 + i / 1000) + 0.01):tanh() end
      return x
    end
    local x = ember.randn(4, 33)
    local p, path = on_vulkan(f, x, { passes = { fuse = false } })
    assert.are.equal(600, #p:profile())
    close(p:run(x), f(x), "first")
    local x2 = ember.randn(4, 33)
    close(p:run(x2), f(x2), "second")
    assert.are.equal(1, p:sizes().records)
    p:close()
    os.remove(path)
  end)

  it("gives back its device memory when closed", function()
    ember.vk.sync()
    local before = ember.vk.info().memory_in_use
    local f = encoder()
    local p, path = on_vulkan(f, ember.randn(2, 5, 16), { dynamic = true })
    p:run(ember.randn(3, 5, 16))
    assert.is_true(ember.vk.info().memory_in_use > before)
    p:close()
    ember.vk.sync()
    assert.are.equal(before, ember.vk.info().memory_in_use)
    os.remove(path)
  end)

  it("the Khronos validation layer reported nothing", function()
    collectgarbage()
    ember.vk.sync()
    local info = ember.vk.info()
    if info.validation then
      assert.are.equal(0, info.validation_messages, table.concat(ember.vk.validation_messages(), "\n"))
    end
  end)
end)
