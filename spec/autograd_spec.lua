-- autograd_spec.lua — the engine: recording, backward, accumulation, grad mode,
-- detach, retain_graph, hooks (tensor, post-accumulate, their order), Lua-defined
-- Functions, in-place rules and the errors; gradients are hand-computed here (the
-- per-op rules are checked against torch in grad_spec.lua).
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

describe("autograd basics", function()
  it("records through ops and backpropagates hand-computed gradients", function()
    local x = leaf({ { 1, 2 }, { 3, 4 } })
    local w = leaf({ { 1, -1 }, { 0.5, 2 } })
    local y = x:mm(w):relu()                    -- [[2, 3], [5, 5]]
    assert.equal("relu", y.grad_fn)
    assert.is_true(y.requires_grad)
    assert.is_false(y.is_leaf)
    assert.is_true(x.is_leaf)
    local loss = (y * y):sum()
    assert.equal(2 * 2 + 3 * 3 + 5 * 5 + 5 * 5, loss:item())
    loss:backward()
    -- dy = 2y; dx = dy w^T; dw = x^T dy
    assert.same({ { -2, 14 }, { 0, 25 } }, x.grad:totable())
    assert.same({ { 34, 36 }, { 48, 52 } }, w.grad:totable())
  end)

  it("accumulates into .grad across backwards, and .grad = nil clears it", function()
    local x = leaf({ 1, 2, 3 })
    ember.sum(x * 3):backward()
    ember.sum(x * x):backward()
    assert.same({ 3 + 2, 3 + 4, 3 + 6 }, x.grad:totable())
    x.grad = nil
    assert.is_nil(x.grad)
    ember.sum(x * 2):backward()
    assert.same({ 2, 2, 2 }, x.grad:totable())
  end)

  it("sums every path into a leaf used several times", function()
    local x = leaf({ 2, 5 })
    local y = x * x + x * 3 + x                 -- dy/dx = 2x + 4
    y:sum():backward()
    assert.same({ 8, 14 }, x.grad:totable())
  end)

  it("does not touch inputs that do not require grad", function()
    local x = leaf({ 1, 2 })
    local c = ember.tensor({ 3, 4 }, "f32")
    ember.sum(x * c):backward()
    assert.is_nil(c.grad)
    assert.is_false(c.requires_grad)
    assert.same({ 3, 4 }, x.grad:totable())
  end)

  it("takes an explicit gradient for a non-scalar result and refuses to guess one", function()
    local x = leaf({ 1, 2, 3 })
    local y = x * 2
    y:backward(ember.tensor({ 1, 10, 100 }, "f32"))
    assert.same({ 2, 20, 200 }, x.grad:totable())
    local msg = err(function() (x * 2):backward() end)
    assert.truthy(msg:find("one-element", 1, true), msg)
    msg = err(function() (x * 2):backward(ember.tensor({ 1, 2 }, "f32")) end)
    assert.truthy(msg:find("shape 2 for a result of shape 3", 1, true), msg)
  end)

  it("converts a gradient to the leaf's dtype and keeps dtypes through promotion", function()
    local x = ember.tensor({ 1, 2 }, "f64")
    x.requires_grad = true
    local f = ember.tensor({ 3, 4 }, "f32")
    local y = x * f                              -- f64
    assert.equal("f64", y:dtype())
    y:sum():backward()
    assert.equal("f64", x.grad:dtype())
    assert.same({ 3, 4 }, x.grad:totable())
  end)
end)

describe("grad mode", function()
  it("records nothing under no_grad and restores the mode, even after an error", function()
    local x = leaf({ 1, 2 })
    local y, z = ember.no_grad(function(a) return a * 2, a + 1 end, x)
    assert.is_false(y.requires_grad)
    assert.is_false(z.requires_grad)
    assert.is_true(ember.is_grad_enabled())
    pcall(ember.no_grad, function() error("boom") end)
    assert.is_true(ember.is_grad_enabled())
    local prev = ember.set_grad_enabled(false)
    assert.is_true(prev)
    assert.is_false((x * 2).requires_grad)
    ember.enable_grad(function() assert.is_true((x * 2).requires_grad) end)
    ember.set_grad_enabled(true)
  end)

  it("lets parameters be updated in place inside no_grad", function()
    local w = leaf({ 1, 2 })
    ember.sum(w * w):backward()
    ember.no_grad(function() w:add_(w.grad, -0.5) end)
    assert.same({ 0, 0 }, w:totable())
    assert.is_true(w.is_leaf)
    assert.is_true(w.requires_grad)
  end)
end)

