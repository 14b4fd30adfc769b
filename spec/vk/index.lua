-- Vulkan cases of the index family: index_select gather scatter scatter_add masked_fill
-- masked_select nonzero topk sort, the shape ops cat stack split chunk unbind flip roll
-- repeat tril triu, and nn's embedding and one_hot. Each op on contiguous and strided
-- inputs and index tensors, negative dims, index dtypes i64/i32/i16/i8/u8, value
-- dtypes f32 f64 f16 bf16 i64 i32 bool, empty tensors, lines longer than a workgroup
-- sorts (5000, 70000), ties, out-of-range index errors (the message must be the
-- cpu's), and backward through autograd where the op has a rule.
--
-- index_select, gather, scatter, scatter_add, embedding and one_hot with num_classes
-- check their index values on the device and report a bad one through an error slot:
-- a valid call records without submitting anything (the "no submit" cases), and an
-- out-of-range value surfaces at the next read-back with the cpu's message (the
-- "late" cases), after which the device goes on and a later sync raises nothing.
local ember = require "ember"
local V = require "vk_check"
local rand, randint = V.rand, V.randint

local cases, case = V.cases(11)

-- the error message of f(...) without the "file:line: " prefix pcall adds
local function err(f)
  return function(...)
    local ok, e = pcall(f, ...)
    if ok then return "no error" end
    return (tostring(e):gsub("^.-:%d+: ", ""))
  end
end

-- The "late" form of an error case: on the cpu the call raises; on vulkan the call
-- records without submitting, and reading its result back (ember.vk.sync for an empty
-- result, which reads nothing) raises the error. Either way the message (without the
-- "file:line: " prefix) is the first result, then valid(...)'s: a valid call after the
-- error, which must give the cpu's values.
local function late(f, valid, empty)
  return function(...)
    local args, msg = { ... }, nil
    if args[1]:device() ~= "vulkan" then
      local ok, e = pcall(f, ...)
      msg = ok and "no error" or tostring(e):gsub("^.-:%d+: ", "")
    else
      ember.vk.sync()
      local n = ember.vk.info().submits
      local r = f(...)
      assert(ember.vk.info().submits == n, "the call waited for the device")
      local ok, e = pcall(function()
        if empty then return ember.vk.sync() end
        return r:to("cpu")
      end)
      msg = ok and "no error" or tostring(e):gsub("^.-:%d+: ", "")
      local again, e2 = pcall(ember.vk.sync)
      assert(again, "a later sync raised: " .. tostring(e2))
    end
    assert(msg ~= "no error", "no error on " .. args[1]:device())
    return { msg, valid(...) }
  end
end

-- a valid call on vulkan records without submitting (no read-back of a flag)
local function no_submit(f)
  return function(x, ...)
    if x:device() ~= "vulkan" then return f(x, ...) end
    ember.vk.sync()
    local n = ember.vk.info().submits
    local r = f(x, ...)
    assert(ember.vk.info().submits == n, "the call waited for the device")
    return r
  end
end

-- a backward case: x (input 1) gets the gradient of sum(f(x, ...) * g) (g the last input)
local function grad(f)
  return function(x, ...)
    local args = { ... }
    local g = table.remove(args)
    x = x:clone():requires_grad_()
    f(x, table.unpack(args)):backward(g)
    return x.grad
  end
end

local function rep(t, ...) return t["repeat"](t, ...) end   -- `repeat` is a Lua keyword
local nan = 0 / 0

-- {====== index_select

case { "index_select dim 1", function(t, i) return t:index_select(1, i) end, { rand({ 7, 5 }), randint(1, 8, { 9 }) } }
case { "index_select dim 2", function(t, i) return ember.index_select(t, 2, i) end, { rand({ 4, 6 }), randint(1, 7, { 3 }) } }
case { "index_select dim -1 of 3-d", function(t, i) return t:index_select(-1, i) end, { rand({ 3, 4, 5 }), randint(1, 6, { 7 }) } }
case { "index_select middle dim", function(t, i) return t:index_select(2, i) end, { rand({ 3, 4, 5 }), randint(1, 5, { 6 }) } }
case { "index_select transposed input", function(t, i) return t:t():index_select(1, i) end, { rand({ 5, 4 }), randint(1, 5, { 6 }) } }
case { "index_select stepped index", function(t, i) return t:index_select(1, i[{ { 1, 9, 2 } }]) end,
       { rand({ 4, 3 }), randint(1, 5, { 9 }) } }
for _, idt in ipairs { "i32", "i16", "i8", "u8" } do
  case { "index_select " .. idt .. " index", function(t, i) return t:index_select(2, i) end,
         { rand({ 3, 7 }), randint(1, 8, { 5 }, idt) } }
end
case { "index_select f64", function(t, i) return t:index_select(1, i) end, { rand({ 6, 3 }, -2, 2, "f64"), randint(1, 7, { 8 }) } }
case { "index_select i64", function(t, i) return t:index_select(2, i) end, { randint(-99, 99, { 3, 5 }), randint(1, 6, { 4 }) } }
case { "index_select bool", function(t, i) return t:gt(0):index_select(1, i) end, { rand({ 5, 3 }), randint(1, 6, { 7 }) } }
case { "index_select f16", function(t, i) return t:to("f16"):index_select(2, i) end, { rand({ 3, 5 }), randint(1, 6, { 4 }) } }
case { "index_select 0-dim input", function(t, i) return t:index_select(1, i) end, { ember.tensor(4.5), ember.tensor({ 1 }) } }
case { "index_select 0-dim index", function(t, i) return t:index_select(2, i) end, { rand({ 3, 4 }), ember.tensor(3) } }
case { "index_select empty index", function(t, i) return t:index_select(1, i) end, { rand({ 3, 4 }), ember.tensor({}, "i64") } }
case { "index_select empty input", function(t, i) return t:index_select(2, i) end, { rand({ 0, 4 }), ember.tensor({ 2, 4 }) } }
case { "index_select 300x200 by 500", function(t, i) return t:index_select(2, i) end, { rand({ 300, 200 }), randint(1, 201, { 500 }) } }
case { "index_select no submit", no_submit(function(t, i) return t:index_select(2, i) end), { rand({ 6, 5 }), randint(1, 6, { 7 }) } }
case { "index_select out of range", late(function(t, i) return t:index_select(2, i) end,
                                         function(t, i) return t:index_select(2, i:clamp(1, 3)) end),
       { rand({ 2, 3 }), ember.tensor({ 1, 4, 0 }) } }
case { "index_select index 0", late(function(t, i) return t:index_select(1, i) end,
                                    function(t) return t:index_select(1, ember.tensor({ 2, 1 }):to(t:device())) end),
       { rand({ 2, 3 }), ember.tensor({ 0 }) } }
case { "index_select out of range, empty input", late(function(t, i) return t:index_select(2, i) end,
                                                      function(t, i) return t:index_select(2, i:clamp(1, 3)) end, true),
       { rand({ 0, 3 }), ember.tensor({ 2, 7 }) } }
case { "index_select out of range i8 index, dim 1", late(function(t, i) return t:index_select(1, i) end,
                                                        function(t, i) return t:index_select(1, i:clamp(1, 4)) end),
       { rand({ 4, 3 }), ember.tensor({ 2, -3, 1 }, "i8") } }
-- several bad values, past the first workgroups: the first in the index's order is named
case { "index_select out of range, the first of several", late(function(t, i) return t:index_select(2, i) end,
                                                              function(t, i) return t:index_select(2, i:clamp(1, 50)) end),
       { rand({ 3, 50 }), function()
           local i = randint(1, 51, { 900 }):totable()
           i[700], i[800], i[850] = 99, 51, -4
           return ember.tensor(i)
         end } }
case { "index_select two bad calls before a wait: the first is named", function(t, i)
    local ok, e = pcall(function()
      local a, b = t:index_select(2, i), t:index_select(2, i + 10)
      return { a:to("cpu"), b:to("cpu") }
    end)
    local msg = ok and "no error" or tostring(e):gsub("^.-:%d+: ", "")
    assert(not ok and pcall(ember.vk.sync))
    return { msg, t:index_select(2, i:clamp(1, 3)) }
  end, { rand({ 2, 3 }), ember.tensor({ 1, 5, 2 }) } }
case { "index_select backward (repeated indices)", grad(function(x, i) return x:index_select(2, i) end),
       { rand({ 4, 5 }), ember.tensor({ 2, 5, 2, 1, 2 }), rand({ 4, 5 }) } }

-- }======

