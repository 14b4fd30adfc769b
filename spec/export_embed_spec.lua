-- export_embed_spec.lua — the runtime without Lua (issue 6, items 7 and 8): the digits
-- MLP and CNN, trained for a few epochs, exported, then run by the C example
-- scripts/embed/digits_rt.c and by ember-run, both linking the runtime alone. Their
-- outputs are compared with eager ember on the same inputs (1e-5; classes equal), and
-- ember-run's edges are checked: inputs by name or position, 0-based index values,
-- dtype and shape errors, --info, --bench, --profile, the output file replaced whole.
local ember = require "ember"
local nn = require "ember.nn"
local data = require "ember.data"
local digits = dofile("scripts/digits.lua")

local BUILD = os.getenv("EMBER_BUILD") or "build"
local RUN, DIGITS_RT = BUILD .. "/ember-run", BUILD .. "/digits_rt"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))

-- a shell command's output (stdout and stderr) and exit status
local function sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local _, _, code = f:close()
  return out, code
end

local function path(name) return dir .. "/" .. name end

local function close(a, b, tol)
  assert.same(b:size(), a:size())
  local scale = math.max(b:abs():max():item(), 1)
  local e = (a:to("f64") - b:to("f64")):abs():max():item() / scale
  assert.is_true(e <= (tol or 1e-5), "error " .. e)
end

-- each model trained once, three epochs (a fraction of a second), on the demo's split
local trained = {}
local function model(kind)
  if not trained[kind] then
    local r = digits.train{ model = kind, epochs = 3, quiet = true }
    r.model:eval()
    local _, test = table.unpack(data.random_split(data.digits{ images = kind == "cnn" }, { 0.8, 0.2 }, 1))
    local X, y = test:get_batch(ember.arange(1, data.len(test) + 1))
    local pred = ember.no_grad(function() return r.model(X) end)
    trained[kind] = { model = r.model, X = X, y = y, logits = pred, class = pred:argmax(2) }
  end
  return trained[kind]
end

-- the model's program; with_class adds its argmax as the output "class"
local function export(kind, with_class)
  local m = model(kind)
  local fn = m.model
  if with_class then fn = function(x) local l = m.model(x); return l, l:argmax(2) end end
  local file = path(string.format("digits_%s%s.ember", kind, with_class and "_class" or ""))
  ember.export(fn, { m.X:narrow(1, 1, 4) }, {
    path = file, input_names = { "pixels" },
    output_names = with_class and { "logits", "class" } or { "logits" },
    dynamic = { batch = { dim = 1, max = 512 } } })
  return file
end

