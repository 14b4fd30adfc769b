-- data.lua — datasets and a batching loader (ember.data), the digits data set, and
-- the seeded generator that orders them.
--
--   local data = require "ember.data"
--   local train, test = table.unpack(data.random_split(data.digits(), {0.8, 0.2}, 1))
--   local loader = data.DataLoader(train, { batch_size = 32, shuffle = true, seed = 1 })
--   for epoch = 1, 5 do
--     for xb, yb in loader:iter() do ... end     -- a new order each epoch
--   end
--
-- A dataset is any object with ds:get(i) (i from 1) returning one sample, one or more
-- values, and a length: ds:len() if it has one, else #ds. A dataset may also have
-- ds:get_batch(idx), idx a 1-D i64 tensor of 1-based indices, returning the whole batch;
-- the loader then asks for batches this way, which for tensors is one index_select per
-- tensor instead of a Lua table per sample. TensorDataset and Subset (over a dataset
-- that has get_batch) have it.
--
-- Shuffling never touches ember's tensor RNG: orders come from PCG32 in plain Lua
-- integer arithmetic, so a seed gives the same order on every machine and every run,
-- whatever else the script draws from ember.randn.
local ember = require "ember"

local data = {}

---------------------------------------------------------------------------------------
-- PCG32 (M. E. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically
-- Good Algorithms for Random Number Generation", 2014), the XSH-RR variant: a 64-bit
-- linear congruential state, each output a 32-bit xorshift of the high bits rotated by
-- the top 5 bits. Lua 5.4 integers are 64-bit and wrap on overflow, and >> is a logical
-- shift, so the arithmetic below is exactly the reference's uint64_t arithmetic.
-- Seeding follows pcg32_srandom(initstate, initseq): the stream (initseq) selects the
-- increment, so (seed, stream) pairs give independent sequences.
---------------------------------------------------------------------------------------

local PCG_MULT = 6364136223846793005

local Pcg32 = {}
Pcg32.__index = Pcg32

-- The next 32-bit output, an integer in [0, 2^32).
function Pcg32:next_u32()
  local old = self.state
  self.state = old * PCG_MULT + self.inc
  local xorshifted = (((old >> 18) ~ old) >> 27) & 0xffffffff
  local rot = old >> 59
  return ((xorshifted >> rot) | (xorshifted << ((-rot) & 31))) & 0xffffffff
end

-- A uniform integer in [0, n), 1 <= n <= 2^32. Outputs below 2^32 mod n are
-- rejected, which leaves a range that is a multiple of n, so `% n` has no bias.
function Pcg32:below(n)
  if math.type(n) ~= "integer" or n < 1 or n > 0x100000000 then
    error("pcg32:below: bound must be an integer in 1..2^32, got " .. tostring(n), 2)
  end
  local threshold = (0x100000000 - n) % n
  local r
  repeat r = self:next_u32() until r >= threshold
  return r % n
end

-- A random permutation of 1..n as a Lua list (Fisher-Yates, last position first).
function Pcg32:permutation(n)
  local p = {}
  for i = 1, n do p[i] = i end
  for i = n, 2, -1 do
    local j = self:below(i) + 1
    p[i], p[j] = p[j], p[i]
  end
  return p
end

local function to_integer(v, what, level)
  local i = math.tointeger(v)
  if i == nil then error(what .. " must be an integer, got " .. tostring(v), level + 1) end
  return i
end

-- data.pcg32(seed, stream=0): a generator; seed and stream are any Lua integers
-- (negative ones are taken as their 64-bit two's complement, as in C).
function data.pcg32(seed, stream)
  seed = to_integer(seed or 0, "pcg32: seed", 2)
  stream = to_integer(stream or 0, "pcg32: stream", 2)
  local g = setmetatable({ state = 0, inc = (stream << 1) | 1 }, Pcg32)
  g:next_u32()
  g.state = g.state + seed
  g:next_u32()
  return g
end

---------------------------------------------------------------------------------------
-- Datasets
---------------------------------------------------------------------------------------

local function shape_str(t) return table.concat(t:size(), "x") end

-- The length of any dataset: ds:len() when it has one, else #ds.
function data.len(ds)
  if type(ds) ~= "table" and type(ds) ~= "userdata" then
    error("ember.data: a dataset must be a table with get(i) and a length, got a " .. type(ds), 2)
  end
  local f = ds.len
  if type(f) == "function" then return f(ds) end
  return #ds
end

local function check_index(i, n, who)
  if math.type(i) ~= "integer" then
    i = math.tointeger(i)
    if i == nil then error(who .. ": index must be an integer", 3) end
  end
  if i < 1 or i > n then
    error(string.format("%s: index %d is out of range 1..%d", who, i, n), 3)
  end
  return i
end

local TensorDataset = {}
TensorDataset.__index = TensorDataset
TensorDataset.__name = "ember.data.TensorDataset"

-- data.TensorDataset(X, y, ...): sample i is row i of every tensor (their first
-- dimension is the sample dimension and must agree).
function data.TensorDataset(...)
  local n = select("#", ...)
  if n == 0 then error("TensorDataset: needs at least one tensor", 2) end
  local tensors = { ... }
  for k = 1, n do
    local t = tensors[k]
    if not ember.is_tensor(t) then
      error(string.format("TensorDataset: argument %d is a %s, not a tensor", k, type(t)), 2)
    end
    if t:dim() == 0 then
      error(string.format("TensorDataset: tensor %d is 0-dimensional; it needs a sample dimension", k), 2)
    end
    if t:size(1) ~= tensors[1]:size(1) then
      error(string.format("TensorDataset: tensor %d has %d samples (shape %s) but tensor 1 has %d (shape %s)",
        k, t:size(1), shape_str(t), tensors[1]:size(1), shape_str(tensors[1])), 2)
    end
  end
  return setmetatable({ tensors = tensors, n = tensors[1]:size(1) }, TensorDataset)
end

function TensorDataset:len() return self.n end
TensorDataset.__len = TensorDataset.len

-- Row i of each tensor: a view for tensors of 2 or more dims, a number for 1-D ones
-- (t[i], as indexing gives), so `local x, label = ds:get(i)` reads naturally.
function TensorDataset:get(i)
  i = check_index(i, self.n, "TensorDataset:get")
  local out = {}
  for k, t in ipairs(self.tensors) do out[k] = t[i] end
  return table.unpack(out, 1, #self.tensors)
end

-- The rows at idx (1-D i64, 1-based) of every tensor: one index_select each.
function TensorDataset:get_batch(idx)
  local ts = self.tensors
  if #ts == 2 then return ts[1]:index_select(1, idx), ts[2]:index_select(1, idx) end
  local out = {}
  for k, t in ipairs(ts) do out[k] = t:index_select(1, idx) end
  return table.unpack(out, 1, #ts)
end

local Subset = {}
Subset.__index = Subset
Subset.__name = "ember.data.Subset"

local function subset_get_batch(self, idx)
  return self.dataset:get_batch(self.index:index_select(1, idx))
end

-- data.Subset(ds, indices): the samples of ds at indices (a Lua list or a 1-D integer
-- tensor of 1-based indices), in that order.
function data.Subset(ds, indices)
  local n = data.len(ds)
  local list
  if ember.is_tensor(indices) then
    if indices:dim() ~= 1 then
      error("Subset: indices must be 1-D, got shape " .. shape_str(indices), 2)
    end
    list = indices:numel() > 0 and indices:totable() or {}
  elseif type(indices) == "table" then
    list = {}
    for k = 1, #indices do list[k] = indices[k] end
  else
    error("Subset: indices must be a list or a tensor, got a " .. type(indices), 2)
  end
  for k, i in ipairs(list) do
    local v = math.tointeger(i)
    if v == nil or v < 1 or v > n then
      error(string.format("Subset: index %s (entry %d) is out of range 1..%d", tostring(i), k, n), 2)
    end
    list[k] = v
  end
  local s = setmetatable({ dataset = ds, indices = list, index = ember.tensor(list, "i64") }, Subset)
  if type(ds.get_batch) == "function" then s.get_batch = subset_get_batch end
  return s
end

function Subset:len() return #self.indices end
Subset.__len = Subset.len

function Subset:get(i)
  i = check_index(i, #self.indices, "Subset:get")
  return self.dataset:get(self.indices[i])
end

-- Lengths for random_split: counts that add up to n, or fractions that add up to 1.
-- Fractions take floor(f * n) each and the remainder goes one by one to the first
-- subsets, as torch.utils.data.random_split does, so both split 1797 by {0.8, 0.2}
-- into 1438 and 359.
local function split_lengths(lengths, n)
  if type(lengths) ~= "table" or #lengths == 0 then
    error("random_split: lengths must be a non-empty list of counts or fractions", 3)
  end
  local counts, all_int, sum = {}, true, 0
  for k, v in ipairs(lengths) do
    if type(v) ~= "number" or v < 0 or v ~= v then
      error(string.format("random_split: length %d is %s; lengths must be non-negative numbers", k, tostring(v)), 3)
    end
    if math.type(v) ~= "integer" then all_int = false end
    sum = sum + v
  end
  if all_int then
    if sum ~= n then
      error(string.format("random_split: counts add up to %d but the dataset has %d samples", sum, n), 3)
    end
    for k, v in ipairs(lengths) do counts[k] = v end
    return counts
  end
  if math.abs(sum - 1) > 1e-6 then
    error(string.format("random_split: fractions add up to %.17g, not 1 (or give integer counts that add up to %d)", sum, n), 3)
  end
  local total = 0
  for k, f in ipairs(lengths) do
    if f > 1 then error(string.format("random_split: fraction %d is %g, above 1", k, f), 3) end
    counts[k] = math.floor(f * n)
    total = total + counts[k]
  end
  for k = 0, n - total - 1 do
    local at = k % #counts + 1
    counts[at] = counts[at] + 1
  end
  return counts
end

-- data.random_split(ds, lengths, seed=0) -> list of Subsets: one permutation of the
-- whole dataset (PCG32 on stream 0 with this seed) cut into consecutive pieces.
function data.random_split(ds, lengths, seed)
  local n = data.len(ds)
  local counts = split_lengths(lengths, n)
  local perm = data.pcg32(to_integer(seed or 0, "random_split: seed", 2), 0):permutation(n)
  local out, at = {}, 0
  for k, c in ipairs(counts) do
    out[k] = data.Subset(ds, table.move(perm, at + 1, at + c, 1, {}))
    at = at + c
  end
  return out
end

---------------------------------------------------------------------------------------
-- DataLoader
---------------------------------------------------------------------------------------

-- Stack the samples of a batch field by field: tensors with ember.stack, numbers into
-- one tensor (i64 when all are integers, as ember.tensor chooses), anything else kept
-- as a list.
function data.default_collate(samples)
  local first = samples[1]
  local out = {}
  for f = 1, first.n do
    local column = {}
    for s = 1, #samples do column[s] = samples[s][f] end
    local v = first[f]
    if ember.is_tensor(v) then out[f] = ember.stack(column, 1)
    elseif type(v) == "number" then out[f] = ember.tensor(column)
    else out[f] = column end
  end
  return table.unpack(out, 1, first.n)
end

local DataLoader = {}
DataLoader.__index = DataLoader
DataLoader.__name = "ember.data.DataLoader"

local LOADER_OPTIONS = { batch_size = true, shuffle = true, seed = true, drop_last = true,
                         collate = true }

-- data.DataLoader(ds, opts): batches of ds. opts:
--   batch_size = 1       samples per batch (the last batch may be shorter)
--   shuffle = false      a new permutation each epoch, from seed and the epoch number
--   seed = 0             the same seed gives the same orders, on any machine
--   drop_last = false    leave out a last batch shorter than batch_size
--   collate = fn         fn(samples) -> batch values; samples is a list of packed
--                        ds:get(i) results (t.n set). Given a collate, the loader reads
--                        sample by sample; without one it uses ds:get_batch when the
--                        dataset has it, else data.default_collate.
-- Iterate with `for xb, yb in loader:iter() do ... end`: each iter() call is the next
-- epoch (loader.epoch counts them; loader:set_epoch(e) makes the next one e, to resume).
function data.DataLoader(ds, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("DataLoader: options must be a table", 2) end
  for k in pairs(opts) do
    if not LOADER_OPTIONS[k] then error("DataLoader: unknown option '" .. tostring(k) .. "'", 2) end
  end
  data.len(ds)
  if type(ds.get) ~= "function" then error("DataLoader: the dataset has no get(i) method", 2) end
  local bs = opts.batch_size or 1
  if math.tointeger(bs) == nil or bs < 1 then
    error("DataLoader: batch_size must be an integer >= 1, got " .. tostring(bs), 2)
  end
  if opts.collate ~= nil and type(opts.collate) ~= "function" then
    error("DataLoader: collate must be a function", 2)
  end
  return setmetatable({
    dataset = ds, batch_size = math.tointeger(bs), shuffle = opts.shuffle == true,
    seed = to_integer(opts.seed or 0, "DataLoader: seed", 2), drop_last = opts.drop_last == true,
    collate = opts.collate, epoch = 0,
  }, DataLoader)
end

-- The number of batches one epoch gives.
function DataLoader:len()
  local n = data.len(self.dataset)
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end
DataLoader.__len = DataLoader.len

function DataLoader:set_epoch(e)
  self.epoch = to_integer(e, "DataLoader:set_epoch: epoch", 2) - 1
end

-- The order of epoch e: a list of 1-based indices.
function DataLoader:order(e)
  local n = data.len(self.dataset)
  if self.shuffle then return data.pcg32(self.seed, e):permutation(n) end
  local p = {}
  for i = 1, n do p[i] = i end
  return p
end

-- An iterator over the batches of the next epoch. The index tensor is built once here;
-- each batch is a narrow of it (a view) and one get_batch, or per-sample gets.
function DataLoader:iter()
  self.epoch = self.epoch + 1
  local ds, bs, nb = self.dataset, self.batch_size, self:len()
  local n = data.len(ds)
  local order = self:order(self.epoch)
  local b = 0
  if self.collate == nil and type(ds.get_batch) == "function" then
    local index = ember.tensor(order, "i64")
    return function()
      if b >= nb then return nil end
      local start = b * bs + 1
      b = b + 1
      return ds:get_batch(index:narrow(1, start, math.min(bs, n - start + 1)))
    end
  end
  local collate = self.collate or data.default_collate
  return function()
    if b >= nb then return nil end
    local start = b * bs + 1
    b = b + 1
    local samples = {}
    for k = start, math.min(start + bs - 1, n) do samples[#samples + 1] = table.pack(ds:get(order[k])) end
    return collate(samples)
  end
end

---------------------------------------------------------------------------------------
-- The digits data set (data/digits.csv.gz; see data/README.md)
---------------------------------------------------------------------------------------

-- The folder this file was loaded from (nil when it came from a string).
local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")

-- Where digits.csv.gz may be: $EMBER_DATA alone when set; else the data/ folder of
-- the tree this file is in (<root>/stdlib/ember/data.lua), then the one beside the
-- Lua library ember was configured with (an installed share/ember/lua -> share/ember/data).
local function data_candidates(name)
  local env = os.getenv("EMBER_DATA")
  if env and env ~= "" then return { env .. "/" .. name } end
  local c = {}
  if HERE then c[#c + 1] = HERE .. "/../../data/" .. name end
  if ember.stdlib_dir then c[#c + 1] = ember.stdlib_dir .. "/../data/" .. name end
  return c
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The text of a file, through `gzip -dc` when its name ends in .gz (gzip is part of
-- every Debian system; no zlib binding for Lua 5.4 is needed for one small file).
local function read_text(path, who)
  if not path:match("%.gz$") then
    local f, err = io.open(path, "rb")
    if not f then error(who .. ": cannot open " .. err, 3) end
    local s = f:read("a")
    f:close()
    return s
  end
  local p = io.popen("gzip -dc -- " .. shell_quote(path) .. " 2>/dev/null", "r")
  if not p then error(who .. ": cannot run gzip to read " .. path, 3) end
  local s = p:read("a")
  local ok, how, code = p:close()
  if not ok then
    error(string.format("%s: gzip -dc %s failed (%s %s): not a gzip file, or gzip is missing",
      who, path, tostring(how), tostring(code)), 3)
  end
  return s
end

-- data.digits(opts) -> TensorDataset(X, y): the 1797 8x8 handwritten digits.
-- X is f32 with pixels scaled from 0..16 to [0, 1], shaped 1797x64, or 1797x1x8x8
-- with images = true (NCHW, for convolutions); y is i64, the labels 0..9 plus one
-- (the classes 1..10 ember's losses take). opts is a table {path = ..., images = bool}
-- or just the path; the file is found as data_candidates says when no path is given.
function data.digits(opts)
  if type(opts) == "string" then opts = { path = opts } end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "path" and k ~= "images" then error("data.digits: unknown option '" .. tostring(k) .. "'", 2) end
  end
  local path = opts.path
  if path then
    if not exists(path) then error("data.digits: data file " .. path .. " does not exist", 2) end
  else
    local c = data_candidates("digits.csv.gz")
    for _, p in ipairs(c) do if exists(p) then path = p break end end
    if not path then
      error("data.digits: cannot find digits.csv.gz (looked for " .. table.concat(c, ", ") ..
        "); set EMBER_DATA to the folder that holds it, or pass the path", 2)
    end
  end
  local text = read_text(path, "data.digits")
  local pixels, labels = {}, {}
  local np, row = 0, 0
  for line in text:gmatch("[^\r\n]+") do
    row = row + 1
    local k = 0
    for field in line:gmatch("[^,]+") do
      k = k + 1
      local v = math.tointeger(tonumber(field))
      if v == nil or v < 0 or v > 16 then
        error(string.format("data.digits: %s line %d field %d is '%s', not an integer 0..16", path, row, k, field), 2)
      end
      if k <= 64 then np = np + 1; pixels[np] = v / 16
      elseif k == 65 then
        if v > 9 then error(string.format("data.digits: %s line %d: label %d is not 0..9", path, row, v), 2) end
        labels[row] = v + 1
      end
    end
    if k ~= 65 then
      error(string.format("data.digits: %s line %d has %d fields, expected 65 (64 pixels and a label)", path, row, k), 2)
    end
  end
  if row == 0 then error("data.digits: " .. path .. " holds no rows", 2) end
  local X = ember.tensor(pixels, "f32")
  X = opts.images and X:view(row, 1, 8, 8) or X:view(row, 64)
  return data.TensorDataset(X, ember.tensor(labels, "i64"))
end

return data
