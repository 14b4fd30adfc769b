-- ddp.lua — ember.dist.DDP: data-parallel training of a module, gradients averaged
-- over ranks by bucketed allreduces that overlap the backward.
--
--   local ddp = dist.DDP(model, { bucket_cap_mb = 25, first_bucket_mb = 1 })
--   local loss = loss_fn(ddp(x), y); loss:backward(); opt:step()
--
-- Invariants:
-- - Every rank holds the same parameters (broadcast from rank 1 at construction) with
--   the same names, shapes and dtypes (checked then), so every rank makes the same
--   buckets and starts their allreduces in the same order: bucket k starts only after
--   buckets 1..k-1 have. The bucket allreduces skip the per-call agreement check.
-- - A bucket is one flat tensor of one dtype on one device: a slot per parameter (in
--   the order gradients are expected) and then one element per parameter, 1 when this
--   rank has a gradient for it. Averaged with the gradients, that element is above 0
--   when any rank had one; a parameter no rank had a gradient for keeps its .grad.
-- - A parameter's post-accumulate hook copies its gradient into its slot and starts
--   the buckets that are full, in order. The first hook of a backward (a parameter's,
--   or the one on the forward's output) queues an end-of-backward callback: it starts
--   the rest (a slot without a gradient is zero), waits for all and writes the averages
--   back into .grad before backward returns.
-- - One synced reduction per forward: a second synced backward over the same forward
--   is an error, as in PyTorch (the gradients it would average were averaged already).
-- - After the first synced backward the buckets are rebuilt once, in the order the
--   gradients arrived on rank 1 (broadcast, so every rank agrees).
local ember = require "ember"
local nn = require "ember.nn"
local dist = require "ember.dist"

local fmt = string.format
local MiB = 1024 * 1024

-- raise(msg): an error positioned at the first caller outside ember.nn and ember.dist
local src_dir = debug.getinfo(1, "S").source:match("^@(.*[/\\])dist[/\\]") or ""
local function raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil then level = 2; break end
    if info.what ~= "C" and info.source:sub(2, #src_dir + 1) ~= src_dir then break end
    level = level + 1
  end
  error(msg, level)
end

local DDP = nn.Module:extend("DistributedDataParallel")

local option_names = {
  bucket_cap_mb = "number", first_bucket_mb = "number", broadcast_buffers = "boolean",
}

local function check_options(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then raise(fmt("DDP: options must be a table, got %s", type(opts))) end
  for k, v in pairs(opts) do
    local want = option_names[k]
    if want == nil then
      raise(fmt("DDP: unknown option '%s' (options: bucket_cap_mb, first_bucket_mb, "
                .. "broadcast_buffers)", tostring(k)))
    end
    if type(v) ~= want then raise(fmt("DDP: option %s must be a %s, got %s", k, want, type(v))) end
    if want == "number" and not (v > 0) then
      raise(fmt("DDP: option %s must be > 0, got %s", k, v))
    end
  end
  return opts
end

-- {====== agreement between ranks

local function shape_str(t) return "[" .. table.concat(t:size(), "x") .. "]" end

-- One line per parameter and buffer: what every rank must agree on.
local function describe(module)
  local lines = {}
  for name, p in module:named_parameters() do
    lines[#lines + 1] = fmt("parameter %s %s %s%s", name, p:dtype(), shape_str(p),
                            p.requires_grad and "" or " (no grad)")
  end
  for name, b in module:named_buffers() do
    lines[#lines + 1] = fmt("buffer %s %s %s", name, b:dtype(), shape_str(b))
  end
  return lines
end

local CHUNK = 4096

local function bytes_tensor(s, len)
  local v = {}
  for i = 1, len do v[i] = 0 end
  for i = 1, #s, CHUNK do
    local part = { s:byte(i, math.min(#s, i + CHUNK - 1)) }
    for j = 1, #part do v[i + j - 1] = part[j] end
  end
  return ember.tensor(v, "u8")
end

local function row_string(row, len)
  local parts = {}
  for i = 1, len, CHUNK do
    parts[#parts + 1] = string.char(table.unpack(row, i, math.min(len, i + CHUNK - 1)))
  end
  return table.concat(parts)
end

-- Every rank's description, gathered (two small allgathers).
local function gather_descriptions(lines)
  local s = table.concat(lines, "\n")
  local lens = dist.allgather(ember.tensor({ #s }, "i64")):view(-1):totable()
  local max = 1
  for _, n in ipairs(lens) do max = math.max(max, n) end
  local rows = dist.allgather(bytes_tensor(s, max)):view(#lens, max):totable()
  local all = {}
  for r, n in ipairs(lens) do
    local l = {}
    for line in (row_string(rows[r], n) .. "\n"):gmatch("(.-)\n") do l[#l + 1] = line end
    if n == 0 then l = {} end
    all[r] = l
  end
  return all
end

-- Raises on every rank the same error when the ranks' models differ.
local function check_same_model(module)
  local all = gather_descriptions(describe(module))
  local ref, problems = all[1], {}
  for r = 2, #all do
    local mine = all[r]
    for i = 1, math.max(#ref, #mine) do
      if ref[i] ~= mine[i] then
        problems[#problems + 1] = fmt("rank 1 has %s, rank %d has %s", ref[i] or "nothing more",
                                      r, mine[i] or "nothing more")
        break
      end
    end
  end
  if #problems > 0 then
    raise("DDP: the model differs across ranks: " .. table.concat(problems, "; "))
  end
end

-- }======

-- {====== buckets

-- Groups parameters (indices into params, in `order`) into buckets of one dtype and
-- device, each closed once it holds `limit` bytes: first_cap for a key's first
-- bucket, cap after. Buckets are ordered by their first parameter's place in order.
local function assign(params, order, first_cap, cap)
  local open, first_done, buckets, place = {}, {}, {}, {}
  for k, i in ipairs(order) do
    place[i] = k
    local p = params[i].tensor
    local key = p:dtype() .. "@" .. p:device()
    local b = open[key]
    if b == nil then
      b = { dtype = p:dtype(), device = p:device(), index = {}, bytes = 0 }
      open[key] = b
    end
    b.index[#b.index + 1] = i
    b.bytes = b.bytes + p:numel() * p:element_size()
    if b.bytes >= (first_done[key] and cap or first_cap) then
      buckets[#buckets + 1] = b
      open[key] = nil
      first_done[key] = true
    end
  end
  for _, b in pairs(open) do buckets[#buckets + 1] = b end
  table.sort(buckets, function(a, b) return place[a.index[1]] < place[b.index[1]] end)
  return buckets
end

-- The flat tensor of bucket b and its slots' views.
local function materialize(params, b)
  local total = 0
  for _, i in ipairs(b.index) do total = total + params[i].tensor:numel() end
  local n = #b.index
  local flat = ember.zeros(total + n, b.dtype)
  if b.device ~= "cpu" then flat = flat:to(b.device) end
  b.flat = flat
  b.flags = flat:narrow(1, total + 1, n)
  b.views, b.filled, b.nfilled = {}, {}, 0
  local off = 0
  for j, i in ipairs(b.index) do
    local p = params[i].tensor
    b.views[j] = flat:narrow(1, off + 1, p:numel()):view(p:size())
    off = off + p:numel()
  end
end

local function build(self, order)
  local s = rawget(self, "_ddp")
  s.buckets = assign(s.params, order, s.first_cap, s.cap)
  s.where = {}
  for k, b in ipairs(s.buckets) do
    materialize(s.params, b)
    for j, i in ipairs(b.index) do s.where[i] = { k, j } end
  end
end

-- }======

-- {====== the reduction

local function start(s, b)
  local flags = {}
  for j, i in ipairs(b.index) do
    if not b.filled[j] then
      local g = s.touched[i] and s.params[i].tensor.grad or nil
      if g ~= nil then b.views[j]:copy_(g) else b.views[j]:zero_() end
      flags[j] = g ~= nil and 1 or 0
    else
      flags[j] = 1
    end
  end
  b.flags:copy_(ember.tensor(flags, b.dtype))
  b.handle = dist.allreduce(b.flat, "avg", { async = true, check = false })
end

-- Start every full bucket whose predecessors have started.
local function start_ready(s)
  local buckets = s.buckets
  while s.next <= #buckets and buckets[s.next].nfilled == #buckets[s.next].index do
    start(s, buckets[s.next])
    s.next = s.next + 1
  end
end

-- Back to the state before a backward: nothing filled, nothing started.
local function reset(s)
  for _, b in ipairs(s.buckets) do
    b.filled, b.nfilled, b.handle = {}, 0, nil
  end
  s.next, s.active, s.touched = 1, false, {}
end

local function rebuild(self, s)
  local order, seen = {}, {}
  for _, i in ipairs(s.arrival) do
    if not seen[i] then order[#order + 1] = i; seen[i] = true end
  end
  for i = #s.params, 1, -1 do
    if not seen[i] then order[#order + 1] = i end
  end
  local t = ember.tensor(order, "i64")
  dist.broadcast(t, 1)
  build(self, t:totable())
  s.arrival = nil
end

-- The end-of-backward callback: the rest of the buckets, then the averages into .grad.
local function finish(self)
  local s = rawget(self, "_ddp")
  for k = s.next, #s.buckets do start(s, s.buckets[k]) end
  s.next = #s.buckets + 1
  for _, b in ipairs(s.buckets) do b.handle:wait() end
  for _, b in ipairs(s.buckets) do
    local used = b.flags:totable()
    for j, i in ipairs(b.index) do
      if used[j] > 0 then
        local p = s.params[i].tensor
        local g = p.grad
        if g ~= nil then g:copy_(b.views[j]) else p.grad = b.views[j]:clone() end
      end
    end
  end
  reset(s)
  s.reduced = true
  if s.arrival then rebuild(self, s) end
end

-- The first sign of a synced backward: queue finish for its end.
local function begin(self, s)
  if s.active then return end
  if s.reduced then
    raise("DDP: a second backward over one forward: the gradients were averaged over the "
          .. "ranks after the first one. Call the DDP module (not ddp.module) before each "
          .. "backward, or run the extra backward inside ddp:no_sync")
  end
  s.active = true
  ember.autograd.queue_callback(function() finish(self) end)
end

local function on_grad(self, i)
  local s = rawget(self, "_ddp")
  s.touched[i] = true
  if not s.sync then return end
  begin(self, s)
  if s.arrival then s.arrival[#s.arrival + 1] = i end
  local k, j = s.where[i][1], s.where[i][2]
  local b = s.buckets[k]
  if b.filled[j] or k < s.next then return end    -- already sent this backward
  b.views[j]:copy_(s.params[i].tensor.grad)
  b.filled[j] = true
  b.nfilled = b.nfilled + 1
  if b.nfilled == #b.index then start_ready(s) end
end

-- A backward that failed left buckets half done: wait for what was started.
local function recover(s)
  for _, b in ipairs(s.buckets) do
    if b.handle then pcall(b.handle.wait, b.handle) end
  end
  local touched = s.touched
  reset(s)
  s.touched = touched
end

-- }======

-- {====== the module

function DDP:init(module, opts)
  if not nn.is_module(module) then
    raise(fmt("DDP: expected an nn.Module, got %s", type(module)))
  end
  opts = check_options(opts)
  dist.init()
  self.module = module
  local s = {
    cap = (opts.bucket_cap_mb or 25) * MiB,
    first_cap = (opts.first_bucket_mb or 1) * MiB,
    broadcast_buffers = opts.broadcast_buffers ~= false,
    params = {}, sync = true, arrival = {}, touched = {}, hooks = {},
  }
  rawset(self, "_ddp", s)
  check_same_model(module)
  ember.no_grad(function()
    for _, p in ipairs(module:parameters()) do dist.broadcast(p, 1) end
    for _, b in ipairs(module:buffers()) do dist.broadcast(b, 1) end
  end)
  for name, p in module:named_parameters() do
    if p.requires_grad then s.params[#s.params + 1] = { name = name, tensor = p } end
  end
  local order = {}
  for i = #s.params, 1, -1 do order[#order + 1] = i end
  build(self, order)
  reset(s)
  for i, e in ipairs(s.params) do
    s.hooks[i] = e.tensor:register_post_accumulate_grad_hook(function() on_grad(self, i) end)
  end
end

-- A hook on each output that requires grad starts the reduction when the backward
-- reaches it, so a rank whose loss gives no parameter a gradient this step still sends
-- its buckets (every flag 0) and the other ranks' allreduces complete.
local function hook_outputs(self, s, out)
  local function hook(t)
    if ember.is_tensor(t) and t.requires_grad then
      t:register_hook(function() if s.sync then begin(self, s) end end)
    end
  end
  if type(out) == "table" and not ember.is_tensor(out) then
    for _, v in pairs(out) do hook(v) end
  else
    hook(out)
  end
end

function DDP:forward(...)
  local s = rawget(self, "_ddp")
  if s.active then recover(s) end
  s.reduced = false
  if s.broadcast_buffers then
    ember.no_grad(function()
      for _, b in ipairs(self.module:buffers()) do dist.broadcast(b, 1, { check = false }) end
    end)
  end
  local out = table.pack(self.module(...))
  for i = 1, out.n do hook_outputs(self, s, out[i]) end
  return table.unpack(out, 1, out.n)
end

-- ddp:no_sync(fn, ...): runs fn with gradients accumulated locally; the next synced
-- backward reduces everything accumulated since the last one.
function DDP:no_sync(fn, ...)
  if type(fn) ~= "function" then
    raise(fmt("DDP:no_sync: expected a function, got %s", type(fn)))
  end
  local s = rawget(self, "_ddp")
  local was = s.sync
  s.sync = false
  local r = table.pack(pcall(fn, ...))
  s.sync = was
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- ddp:buckets() -> { {names = {...}, bytes = n, dtype = "f32", device = "cpu"}, ... }
-- in the order their allreduces start; bytes counts the gradients.
function DDP:buckets()
  local s = rawget(self, "_ddp")
  local list = {}
  for k, b in ipairs(s.buckets) do
    local names = {}
    for j, i in ipairs(b.index) do names[j] = s.params[i].name end
    list[k] = { names = names, bytes = b.bytes, dtype = b.dtype, device = b.device }
  end
  return list
end

-- Whether the buckets were rebuilt in the order gradients arrived.
function DDP:buckets_rebuilt() return rawget(self, "_ddp").arrival == nil end

-- Takes the hooks off the parameters (the module can then be wrapped again).
function DDP:remove_hooks()
  local s = rawget(self, "_ddp")
  for _, h in ipairs(s.hooks) do h:remove() end
  s.hooks = {}
end

function DDP:extra_repr()
  local s = rawget(self, "_ddp")
  return fmt("world_size=%d, buckets=%d", dist.world_size(), #s.buckets)
end

-- }======

return DDP