-- the first test image of each digit that eager ember classifies right; labels 0-based
local function one_of_each(kind)
  local m = model(kind)
  local rows = {}
  for c = 1, 10 do
    for i = 1, m.y:size(1) do
      if m.y[i] == c and m.class[i] == c then rows[#rows + 1] = i; break end
    end
  end
  assert.equal(10, #rows)
  local idx = ember.tensor(rows, "i64")
  return m.X:index_select(1, idx), m.y:index_select(1, idx) - 1
end

-- digits_rt's "image k: predicted c, label l" lines
local function predictions(out)
  local pred = {}
  for c in out:gmatch("image +%d+: predicted (%d+), label %d+") do pred[#pred + 1] = tonumber(c) end
  return pred
end

describe("the C example scripts/embed/digits_rt.c (runtime only)", function()
  for _, case in ipairs({ { "mlp", true }, { "cnn", false } }) do
    local kind, with_class = case[1], case[2]
    it(kind .. ": one image of each digit, classified as eager ember classifies it" ..
       (with_class and " (the program's argmax output)" or " (argmax in C)"), function()
      local prog = export(kind, with_class)
      local pixels, labels = one_of_each(kind)
      local file = path("ten_" .. kind .. ".safetensors")
      ember.save({ pixels = pixels, labels = labels }, file)
      local out, code = sh(string.format("'%s' '%s' '%s'", DIGITS_RT, prog, file))
      assert.equal(0, code, out)
      assert.truthy(out:find("10 of 10 as labelled", 1, true), out)
      assert.same((labels):totable(), predictions(out))
    end)
  end

  it("exits 1 and marks the image when a label disagrees", function()
    local prog = export("mlp", true)
    local pixels, labels = one_of_each("mlp")
    local wrong = (labels + 1):remainder(10)
    wrong[1] = labels[1]                      -- the first one still right
    local file = path("wrong.safetensors")
    ember.save({ pixels = pixels, labels = wrong }, file)
    local out, code = sh(string.format("'%s' '%s' '%s'", DIGITS_RT, prog, file))
    assert.equal(1, code, out)
    assert.truthy(out:find("1 of 10 as labelled", 1, true), out)
    local _, n = out:gsub("WRONG", "")
    assert.equal(9, n)
  end)

  it("says what is wrong with a file it cannot use", function()
    local prog = export("mlp", true)
    local file = path("nolabels.safetensors")
    ember.save({ pixels = ember.rand(3, 64) }, file)
    local out, code = sh(string.format("'%s' '%s' '%s'", DIGITS_RT, prog, file))
    assert.equal(1, code, out)
    assert.truthy(out:find("labels", 1, true), out)
  end)
end)

describe("ember-run", function()
  for _, kind in ipairs({ "mlp", "cnn" }) do
    it(kind .. ": the whole test set, logits within 1e-5 of eager ember and the same classes", function()
      local m = model(kind)
      local prog = export(kind, true)
      local ins, outs = path("test_" .. kind .. ".safetensors"), path("out_" .. kind .. ".safetensors")
      ember.save({ pixels = m.X }, ins)
      local out, code = sh(string.format("'%s' '%s' '%s' -o '%s'", RUN, prog, ins, outs))
      assert.equal(0, code, out)
      local got = ember.load(outs)
      local names = {}
      for name in pairs(got) do names[#names + 1] = name end
      table.sort(names)
      assert.same({ "class", "logits" }, names)
      close(got.logits, m.logits)
      assert.equal("i64", got.class:dtype())
      assert.same((m.class - 1):totable(), got.class:totable())   -- 0-based in the file
    end)
  end

  it("takes an input by position (input1) when the file has no tensor of its name", function()
    local m = model("mlp")
    local prog = export("mlp", false)
    local ins, outs = path("pos.safetensors"), path("pos_out.safetensors")
    ember.save({ input1 = m.X:narrow(1, 1, 7) }, ins)
    local out, code = sh(string.format("'%s' '%s' '%s' -o '%s'", RUN, prog, ins, outs))
    assert.equal(0, code, out)
    close(ember.load(outs).logits, m.logits:narrow(1, 1, 7))
  end)

  it("reads index inputs and writes index outputs 0-based", function()
    ember.manual_seed(5)
    local emb, lin = nn.Embedding(20, 6), nn.Linear(6, 4)
    local function f(ids)
      local logits = lin(emb(ids))
      return logits, logits:argmax(3)
    end
    local prog = path("ids.ember")
    local ids = ember.tensor({ { 1, 5, 20 }, { 3, 3, 7 } }, "i64")
    ember.export(f, { ids }, { path = prog, input_names = { "ids" }, output_names = { "logits", "class" } })
    local ins, outs = path("ids.safetensors"), path("ids_out.safetensors")
    ember.save({ ids = ids - 1 }, ins)
    local out, code = sh(string.format("'%s' '%s' '%s' -o '%s'", RUN, prog, ins, outs))
    assert.equal(0, code, out)
    local got = ember.load(outs)
    local logits, class = ember.no_grad(function() return f(ids) end)
    close(got.logits, logits)
    assert.same((class - 1):totable(), got.class:totable())
    -- id 20 is past the table of 20 rows when ids are 0-based
    ember.save({ ids = ember.tensor({ { 0, 20, 1 }, { 0, 0, 0 } }, "i64") }, ins)
    out, code = sh(string.format("'%s' '%s' '%s' -o '%s'", RUN, prog, ins, outs))
    assert.equal(1, code, out)
    assert.truthy(out:find("ember-run: ", 1, true) and out:find("embedding", 1, true), out)
  end)

  it("refuses inputs of the wrong name, dtype or shape with a message and exit 1", function()
    local prog = export("mlp", true)
    local function run_with(tensors)
      local ins = path("bad.safetensors")
      ember.save(tensors, ins)
      return sh(string.format("'%s' '%s' '%s' -o '%s'", RUN, prog, ins, path("bad_out.safetensors")))
    end
    local cases = {
      { { images = ember.rand(2, 64) }, 'has no tensor "pixels" (nor "input1") for input 0; it holds "images"' },
      { { pixels = ember.rand(2, 64):to("f64") }, 'tensor "pixels" is f64; input 0 (pixels) takes f32' },
      { { pixels = ember.rand(2, 63) }, 'tensor "pixels" is [2x63]; input 0 (pixels) takes [batch<=512x64]' },
      { { pixels = ember.rand(2, 64, 1) }, 'tensor "pixels" is [2x64x1]; input 0 (pixels) takes [batch<=512x64]' },
      -- the runtime's own message: it names the input, the dim, the size and the bound
      { { pixels = ember.rand(513, 64) }, "pixels", '"batch"', "513", "bound of 512" },
    }
    for _, c in ipairs(cases) do
      local out, code = run_with(c[1])
      assert.equal(1, code, out)
      for k = 2, #c do assert.truthy(out:find(c[k], 1, true), out) end
    end
    assert.is_nil(io.open(path("bad_out.safetensors")))   -- nothing written on an error
  end)

  it("refuses a missing or foreign program file, and a bad command line (exit 2)", function()
    local ins = path("p.safetensors")
    ember.save({ pixels = ember.rand(2, 64) }, ins)
    local out, code = sh(string.format("'%s' '%s' '%s'", RUN, path("none.ember"), ins))
    assert.equal(1, code, out)
    assert.truthy(out:find("none.ember", 1, true) and out:find("cannot open", 1, true), out)
    out, code = sh(string.format("'%s' '%s' '%s'", RUN, ins, ins))
    assert.equal(1, code, out)
    assert.truthy(out:find("not a program file", 1, true), out)
    local prog = export("mlp", false)
    for _, args in ipairs({ "", "'" .. prog .. "'", "'" .. prog .. "' x --bench 0",
                            "'" .. prog .. "' x --device tpu", "'" .. prog .. "' x --frobnicate" }) do
      out, code = sh(string.format("'%s' %s", RUN, args))
      assert.equal(2, code, args .. ": " .. out)
      assert.truthy(out:find("usage: ember-run", 1, true), out)
    end
  end)

  it("--info names the inputs and outputs with their bounds, the arena and the weights", function()
    local prog = export("mlp", true)
    local out, code = sh(string.format("'%s' '%s' --info", RUN, prog))
    assert.equal(0, code, out)
    assert.truthy(out:find("input%s+0%s+pixels%s+f32%[batch<=512x64%]"), out)
    assert.truthy(out:find("output%s+0%s+logits%s+f32%[batch<=512x10%]"), out)
    assert.truthy(out:find("output%s+1%s+class%s+i64%[batch<=512%]%s+index"), out)
    -- 64x128 + 128 + 128x10 + 10 f32 weights
    assert.truthy(out:find("weights%s+" .. (64 * 128 + 128 + 128 * 10 + 10) * 4 .. " bytes"), out)
    assert.truthy(out:find("arena%s+%d+ bytes"), out)
  end)

  it("--bench prints ordered percentiles; --profile every node, shares summing to 100%", function()
    local m = model("mlp")
    local prog = export("mlp", true)
    local ins = path("bench.safetensors")
    ember.save({ pixels = m.X:narrow(1, 1, 32) }, ins)
    local out, code = sh(string.format("'%s' '%s' '%s' --bench 50 --warmup 2 --profile", RUN, prog, ins))
    assert.equal(0, code, out)
    local p50, p90, p99, min = out:match("p50 ([%d.]+) us%s+p90 ([%d.]+) us%s+p99 ([%d.]+) us%s+min ([%d.]+) us")
    assert.truthy(p50, out)
    p50, p90, p99, min = tonumber(p50), tonumber(p90), tonumber(p99), tonumber(min)
    assert.is_true(min > 0 and min <= p50 and p50 <= p90 and p90 <= p99, out)
    local ops, share = {}, 0
    for op, calls, pct in out:gmatch("\n%s+%d+%s+([%w_]+)%s+(%d+)%s+[%d.]+%s+([%d.]+)%%") do
      ops[#ops + 1] = op
      assert.equal(50, tonumber(calls))
      share = share + tonumber(pct)
    end
    table.sort(ops)
    assert.same({ "argmax", "fused_linear", "linear" }, ops)
    assert.is_true(math.abs(share - 100) < 0.5, out)
  end)

  it("replaces an existing output file whole and leaves no temporary file", function()
    local m = model("mlp")
    local prog = export("mlp", false)
    local sub = path("replace")
    os.execute("mkdir -p '" .. sub .. "'")
    local ins, outs = sub .. "/in.safetensors", sub .. "/out.safetensors"
    ember.save({ old = ember.zeros(100) }, outs)
    ember.save({ pixels = m.X:narrow(1, 1, 3) }, ins)
    local out, code = sh(string.format("'%s' '%s' '%s' -o '%s'", RUN, prog, ins, outs))
    assert.equal(0, code, out)
    local got = ember.load(outs)
    assert.is_nil(got.old)
    close(got.logits, m.logits:narrow(1, 1, 3))
    local listing = sh("ls -A '" .. sub .. "'")
    assert.equal("in.safetensors\nout.safetensors\n", listing)
  end)
end)

teardown(function() os.execute("rm -rf '" .. dir .. "'") end)
