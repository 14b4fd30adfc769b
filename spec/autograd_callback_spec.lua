-- autograd_callback_spec.lua — ember.autograd.queue_callback: callbacks queued during a
-- backward run once, in order, after every node and post-accumulate hook of the
-- outermost backward; errors come out of backward; queueing outside a backward fails.
local ember = require "ember"

local function leaf(values)
  local t = ember.tensor(values, "f32")
  t.requires_grad = true
  return t
end

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

-- three leaves used in order a, b, c: backward reaches c's accumulate first
local function chain()
  local a, b, c = leaf({ 1, 2 }), leaf({ 3, 4 }), leaf({ 5, 6 })
  return a, b, c, function() return ((a * 2 + b) * c):sum() end
end

describe("autograd.queue_callback", function()
  it("runs callbacks once, in the order queued, after the backward", function()
    local a, b, c, f = chain()
    local log = {}
    a:register_post_accumulate_grad_hook(function()
      log[#log + 1] = "hook a"
      ember.autograd.queue_callback(function() log[#log + 1] = "cb 1" end)
      ember.autograd.queue_callback(function() log[#log + 1] = "cb 2" end)
    end)
    c:register_post_accumulate_grad_hook(function()
      log[#log + 1] = "hook c"
      ember.autograd.queue_callback(function() log[#log + 1] = "cb 0" end)
    end)
    f():backward()
    assert.same({ "hook c", "hook a", "cb 0", "cb 1", "cb 2" }, log)
    -- a second backward starts from an empty queue: only what it queues runs
    log = {}
    f():backward()
    assert.same({ "hook c", "hook a", "cb 0", "cb 1", "cb 2" }, log)
  end)

  it("runs after every post-accumulate hook and sees every .grad final", function()
    local a, b, c, f = chain()
    local hooks, seen = 0, nil
    for _, p in ipairs({ a, b, c }) do
      p:register_post_accumulate_grad_hook(function()
        hooks = hooks + 1
        if hooks == 1 then
          ember.autograd.queue_callback(function()
            seen = { hooks = hooks, a = a.grad:totable(), b = b.grad:totable(), c = c.grad:totable() }
          end)
        end
      end)
    end
    f():backward()
    -- d/da = 2c, d/db = c, d/dc = 2a + b
    assert.same({ hooks = 3, a = { 10, 12 }, b = { 5, 6 }, c = { 5, 8 } }, seen)
  end)

  it("runs before backward returns, with the gradients a callback may change", function()
    local a, _, _, f = chain()
    a:register_post_accumulate_grad_hook(function(p)
      ember.autograd.queue_callback(function() p.grad:mul_(0.5) end)
    end)
    f():backward()
    assert.same({ 5, 6 }, a.grad:totable())        -- 2c halved, already when backward is back
  end)

  it("runs callbacks that callbacks queue, after the ones already queued", function()
    local a, _, _, f = chain()
    local log = {}
    a:register_post_accumulate_grad_hook(function()
      ember.autograd.queue_callback(function()
        log[#log + 1] = 1
        ember.autograd.queue_callback(function()
          log[#log + 1] = 3
          ember.autograd.queue_callback(function() log[#log + 1] = 4 end)
        end)
      end)
      ember.autograd.queue_callback(function() log[#log + 1] = 2 end)
    end)
    f():backward()
    assert.same({ 1, 2, 3, 4 }, log)
  end)

  it("leaves callbacks of a nested backward to the outermost one", function()
    local x = leaf({ 2 })
    local inner = leaf({ 3 })
    local log = {}
    local Nested = ember.autograd.Function{
      forward = function(_, t) return t * 1 end,
      backward = function(_, g)
        -- a backward inside a backward (rules run with grad mode off)
        ember.enable_grad(function() (inner * inner):sum():backward() end)
        log[#log + 1] = "inner done"
        return g
      end,
    }
    inner:register_post_accumulate_grad_hook(function()
      ember.autograd.queue_callback(function() log[#log + 1] = "cb from inner" end)
    end)
    x:register_post_accumulate_grad_hook(function()
      log[#log + 1] = "hook x"
      ember.autograd.queue_callback(function() log[#log + 1] = "cb from outer" end)
    end)
    Nested(x):sum():backward()
    assert.same({ "inner done", "hook x", "cb from inner", "cb from outer" }, log)
    assert.same({ 6 }, inner.grad:totable())
  end)

  it("makes backward raise a callback's error and drops the callbacks after it", function()
    local a, _, _, f = chain()
    local ran = {}
    a:register_post_accumulate_grad_hook(function()
      ember.autograd.queue_callback(function() ran[#ran + 1] = 1 end)
      ember.autograd.queue_callback(function() error("bucket 3 failed") end)
      ember.autograd.queue_callback(function() ran[#ran + 1] = 3 end)
    end)
    local msg = err(function() f():backward() end)
    assert.matches("autograd callback", msg, 1, true)
    assert.matches("bucket 3 failed", msg, 1, true)
    assert.same({ 1 }, ran)
    -- nothing is left queued: the next backward runs only its own callbacks
    ran = {}
    local ok = pcall(function() f():backward() end)
    assert.is_false(ok)
    assert.same({ 1 }, ran)
  end)

  it("frees, without running, callbacks queued before backward failed", function()
    local x = leaf({ 1, 2 })
    local ran = false
    local Bad = ember.autograd.Function{
      forward = function(_, t) return t * 1 end,
      backward = function() error("rule failed") end,
    }
    local y = leaf({ 1, 1 })
    y:register_post_accumulate_grad_hook(function()
      ember.autograd.queue_callback(function() ran = true end)
    end)
    -- y's accumulate runs first (newest), then Bad's backward fails
    local loss = (Bad(x) + y * 1):sum()
    local msg = err(function() loss:backward() end)
    assert.matches("rule failed", msg, 1, true)
    assert.is_false(ran)
    -- and the queue is empty for the next backward
    local z = leaf({ 1 })
    local count = 0
    z:register_post_accumulate_grad_hook(function()
      ember.autograd.queue_callback(function() count = count + 1 end)
    end)
    local l = (z * 3):sum()
    l:backward()
    assert.equal(1, count)
    assert.is_false(ran)
  end)

  it("is an error outside a backward, and needs a function", function()
    local msg = err(ember.autograd.queue_callback, function() end)
    assert.matches("no backward is running", msg, 1, true)
    msg = err(ember.autograd.queue_callback, 42)
    assert.matches("function expected", msg, 1, true)
    -- from a callback's own error path nothing leaks into the next backward either
    local a, _, _, f = chain()
    local n = 0
    a:register_post_accumulate_grad_hook(function()
      ember.autograd.queue_callback(function() n = n + 1 end)
    end)
    f():backward()
    f():backward()
    assert.equal(2, n)
  end)

  -- DDP starts a bucket's allreduce from these hooks, so they must fire as soon as the
  -- leaf's gradient is complete, not when the whole backward is over; also in a second
  -- step, whose graph reaches leaves the first step's (still alive) graph reached too.
  it("fires a leaf's post-accumulate hook as soon as its gradient is complete", function()
    local nn = require "ember.nn"
    local m = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    local x = ember.randn(3, 4)
    local keep = {}
    for step = 1, 2 do
      local events = {}
      m[5].weight:register_post_accumulate_grad_hook(function() events[#events + 1] = "last layer's weight" end)
      local h1 = m[2](m[1](x))
      h1:register_hook(function() events[#events + 1] = "first hidden layer's gradient" end)
      local loss = m[5](m[4](m[3](h1))):sum()
      keep[step] = loss          -- the graph of step 1 stays alive during step 2
      loss:backward({ retain_graph = true })
      assert.same({ "last layer's weight", "first hidden layer's gradient" }, { events[1], events[2] },
                  "step " .. step)
    end
  end)
end)