-- {====== gather

case { "gather dim 2", function(t, i) return t:gather(2, i) end, { rand({ 4, 6 }), randint(1, 7, { 4, 6 }) } }
case { "gather dim 1 smaller index", function(t, i) return t:gather(1, i) end, { rand({ 5, 6 }), randint(1, 6, { 3, 4 }) } }
case { "gather dim -1 3-d", function(t, i) return ember.gather(t, -1, i) end, { rand({ 3, 4, 5 }), randint(1, 6, { 2, 4, 7 }) } }
case { "gather stepped input", function(t, i) return t[{ {}, {}, { 1, 6, 2 } }]:gather(3, i) end,
       { rand({ 3, 4, 6 }, -2, 2, "f64"), randint(1, 4, { 3, 4, 5 }) } }
case { "gather transposed input and index", function(t, i) return t:t():gather(2, i:t()) end,
       { rand({ 5, 4 }), randint(1, 6, { 3, 4 }) } }
case { "gather i32 index", function(t, i) return t:gather(2, i) end, { rand({ 4, 6 }), randint(1, 7, { 4, 9 }, "i32") } }
case { "gather i64", function(t, i) return t:gather(1, i) end, { randint(-50, 50, { 6, 5 }), randint(1, 7, { 8, 5 }) } }
case { "gather bool", function(t, i) return t:gt(0):gather(2, i) end, { rand({ 6, 5 }), randint(1, 6, { 6, 3 }) } }
case { "gather bf16", function(t, i) return t:to("bf16"):gather(2, i) end, { rand({ 6, 5 }), randint(1, 6, { 6, 3 }) } }
case { "gather empty index", function(t, i) return t:gather(2, i) end, { rand({ 3, 4 }), ember.tensor({}, "i64"):reshape(3, 0) } }
case { "gather 0-dim", function(t, i) return t:gather(1, i) end, { ember.tensor(2.5), ember.tensor(1) } }
case { "gather 100x1000", function(t, i) return t:gather(2, i) end, { rand({ 100, 1000 }), randint(1, 1001, { 100, 700 }) } }
case { "gather no submit", no_submit(function(t, i) return t:gather(2, i) end), { rand({ 4, 6 }), randint(1, 7, { 4, 9 }) } }
case { "gather out of range", late(function(t, i) return t:gather(1, i) end,
                                   function(t, i) return t:gather(1, i:clamp(1, 2)) end),
       { rand({ 2, 3 }), ember.tensor({ { 1, 2, 3 } }) } }
case { "gather negative index", late(function(t, i) return t:gather(2, i) end,
                                     function(t, i) return t:gather(2, i:clamp(1, 3)) end),
       { rand({ 2, 3 }), ember.tensor({ { 1, -2 }, { 5, 1 } }) } }
case { "gather out of range transposed i32 index", late(function(t, i) return t:gather(2, i:t()) end,
                                                        function(t, i) return t:gather(2, i:t():clamp(1, 4)) end),
       { rand({ 3, 4 }), ember.tensor({ { 1, 2, 3 }, { 4, 1, 2 }, { 3, 9, 1 } }, "i32") } }
case { "gather backward", grad(function(x, i) return x:gather(2, i) end),
       { rand({ 4, 6 }), randint(1, 7, { 4, 9 }), rand({ 4, 9 }) } }

-- }======

