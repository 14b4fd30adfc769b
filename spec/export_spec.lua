-- export_spec.lua — ember.export and the runtime from Lua (issue 6, items 1, 3 and 9):
-- tracing modules and functions, the program file (a safetensors file any reader
-- reads, with the graph in its metadata), dynamic dims with bounds, index values at
-- the edges, the errors of tracing, and the loader refusing every kind of bad file
-- with a message naming what is wrong. Every program's outputs are compared with
-- eager ember on the same inputs (1e-5).
local ember = require "ember"
local nn = require "ember.nn"
local json = require "dkjson"

local PY = "/usr/bin/python3"

local function tmpfile(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. (ext or ".ember")
end

-- largest |a - b| relative to the largest |b| (or 1)
local function rel_err(a, b)
  local scale = math.max(b:abs():max():item(), 1)
  return (a:to("f64") - b:to("f64")):abs():max():item() / scale
end

local function close(a, b, tol)
  assert.same(b:size(), a:size())
  local e = rel_err(a, b)
  assert.is_true(e <= (tol or 1e-5), "error " .. e)
end

local function program_json(path)
  local f = ember.safetensors.open(path)
  local meta = f:metadata()
  return meta["ember.program"], meta
end

local function mlp()
  ember.manual_seed(7)
  local m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
  m:eval()
  return m
end

local function cnn()
  ember.manual_seed(8)
  local m = nn.Sequential(nn.Conv2d(1, 8, 3, { padding = 1 }), nn.BatchNorm2d(8), nn.ReLU(),
    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
  m:train()
  for _ = 1, 3 do m(ember.randn(16, 1, 8, 8) * 2 + 0.5) end   -- running stats move
  m:eval()
  return m
end

describe("ember.export", function()
  it("an MLP's program gives the module's outputs, fused and as traced", function()
    local m = mlp()
    local x = ember.randn(5, 64)
    for _, passes in ipairs({ true, false }) do
      local p = ember.export(m, { x }, { passes = passes })
      close(p:run(x), m(x))
      local x2 = ember.randn(5, 64)   -- a second run reads the new input
      close(p:run(x2), m(x2))
    end
    local fused = ember.export(m, { x })
    assert.truthy(fused:graph():find("fused_linear", 1, true))
    assert.truthy(fused:graph("traced"):find("relu", 1, true))
  end)

  it("a CNN with BatchNorm2d: batch_norm folded into the conv, same outputs", function()
    local m = cnn()
    local x = ember.randn(4, 1, 8, 8)
    local p = ember.export(m, { x })
    assert.truthy(p:graph("traced"):find("batch_norm", 1, true))
    assert.falsy(p:graph():find("batch_norm", 1, true))
    close(p:run(x), m(x))
  end)

  it("a TransformerEncoderLayer (attention, layer_norm, views) gives the layer's outputs", function()
    ember.manual_seed(9)
    local enc = nn.TransformerEncoderLayer(16, 2, 32, 0.1, { batch_first = true })
    enc:eval()
    local s = ember.randn(2, 5, 16)
    for _, passes in ipairs({ true, false }) do
      local p = ember.export(enc, { s }, { passes = passes })
      close(p:run(s), enc(s))
    end
  end)

  it("traces a plain function with several inputs and outputs, Lua numbers as constants", function()
    local w = ember.randn(3, 3)
    local function f(a, b)
      local h = (a:matmul(w) + b) * 0.5
      return h:tanh(), h:sum(2)
    end
    local a, b = ember.randn(4, 3), ember.randn(4, 3)
    local p = ember.export(f, { a, b }, { input_names = { "a", "b" }, output_names = { "t", "s" } })
    local t, s = p:run(a, b)
    local et, es = f(a, b)
    close(t, et)
    close(s, es)
    local ins, outs = p:inputs(), p:outputs()
    assert.equal("a", ins[1].name)
    assert.equal("s", outs[2].name)
  end)

  it("resolves Lua control flow while tracing (the branch taken is the one recorded)", function()
    local function f(x)
      if x:sum():item() > 0 then return x * 2 end
      return x * -1
    end
    local pos = ember.ones(3)
    local p = ember.export(f, { pos })
    close(p:run(ember.ones(3) * -1), ember.ones(3) * -2)   -- recorded branch: x * 2
    assert.truthy(p:graph():find("mul", 1, true))
  end)

  it("an output that is an input, a constant or given twice is copied out", function()
    local c = ember.tensor({ 1, 2, 3 })
    local function f(x) return x, c, x end
    local x = ember.randn(3)
    local p = ember.export(f, { x })
    local a, b, d = p:run(x)
    close(a, x); close(b, c); close(d, x)
  end)
end)

describe("the program file", function()
  it("is a safetensors file: the weights by state_dict name, the graph in the metadata", function()
    local m = mlp()
    local path = tmpfile()
    ember.export(m, { ember.randn(2, 64) }, { path = path, passes = { fuse = false } })
    -- an independent reader (spec/support/st_reader.py) reads it
    local h = io.popen(PY .. " spec/support/st_reader.py --no-values " .. path)
    local out = json.decode(h:read("a"))
    h:close()
    assert.is_true(out[1].ok, tostring(out[1].error))
    local names = {}
    for _, t in ipairs(out[1].tensors) do names[t.name] = t end
    assert.truthy(names["0.weight"] and names["2.bias"])
    local weights = ember.load(path)
    close(weights["0.weight"], m[1].weight)
    local prog = json.decode((program_json(path)))
    assert.equal("ember.program", prog.format)
    assert.equal(1, prog.version)
    assert.equal(1, prog.index_base)
    os.remove(path)
  end)

  it("stores a weight used twice, or two equal weights, once", function()
    ember.manual_seed(3)
    local a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    b.weight = a.weight   -- tied
    ember.no_grad(function() b.bias:copy_(a.bias) end)   -- equal content, another tensor
    local m = nn.Sequential(a, nn.Tanh(), b)
    m:eval()
    local path = tmpfile()
    local x = ember.randn(2, 8)
    local p = ember.export(m, { x }, { path = path })
    close(p:run(x), m(x))
    local n = 0
    for _ in pairs(ember.load(path)) do n = n + 1 end
    assert.equal(2, n)
    os.remove(path)
  end)

  it("the memory plan beats the sum of the intermediates", function()
    ember.manual_seed(4)
    local layers = {}
    for i = 1, 6 do layers[#layers + 1] = nn.Linear(32, 32); layers[#layers + 1] = nn.Tanh() end
    local m = nn.Sequential(table.unpack(layers))
    m:eval()
    local x = ember.randn(16, 32)
    local p = ember.export(m, { x }, { passes = { fuse = false } })
    local s = p:sizes()
    assert.is_true(s.intermediates < s.naive, s.intermediates .. " vs " .. s.naive)
    assert.equal(0, s.intermediates % 64)
    close(p:run(x), m(x))
  end)
end)

describe("dynamic dims", function()
  it("a batch dim with a bound runs at every size up to it", function()
    local m = cnn()
    local p = ember.export(m, { ember.randn(4, 1, 8, 8) }, { dynamic = { batch = { dim = 1, max = 32 } } })
    for _, n in ipairs({ 1, 4, 7, 32 }) do
      local x = ember.randn(n, 1, 8, 8)
      close(p:run(x), m(x))
    end
    local ok, err = pcall(p.run, p, ember.randn(33, 1, 8, 8))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("past its bound of 32", 1, true), err)
    assert.truthy(tostring(err):find("batch", 1, true), err)
  end)

  it("a size computed from the dynamic dim (view(n, -1) style) follows it", function()
    local w = ember.randn(12, 5)
    local function f(x) return x:view(x:size(1), 12):matmul(w) end
    local p = ember.export(f, { ember.randn(3, 3, 4) }, { dynamic = { n = { dim = 1, max = 9 } } })
    for _, n in ipairs({ 2, 6, 9 }) do
      local x = ember.randn(n, 3, 4)
      close(p:run(x), f(x))
    end
  end)

  it("a function that takes another path at another size is refused", function()
    local function f(x)
      if x:size(1) > 3 then return x:sum() end
      return x:mean()
    end
    local ok, err = pcall(ember.export, f, { ember.randn(3, 2) }, { dynamic = { b = { dim = 1, max = 8 } } })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("dynamic dim", 1, true), err)
  end)

  it("checks the dynamic spec", function()
    local f = function(x) return x * 2 end
    local ok, err = pcall(ember.export, f, { ember.randn(3) }, { dynamic = { b = { dim = 2, max = 8 } } })
    assert.is_false(ok)
    assert.truthy(err:find("not a dim of input 1", 1, true), err)
    ok, err = pcall(ember.export, f, { ember.randn(3) }, { dynamic = { b = { dim = 1, max = 2 } } })
    assert.is_false(ok)
    assert.truthy(err:find("below the example", 1, true), err)
  end)
end)

describe("index values", function()
  it("token ids in and argmax out are 1-based from Lua, 0-based in the file's C API", function()
    ember.manual_seed(5)
    local emb = nn.Embedding(20, 6)
    local lin = nn.Linear(6, 4)
    local function f(ids)
      local logits = lin(emb(ids))
      return logits, logits:argmax(2)
    end
    local ids = ember.tensor({ { 1, 5, 20 }, { 3, 3, 7 } }, "i64")
    local path = tmpfile()
    local p = ember.export(f, { ids }, { path = path })
    local logits, cls = p:run(ids)
    local el, ec = f(ids)
    close(logits, el)
    assert.same(ec:totable(), cls:totable())
    local prog = json.decode((program_json(path)))
    assert.equal(1, prog.index_base)
    assert.is_true(p:inputs()[1].index)
    assert.is_true(p:outputs()[2].index)
    assert.is_false(p:outputs()[1].index)
    local ok, err = pcall(p.run, p, ember.tensor({ { 1, 21, 2 }, { 1, 1, 1 } }, "i64"))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("embedding", 1, true), err)
    os.remove(path)
  end)
end)

