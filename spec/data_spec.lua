-- data_spec.lua — ember.data: PCG32 against its published reference outputs and an
-- independent Python implementation (arbitrary-precision integers), TensorDataset,
-- Subset, random_split (lengths as torch.utils.data.random_split computes them),
-- DataLoader batching, seeded per-epoch shuffles, drop_last, collate, one
-- index_select per tensor per batch, and the digits data set checked against the file
-- read by Python, from any working directory and through EMBER_DATA; error messages.
local ember = require "ember"
local data = require "ember.data"
local json = require "dkjson"
local helpers = require "spec_helpers"

local PY = "/usr/bin/python3"

local err = helpers.error_of

-- Run a Python program (text) and decode the JSON it prints.
local function python(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  local p = assert(io.popen(PY .. " " .. path .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  os.remove(path)
  local v = json.decode(out)
  assert(v ~= nil, "python printed no JSON: " .. out)
  return v
end

-- PCG32 as its paper defines it, written over Python integers masked to 64 bits: a
-- second implementation whose arithmetic cannot wrap the way Lua's does.
local PY_PCG = [[
import json
M = (1 << 64) - 1
class Pcg:
    def __init__(self, seed, stream):
        self.state = 0
        self.inc = ((stream << 1) | 1) & M
        self.next()
        self.state = (self.state + seed) & M
        self.next()
    def next(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & M
        x = (((old >> 18) ^ old) >> 27) & 0xffffffff
        r = old >> 59
        return ((x >> r) | (x << ((-r) & 31))) & 0xffffffff
    def below(self, n):
        t = (2**32 - n) % n
        while True:
            r = self.next()
            if r >= t:
                return r % n
    def perm(self, n):
        p = list(range(1, n + 1))
        for i in range(n, 1, -1):
            j = self.below(i) + 1
            p[i - 1], p[j - 1] = p[j - 1], p[i - 1]
        return p
]]

local function lua_pcg_list(seed, stream, count)
  local g = data.pcg32(seed, stream)
  local out = {}
  for i = 1, count do out[i] = g:next_u32() end
  return out
end

local function range_list(a, b)
  local t = {}
  for i = a, b do t[#t + 1] = i end
  return t
end

local function sorted(t)
  local c = table.move(t, 1, #t, 1, {})
  table.sort(c)
  return c
end

-- A dataset that is only the protocol: get(i) and a length through __len.
local function plain_dataset(n)
  return setmetatable({}, {
    __len = function() return n end,
    __index = { get = function(_, i) return ember.tensor({ i, -i }, "f32"), i * 10 end },
  })
end

describe("pcg32", function()
  it("gives the reference outputs for seed 42, stream 54 (pcg32-demo)", function()
    local want = { 0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e }
    assert.same(want, lua_pcg_list(42, 54, 6))
  end)

  it("agrees with a Python implementation on outputs, bounded draws and permutations", function()
    -- negative seeds and streams: Python's & M takes them as two's complement, as C does
    local seeds = { { 0, 0 }, { 1, 1 }, { 1, 2 }, { -7, 3 }, { 5, -2 }, { 123456789012345, 0 },
                    { 1 << 62, 9 }, { math.mininteger, math.maxinteger } }
    local src = PY_PCG .. "out = []\n"
    for _, s in ipairs(seeds) do
      src = src .. string.format(
        "g = Pcg(%d, %d); a = [g.next() for _ in range(20)]; b = [g.below(n) for n in (1, 2, 3, 10, 1000, 2**31 + 5, 2**32)]; " ..
        "out.append([a, b, Pcg(%d, %d).perm(100)])\n", s[1], s[2], s[1], s[2])
    end
    src = src .. "print(json.dumps(out))\n"
    local want = python(src)
    for k, s in ipairs(seeds) do
      local g = data.pcg32(s[1], s[2])
      local a, b = {}, {}
      for i = 1, 20 do a[i] = g:next_u32() end
      for i, n in ipairs({ 1, 2, 3, 10, 1000, (1 << 31) + 5, 1 << 32 }) do b[i] = g:below(n) end
      assert.same(want[k][1], a, "outputs of seed " .. s[1])
      assert.same(want[k][2], b, "bounded draws of seed " .. s[1])
      assert.same(want[k][3], data.pcg32(s[1], s[2]):permutation(100), "permutation of seed " .. s[1])
    end
  end)

  it("permutes 1..n and refuses bad bounds and seeds", function()
    local p = data.pcg32(5):permutation(1000)
    assert.same(range_list(1, 1000), sorted(p))
    assert.are_not.same(range_list(1, 1000), p)
    assert.same({}, data.pcg32(5):permutation(0))
    assert.same({ 1 }, data.pcg32(5):permutation(1))
    assert.equal(0, data.pcg32(1):below(1))
    assert.matches("bound must be an integer in 1..2%^32", err(function() data.pcg32(1):below(0) end))
    assert.matches("bound must be", err(function() data.pcg32(1):below((1 << 32) + 1) end))
    assert.matches("seed must be an integer", err(data.pcg32, 1.5))
    assert.matches("stream must be an integer", err(data.pcg32, 1, "x"))
  end)
end)

describe("TensorDataset", function()
  local X = ember.arange(1, 31):view(10, 3):to("f32")
  local y = ember.arange(101, 111)
  local ds = data.TensorDataset(X, y)

  it("has a length and gives rows by 1-based index", function()
    assert.equal(10, #ds)
    assert.equal(10, ds:len())
    assert.equal(10, data.len(ds))
    local x4, y4 = ds:get(4)
    assert.same({ 10, 11, 12 }, x4:totable())
    assert.equal(104, y4)
    local x10, y10 = ds:get(10)
    assert.same({ 28, 29, 30 }, x10:totable())
    assert.equal(110, y10)
  end)

  it("batches by index_select on the whole tensors", function()
    local xb, yb = ds:get_batch(ember.tensor({ 3, 1, 10 }, "i64"))
    assert.same({ { 7, 8, 9 }, { 1, 2, 3 }, { 28, 29, 30 } }, xb:totable())
    assert.same({ 103, 101, 110 }, yb:totable())
    assert.equal("f32", xb:dtype())
    assert.equal("i64", yb:dtype())
    local three = data.TensorDataset(X, y, y * 2)
    local a, b, c = three:get_batch(ember.tensor({ 2 }, "i64"))
    assert.same({ { 4, 5, 6 } }, a:totable())
    assert.same({ 102 }, b:totable())
    assert.same({ 204 }, c:totable())
    local single = data.TensorDataset(y)
    assert.same({ 105 }, single:get_batch(ember.tensor({ 5 }, "i64")):totable())
  end)

  it("names the shapes when the sample counts differ, and bad arguments", function()
    local msg = err(data.TensorDataset, ember.zeros(10, 3), ember.zeros(9))
    assert.matches("TensorDataset: tensor 2 has 9 samples %(shape 9%) but tensor 1 has 10 %(shape 10x3%)", msg)
    assert.matches("needs at least one tensor", err(data.TensorDataset))
    assert.matches("argument 2 is a table, not a tensor", err(data.TensorDataset, X, { 1, 2 }))
    assert.matches("0%-dimensional", err(data.TensorDataset, ember.tensor(3.0)))
    assert.matches("TensorDataset:get: index 11 is out of range 1..10", err(ds.get, ds, 11))
    assert.matches("index 0 is out of range", err(ds.get, ds, 0))
  end)
end)

describe("Subset and random_split", function()
  local y = ember.arange(1, 11)
  local ds = data.TensorDataset(y * 10, y)

  it("selects samples by index, per sample and per batch", function()
    local s = data.Subset(ds, { 7, 2, 9 })
    assert.equal(3, #s)
    local a, b = s:get(2)
    assert.equal(20, a)
    assert.equal(2, b)
    local xb, yb = s:get_batch(ember.tensor({ 3, 1 }, "i64"))
    assert.same({ 90, 70 }, xb:totable())
    assert.same({ 9, 7 }, yb:totable())
    local st = data.Subset(ds, ember.tensor({ 4, 5 }, "i64"))
    assert.same({ 4, 5 }, st.indices)
    assert.matches("Subset: index 11 %(entry 2%) is out of range 1..10", err(data.Subset, ds, { 1, 11 }))
    assert.matches("Subset:get: index 4 is out of range 1..3", err(s.get, s, 4))
    -- over a dataset without get_batch, a Subset has none either
    assert.is_nil(data.Subset(plain_dataset(5), { 1 }).get_batch)
  end)

  it("splits lengths as torch.utils.data.random_split does", function()
    local cases = { { 1797, { 0.8, 0.2 } }, { 10, { 0.7, 0.3 } }, { 5, { 0.5, 0.5 } },
                    { 7, { 1 / 3, 1 / 3, 1 / 3 } }, { 11, { 0.1, 0.2, 0.3, 0.4 } } }
    local src = "import json, torch\nfrom torch.utils.data import random_split\nout = []\n"
    for _, c in ipairs(cases) do
      local fr = {}
      for i, f in ipairs(c[2]) do fr[i] = string.format("%.17g", f) end
      src = src .. string.format("out.append([len(s) for s in random_split(range(%d), [%s])])\n", c[1], table.concat(fr, ", "))
    end
    local want = python(src .. "print(json.dumps(out))\n")
    for k, c in ipairs(cases) do
      local parts = data.random_split(plain_dataset(c[1]), c[2], 3)
      local got = {}
      for i, p in ipairs(parts) do got[i] = #p end
      assert.same(want[k], got, "split of " .. c[1])
    end
  end)

  it("cuts one seeded permutation into disjoint subsets that cover the dataset", function()
    local parts = data.random_split(ds, { 6, 4 }, 11)
    assert.equal(6, #parts[1])
    assert.equal(4, #parts[2])
    local all = table.move(parts[2].indices, 1, 4, 7, table.move(parts[1].indices, 1, 6, 1, {}))
    assert.same(data.pcg32(11, 0):permutation(10), all)
    assert.same(range_list(1, 10), sorted(all))
    -- same seed, same split; another seed, another
    assert.same(parts[1].indices, data.random_split(ds, { 0.6, 0.4 }, 11)[1].indices)
    assert.are_not.same(parts[1].indices, data.random_split(ds, { 6, 4 }, 12)[1].indices)
  end)

  it("refuses lengths that do not fit", function()
    assert.matches("counts add up to 9 but the dataset has 10", err(data.random_split, ds, { 5, 4 }, 1))
    assert.matches("fractions add up to 0.9", err(data.random_split, ds, { 0.5, 0.4 }, 1))
    assert.matches("length 2 is %-1", err(data.random_split, ds, { 11, -1 }, 1))
    assert.matches("non%-empty list", err(data.random_split, ds, {}, 1))
  end)
end)

describe("DataLoader", function()
  local n = 100
  local X = ember.arange(1, n + 1):to("f32"):view(n, 1):expand(n, 2):contiguous()
  local y = ember.arange(1, n + 1)
  local ds = data.TensorDataset(X, y)

  local function epoch_labels(loader)
    local labels, sizes = {}, {}
    for xb, yb in loader:iter() do
      sizes[#sizes + 1] = yb:size(1)
      assert.same(yb:to("f32"):totable(), xb[{ {}, 1 }]:totable())   -- rows stay paired
      for _, v in ipairs(yb:totable()) do labels[#labels + 1] = v end
    end
    return labels, sizes
  end

  it("batches in order without shuffle, the last batch shorter", function()
    local loader = data.DataLoader(ds, { batch_size = 32 })
    assert.equal(4, #loader)
    local labels, sizes = epoch_labels(loader)
    assert.same({ 32, 32, 32, 4 }, sizes)
    assert.same(range_list(1, n), labels)
  end)

  it("drops the short last batch with drop_last", function()
    local loader = data.DataLoader(ds, { batch_size = 32, drop_last = true })
    assert.equal(3, #loader)
    local labels, sizes = epoch_labels(loader)
    assert.same({ 32, 32, 32 }, sizes)
    assert.same(range_list(1, 96), labels)
    assert.equal(0, #data.DataLoader(ds, { batch_size = 101, drop_last = true }))
    assert.equal(1, #data.DataLoader(ds, { batch_size = 101 }))
    assert.equal(100, #data.DataLoader(ds))                     -- batch_size 1
  end)

  it("shuffles with a new permutation each epoch, the same for the same seed", function()
    local a = data.DataLoader(ds, { batch_size = 16, shuffle = true, seed = 1 })
    local b = data.DataLoader(ds, { batch_size = 16, shuffle = true, seed = 1 })
    local e1, sizes = epoch_labels(a)
    assert.same({ 16, 16, 16, 16, 16, 16, 4 }, sizes)
    assert.same(range_list(1, n), sorted(e1))
    assert.are_not.same(range_list(1, n), e1)
    local e2 = epoch_labels(a)
    assert.same(range_list(1, n), sorted(e2))
    assert.are_not.same(e1, e2)
    assert.equal(2, a.epoch)
    assert.same(e1, epoch_labels(b))
    assert.same(e2, epoch_labels(b))
    assert.same(data.pcg32(1, 1):permutation(n), e1)
    assert.same(data.pcg32(1, 2):permutation(n), e2)
    assert.are_not.same(e1, epoch_labels(data.DataLoader(ds, { batch_size = 16, shuffle = true, seed = 2 })))
    -- resuming at epoch 2 gives epoch 2's order
    local c = data.DataLoader(ds, { batch_size = 16, shuffle = true, seed = 1 })
    c:set_epoch(2)
    assert.same(e2, epoch_labels(c))
  end)

  it("gives the order Python's PCG32 gives for the same seed and epoch", function()
    local want = python(PY_PCG .. "print(json.dumps([Pcg(7, 1).perm(100), Pcg(7, 3).perm(100)]))\n")
    local loader = data.DataLoader(ds, { batch_size = 10, shuffle = true, seed = 7 })
    assert.same(want[1], (epoch_labels(loader)))
    loader:set_epoch(3)
    assert.same(want[2], (epoch_labels(loader)))
  end)

  it("does one index_select per tensor per batch and no per-sample get", function()
    local T = ember.Tensor
    local original, calls = T.index_select, 0
    local gets = 0
    local spy = data.TensorDataset(X, y)
    local get = spy.get
    spy.get = function(...) gets = gets + 1 return get(...) end
    T.index_select = function(...) calls = calls + 1 return original(...) end
    local ok, e = pcall(function()
      for _ in data.DataLoader(spy, { batch_size = 8, shuffle = true, seed = 3 }):iter() do end
    end)
    T.index_select = original
    assert(ok, e)
    assert.equal(13 * 2, calls)
    assert.equal(0, gets)
  end)

  it("reads sample by sample through collate when the dataset has no get_batch", function()
    local loader = data.DataLoader(plain_dataset(5), { batch_size = 2 })
    assert.equal(3, #loader)
    local got = {}
    for xb, yb in loader:iter() do got[#got + 1] = { xb:totable(), yb:totable(), yb:dtype() } end
    assert.same({ { { { 1, -1 }, { 2, -2 } }, { 10, 20 }, "i64" },
                  { { { 3, -3 }, { 4, -4 } }, { 30, 40 }, "i64" },
                  { { { 5, -5 } }, { 50 }, "i64" } }, got)
    -- a custom collate gets the packed samples, also over a TensorDataset
    local seen = {}
    local custom = data.DataLoader(ds, { batch_size = 3, collate = function(samples)
      seen[#seen + 1] = #samples
      local s = 0
      for _, smp in ipairs(samples) do s = s + smp[2]; assert.equal(2, smp.n) end
      return s
    end })
    local sums = {}
    for s in custom:iter() do sums[#sums + 1] = s end
    assert.equal(34, #sums)
    assert.equal(1 + 2 + 3, sums[1])
    assert.equal(100, sums[34])
    assert.equal(1, seen[34])
  end)

  it("subsets of a TensorDataset batch through get_batch", function()
    local train = data.random_split(ds, { 0.8, 0.2 }, 5)[1]
    local loader = data.DataLoader(train, { batch_size = 32, shuffle = true, seed = 9 })
    local labels = epoch_labels(loader)
    local want = {}
    for k, i in ipairs(data.pcg32(9, 1):permutation(80)) do want[k] = train.indices[i] end
    assert.same(want, labels)
  end)

  it("refuses bad options with clear messages", function()
    assert.matches("batch_size must be an integer >= 1, got 0", err(data.DataLoader, ds, { batch_size = 0 }))
    assert.matches("batch_size must be an integer >= 1, got 1.5", err(data.DataLoader, ds, { batch_size = 1.5 }))
    assert.matches("batch_size must be an integer >= 1, got %-3", err(data.DataLoader, ds, { batch_size = -3 }))
    assert.matches("unknown option 'batchsize'", err(data.DataLoader, ds, { batchsize = 4 }))
    assert.matches("collate must be a function", err(data.DataLoader, ds, { collate = 3 }))
    assert.matches("seed must be an integer", err(data.DataLoader, ds, { seed = 0.5 }))
    assert.matches("has no get%(i%) method", err(data.DataLoader, { 1, 2, 3 }))
    assert.matches("a dataset must be a table", err(data.DataLoader, 42))
  end)
end)

describe("digits", function()
  local CHILD = helpers.child_command()

  -- The file read independently: row count, per-class counts, pixel sum, row 1 and row 1797.
  local truth = python([==[
import gzip, json
rows = [list(map(int, l.split(","))) for l in gzip.open("data/digits.csv.gz", "rt").read().split()]
counts = [0] * 10
for r in rows: counts[r[64]] += 1
print(json.dumps({"n": len(rows), "counts": counts, "sum": sum(sum(r[:64]) for r in rows),
                  "first": rows[0], "last": rows[-1]}))
]==])

  it("loads 1797 images scaled to [0, 1] with classes 1..10", function()
    local ds = data.digits()
    local X, y = ds.tensors[1], ds.tensors[2]
    assert.equal(1797, truth.n)
    assert.same({ 1797, 64 }, X:size())
    assert.same({ 1797 }, y:size())
    assert.equal("f32", X:dtype())
    assert.equal("i64", y:dtype())
    assert.equal(0, X:min():item())
    assert.equal(1, X:max():item())
    assert.equal(truth.sum, math.floor(X:to("f64"):sum():item() * 16 + 0.5))
    assert.equal(1, y:min():item())
    assert.equal(10, y:max():item())
    local counts = {}
    for c = 1, 10 do counts[c] = y:eq(c):sum():item() end
    assert.same(truth.counts, counts)
    assert.same({ 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 }, counts)
    for _, row in ipairs({ { 1, truth.first }, { 1797, truth.last } }) do
      local x, label = ds:get(row[1])
      local want = {}
      for i = 1, 64 do want[i] = row[2][i] / 16 end
      assert.same(want, x:totable())
      assert.equal(row[2][65] + 1, label)
    end
  end)

  it("gives NCHW images with images = true", function()
    local flat = data.digits().tensors[1]
    local img = data.digits({ images = true }).tensors[1]
    assert.same({ 1797, 1, 8, 8 }, img:size())
    assert.same(flat[5]:totable(), img[5]:contiguous():view(64):totable())
    -- row 1 of the first image is the first 8 pixels
    assert.same({ 0, 0, 5 / 16, 13 / 16, 9 / 16, 1 / 16, 0, 0 }, img[1][1][1]:totable())
  end)

  it("is found from any working directory", function()
    local cmd = "cd /tmp && " .. CHILD ..
      " -e 'local d = require(\"ember.data\").digits(); io.write(#d, \" \", d.tensors[2][1])' 2>&1"
    local p = io.popen(cmd)
    local out = p:read("a")
    p:close()
    assert.equal("1797 1", out)
  end)

  it("reads EMBER_DATA, an explicit path and plain csv, and names a missing file", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local f = assert(io.open(dir .. "/digits.csv", "w"))
    f:write(string.rep("16,", 64) .. "9\n" .. string.rep("0,", 63) .. "8,0\n")
    f:close()
    assert(os.execute("gzip -c " .. dir .. "/digits.csv > " .. dir .. "/digits.csv.gz"))
    local function run(env, code)
      local p = io.popen(string.format("cd /tmp && %s %s -e '%s' 2>&1", env, CHILD, code))
      local out = p:read("a")
      p:close()
      return out
    end
    local show = "local d = require(\"ember.data\").digits(...) local x, y = d:get(2) " ..
                 "io.write(#d, \" \", x[64], \" \", y, \" \", tostring(d.tensors[1]:max():item() == 1))"
    assert.equal("2 0.5 1 true", run("EMBER_DATA=" .. dir, show:gsub("%.%.%.", "")))
    local direct = data.digits(dir .. "/digits.csv")
    assert.same({ 10, 1 }, direct.tensors[2]:totable())
    assert.equal(2, #data.digits({ path = dir .. "/digits.csv.gz" }))
    os.remove(dir .. "/digits.csv.gz")
    assert.matches("data.digits: cannot find digits.csv.gz %(looked for " .. dir:gsub("%p", "%%%0") ..
                   "/digits.csv.gz%); set EMBER_DATA", run("EMBER_DATA=" .. dir, show:gsub("%.%.%.", "")))
    assert.matches("data.digits: unknown option 'image'", err(data.digits, { image = true }))
    assert.matches("data.digits: data file /nonexistent/d.csv.gz does not exist",
                   err(data.digits, "/nonexistent/d.csv.gz"))
    -- content errors name the line
    f = assert(io.open(dir .. "/bad.csv", "w"))
    f:write(string.rep("1,", 64) .. "2\n" .. string.rep("1,", 63) .. "2\n")
    f:close()
    assert.matches("bad.csv line 2 has 64 fields, expected 65", err(data.digits, dir .. "/bad.csv"))
    f = assert(io.open(dir .. "/bad.csv", "w"))
    f:write(string.rep("1,", 10) .. "17," .. string.rep("1,", 53) .. "2\n")
    f:close()
    assert.matches("bad.csv line 1 field 11 is '17', not an integer 0..16", err(data.digits, dir .. "/bad.csv"))
    f = assert(io.open(dir .. "/bad.csv.gz", "w"))
    f:write("not gzip")
    f:close()
    assert.matches("gzip %-dc .*bad.csv.gz failed", err(data.digits, dir .. "/bad.csv.gz"))
    os.execute("rm -rf " .. dir)
  end)
end)