-- {====== scatter, scatter_add

case { "scatter src", function(t, i, s) return t:scatter(2, i, s) end,
       { rand({ 3, 5 }), ember.tensor({ { 5, 1 }, { 2, 3 }, { 4, 4 } }), rand({ 3, 2 }) } }
case { "scatter number", function(t, i) return t:scatter(2, i, 7) end, { rand({ 3, 5 }), ember.tensor({ { 5 }, { 1 }, { 3 } }) } }
case { "scatter value attr", function(t, i) return t:scatter(1, i, { value = 7.5 }) end,
       { rand({ 4, 3 }), ember.tensor({ { 2, 4, 1 } }) } }
case { "scatter repeated indices: the last wins", function(t, i, s) return t:scatter(2, i, s) end,
       { rand({ 4, 6 }), randint(1, 4, { 4, 30 }), rand({ 4, 30 }) } }
case { "scatter dim 1 repeated", function(t, i, s) return t:scatter(1, i, s) end,
       { rand({ 3, 50 }), randint(1, 4, { 40, 50 }), rand({ 40, 60 }) } }
case { "scatter src larger than index", function(t, i, s) return t:scatter(1, i, s) end,
       { rand({ 5, 4 }), ember.tensor({ { 3, 1 }, { 5, 2 } }), rand({ 3, 4 }) } }
case { "scatter transposed", function(t, i, s) return t:t():scatter(1, i, s:t()) end,
       { rand({ 5, 4 }), ember.tensor({ { 3, 1, 4, 2 }, { 2, 4, 1, 3 } }), rand({ 4, 2 }) } }
case { "scatter_ in place", function(t, i, s) t:scatter_(2, i, s); return t end,
       { rand({ 3, 5 }), ember.tensor({ { 5, 1 }, { 2, 3 }, { 4, 4 } }), rand({ 3, 2 }) }, inplace = true }
case { "scatter_ strided target", function(t, i) t:t():scatter_(1, i, -3); return t end,
       { rand({ 4, 3 }), ember.tensor({ { 2, 1, 3, 1 } }) }, inplace = true }
case { "scatter i64", function(t, i, s) return t:scatter(2, i, s) end, { randint(-9, 9, { 3, 4 }), randint(1, 5, { 3, 4 }), randint(100, 200, { 3, 4 }) } }
case { "scatter i64 number beyond 2^53", function(t, i) return t:scatter(2, i, (1 << 53) + 1) end,
       { randint(-9, 9, { 2, 4 }), ember.tensor({ { 2 }, { 3 } }) } }
case { "scatter f64", function(t, i, s) return t:scatter(1, i, s) end,
       { rand({ 3, 4 }, -1, 1, "f64"), randint(1, 4, { 2, 4 }), rand({ 2, 4 }, -1, 1, "f64") } }
case { "scatter bool", function(t, i) return t:gt(0):scatter(2, i, 1) end, { rand({ 3, 4 }), randint(1, 5, { 3, 2 }) } }
case { "scatter f16 number", function(t, i) return t:to("f16"):scatter(2, i, 0.1) end, { rand({ 3, 4 }), randint(1, 5, { 3, 2 }) } }
case { "scatter i32 index", function(t, i, s) return t:scatter(2, i, s) end, { rand({ 3, 6 }), randint(1, 7, { 3, 6 }, "i32"), rand({ 3, 6 }) } }
case { "scatter empty index", function(t, i) return t:scatter(2, i, 1) end, { rand({ 3, 4 }), ember.tensor({}, "i64"):reshape(3, 0) } }
case { "scatter no submit", no_submit(function(t, i, s) return t:scatter(2, i, s) end),
       { rand({ 4, 6 }), randint(1, 4, { 4, 30 }), rand({ 4, 30 }) } }
case { "scatter_ in place no submit", no_submit(function(t, i) t:scatter_(2, i, 2.5); return t end),
       { rand({ 3, 5 }), ember.tensor({ { 5, 1 }, { 2, 3 }, { 4, 4 } }) }, inplace = true }
case { "scatter out of range", late(function(t, i) return t:scatter(2, i, 1) end,
                                    function(t, i) return t:scatter(2, i:clamp(1, 3), 1) end),
       { rand({ 2, 3 }), ember.tensor({ { 4 } }) } }
case { "scatter out of range with src, repeated", late(function(t, i, s) return t:scatter(2, i, s) end,
                                                      function(t, i, s) return t:scatter(2, i:clamp(1, 3), s) end),
       { rand({ 2, 3 }), ember.tensor({ { 1, 1, 0 }, { 2, 7, 2 } }), rand({ 2, 3 }) } }
-- on vulkan the error surfaces at the next read-back, and the in-place target may have
-- the good indices' values by then (docs/vulkan.md, Faults): only the message and a
-- later valid scatter are compared, not the target
case { "scatter_ out of range (in place)", late(function(t, i, s) return t:scatter_(1, i, s) end,
                                                function(_, i, s) return ember.zeros({ 2, 3 }):to(i:device()):scatter_(1, i:clamp(1, 2), s) end),
       { rand({ 2, 3 }), ember.tensor({ { 1, 3 } }), rand({ 1, 2 }) } }
case { "scatter backward (input)", grad(function(x, i, s) return x:scatter(2, i, s) end),
       { rand({ 3, 5 }), ember.tensor({ { 5, 1 }, { 2, 3 }, { 4, 4 } }), rand({ 3, 2 }), rand({ 3, 5 }) } }
case { "scatter backward (src)", function(t, i, s, g)
    s = s:clone():requires_grad_()
    t:scatter(2, i, s):backward(g)
    return s.grad
  end, { rand({ 3, 5 }), ember.tensor({ { 5, 1 }, { 2, 3 }, { 4, 4 } }), rand({ 3, 4 }), rand({ 3, 5 }) } }

case { "scatter_add dim 1", function(t, i, s) return t:scatter_add(1, i, s) end,
       { rand({ 3, 4 }), randint(1, 4, { 6, 4 }), rand({ 6, 4 }) } }
case { "scatter_add dim -1 repeated", function(t, i, s) return ember.scatter_add(t, -1, i, s) end,
       { rand({ 4, 5 }), randint(1, 6, { 4, 40 }), rand({ 4, 40 }) } }
-- tol = 0: the device adds in the cpu's order, so the sums are the cpu's bit for bit
case { "scatter_add long (merge passes)", function(t, i, s) return t:scatter_add(1, i, s) end,
       { rand({ 50, 8 }), randint(1, 51, { 3000, 8 }), rand({ 3000, 8 }) }, tol = 0 }
case { "scatter_add one line of 5000", function(t, i, s) return t:scatter_add(1, i, s) end,
       { rand({ 7 }), randint(1, 8, { 5000 }), rand({ 5000 }) }, tol = 0 }
case { "scatter_add f64", function(t, i, s) return t:scatter_add(2, i, s) end,
       { rand({ 3, 4 }, -1, 1, "f64"), randint(1, 5, { 3, 9 }), rand({ 3, 9 }, -1, 1, "f64") } }
case { "scatter_add i64", function(t, i, s) return t:scatter_add(2, i, s) end,
       { randint(-9, 9, { 3, 4 }), randint(1, 5, { 3, 9 }), randint(-9, 9, { 3, 9 }) } }
case { "scatter_add f16", function(t, i, s) return t:to("f16"):scatter_add(2, i, s:to("f16")) end,
       { rand({ 3, 4 }), randint(1, 5, { 3, 9 }), rand({ 3, 9 }) }, tol = 1e-3 }
case { "scatter_add i32", function(t, i, s) return t:to("i32"):scatter_add(1, i, s:to("i32")) end,
       { randint(-9, 9, { 3, 4 }), randint(1, 4, { 5, 4 }), randint(-9, 9, { 5, 4 }) } }
case { "scatter_add transposed, stepped src", function(t, i, s) return t:t():scatter_add(1, i, s[{ {}, { 1, 8, 2 } }]) end,
       { rand({ 4, 3 }), randint(1, 4, { 5, 4 }), rand({ 5, 8 }) } }
case { "scatter_add_ in place strided", function(t, i, s) t:t():scatter_add_(2, i, s); return t end,
       { rand({ 4, 3 }), randint(1, 5, { 3, 6 }), rand({ 3, 6 }) }, inplace = true }
case { "scatter_add no submit", no_submit(function(t, i, s) return t:scatter_add(1, i, s) end),
       { rand({ 50, 8 }), randint(1, 51, { 3000, 8 }), rand({ 3000, 8 }) } }
case { "scatter_add_ in place no submit", no_submit(function(t, i, s) t:scatter_add_(2, i, s); return t end),
       { rand({ 4, 5 }), randint(1, 6, { 4, 40 }), rand({ 4, 40 }) }, inplace = true }
case { "scatter_add out of range", late(function(t, i, s) return t:scatter_add(1, i, s) end,
                                        function(t, i, s) return t:scatter_add(1, i:clamp(1, 2), s) end),
       { rand({ 2, 3 }), ember.tensor({ { 1, 2, 3 } }), rand({ 1, 3 }) } }
case { "scatter_add out of range, many repeated", late(function(t, i, s) return t:scatter_add(1, i, s) end,
                                                      function(t, i, s) return t:scatter_add(1, i:clamp(1, 7), s) end),
       { rand({ 7 }), function()
           local i = randint(1, 8, { 3000 }):totable()
           i[2000], i[2500] = 8, 0
           return ember.tensor(i)
         end, rand({ 3000 }) } }
case { "scatter_add_ out of range (in place)", late(function(t, i, s) return t:scatter_add_(2, i, s) end,
                                                    function(_, i, s) return ember.zeros({ 2, 3 }):to(i:device()):scatter_add_(2, i:clamp(1, 3), s) end),
       { rand({ 2, 3 }), ember.tensor({ { 1, 2, 1 }, { 3, 0, 2 } }), rand({ 2, 3 }) } }
case { "scatter_add backward (src)", function(t, i, s, g)
    s = s:clone():requires_grad_()
    t:scatter_add(2, i, s):backward(g)
    return s.grad
  end, { rand({ 3, 5 }), randint(1, 6, { 3, 7 }), rand({ 3, 8 }), rand({ 3, 5 }) } }

-- }======

