-- errors_spec.lua — bad calls raise Lua errors that name the op and the offending
-- shapes, dtypes or arguments (in the user's 1-based terms), and no input crashes the
-- process: a sweep calls every op in ember.ops() with garbage.
local ember = require "ember"

local a = ember.tensor({{1, 2, 3}, {4, 5, 6}}, "f32")      -- 2x3
local b = ember.tensor({{1, 2}, {3, 4}}, "f32")            -- 2x2
local idx = ember.tensor({1, 2})                           -- i64

local function closed_tensor()
  local t = ember.tensor({1, 2, 3})
  t:close()
  return t
end

-- { name, function making the bad call, text the message must contain... }
local cases = {
  -- elementwise and broadcasting
  { "add shapes", function() return a + ember.tensor({1, 2}) end, "add:", "2x3", "cannot be broadcast" },
  { "ember.add shapes", function() return ember.add(a, b) end, "add:", "2x3 and 2x2" },
  { "mul shapes", function() return a * b end, "mul:", "2x3 and 2x2" },
  { "sub shapes", function() return a - ember.ones(4) end, "sub:", "2x3 and 4" },
  { "div shapes", function() return a / ember.ones(3, 3) end, "div:", "2x3 and 3x3" },
  { "pow shapes", function() return a ^ b end, "pow:", "2x3 and 2x2" },
  { "remainder shapes", function() return a % b end, "remainder:", "2x3 and 2x2" },
  { "eq shapes", function() return ember.eq(a, b) end, "eq:", "2x3 and 2x2" },
  { "maximum shapes", function() return ember.maximum(a, b) end, "maximum:", "2x3 and 2x2" },
  { "logical_and shapes", function() return ember.logical_and(ember.ones(2), ember.ones(3)) end,
    "logical_and:", "2 and 3" },
  { "where shapes", function() return ember.where(ember.tensor({true, false, true}), a, b) end,
    "where:", "2x3 and 2x2" },
  { "in-place broadcast", function() return ember.ones(3):add_(ember.ones(2, 3)) end,
    "add:", "2x3", "in-place", "3" },
  { "in-place dtype", function() return ember.ones(3, { dtype = "i64" }):add_(0.5) end,
    "add:", "f32", "i64" },
  -- products
  { "matmul shapes", function() return a:matmul(a) end, "matmul:", "2x3 and 2x3", "3 ~= 2" },
  { "matmul 0-dim", function() return ember.matmul(ember.tensor(1.0), a) end, "matmul:", "[]", "2x3" },
  { "mm shapes", function() return ember.mm(a, ember.ones(4, 2)) end, "mm:", "2x3 and 4x2", "3 ~= 4" },
  { "mm 1-D", function() return ember.mm(ember.ones(3), a) end, "mm:", "2-D", "3 and 2x3" },
  { "bmm batches", function() return ember.bmm(ember.ones(2, 3, 4), ember.ones(3, 4, 5)) end,
    "bmm:", "2x3x4 and 3x4x5" },
  { "bmm 2-D", function() return ember.bmm(a, a) end, "bmm:", "3-D", "2x3" },
  { "dot lengths", function() return ember.dot(ember.ones(3), ember.ones(4)) end, "dot:", "3 and 4" },
  { "outer 2-D", function() return ember.outer(a, a) end, "outer:", "1-D", "2x3" },
  { "linear shapes", function() return ember.linear(a, ember.ones(5, 4)) end, "linear:", "2x3", "5x4" },
  { "addmm shapes", function() return ember.addmm(ember.ones(2, 2), a, ember.ones(4, 2)) end,
    "addmm:", "2x3 and 4x2" },
  -- cat, stack, split
  { "cat shapes", function() return ember.cat({ a, b }, 1) end, "cat:", "2x3", "2x2", "dim 2" },
  { "cat dim", function() return ember.cat({ a, a }, 3) end, "cat:", "dim 3", "2 dims" },
  { "cat ranks", function() return ember.cat({ a, ember.ones(2, 3, 3) }, 1) end, "cat:", "2x3x3" },
  { "cat empty list", function() return ember.cat({}, 1) end, "cat:", "non-empty" },
  { "cat non-tensor", function() return ember.cat({ a, "x" }, 1) end, "cat:", "element 2", "string" },
  { "stack shapes", function() return ember.stack({ a, b }) end, "stack:", "2x3", "2x2" },
  { "split size 0", function() return a:split(0) end, "split:", "0" },
  { "chunk 0", function() return a:chunk(0) end, "chunk:", "0" },
  -- dims
  { "sum dim 0", function() return a:sum(0) end, "sum:", "dim 0", "count from 1" },
  { "sum dim 3", function() return a:sum(3) end, "sum:", "dim 3", "2x3" },
  { "sum dim -3", function() return a:sum(-3) end, "sum:", "dim -3", "2x3" },
  { "softmax dim", function() return a:softmax(5) end, "softmax:", "dim 5", "2 dims" },
  { "log_softmax dim", function() return a:log_softmax(-3) end, "log_softmax:", "dim -3" },
  { "cumsum dim", function() return a:cumsum(4) end, "cumsum:", "dim 4" },
  { "argmax dim", function() return a:argmax(3) end, "argmax:", "dim 3" },
  { "var dim", function() return a:var(3) end, "var:", "dim 3", "2x3" },
  { "sort dim", function() return a:sort(3) end, "sort:", "dim 3" },
  { "flip dim", function() return a:flip(3) end, "flip:", "dim 3" },
  { "roll dim", function() return a:roll(1, 4) end, "roll:", "dim 4" },
  { "unbind dim", function() return a:unbind(3) end, "unbind:", "dim 3" },
  { "size dim", function() return a:size(3) end, "size:", "dim 3", "2 dims" },
  { "narrow dim 0", function() return a:narrow(0, 1, 1) end, "narrow:", "dim 0" },
  { "transpose dim", function() return a:transpose(1, 3) end, "transpose:", "dim 3", "2x3" },
  { "squeeze dim", function() return a:squeeze(4) end, "squeeze:", "dim 4", "2x3" },
  { "unsqueeze dim", function() return a:unsqueeze(5) end, "unsqueeze:", "dim 5", "2x3" },
  { "permute count", function() return a:permute(1) end, "permute:", "2x3" },
  { "permute repeated", function() return a:permute(1, 1) end, "permute:", "dim 1 repeated" },
  { "dim not an integer", function() return a:sum(1.5) end, "sum:", "dim", "fraction" },
  { "dim a string", function() return a:sum("x") end, "sum:", "dim", "string" },
  -- ranges, indexing, slicing
  { "narrow range", function() return a:narrow(2, 2, 5) end, "narrow:", "start 2", "length 5", "dim 2",
    "size 3" },
  { "select range", function() return a:select(1, 3) end, "select:", "index 3", "dim 1", "size 2" },
  { "index past the end", function() return a[3] end, "index 3", "dim 1", "size 2" },
  { "1-D index past the end", function() return idx[5] end, "index:", "5", "size 2" },
  { "index 0", function() return a[0] end, "index:", "0 is not an index" },
  { "fractional index", function() return a[1.5] end, "index:", "fraction" },
  { "index by string entry", function() return a[{ "x" }] end, "index:", "entry 1", "string" },
  { "index by boolean", function() return a[true] end, "index:", "boolean" },
  { "slice out of range", function() return a[{ {}, { 2, 5 } }] end, "index:", "2..5", "dim 2", "size 3" },
  { "slice step 0", function() return a[{ {}, { 1, 3, 0 } }] end, "index:", "step" },
  { "too many indices", function() return a[{ 1, 1, 1 }] end, "index:", "3 indices", "2x3" },
  { "assign a string", function() a[1] = "x" end, "index:", "string" },
  { "assign a wrong shape", function() a[1] = ember.ones(4) end, "copy", "3 and 4" },
  { "set a field", function() a.foo = 1 end, "tensor:", "\"foo\"" },
  { "gather index dtype", function() return a:gather(2, ember.ones(2, 2)) end, "gather:", "i64", "f32" },
  { "gather index range", function() return a:gather(2, ember.tensor({ { 1, 4 }, { 1, 1 } })) end,
    "gather:", "index 4", "dim 2", "size 3" },
  { "index_select range", function() return a:index_select(2, ember.tensor({ 1, 7 })) end,
    "index_select:", "index 7", "size 3" },
  { "scatter range", function() return ember.ones(2, 3):scatter(2, ember.tensor({ { 4 }, { 1 } }), ember.ones(2, 1)) end,
    "scatter:", "index 4", "size 3" },
  { "embedding range", function() return ember.embedding(ember.tensor({ 5 }), ember.ones(3, 2)) end,
    "embedding:", "index 5", "3x2" },
  { "topk k", function() return a:topk(5) end, "topk:", "k = 5", "size 3" },
  { "masked_fill mask dtype", function() return a:masked_fill(a, 1) end, "masked_fill:", "bool", "f32" },
  { "where condition dtype", function() return ember.where(a, a, a) end, "where:", "bool", "f32", "2x3" },
  -- views and shapes
  { "view numel", function() return a:view(4, 2) end, "view:", "4x2", "6 elements", "2x3" },
  { "view of a transposed tensor", function() return a:t():view(6) end, "view:", "3x2", "reshape" },
  { "view two -1", function() return a:view(-1, -1) end, "view:", "-1" },
  { "reshape numel", function() return a:reshape(5) end, "reshape:", "shape 5", "6 elements" },
  { "expand", function() return a:expand(3, 3) end, "expand:", "2x3", "3x3" },
  { "expand_as", function() return a:expand_as(ember.ones(3, 3)) end, "expand", "2x3", "3x3" },
  { "repeat too few", function() return a["repeat"](a, 1) end, "repeat:", "2x3" },
  { "triu of a vector", function() return ember.ones(3):triu() end, "triu:", "shape 3" },
  { "pad odd count", function() return ember.pad(a, { 1 }) end, "pad:", "1 values", "2x3" },
  -- dtypes
  { "to unknown dtype", function() return a:to("f33") end, "to:", "\"f33\"" },
  { "tensor unknown dtype", function() return ember.tensor({ 1 }, "float99") end, "tensor", "\"float99\"" },
  { "zeros unknown dtype", function() return ember.zeros(2, { dtype = "x8" }) end, "zeros:", "\"x8\"" },
  { "mean of integers", function() return ember.tensor({ 1, 2 }):mean() end, "mean:", "i64" },
  { "std of integers", function() return ember.tensor({ 1, 2 }):std() end, "std:", "i64" },
  { "one_hot of floats", function() return ember.one_hot(ember.ones(3)) end, "one_hot:", "f32" },
  -- argument types and counts
  { "string for a tensor", function() return ember.add(a, "x") end, "add:", "argument #2", "string" },
  { "string operand", function() return a + "x" end, "add:", "argument #2", "string" },
  { "method on a string", function() return ember.Tensor.sum("x") end, "sum:", "argument #1", "string" },
  { "abs of a string", function() return ember.abs("x") end, "abs:", "argument #1", "string" },
  { "missing input", function() return ember.matmul(a) end, "matmul:", "2 tensor inputs", "got 1" },
  { "no arguments", function() return ember.sum() end, "sum:", "tensor" },
  { "keepdim not a boolean", function() return a:sum(1, "yes") end, "sum:", "keepdim", "string" },
  { "fill with a string", function() return a:fill_("x") end, "fill", "value", "string" },
  { "norm p a string", function() return a:norm("x") end, "norm:", "p", "string" },
  { "too many arguments", function() return ember.relu(a, 1, 2, 3) end, "relu:", "too many arguments",
    "#2" },
  { "too many arguments to sum", function() return a:sum(1, true, "f32", 4, 5) end, "sum:",
    "too many arguments" },
  { "unknown option", function() return ember.sum(a, { dimz = 1 }) end, "sum:", "unknown option",
    "\"dimz\"" },
  { "unknown conv2d option", function()
      return ember.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2), nil, { strid = 2 })
    end, "conv2d:", "\"strid\"" },
  { "unknown device", function() return ember.zeros(2, { device = "cuda" }) end, "zeros:", "\"cuda\"" },
  { "tensor from a string", function() return ember.tensor("x") end, "tensor", "string" },
  { "ragged nested table", function() return ember.tensor({ { 1, 2 }, { 3 } }) end, "tensor:", "ragged" },
  { "string element", function() return ember.tensor({ 1, "x" }) end, "tensor:", "element 2", "string" },
  { "item of many", function() return a:item() end, "item:", "2x3" },
  { "length of a 0-dim tensor", function() return #ember.tensor(1) end, "0-dim" },
  -- closed tensors
  { "closed operand", function() return closed_tensor() + 1 end, "add:", "closed" },
  { "closed method", function() return closed_tensor():sum() end, "sum:", "closed" },
  { "closed second input", function() return ember.matmul(a, closed_tensor()) end, "matmul:",
    "argument #2", "closed" },
  { "closed index", function() return closed_tensor()[1] end, "closed" },
  { "closed size", function() return closed_tensor():size() end, "closed" },
  { "closed in a cat list", function() return ember.cat({ a, closed_tensor() }) end, "cat:", "closed" },
  -- creation
  { "negative size", function() return ember.zeros(-2) end, "zeros:", "-2" },
  { "eye negative", function() return ember.eye(-1) end, "eye:", "-1" },
  { "arange step 0", function() return ember.arange(1, 5, 0) end, "arange:", "step", "0" },
  { "linspace steps", function() return ember.linspace(0, 1, -1) end, "linspace:", "-1" },
  { "randint range", function() return ember.randint(5, 2, { 3 }) end, "randint:", "5", "2" },
  { "full without value", function() return ember.full({ 2 }) end, "full:", "fill_value" },
  { "dropout p", function() return ember.dropout(a, 2) end, "dropout:", "2" },
  -- nn
  { "conv2d channels", function() return ember.conv2d(ember.ones(1, 2, 5, 5), ember.ones(3, 4, 3, 3)) end,
    "conv2d:", "3x4x3x3", "1x2x5x5" },
  { "conv2d kernel too big", function() return ember.conv2d(ember.ones(1, 1, 2, 2), ember.ones(1, 1, 3, 3)) end,
    "conv2d:", "3x3", "1x1x2x2" },
  { "conv_transpose2d channels", function()
      return ember.conv_transpose2d(ember.ones(1, 2, 3, 3), ember.ones(3, 1, 2, 2))
    end, "conv_transpose2d:", "3x1x2x2", "1x2x3x3" },
  { "max_pool2d too small", function() return ember.max_pool2d(ember.ones(1, 1, 2, 2), 3) end,
    "max_pool2d:", "1x1x2x2" },
  { "avg_pool2d rank", function() return ember.avg_pool2d(ember.ones(3), 2) end, "avg_pool2d:", "shape 3" },
  { "adaptive_avg_pool2d rank", function() return ember.adaptive_avg_pool2d(a, { 1, 1 }) end,
    "adaptive_avg_pool2d:", "2x3" },
  { "interpolate rank", function() return ember.interpolate(a, { size = { 4, 4 } }) end, "interpolate:",
    "2x3" },
  { "layer_norm shape", function() return ember.layer_norm(a, { 4 }) end, "layer_norm:", "4", "2x3" },
  { "batch_norm stats", function() return ember.batch_norm(ember.ones(2, 3), ember.ones(4), ember.ones(4)) end,
    "batch_norm:", "shape 4", "2x3" },
}