describe("tracing errors", function()
  it("refuses random ops, data-dependent sizes and writes into parameters", function()
    local m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    m:train()
    local ok, err = pcall(ember.export, m, { ember.randn(2, 4) })
    assert.is_false(ok)
    assert.truthy(err:find("eval", 1, true), err)
    m:eval()
    assert.is_true(pcall(ember.export, m, { ember.randn(2, 4) }))
    ok, err = pcall(ember.export, function(x) return x:nonzero() end, { ember.randn(4) })
    assert.is_false(ok)
    assert.truthy(err:find("depends on the data", 1, true), err)
    local w = ember.randn(4)
    ok, err = pcall(ember.export, function(x) w:add_(x); return w * 1 end, { ember.randn(4) })
    assert.is_false(ok)
    assert.truthy(err:find("writes into a constant", 1, true), err)
  end)

  it("in-place ops on intermediates are recorded as new values", function()
    local function f(x)
      local y = x * 2
      y:add_(1)
      y:relu_()
      return y
    end
    local x = ember.randn(6)
    local p = ember.export(f, { x })
    close(p:run(x), f(x))
  end)

  it("run checks the inputs it is given", function()
    local p = ember.export(function(x) return x + 1 end, { ember.randn(2, 3) })
    local ok, err = pcall(p.run, p, ember.randn(2, 3):to("f64"))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("must be f32", 1, true), err)
    ok, err = pcall(p.run, p, ember.randn(2, 4))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("fixed at 3", 1, true), err)
    ok, err = pcall(p.run, p)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("takes 1 inputs", 1, true), err)
  end)