-- {====== masked_fill, masked_select, nonzero

case { "masked_fill", function(t, m) return t:masked_fill(m, -1) end, { rand({ 4, 5 }), function() return rand({ 4, 5 }):gt(0) end } }
case { "masked_fill broadcast mask", function(t, m) return t:masked_fill(m, 2.5) end, { rand({ 4, 5 }), function() return rand({ 5 }):gt(0) end } }
case { "masked_fill transposed", function(t, m) return t:t():masked_fill(m, 0) end, { rand({ 5, 4 }), function() return rand({ 4, 1 }):gt(0) end } }
case { "masked_fill NaN", function(t, m) return t:masked_fill(m, nan) end, { rand({ 9 }), function() return rand({ 9 }):gt(0) end } }
case { "masked_fill i64 beyond 2^53", function(t, m) return t:masked_fill(m, (1 << 53) + 1) end,
       { randint(-5, 5, { 6 }), function() return rand({ 6 }):gt(0) end } }
case { "masked_fill f64", function(t, m) return t:masked_fill(m, -0.125) end, { rand({ 3, 3 }, -1, 1, "f64"), function() return rand({ 3 }):gt(0) end } }
case { "masked_fill f16", function(t, m) return t:to("f16"):masked_fill(m, 1 / 3) end, { rand({ 7 }), function() return rand({ 7 }):gt(0) end } }
case { "masked_fill bool", function(t, m) return t:gt(0):masked_fill(m, 1) end, { rand({ 7 }), function() return rand({ 7 }):gt(0) end } }
case { "masked_fill_ strided target", function(t, m) t:t():masked_fill_(m, 9); return t end,
       { rand({ 3, 4 }), ember.tensor({ false, true, true }) }, inplace = true }
case { "masked_fill backward", grad(function(x, m) return x:masked_fill(m, 0) end),
       { rand({ 3, 4 }), function() return rand({ 4 }):gt(0) end, rand({ 3, 4 }) } }

case { "masked_select", function(t, m) return t:masked_select(m) end, { rand({ 4, 5 }), function() return rand({ 4, 5 }):gt(0) end } }
case { "masked_select broadcast both", function(t, m) return t:masked_select(m) end,
       { rand({ 3, 1, 5 }), function() return rand({ 4, 1 }):gt(0) end } }
case { "masked_select transposed", function(t, m) return t:t():masked_select(m) end, { rand({ 5, 4 }), function() return rand({ 4, 5 }):gt(0) end } }
case { "masked_select stepped", function(t, m) return t[{ {}, { 1, 9, 2 } }]:masked_select(m) end,
       { rand({ 3, 9 }, -2, 2, "f64"), function() return rand({ 3, 5 }):gt(0) end } }
case { "masked_select none", function(t, m) return t:masked_select(m) end, { rand({ 4 }), ember.tensor({ false, false, false, false }) } }
case { "masked_select 0-dim mask", function(t, m) return t:masked_select(m) end, { rand({ 2, 3 }), ember.tensor(true) } }
-- (empties have the zero last: the cpu's row walker divides by zero when an outer dim
-- is 0, so the cpu oracle cannot run masked_select, nonzero, sort... on a 0 x n tensor)
case { "masked_select empty", function(t, m) return t:masked_select(m) end, { rand({ 3, 0 }), ember.tensor({ true, false, true }):reshape(3, 1) } }
case { "masked_select 5000 (several blocks)", function(t, m) return t:masked_select(m) end,
       { rand({ 50, 100 }), function() return rand({ 50, 100 }):gt(-1) end } }
case { "masked_select i64", function(t, m) return t:masked_select(m) end, { randint(-9, 9, { 30 }), function() return rand({ 30 }):gt(0) end } }
case { "masked_select bool", function(t, m) return t:gt(0.5):masked_select(m) end, { rand({ 30 }), function() return rand({ 30 }):gt(0) end } }
case { "masked_select f16", function(t, m) return t:to("f16"):masked_select(m) end, { rand({ 30 }), function() return rand({ 30 }):gt(0) end } }
case { "masked_select t[mask]", function(t, m) return t[m] end, { rand({ 4, 5 }), function() return rand({ 4, 5 }):gt(0) end } }
-- (its rule runs nonzero and scatter with 0-based index values)
case { "masked_select backward", grad(function(x, m) return x:masked_select(m) end),
       { rand({ 4, 5 }), ember.tensor({ true, false, true, true, false }), rand({ 12 }) } }

case { "nonzero 2-d", function(t) return t:nonzero() end, { randint(-1, 2, { 6, 7 }) } }
case { "nonzero 1-d", function(t) return ember.nonzero(t) end, { randint(0, 2, { 13 }) } }
case { "nonzero f32 -0 NaN", function(t) return t:nonzero() end, { ember.tensor({ 0, -0.0, nan, 1, -2, 0 }, "f32") } }
case { "nonzero f64 -0", function(t) return t:nonzero() end, { ember.tensor({ -0.0, 3, 0, nan }, "f64") } }
case { "nonzero f16 -0", function(t) return t:to("f16"):nonzero() end, { ember.tensor({ -0.0, 3, 0, 0.5 }) } }
case { "nonzero bool", function(t) return t:gt(0):nonzero() end, { rand({ 5, 6 }) } }
case { "nonzero i32 transposed 3-d", function(t) return t:to("i32"):permute(3, 1, 2):nonzero() end, { randint(0, 2, { 3, 4, 5 }) } }
case { "nonzero 0-dim", function(t) return t:nonzero() end, { ember.tensor(5) } }
case { "nonzero 0-dim zero", function(t) return t:nonzero() end, { ember.tensor(0) } }
case { "nonzero empty", function(t) return t:nonzero() end, { rand({ 4, 0 }) } }
case { "nonzero none", function(t) return t:nonzero() end, { ember.zeros(3, 4) } }
case { "nonzero 3000", function(t) return t:nonzero() end, { randint(0, 2, { 30, 100 }) } }

-- }======