describe("detach and requires_grad", function()
  it("detach shares storage but has no history", function()
    local x = leaf({ 1, 2 })
    local y = x * 2
    local d = y:detach()
    assert.is_false(d.requires_grad)
    assert.is_true(d.is_leaf)
    ember.no_grad(function() d:fill_(7) end)
    assert.same({ 7, 7 }, y:totable())
    local z = y:detach_()
    assert.is_true(rawequal(z, y))
    assert.is_false(y.requires_grad)
  end)

  it("refuses requires_grad on integer tensors and on non-leaves", function()
    local i = ember.tensor({ 1, 2 })
    local msg = err(function() i.requires_grad = true end)
    assert.truthy(msg:find("floating point", 1, true), msg)
    local y = leaf({ 1.5 }) * 2
    msg = err(function() y.requires_grad = false end)
    assert.truthy(msg:find("leaf", 1, true), msg)
    msg = err(function() y.requires_grad = 1 end)
    assert.truthy(msg:find("boolean", 1, true), msg)
    assert.same(i, i:requires_grad_(false))
  end)

  it("checks an assigned .grad", function()
    local x = leaf({ 1, 2 })
    local msg = err(function() x.grad = ember.tensor({ 1, 2, 3 }, "f32") end)
    assert.truthy(msg:find("shape 3", 1, true), msg)
    msg = err(function() x.grad = ember.tensor({ 1, 2 }, "f64") end)
    assert.truthy(msg:find("f64", 1, true), msg)
    x.grad = ember.tensor({ 5, 6 }, "f32")
    ember.sum(x * 1):backward()
    assert.same({ 6, 7 }, x.grad:totable())
  end)
end)

describe("retain_graph", function()
  it("frees the graph after backward unless asked to keep it", function()
    local x = leaf({ 1, 2 })
    local loss = (x * x):sum()
    loss:backward(nil, true)
    loss:backward()
    assert.same({ 4, 8 }, x.grad:totable())
    local msg = err(function() loss:backward() end)
    assert.truthy(msg:find("retain_graph", 1, true), msg)
    local l2 = (x * 3):sum()
    l2:backward{ retain_graph = true }
    l2:backward{ gradient = ember.tensor(2, "f32") }
    assert.same({ 4 + 9, 8 + 9 }, x.grad:totable())
  end)

  it("releases every node once results and graph are gone", function()
    collectgarbage()
    collectgarbage()
    local before = ember.autograd._live_nodes()
    do
      local x = leaf({ 1, 2, 3 })
      local h = x
      for _ = 1, 50 do h = (h * 1.01):relu() end
      h:sum():backward()
    end
    collectgarbage()
    collectgarbage()
    assert.equal(before, ember.autograd._live_nodes())
  end)

  it("releases a very long chain without deep recursion", function()
    local x = leaf({ 1 })
    local h = x
    for _ = 1, 100000 do h = h + 0 end
    h = nil
    collectgarbage()
    collectgarbage()
    assert.is_true(ember.autograd._live_nodes() < 100)
  end)
end)