end)

-- The loader validates everything. Each case rewrites one part of a good program's
-- JSON and expects the named error.
describe("the loader", function()
  local base = tmpfile()
  ember.manual_seed(6)
  local m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
  m:eval()
  ember.export(m, { ember.randn(3, 4) }, { path = base, passes = { fuse = false } })
  local text = program_json(base)
  local weights = ember.load(base)

  local function with(edit)
    local prog = json.decode(text)
    edit(prog)
    local path = tmpfile()
    ember.save(weights, path, { ["ember.program"] = type(prog) == "string" and prog or json.encode(prog) })
    local ok, err = pcall(ember.program, path)
    os.remove(path)
    return ok, tostring(err)
  end

  local function first_node_value(prog)
    for i, v in ipairs(prog.values) do if v.at then return i, v end end
  end

  local cases = {
    { "an unknown op", function(p) p.nodes[1].op = "frobnicate" end, 'op "frobnicate" is not in this build' },
    { "a newer version", function(p) p.version = 2 end, "version 2" },
    { "a value id out of range", function(p) p.nodes[2].in_ = nil; p.nodes[2]["in"] = { 99 } end, "out of range" },
    { "a value read before it is made", function(p) p.nodes[1]["in"][1] = p.nodes[2].out[1] end, "before it is made" },
    { "a missing constant", function(p)
        for _, v in ipairs(p.values) do if v.const then v.const = "nope"; break end end
      end, 'constant "nope" is not in the file' },
    { "a constant of another shape", function(p)
        for _, v in ipairs(p.values) do if v.const then v.shape = { 1, 1 }; break end end
      end, "is not the declared" },
    { "a shape the ops do not give", function(p)
        local _, v = first_node_value(p)
        v.shape[2] = 1
      end, "the file says" },
    { "an arena too small", function(p) p.plan.arena = 64 end, "outside the" },
    { "a slot smaller than its value", function(p)
        local _, v = first_node_value(p)
        v.bytes = 8
      end, "needs" },
    { "a misaligned slot", function(p)
        local _, v = first_node_value(p)
        v.at = 3
      end, "64-byte aligned" },
    { "an attribute of the wrong kind", function(p)
        for _, n in ipairs(p.nodes) do
          if n.op == "relu" then n.op = "softmax"; n.attrs = { dim = "x" } end
        end
      end, "attribute dim" },
    { "an unknown attribute", function(p) p.nodes[1].attrs.bogus = 1 end, "attributes the op does not know" },
    { "an output that is not a node's own bytes", function(p) p.outputs[1].value = 0 end, "must be a node's own" },
    { "no format", function(p) p.format = "other" end, '"format" is not "ember.program"' },
    { "an index value that is not an integer", function(p)
        for _, v in ipairs(p.values) do if v.input then v.index = true; break end end
      end, "an index value must have an integer dtype, not f32" },
    { "malformed JSON", function(p) return nil end, nil },
  }
  for _, c in ipairs(cases) do
    it("refuses " .. c[1], function()
      local ok, err
      if c[3] == nil then
        local path = tmpfile()
        ember.save(weights, path, { ["ember.program"] = text:sub(1, #text - 5) })
        ok, err = pcall(ember.program, path)
        os.remove(path)
        err = tostring(err)
        assert.truthy(err:find("malformed", 1, true), err)
      else
        ok, err = with(c[2])
        assert.truthy(err:find(c[3], 1, true), err)
      end
      assert.is_false(ok)
      assert.truthy(err:find("program", 1, true), err)
    end)
  end

  it("refuses a safetensors file that is not a program, and a file that is not there", function()
    local path = tmpfile()
    ember.save(weights, path)
    local ok, err = pcall(ember.program, path)
    os.remove(path)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("not a program file", 1, true), err)
    ok, err = pcall(ember.program, "/nonexistent/x.ember")
    assert.is_false(ok)
    assert.truthy(tostring(err):find("x.ember", 1, true), err)
  end)

  it("loads the good file it started from", function()
    local p = ember.program(base)
    local x = ember.randn(3, 4)
    close(p:run(x), m(x))
    os.remove(base)
  end)
end)