-- {====== topk, sort

case { "topk largest", function(t) return { t:topk(3) } end, { rand({ 4, 10 }) } }
case { "topk smallest dim 1", function(t) return { t:topk(2, 1, false) } end, { rand({ 6, 5 }) } }
case { "topk dim -2 of 3-d", function(t) return { t:topk(3, -2) } end, { rand({ 2, 7, 3 }) } }
case { "topk sorted=false", function(t) return { ember.topk(t, 4, { sorted = false }) } end, { rand({ 3, 9 }) } }
case { "topk ties keep the earlier index", function(t) return { t:topk(5) } end, { randint(0, 4, { 5, 20 }, "i32") } }
case { "topk ties smallest", function(t) return { t:topk(6, 2, false) } end, { randint(0, 3, { 3, 17 }) } }
case { "topk NaN is the largest", function(t) return { t:topk(2) } end, { ember.tensor({ { 1, nan, 3 }, { 2, 0, -1 } }, "f32") } }
case { "topk k = 0", function(t) return { t:topk(0) } end, { rand({ 2, 3 }) } }
case { "topk k = n", function(t) return { t:topk(7, 1) } end, { rand({ 7, 2 }, -1, 1, "f64") } }
case { "topk transposed", function(t) return { t:t():topk(2) } end, { rand({ 6, 4 }) } }
case { "topk i64", function(t) return { t:topk(3) } end, { randint(-1000, 1000, { 4, 9 }) } }
case { "topk bf16", function(t) return { t:to("bf16"):topk(3) } end, { rand({ 4, 9 }) } }
case { "topk row of 5000", function(t) return { t:topk(10) } end, { rand({ 3, 5000 }) } }
case { "topk row of 5000 ties", function(t) return { t:topk(50, 2, false) } end, { randint(0, 20, { 2, 5000 }) } }
case { "topk row of 70000", function(t) return { t:topk(20) } end, { rand({ 70000 }) } }
case { "topk backward", grad(function(x) return (x:topk(3)) end), { rand({ 4, 8 }), rand({ 4, 3 }) } }

case { "sort ascending", function(t) return { t:sort() } end, { rand({ 5, 9 }) } }
case { "sort descending dim 1", function(t) return { t:sort(1, true) } end, { rand({ 6, 4 }) } }
case { "sort dim -2 of 3-d", function(t) return { ember.sort(t, -2) } end, { rand({ 3, 6, 4 }) } }
case { "sort stable ties", function(t) return { t:sort() } end, { randint(0, 4, { 6, 33 }) } }
case { "sort stable ties descending", function(t) return { t:sort(2, true) } end, { randint(0, 4, { 6, 33 }, "i32") } }
case { "sort stable attr", function(t) return { t:sort(-1, false, true) } end, { randint(0, 4, { 2, 10 }) } }
case { "sort NaN -0 inf", function(t) return { t:sort() } end,
       { ember.tensor({ { 3, nan, -1, -0.0, 0, 1 / 0, -1 / 0, nan }, { 0, -0.0, 2, 2, -2, nan, 1, 0 } }, "f32") } }
case { "sort NaN descending f64", function(t) return { t:sort(2, true) } end,
       { ember.tensor({ { 3, nan, -1, -0.0, 0, 1 / 0 }, { 2, 2, 1, nan, 0, -0.0 } }, "f64") } }
case { "sort f16", function(t) return { t:to("f16"):sort() } end, { rand({ 3, 40 }) } }
case { "sort bf16 descending", function(t) return { t:to("bf16"):sort(2, true) } end, { rand({ 3, 40 }) } }
case { "sort i8 descending", function(t) return { t:to("i8"):sort(-1, true) } end, { randint(-100, 100, { 4, 30 }) } }
case { "sort u8", function(t) return { t:to("u8"):sort() } end, { randint(0, 255, { 4, 30 }) } }
case { "sort bool", function(t) return { t:gt(0):sort() } end, { rand({ 3, 20 }) } }
case { "sort i64 extremes", function(t) return { t:sort() } end,
       { ember.tensor({ math.maxinteger, math.mininteger, 0, -1, 1, math.mininteger }) } }
case { "sort 0-dim", function(t) return { t:sort() } end, { ember.tensor(4.5) } }
case { "sort empty lines (last dim)", function(t) return { t:sort() } end, { rand({ 5, 0 }) } }
case { "sort empty lines", function(t) return { t:sort(1) } end, { rand({ 0, 5 }) } }
case { "sort transposed", function(t) return { t:t():sort() } end, { rand({ 9, 5 }) } }
case { "sort many short lines", function(t) return { t:sort(2, true) } end, { rand({ 1000, 7 }) } }
case { "sort lines of 2048", function(t) return { t:sort() } end, { rand({ 2, 2048 }) } }
case { "sort lines of 2049", function(t) return { t:sort() } end, { randint(0, 50, { 2, 2049 }) } }
case { "sort line of 5000", function(t) return { t:sort() } end, { rand({ 5000 }) } }
case { "sort lines of 5000 ties descending", function(t) return { t:sort(2, true) } end, { randint(0, 30, { 3, 5000 }) } }
case { "sort strided lines of 5000", function(t) return { t:sort(1) } end, { rand({ 5000, 3 }) } }
case { "sort line of 70000", function(t) return { t:sort(1, true) } end, { rand({ 70000 }) } }
case { "sort line of 70000 ties", function(t) return { t:sort() } end, { randint(0, 100, { 70000 }, "i32") } }
case { "sort backward", grad(function(x) return (x:sort(2, true)) end), { rand({ 4, 8 }), rand({ 4, 8 }) } }

-- }======