describe("hooks", function()
  it("tensor hooks see and may replace the gradient, on leaves and intermediates", function()
    local x = leaf({ 1, 2 })
    local seen = {}
    x:register_hook(function(g) seen[#seen + 1] = g:totable() end)
    local y = x * 3
    y:register_hook(function(g) return g * 10 end)
    y:sum():backward()
    assert.same({ { 30, 30 } }, seen)
    assert.same({ 30, 30 }, x.grad:totable())
  end)

  it("removes a hook through its handle", function()
    local x = leaf({ 1 })
    local calls = 0
    local h = x:register_hook(function() calls = calls + 1 end)
    ember.sum(x * 2):backward()
    h:remove()
    ember.sum(x * 2):backward()
    assert.equal(1, calls)
  end)

  it("fires post-accumulate hooks once per backward, after all paths are summed", function()
    local x = leaf({ 1, 2 })
    local got = {}
    x:register_post_accumulate_grad_hook(function(p) got[#got + 1] = p.grad:totable() end)
    ember.sum(x * x + x * 2):backward()           -- one call with 2x + 2
    assert.same({ { 4, 6 } }, got)
  end)

  it("fires post-accumulate hooks in reverse order of use", function()
    local ws = {}
    for i = 1, 4 do ws[i] = leaf({ i }) end
    local order = {}
    for i, w in ipairs(ws) do
      w:register_post_accumulate_grad_hook(function() order[#order + 1] = i end)
    end
    local h = ember.tensor({ 1 }, "f32")
    for i = 1, 4 do h = (h * ws[i]):relu() end
    h:sum():backward()
    assert.same({ 4, 3, 2, 1 }, order)
  end)

  it("turns an error in a hook into the error of backward", function()
    local x = leaf({ 1 })
    x:register_hook(function() error("bad hook") end)
    local msg = err(function() (x * 2):sum():backward() end)
    assert.truthy(msg:find("bad hook", 1, true), msg)
    local y = leaf({ 1 })
    y:register_hook(function() return 42 end)
    msg = err(function() (y * 2):sum():backward() end)
    assert.truthy(msg:find("returned a number", 1, true), msg)
    local z = leaf({ 1 })
    msg = err(function() ember.tensor({ 1 }, "f32"):register_hook(function() end) end)
    assert.truthy(msg:find("does not require grad", 1, true), msg)
    msg = err(function() (z * 2):register_post_accumulate_grad_hook(function() end) end)
    assert.truthy(msg:find("only leaf", 1, true), msg)
  end)
end)

describe("in place under autograd", function()
  it("refuses in-place changes of leaves that require grad", function()
    local x = leaf({ 1, 2 })
    local msg = err(function() x:add_(1) end)
    assert.truthy(msg:find("add_: a leaf tensor that requires grad", 1, true), msg)
  end)

  it("records in-place ops on intermediates", function()
    local x = leaf({ 1, -2, 3 })
    local y = x * 2
    y:mul_(3)
    y:relu_()
    y:sum():backward()
    assert.same({ 6, 0, 6 }, x.grad:totable())
  end)

  it("raises when a saved tensor was changed in place before backward", function()
    local a = leaf({ 1, 2 })
    local b = a * 2
    local c = b * b
    b:add_(1)
    local msg = err(function() c:sum():backward() end)
    assert.truthy(msg:find("changed in place", 1, true), msg)
  end)

  it("allows in-place changes of tensors no rule reads", function()
    local a = leaf({ 1, 2 })
    local b = a + 1                               -- add's rule reads no values
    local c = b + 1
    b:mul_(5)
    c:sum():backward()
    assert.same({ 1, 1 }, a.grad:totable())
  end)
end)

describe("ember.autograd.Function", function()
  local Cube = ember.autograd.Function{
    name = "Cube",
    forward = function(ctx, x, k)
      ctx:save_for_backward(x)
      ctx.k = k
      return x * x * x * k
    end,
    backward = function(ctx, g)
      local x = ctx.saved_tensors[1]
      return g * x * x * (3 * ctx.k), nil
    end,
  }

  it("links a Lua forward and backward into the graph", function()
    local x = leaf({ 1, 2 })
    local y = Cube(x, 2)
    assert.equal("Cube", y.grad_fn)
    assert.same({ 2, 16 }, y:totable())
    ember.sum(y * 1):backward()
    assert.same({ 6, 24 }, x.grad:totable())
    local z = leaf({ 3 })
    Cube.apply(z, 1):sum():backward()
    assert.same({ 27 }, z.grad:totable())
  end)

  it("passes nil for outputs no gradient reached and reports errors", function()
    local Two = ember.autograd.Function{
      forward = function(_, x) return x * 2, x * 3 end,
      backward = function(_, g1, g2)
        assert(g2 == nil)
        return g1 * 2
      end,
    }
    local x = leaf({ 1 })
    local a = Two(x)
    a:sum():backward()
    assert.same({ 2 }, x.grad:totable())
    local Bad = ember.autograd.Function{
      forward = function(_, x) return x * 1 end,
      backward = function() error("no backward here") end,
    }
    local msg = err(function() Bad(leaf({ 1 })):sum():backward() end)
    assert.truthy(msg:find("no backward here", 1, true), msg)
  end)

  it("records nothing when no input requires grad", function()
    local y = Cube(ember.tensor({ 2 }, "f32"), 1)
    assert.is_false(y.requires_grad)
    assert.same({ 8 }, y:totable())
  end)
end)

describe("memory", function()
  it("frees every intermediate and gradient of a step (heap flat over 300 steps)", function()
    local x = ember.tensor({ { 1, 2 }, { 3, 4 } }, "f32")
    local w = leaf({ { 0.5, -1 }, { 2, 1 } })
    local function step()
      local loss = ember.sum(x:mm(w):relu() * 3)
      loss:backward()
    end
    for _ = 1, 20 do step() end
    collectgarbage()
    collectgarbage()
    local before = ember.heap_bytes()
    for _ = 1, 300 do step() end
    collectgarbage()
    collectgarbage()
    assert.equal(before, ember.heap_bytes())
  end)
end)

describe("in place with aliased inputs", function()
  it("refuses an in-place op that reads its own target, before writing", function()
    local x = leaf({ 0.5, -1, 2 })
    local z = x * 1
    local msg = err(function() z:mul_(z) end)
    assert.truthy(msg:find("shares memory", 1, true), msg)
    assert.same({ 0.5, -1, 2 }, z:totable())       -- nothing was written
  end)
end)

describe("string attributes", function()
  it("keeps its own copy of a string attribute for backward", function()
    local x = leaf({ -1, 0.5, 2 })
    local mode = string.rep("n", 1) .. "one"         -- a string only this call holds
    local y = ember.gelu(x, mode)
    mode = nil
    collectgarbage()
    collectgarbage()
    ember.sum(y):backward()
    -- gelu'(x) = Phi(x) + x phi(x)
    local function phi(v) return math.exp(-v * v / 2) / math.sqrt(2 * math.pi) end
    local function Phi(v)
      local t = 1 / (1 + 0.2316419 * math.abs(v))
      local p = phi(v) * t * (0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))))
      return v >= 0 and 1 - p or p
    end
    local g = x.grad:totable()
    for i, v in ipairs({ -1, 0.5, 2 }) do
      assert(math.abs(g[i] - (Phi(v) + v * phi(v))) < 1e-5, "element " .. i)
    end
  end)
end)

describe("what a rule reads depends on which gradients are needed", function()
  it("lets an input change in place when no needed gradient reads it", function()
    local w = leaf({ 3, 6 })
    local h = w / 3                              -- dh/dw = 1/3 reads only the 3
    ember.no_grad(function() w:add_(1) end)
    ember.sum(h):backward()
    for _, v in ipairs(w.grad:totable()) do assert(math.abs(v - 1 / 3) < 1e-7) end
    local x = ember.tensor({ { 1, 2 } }, "f32")
    local v = leaf({ { 0.5 }, { 2 } })
    local y = x:mm(v)                            -- only v needs a gradient: x is read
    ember.no_grad(function() v:mul_(10) end)     -- v is not: free to change
    ember.sum(y):backward()
    assert.same({ { 1 }, { 2 } }, v.grad:totable())
    local y2 = x:mm(v)
    x:add_(1)                                    -- but x is read for v's gradient
    local msg = err(function() ember.sum(y2):backward() end)
    assert.truthy(msg:find("input 1 of mm was changed in place", 1, true), msg)
  end)
end)