describe("errors", function()
  it("has many cases", function()
    assert.is_true(#cases >= 50)
  end)

  for _, case in ipairs(cases) do
    local name, fn = case[1], case[2]
    it(name, function()
      local ok, err = pcall(fn)
      assert.is_false(ok, name .. ": the call succeeded")
      assert.equal("string", type(err))
      for k = 3, #case do
        assert.truthy(err:find(case[k], 1, true),
                      string.format("%s: %q not in the message: %s", name, case[k], err))
      end
    end)
  end

  it("leaves the tensors of a failed call intact", function()
    assert.same({ { 1, 2, 3 }, { 4, 5, 6 } }, a:totable())
    assert.same({ { 1, 2 }, { 3, 4 } }, b:totable())
  end)
end)

-- Every op, called as a function and as a method, with argument lists that are wrong in
-- every way we can think of, must either work or raise a string error: never crash.
describe("garbage into every op", function()
  local function garbage()
    local t = ember.tensor({{1.5, -2, 3}, {4, 0, 6}}, "f32")
    local closed = ember.tensor({1})
    closed:close()
    local lists = {
      {}, { "x" }, { {} }, { true }, { closed }, { ember.tensor(2.5) }, { ember.tensor({}) },
      { ember.tensor({ true, false }) }, { ember.tensor({ 1, 2 }, "i64") },
      { ember.tensor({ 1, 2 }, "f16") }, { ember.tensor({ 1, 2 }, "u8") },
      { t, "x" }, { t, t:t() }, { t, 0 }, { t, 99 }, { t, -99 }, { t, 1.5 }, { t, {} }, { t, true },
      { t, { 99 } }, { t, { -99, 0 } }, { t, closed }, { t, t, t, t, t, t, t, t },
      { t, nil, { bogus = 1 } }, { t, { 1, "x" } }, { t, 2, 2 }, { t, 1, 99 }, { t, -1, 1, 1 },
      { ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2), nil, { stride = 0 } },
      { ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2), nil, { padding = -1 } },
      { ember.ones(1, 1, 3, 3), 0 }, { ember.ones(1, 1, 3, 3), -1 },
      { { t, t:t() } }, { { t, "x" } }, { { closed } }, { {}, 1 },
      { ember.tensor({ 5, -7, 1 }), ember.ones(3, 2) }, { ember.ones(3, 2), ember.tensor({ 5, -7 }) },
    }
    return lists
  end

  -- ops whose errors come from the op they are written in terms of
  local aliases = { expand_as = "expand" }

  it("raises string errors and never crashes", function()
    local calls, errors = 0, 0
    local unnamed = {}
    for _, op in ipairs(ember.ops()) do
      local fns = {}
      if ember[op.name] then fns[#fns + 1] = ember[op.name] end
      if ember.Tensor[op.name] then fns[#fns + 1] = ember.Tensor[op.name] end
      if ember.Tensor[op.name .. "_"] then fns[#fns + 1] = ember.Tensor[op.name .. "_"] end
      for _, fn in ipairs(fns) do
        for _, args in ipairs(garbage()) do
          local ok, err = pcall(fn, table.unpack(args, 1, 8))
          calls = calls + 1
          if not ok then
            errors = errors + 1
            assert.equal("string", type(err), op.name .. " raised a " .. type(err))
            local named = aliases[op.name] or op.name
            if not err:find(named, 1, true) and not err:find("index", 1, true) then
              unnamed[#unnamed + 1] = op.name .. ": " .. err
            end
          end
        end
      end
    end
    collectgarbage("collect")
    assert.is_true(calls > 1000, calls .. " calls")
    assert.is_true(errors > calls / 2)
    -- errors that do not say which op raised them
    assert.same({}, unnamed)
  end)

  it("survives printing odd tensors", function()
    local odd = { ember.tensor({}), ember.tensor(0 / 0), ember.ones(0, 3), ember.ones(3, 0, 2),
                  ember.ones(1, 1, 1, 1, 1), ember.tensor({ 1e300, -1e-300 }, "f64"),
                  ember.tensor({ 65504 }, "f16"), ember.tensor({ -128, 127 }, "i8"),
                  ember.tensor({ math.mininteger, math.maxinteger }) }
    for _, t in ipairs(odd) do
      assert.equal("string", type(tostring(t)))
    end
    local closed = ember.ones(2)
    closed:close()
    assert.equal("[ember.Tensor (closed)]", tostring(closed))
  end)
end)

-- Sizes, dims and indices at the ends of the integer range: each call runs in its own
-- ember process (so a crash or a hang fails one case, not the whole file) and must
-- either work or raise an error; `fails` names the op the error must mention.
describe("extreme integers", function()
  local exe = (os.getenv("EMBER_BUILD") or "build") .. "/ember"
  local prelude = "local t = ember.ones(2, 3) local M, m = math.maxinteger, math.mininteger\n" ..
                  "local x4 = ember.ones(1, 1, 4, 4) local w2 = ember.ones(1, 1, 2, 2)\n"
  local cases = {
    { "ember.zeros(M)", fails = "zeros" },
    { "ember.zeros(M, M)", fails = "zeros" },
    { "ember.zeros(4294967296, 4294967296)", fails = "zeros" },
    { "ember.zeros(3037000500, 3037000500)", fails = "zeros" },
    { "ember.full({M}, 1)", fails = "full" },
    { "ember.eye(M)", fails = "eye" },
    { "ember.arange(0, M)", fails = "arange" },
    { "ember.arange(-M, M, 1)", fails = "arange" },
    { "ember.arange(0, 1, 1e-300)", fails = "arange" },
    { "ember.linspace(0, 1, M)", fails = "linspace" },
    { "ember.randint(0, 10, {M})", fails = "randint" },
    { "t['repeat'](t, M, M)", fails = "repeat" },
    { "t['repeat'](t, 4294967296, 4294967296)", fails = "repeat" },
    { "t:expand(M, 2, 3)" },                                  -- a view: no storage needed
    { "ember.tensor({{1}}):expand(-1, M):contiguous()", fails = "expand: size" },
    { "t:view(M, -1)", fails = "view" },
    { "t:reshape(-1, M)", fails = "reshape" },
    { "t:narrow(1, M, 1)", fails = "narrow" },
    { "t:narrow(1, 1, M)", fails = "narrow" },
    { "t:narrow(1, -M, 1)", fails = "narrow" },
    { "t[M]", fails = "index" },
    { "t[m]", fails = "index" },
    { "t[{{}, {1, M}}]", fails = "index" },
    { "t[{{}, {M, M}}]", fails = "index" },
    { "t[{{}, {1, 3, M}}]" },                                 -- one element, step M
    { "t:select(2, m)", fails = "select" },
    { "t:sum(m)", fails = "sum" },
    { "t:unsqueeze(M)", fails = "unsqueeze" },
    { "t:transpose(M, 1)", fails = "transpose" },
    { "t:topk(M)", fails = "topk" },
    { "t:split(M)" },                                          -- one piece
    { "t:chunk(M)" },
    { "t:roll(M, 1)" },
    { "t:roll(m, 1)" },
    { "ember.pad(t, {M, M})", fails = "pad" },
    { "ember.pad(t, {-M, 0})", fails = "pad" },
    { "ember.one_hot(ember.tensor({1}), M)", fails = "one_hot" },
    { "ember.max_pool2d(x4, M)", fails = "max_pool2d" },
    { "ember.max_pool2d(x4, 2, M)" },                          -- stride M: one window
    { "ember.conv2d(x4, w2, nil, {stride = M})" },
    { "ember.conv2d(x4, w2, nil, {padding = M})", fails = "conv2d" },
    { "ember.conv2d(x4, w2, nil, {dilation = M})", fails = "conv2d" },
    { "ember.interpolate(x4, {size = {M, M}})", fails = "interpolate" },
    { "ember.interpolate(x4, {scale_factor = 1e300})", fails = "interpolate" },
    { "ember.adaptive_avg_pool2d(x4, {M, M})", fails = "adaptive_avg_pool2d" },
    { "ember.embedding(ember.tensor({M}), ember.ones(3, 2))", fails = "embedding" },
    { "ember.embedding(ember.tensor({m}), ember.ones(3, 2))", fails = "embedding" },
    { "t:gather(2, ember.tensor({{m}, {1}}))", fails = "gather" },
    { "t:index_select(2, ember.tensor({M}))", fails = "index_select" },
    { "ember.ones(2, 3):scatter(2, ember.tensor({{m}, {1}}), 1.0)", fails = "scatter" },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      local file = os.tmpname()
      local f = assert(io.open(file, "w"))
      f:write(prelude, "local ok, err = pcall(function() return ", case[1], " end)\n",
              "io.write(ok and 'ok' or 'error ' .. tostring(err))\n")
      f:close()
      local p = io.popen("timeout 20 '" .. exe .. "' " .. file .. " 2>&1")
      local out = p:read("a")
      local _, _, code = p:close()
      os.remove(file)
      assert.equal(0, code, case[1] .. " did not exit normally: " .. out)
      assert.truthy(out == "ok" or out:find("^error "), out)
      if case.fails then
        assert.equal("error ", out:sub(1, 6), case[1] .. " succeeded")
        assert.truthy(out:find(case.fails, 1, true),
                      string.format("%s: %q not in the message: %s", case[1], case.fails, out))
      end
    end)
  end
end)