-- {====== embedding, one_hot

case { "embedding", function(i, w) return ember.embedding(i, w) end, { randint(1, 11, { 4, 3 }), rand({ 10, 6 }) } }
case { "embedding i32 indices", function(i, w) return ember.embedding(i, w) end, { randint(1, 11, { 7 }, "i32"), rand({ 10, 6 }) } }
case { "embedding strided weight", function(i, w) return ember.embedding(i, w:t()) end, { randint(1, 7, { 5 }), rand({ 4, 6 }) } }
case { "embedding transposed indices", function(i, w) return ember.embedding(i:t(), w) end, { randint(1, 11, { 3, 4 }), rand({ 10, 5 }) } }
case { "embedding f16 weight", function(i, w) return ember.embedding(i, w:to("f16")) end, { randint(1, 11, { 6 }), rand({ 10, 5 }) } }
case { "embedding f64 weight", function(i, w) return ember.embedding(i, w) end, { randint(1, 11, { 6 }), rand({ 10, 5 }, -1, 1, "f64") } }
case { "embedding 0-dim index", function(i, w) return ember.embedding(i, w) end, { ember.tensor(3), rand({ 10, 5 }) } }
case { "embedding empty indices", function(i, w) return ember.embedding(i, w) end, { ember.tensor({}, "i64"), rand({ 10, 5 }) } }
case { "embedding no submit", no_submit(function(i, w) return ember.embedding(i, w) end), { randint(1, 11, { 4, 3 }), rand({ 10, 6 }) } }
case { "embedding out of range", late(function(i, w) return ember.embedding(i, w) end,
                                      function(i, w) return ember.embedding(i:clamp(1, 10), w) end),
       { ember.tensor({ 1, 11 }), rand({ 10, 2 }) } }
case { "embedding index 0", late(function(i, w) return ember.embedding(i, w) end,
                                 function(i, w) return ember.embedding(i:clamp(1, 10), w) end),
       { ember.tensor({ 0, 3 }), rand({ 10, 2 }) } }
case { "embedding out of range i32 2-d", late(function(i, w) return ember.embedding(i, w) end,
                                              function(i, w) return ember.embedding(i:clamp(1, 10), w) end),
       { ember.tensor({ { 3, 2, 1 }, { 4, 12, -1 } }, "i32"), rand({ 10, 5 }) } }
case { "embedding out of range, zero-width weight", late(function(i, w) return ember.embedding(i, w) end,
                                                        function(i, w) return ember.embedding(i:clamp(1, 4), w) end, true),
       { ember.tensor({ 2, 5 }), rand({ 4, 0 }) } }
case { "embedding backward (repeated indices)", function(i, w, g)
    w = w:clone():requires_grad_()
    ember.embedding(i, w):backward(g)
    return w.grad
  end, { ember.tensor({ { 2, 5, 2 }, { 1, 2, 9 } }), rand({ 10, 4 }), rand({ 2, 3, 4 }) } }
case { "embedding backward 3000 tokens", function(i, w, g)
    w = w:clone():requires_grad_()
    ember.embedding(i, w):backward(g)
    return w.grad
  end, { randint(1, 21, { 3000 }), rand({ 20, 3 }), rand({ 3000, 3 }) }, tol = 0 }

case { "one_hot", function(i) return ember.one_hot(i) end, { ember.tensor({ 1, 3, 2 }) } }
case { "one_hot num_classes", function(i) return ember.one_hot(i, 6) end, { randint(1, 7, { 4, 5 }) } }
case { "one_hot i32 transposed", function(i) return ember.one_hot(i:t(), 5) end, { randint(1, 6, { 3, 4 }, "i32") } }
case { "one_hot 0-dim", function(i) return ember.one_hot(i, 4) end, { ember.tensor(2) } }
case { "one_hot empty with classes", function(i) return ember.one_hot(i, 3) end, { ember.tensor({}, "i64") } }
case { "one_hot empty inferred", err(function(i) return ember.one_hot(i) end), { ember.tensor({}, "i64") } }
case { "one_hot num_classes no submit", no_submit(function(i) return ember.one_hot(i, 6) end), { randint(1, 7, { 4, 5 }) } }
case { "one_hot out of range", late(function(i) return ember.one_hot(i, 3) end,
                                    function(i) return ember.one_hot(i:clamp(1, 3), 3) end),
       { ember.tensor({ 1, 4 }) } }
case { "one_hot out of range below base", late(function(i) return ember.one_hot(i, 5) end,
                                               function(i) return ember.one_hot(i:clamp(1, 5), 5) end),
       { ember.tensor({ { 1, 2 }, { 0, 9 } }) } }
case { "one_hot value 0", err(function(i) return ember.one_hot(i) end), { ember.tensor({ 0, 2 }) } }
case { "one_hot all below base", err(function(i) return ember.one_hot(i) end), { ember.tensor({ -3, 0 }) } }

-- }======

-- {====== cat, stack, split, chunk, unbind

case { "cat dim 1", function(a, b) return ember.cat({ a, b }) end, { rand({ 2, 3 }), rand({ 4, 3 }) } }
case { "cat dim -1 transposed", function(a, b) return ember.cat({ a:t(), b, a:t() }, -1) end, { rand({ 3, 2 }), rand({ 2, 5 }) } }
case { "cat mixed dtypes", function(a, b) return ember.cat({ a:to("i32"), b }) end, { randint(-5, 5, { 2 }), rand({ 3 }, -1, 1, "f64") } }
case { "cat skips (0,)", function(e, a) return ember.cat({ e, a, e }, 2) end, { ember.tensor({}, "f32"), rand({ 2, 3 }) } }
case { "cat 10 inputs", function(a) local l = {}; for k = 1, 10 do l[k] = a * k end; return ember.cat(l, 2) end, { rand({ 3, 2 }) } }
case { "cat bool", function(a) return ember.cat({ a:gt(0), a:lt(0) }) end, { rand({ 5 }) } }
case { "cat f16 stepped", function(a) return ember.cat({ a:to("f16")[{ { 1, 5, 2 } }], a:to("f16") }) end, { rand({ 5, 2 }) } }
case { "cat backward", function(a, b, g)
    a = a:clone():requires_grad_()
    ember.cat({ b, a }, 2):backward(g)
    return a.grad
  end, { rand({ 2, 3 }), rand({ 2, 4 }), rand({ 2, 7 }) } }

case { "stack", function(a, b) return ember.stack({ a, b }) end, { rand({ 2, 3 }), rand({ 2, 3 }) } }
case { "stack dim -1", function(a, b) return ember.stack({ a, b:t() }, -1) end, { rand({ 2, 3 }), rand({ 3, 2 }) } }
case { "stack 0-dim", function(a, b) return ember.stack({ a, b }) end, { ember.tensor(1.5), ember.tensor(2) } }
case { "stack mixed dtypes", function(a, b) return ember.stack({ a, b }, 2) end, { randint(0, 9, { 3 }), rand({ 3 }) } }
case { "stack backward", function(a, b, g)
    a = a:clone():requires_grad_()
    ember.stack({ b, a }, 2):backward(g)
    return a.grad
  end, { rand({ 2, 3 }), rand({ 2, 3 }), rand({ 2, 2, 3 }) } }

case { "split", function(t) return t:split(2, 2) end, { rand({ 3, 5 }) } }
case { "split sizes", function(t) return ember.split(t, { 1, 4 }, -1) end, { rand({ 3, 5 }) } }
case { "chunk", function(t) return t:chunk(3) end, { rand({ 7, 2 }) } }
case { "unbind", function(t) return t:unbind(2) end, { rand({ 2, 3 }) } }
case { "split backward", function(t, g)
    t = t:clone():requires_grad_()
    local p = t:split(2, 2)
    ember.cat({ p[3], p[1] }, 2):backward(g)
    return t.grad
  end, { rand({ 3, 5 }), rand({ 3, 3 }) } }
case { "unbind backward", function(t, g)
    t = t:clone():requires_grad_()
    local p = t:unbind(1)
    local y = p[2] * 3 + p[1]
    y:backward(g)
    return t.grad
  end, { rand({ 2, 3 }), rand({ 3 }) } }

-- }======

-- {====== flip, roll, repeat, tril, triu

case { "flip", function(t) return t:flip(1) end, { rand({ 4, 5 }) } }
case { "flip two dims", function(t) return t:flip(1, -1) end, { rand({ 3, 4, 5 }) } }
case { "flip transposed", function(t) return t:t():flip(2) end, { rand({ 4, 5 }) } }
case { "flip bool", function(t) return t:gt(0):flip(1) end, { rand({ 9 }) } }
case { "flip f16", function(t) return t:to("f16"):flip(1) end, { rand({ 9 }) } }
case { "flip i64", function(t) return t:flip(2) end, { randint(-9, 9, { 3, 7 }) } }
case { "flip backward", grad(function(x) return x:flip(2) end), { rand({ 3, 4 }), rand({ 3, 4 }) } }

case { "roll dim", function(t) return t:roll(1, 2) end, { rand({ 3, 5 }) } }
case { "roll negative", function(t) return t:roll(-2, -1) end, { rand({ 3, 5 }) } }
case { "roll flattened", function(t) return t:roll(4) end, { rand({ 3, 5 }) } }
case { "roll flattened transposed", function(t) return t:t():roll(-7) end, { rand({ 3, 5 }) } }
case { "roll two dims", function(t) return t:roll({ 1, 3 }, { dims = { 1, 2 } }) end, { rand({ 3, 5 }) } }
case { "roll same dim twice", function(t) return t:roll({ 3, 4 }, { dims = { 2, 2 } }) end, { rand({ 3, 5 }) } }
case { "roll big shift", function(t) return t:roll(1003, 3) end, { rand({ 2, 3, 7 }) } }
case { "roll f64", function(t) return t:roll(2, 1) end, { rand({ 5, 2 }, -1, 1, "f64") } }
case { "roll bool", function(t) return t:gt(0):roll(1) end, { rand({ 5 }) } }
case { "roll empty", function(t) return t:roll(1, 1) end, { rand({ 0, 3 }) } }
case { "roll backward", grad(function(x) return x:roll(2, 2) end), { rand({ 3, 5 }), rand({ 3, 5 }) } }

case { "repeat", function(t) return rep(t, 2, 3) end, { rand({ 2, 3 }) } }
case { "repeat leading dims", function(t) return rep(t, 2, 1, 2) end, { rand({ 3 }) } }
case { "repeat transposed", function(t) return rep(t:t(), 2, 2) end, { rand({ 2, 3 }) } }
case { "repeat zero", function(t) return rep(t, 0, 2) end, { rand({ 2, 3 }) } }
case { "repeat bool", function(t) return rep(t:gt(0), 3) end, { rand({ 4 }) } }
case { "repeat f16", function(t) return rep(t:to("f16"), 2, 2) end, { rand({ 2, 2 }) } }
case { "repeat 0-dim", function(t) return rep(t, 3) end, { ember.tensor(2) } }
case { "repeat backward", grad(function(x) return rep(x, 2, 1, 3) end), { rand({ 2, 3 }), rand({ 2, 2, 9 }) } }

case { "tril", function(t) return t:tril() end, { rand({ 5, 5 }) } }
case { "tril -1 wide", function(t) return t:tril(-1) end, { rand({ 4, 7 }) } }
case { "tril 2 tall", function(t) return ember.tril(t, 2) end, { rand({ 7, 4 }) } }
case { "tril huge diagonal", function(t) return t:tril(1 << 40) end, { rand({ 3, 4 }) } }
case { "triu", function(t) return t:triu() end, { rand({ 5, 5 }) } }
case { "triu 1 batched", function(t) return t:triu(1) end, { rand({ 2, 3, 4, 5 }) } }
case { "triu -5", function(t) return t:triu(-5) end, { rand({ 2, 3 }) } }
case { "triu huge negative diagonal", function(t) return t:triu(-(1 << 40)) end, { rand({ 3, 4 }) } }
case { "triu transposed i64", function(t) return t:t():triu() end, { randint(-9, 9, { 4, 3 }) } }
case { "tril bool", function(t) return t:gt(0):tril() end, { rand({ 4, 4 }) } }
case { "tril f16", function(t) return t:to("f16"):tril() end, { rand({ 4, 4 }) } }
case { "tril_ in place strided", function(t) t:t():tril_(); return t end, { rand({ 4, 3 }) }, inplace = true }
case { "triu_ in place", function(t) t:triu_(1); return t end, { rand({ 3, 3 }) }, inplace = true }
case { "tril empty", function(t) return t:tril() end, { rand({ 0, 3 }) } }
case { "tril backward", grad(function(x) return x:tril(1) end), { rand({ 4, 4 }), rand({ 4, 4 }) } }
case { "triu backward", grad(function(x) return x:triu() end), { rand({ 3, 5 }), rand({ 3, 5 }) } }

-- }======

-- {====== 8 dims, strided: what no merging of dims makes smaller

local function p8(t) return t:permute(8, 7, 6, 5, 4, 3, 2, 1) end
local s8, s8t = { 2, 3, 2, 3, 2, 3, 2, 3 }, { 3, 2, 3, 2, 3, 2, 3, 2 }
case { "index_select 8-d", function(t, i) return p8(t):index_select(5, i) end, { rand(s8), randint(1, 3, { 5 }) } }
case { "gather 8-d", function(t, i) return p8(t):gather(3, i) end, { rand(s8), randint(1, 3, s8t) } }
case { "scatter 8-d", function(t, i, s) return p8(t):scatter(3, i, s) end, { rand(s8), randint(1, 3, s8t), rand(s8t) } }
case { "scatter_add 8-d", function(t, i, s) return p8(t):scatter_add(3, i, s) end, { rand(s8), randint(1, 3, s8t), rand(s8t) } }
case { "masked_fill 8-d", function(t, m) return p8(t):masked_fill(m, 1) end, { rand(s8), function() return rand(s8t):gt(0) end } }
case { "masked_select 8-d", function(t, m) return p8(t):masked_select(m) end, { rand(s8), function() return rand(s8t):gt(0) end } }
case { "nonzero 8-d", function(t) return p8(t):nonzero() end, { randint(0, 2, s8) } }
case { "sort 8-d", function(t) return { p8(t):sort(4) } end, { rand(s8) } }
case { "embedding 7-d indices", function(i, w) return ember.embedding(i, w) end, { randint(1, 4, { 2, 1, 2, 1, 2, 1, 2 }), rand({ 3, 2 }) } }
case { "one_hot 7-d indices", function(i) return ember.one_hot(i, 3) end, { randint(1, 4, { 2, 1, 2, 1, 2, 1, 2 }) } }
case { "roll 8-d", function(t) return p8(t):roll({ 1, 2 }, { dims = { 1, 8 } }) end, { rand(s8) } }
case { "repeat to 8-d", function(t) return rep(t:permute(4, 3, 2, 1), 2, 1, 2, 1, 2, 1, 2, 1) end, { rand({ 2, 3, 2, 3 }) } }
case { "tril 8-d", function(t) return p8(t):tril() end, { rand(s8) } }
case { "scatter 0-dim", function(t, i) return t:scatter(1, i, 5) end, { ember.tensor(3.0), ember.tensor(1) } }
case { "scatter_add 0-dim", function(t, i, s) return t:scatter_add(1, i, s) end, { ember.tensor(3.0), ember.tensor(1), ember.tensor(2.0) } }
case { "topk 0-dim", function(t) return { t:topk(1) } end, { ember.tensor(3.0) } }

-- }======

-- a zero-size outer dim (the cpu once divided by it)
case { "sort 0x5", function(t) return { t:sort(2) } end, { rand({ 0, 5 }) } }
case { "topk 0x5", function(t) return { t:topk(2) } end, { rand({ 0, 5 }) } }
case { "nonzero 0x4", function(t) return t:nonzero() end, { rand({ 0, 4 }) } }
case { "masked_select 0x3", function(t) return t:masked_select(t:gt(0)) end, { rand({ 0, 3 }) } }

return cases
