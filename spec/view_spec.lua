-- view_spec.lua — views and the copies that go with them: view/reshape, narrow,
-- select, stepped slices, transpose, t, permute, expand, squeeze, unsqueeze, flatten,
-- contiguous, clone, copy_, fill_, zero_, indexing and assignment through views.
-- Strides and offsets are checked by hand, values against PyTorch, and storage
-- sharing by writing through a view and reading the base.
local ember = require "ember"
local oracle = require "oracle"

-- 2x3x4 holding 0..23 in f32
local function cube() return ember.arange(24):to("f32"):view(2, 3, 4) end

local function err(f)
  local ok, msg = pcall(f)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

describe("views", function()
  it("view and reshape infer -1 and share storage when strides allow", function()
    local t = cube()
    local v = t:view(6, -1)
    assert.same({ 6, 4 }, v:size())
    assert.same({ 4, 1 }, v:stride())
    assert.same({ 24 }, t:view(-1):size())
    assert.same({ 2, 12 }, t:view({ 2, -1 }):size())
    v[{ 2, 1 }] = 100                       -- element 4 of the storage
    assert.equal(100, t[{ 1, 2, 1 }]:item())
    local r = t:reshape(4, 6)
    r[{ 1, 1 }] = -1
    assert.equal(-1, t[{ 1, 1, 1 }]:item(), "reshape of a contiguous tensor is a view")
    local s = ember.zeros(4, 1):expand(4, 3):view(4, 3, 1)   -- stride-0 dims can be viewed too
    assert.same({ 4, 3, 1 }, s:size())
  end)

  it("view refuses strides that cannot express the shape; reshape copies instead", function()
    local t = cube()
    local tr = t:transpose(1, 2)            -- 3x2x4
    assert.is_false(tr:is_contiguous())
    assert.matches("view: a tensor of shape 3x2x4 .*cannot be viewed.*use reshape", err(function() return tr:view(-1) end))
    local r = tr:reshape(-1)
    assert.same({ 0, 1, 2, 3, 12, 13, 14, 15, 4 }, { table.unpack(r:totable(), 1, 9) })
    r[1] = 99
    assert.equal(0, t[{ 1, 1, 1 }]:item(), "reshape that copies does not share storage")
    -- merging dims that stay adjacent in memory is still a view
    local m = tr:reshape(3, 8)
    assert.is_false(pcall(function() return tr:view(3, 8) end))
    assert.same({ 3, 8 }, m:size())
    local ok = pcall(function() return tr:view(3, 2, 2, 2) end)
    assert.is_true(ok, "splitting the last dim of a transposed tensor is a view")
  end)

  it("narrow, select and stepped slices give offsets and strides by hand", function()
    local t = cube()
    local n = t:narrow(3, 2, 2)             -- dim 3 from index 2, length 2
    assert.same({ 2, 3, 2 }, n:size())
    assert.same({ 12, 4, 1 }, n:stride())
    assert.equal(1, n:storage_offset())
    assert.equal(5, n[{ 1, 2, 1 }]:item())
    assert.same({ 2, 3, 2 }, t:narrow(-1, -2, 2):size())
    assert.equal(2, t:narrow(3, -2, 2):storage_offset())
    local s = t:select(2, 3)                -- 2x4
    assert.same({ 2, 4 }, s:size())
    assert.same({ 12, 1 }, s:stride())
    assert.equal(8, s:storage_offset())
    assert.equal(12, t:select(1, -1):storage_offset())
    local st = t[{ {}, {}, { 1, -1, 2 } }]   -- every second column
    assert.same({ 2, 3, 2 }, st:size())
    assert.same({ 12, 4, 2 }, st:stride())
    assert.same({ { 0, 2 }, { 4, 6 }, { 8, 10 } }, st[1]:totable())
    local st3 = t[{ 2, { 2, 3 }, { 1, 4, 3 } }]
    assert.same({ { 16, 19 }, { 20, 23 } }, st3:totable())
    assert.equal(16, st3:storage_offset())
    assert.same({ 3, 4 }, t[{ -1 }]:size())
    assert.same({ 4 }, t[{ -1, -1 }]:size())
    assert.equal(23, t[{ -1, -1 }][-1])
  end)

  it("records t[{...}] ranges as the slice op, 0-based with an exclusive stop", function()
    local found
    for _, op in ipairs(ember.ops()) do
      if op.name == "slice" then found = op end
    end
    assert.is_truthy(found, "the op table has \"slice\"")
    assert.matches("stop exclusive", found.doc)
    local t = ember.arange(10)
    assert.same({ 2, 5, 8 }, t[{ { 3, 9, 3 } }]:totable())   -- slice(dim 0, 2, 9, 3)
    assert.same({ 9 }, t[{ { -1, -1 } }]:totable())
  end)

  it("t[i] on a 1-D tensor is a Lua number of the tensor's kind", function()
    local i = ember.tensor({ 10, 20, 30 })
    assert.equal(20, i[2])
    assert.equal("integer", math.type(i[2]))
    assert.equal(30, i[-1])
    local f = ember.tensor({ 0.5, 1.5 })
    assert.equal("float", math.type(f[1]))
    assert.equal(1.5, f[-1])
    assert.equal(true, ember.tensor({ false, true })[2])
    assert.equal(2.5, ember.tensor({ 1, 2.5 }, "f16")[2])
    local row = cube()[2]                   -- a 2-D tensor gives a view
    assert.is_true(ember.is_tensor(row))
    assert.same({ 3, 4 }, row:size())
  end)

  it("transpose, t, permute, expand, squeeze, unsqueeze, flatten", function()
    local t = cube()
    local tr = t:transpose(1, 3)
    assert.same({ 4, 3, 2 }, tr:size())
    assert.same({ 1, 4, 12 }, tr:stride())
    local m = ember.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
    assert.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, m:t():totable())
    assert.same({ 1, 2 }, ember.tensor({ 1, 2 }):t():totable())
    local p = t:permute(2, 1, 3)
    assert.same({ 3, 2, 4 }, p:size())
    assert.same({ 4, 12, 1 }, p:stride())
    assert.same({ 4, 3, 2 }, t:permute({ 3, 2, 1 }):size())
    assert.same({ 3, 4, 2 }, t:permute(-2, -1, 1):size())
    local col = ember.tensor({ { 1 }, { 2 }, { 3 } })
    local e = col:expand(2, 3, 4)
    assert.same({ 2, 3, 4 }, e:size())
    assert.same({ 0, 1, 0 }, e:stride())
    assert.same({ 3, 3, 3, 3 }, e[{ 2, 3 }]:totable())
    assert.same({ 3, 5 }, col:expand(-1, 5):size())
    assert.same({ 2, 3, 4 }, col:expand_as(t):size())
    local sq = ember.zeros(1, 3, 1, 2)
    assert.same({ 3, 2 }, sq:squeeze():size())
    assert.same({ 3, 1, 2 }, sq:squeeze(1):size())
    assert.same({ 1, 3, 2 }, sq:squeeze(-2):size())
    assert.same({ 1, 3, 1, 2 }, sq:squeeze(2):size(), "a dim that is not 1 stays")
    assert.same({ 1, 2, 3, 4 }, t:unsqueeze(1):size())
    assert.same({ 2, 3, 4, 1 }, t:unsqueeze(-1):size())
    assert.same({ 2, 1, 3, 4 }, t:unsqueeze(2):size())
    assert.same({ 24 }, t:flatten():size())
    assert.same({ 2, 12 }, t:flatten(2):size())
    assert.same({ 6, 4 }, t:flatten(1, 2):size())
    assert.same({ 1 }, ember.tensor(5):flatten():size())
  end)

  it("match torch on chains of views over non-contiguous tensors", function()
    local t = cube()
    local cases = {
      { "x[0].transpose(0, 2)", t:transpose(1, 3) },
      { "x[0].permute(1, 0, 2)", t:permute(2, 1, 3) },
      { "x[0].narrow(1, 1, 2)", t:narrow(2, 2, 2) },
      { "x[0].select(2, -1)", t:select(3, -1) },
      { "x[0][:, :, 0::2]", t[{ {}, {}, { 1, -1, 2 } }] },
      { "x[0][1, 1:3, 0::3]", t[{ 2, { 2, 3 }, { 1, -1, 3 } }] },
      { "x[0].transpose(0, 1).reshape(6, 4)", t:transpose(1, 2):reshape(6, 4) },
      { "x[0].permute(2, 0, 1).contiguous().view(4, -1)", t:permute(3, 1, 2):contiguous():view(4, -1) },
      { "x[0].narrow(2, 1, 1).expand(2, 3, 5)", t:narrow(3, 2, 1):expand(2, 3, 5) },
      { "x[0].transpose(1, 2).unsqueeze(1)", t:transpose(2, 3):unsqueeze(2) },
      { "torch.flatten(x[0].permute(2, 1, 0), 1)", t:permute(3, 2, 1):flatten(2) },
      { "x[0][:, 1].t()", t[{ {}, 2 }]:t() },
      { "x[0].transpose(0, 2).clone()", t:transpose(1, 3):clone() },
      { "x[0][1:, ::2, 1::2].squeeze(0)", t[{ { 2, 2 }, { 1, 3, 2 }, { 2, 4, 2 } }]:squeeze(1) },
      { "x[0].transpose(0, 1)[::2].reshape(-1)", t:transpose(1, 2)[{ { 1, 3, 2 } }]:reshape(-1) },
    }
    local req = {}
    for i, c in ipairs(cases) do req[i] = { expr = c[1], inputs = { t } } end
    local r = oracle.eval(req)
    for i, c in ipairs(cases) do
      local ok, msg = pcall(oracle.assert_close, c[2], r[i], 0, 0)
      assert(ok, c[1] .. ": " .. tostring(msg))
    end
  end)

  it("contiguous and clone copy only when they must", function()
    local t = cube()
    local c = t:contiguous()
    c[{ 1, 1, 1 }] = 42
    assert.equal(42, t[{ 1, 1, 1 }]:item(), "contiguous of a contiguous tensor is the tensor")
    local tr = t:transpose(2, 3)
    local cc = tr:contiguous()
    assert.is_true(cc:is_contiguous())
    assert.same({ 12, 3, 1 }, cc:stride())
    cc[{ 1, 1, 1 }] = -5
    assert.equal(42, t[{ 1, 1, 1 }]:item())
    local cl = t:clone()
    cl:fill_(0)
    assert.equal(42, t[{ 1, 1, 1 }]:item(), "clone is a copy")
    assert.same(tr:totable(), tr:clone():totable())
    assert.is_true(tr:clone():is_contiguous())
  end)

  it("copy_ broadcasts and converts; fill_ and zero_ write through strides", function()
    local a = ember.zeros(2, 3, "i32")
    a:copy_(ember.tensor({ 1.7, -2.2, 3.9 }, "f64"))
    assert.same({ { 1, -2, 3 }, { 1, -2, 3 } }, a:totable())
    local b = ember.zeros(3, 2)
    b:t():copy_(ember.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }))
    assert.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, b:totable())
    b:copy_(ember.tensor(7))
    assert.same({ { 7, 7 }, { 7, 7 }, { 7, 7 } }, b:totable())
    local t = cube()
    t[{ {}, 2 }]:fill_(-1)
    assert.same({ -1, -1, -1, -1 }, t[{ 2, 2 }]:totable())
    assert.same({ 0, 1, 2, 3 }, t[{ 1, 1 }]:totable())
    t:select(3, 4):zero_()
    assert.same({ 8, 9, 10, 0 }, t[{ 1, 3 }]:totable())
    local h = ember.zeros(2, "f16")
    h:fill_(1 / 3)
    assert.equal(0.333251953125, h[1])
    local bo = ember.zeros(3, "bool")
    bo:copy_(ember.tensor({ 0, 2, -1 }))
    assert.same({ false, true, true }, bo:totable())
  end)

  it("assignment writes into slices, selections and single elements", function()
    local t = cube()
    t[{ {}, {}, { 1, -1, 2 } }] = 0
    assert.same({ 0, 1, 0, 3 }, t[{ 1, 1 }]:totable())
    t[2] = ember.tensor({ 9, 8, 7, 6 })       -- broadcast over a 3x4 selection
    assert.same({ { 9, 8, 7, 6 }, { 9, 8, 7, 6 }, { 9, 8, 7, 6 } }, t[2]:totable())
    t[{ 1, 2, 3 }] = 55
    assert.equal(55, t[{ 1, 2, 3 }]:item())
    t[{ 1, -1, -1 }] = -7
    assert.equal(-7, t[{ 1, 3, 4 }]:item())
    local v = ember.tensor({ 1, 2, 3 }, "i64")
    v[2] = 20
    v[-1] = 30
    assert.same({ 1, 20, 30 }, v:totable())
    local bo = ember.zeros(2, "bool")
    bo[{ { 2, 2 } }] = true
    assert.same({ false, true }, bo:totable())
  end)

  it("views share storage with the base and with each other", function()
    local base = ember.zeros(4, 4)
    local a = base:narrow(1, 2, 2)
    local b = a:t()
    local c = b[{ { 2, 3 } }]
    c:fill_(5)                               -- base rows 2..3, columns 2..3
    assert.same({ { 0, 0, 0, 0 }, { 0, 5, 5, 0 }, { 0, 5, 5, 0 }, { 0, 0, 0, 0 } }, base:totable())
    assert.equal(5, c:storage_offset())
    assert.same({ 1, 4 }, c:stride())
    local flat = base:view(-1)
    flat[16] = 3
    assert.equal(3, base[{ 4, 4 }]:item())
    local e = ember.tensor({ 1, 2 }):view(2, 1):expand(2, 3)
    assert.same({ 1, 0 }, e:stride())
    assert.equal(base:data_ptr(), base:view(16):data_ptr())
  end)

  it("reports size, stride, storage offset and contiguity", function()
    local t = cube()
    assert.same({ 2, 3, 4 }, t:size())
    assert.equal(3, t:size(2))
    assert.equal(4, t:size(-1))
    assert.same({ 12, 4, 1 }, t:stride())
    assert.equal(12, t:stride(1))
    assert.equal(0, t:storage_offset())
    assert.is_true(t:is_contiguous())
    assert.is_false(t:transpose(1, 2):is_contiguous())
    assert.is_true(t:narrow(1, 2, 1):is_contiguous())
    assert.is_false(t:narrow(3, 1, 2):is_contiguous())
    assert.is_true(ember.zeros(3, 1):expand(3, 1):is_contiguous())
    assert.is_true(ember.zeros(1, 4):t():is_contiguous(), "size-1 dims do not count")
    assert.equal(3, t:dim())
    assert.equal(24, t:numel())
    assert.equal(2, #t)
  end)

  -- dims and indices in messages are the caller's (1-based from Lua)
  it("raises errors that name the op and what is wrong", function()
    local t = cube()
    local checks = {
      { "view: shape 5x%-1 is invalid for a tensor of 24 elements %(shape 2x3x4%)", function() return t:view(5, -1) end },
      { "view: only one dimension can be %-1", function() return t:view(-1, -1) end },
      { "view: a tensor of shape 3x2x4", function() return t:transpose(1, 2):view(24) end },
      { "reshape: shape 7 is invalid for a tensor of 24 elements", function() return t:reshape(7) end },
      { "narrow: start 2 and length 2 out of range for dim 1 of size 2", function() return t:narrow(1, 2, 2) end },
      { "select: index 4 out of range for dim 2 of size 3", function() return t:select(2, 4) end },
      { "select: dim 4 out of range for a tensor of shape 2x3x4", function() return t:select(4, 1) end },
      { "transpose: dim 5 out of range for a tensor of shape 2x3x4", function() return t:transpose(1, 5) end },
      { "permute: 2 dims given for a tensor of shape 2x3x4 %(3 dims%)", function() return t:permute(2, 1) end },
      { "permute: dim 1 repeated", function() return t:permute(1, 1, 2) end },
      { "expand: shape 3x1 cannot be expanded to 4x2", function() return ember.zeros(3, 1):expand(4, 2) end },
      { "expand: cannot expand shape 2x3x4 to 1 dims", function() return t:expand_as(ember.zeros(5)) end },
      { "t: expects a tensor with at most 2 dims, got shape 2x3x4", function() return t:t() end },
      { "squeeze: dim 4 out of range for a tensor of shape 2x3x4", function() return t:squeeze(4) end },
      { "unsqueeze: dim 0 is not a dim", function() return t:unsqueeze(0) end },
      { "unsqueeze: dim 5 out of range for a tensor of shape 2x3x4", function() return t:unsqueeze(5) end },
      { "flatten: start dim .* comes after end dim", function() return t:flatten(3, 1) end },
      { "copy_: shapes 2x3 and 4 cannot be broadcast", function() return ember.zeros(2, 3):copy_(ember.zeros(4)) end },
      { "index: 4 out of range for a tensor of size 3", function() return ember.zeros(3)[4] end },
      { "index: 0 is not an index", function() return ember.zeros(3)[0] end },
      { "index: slice step must be a positive integer", function() return t[{ {}, { 1, 3, 0 } }] end },
      { "index: 4 indices for a tensor of shape 2x3x4", function() return t[{ 1, 2, 3, 4 }] end },
      { "index: range 2..5 out of bounds for dim 2 of size 3", function() return t[{ {}, { 2, 5 } }] end },
      { "index: a 0%-dim tensor cannot be indexed", function() return ember.tensor(1)[1] end },
      { "tensor: cannot set field \"foo\"", function() t.foo = 1 end },
      { "size: dim 4 out of range for a tensor with 3 dims", function() return t:size(4) end },
      { "index: cannot assign a string into a tensor", function() t[1] = "x" end },
    }
    for _, c in ipairs(checks) do
      assert.matches(c[1], err(c[2]))
    end
    assert.is_true(#checks >= 10)
  end)
  it("matches torch for expand_as, copy_, fill_ and stepped slices", function()
    local a = ember.tensor({{1.5}, {-2.25}, {3}})
    local b = ember.tensor({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}, "f32")
    local dst = ember.zeros(3, 4, {dtype = "f64"})
    local r = oracle.eval({
      { expr = "x[0].expand_as(x[1])", inputs = { a, b } },
      { expr = "torch.zeros(3, 4, dtype=torch.float64).copy_(x[0])", inputs = { a } },
      { expr = "x[0].clone().fill_(2.5)", inputs = { b } },
      { expr = "x[0][:, 0:4:2]", inputs = { b } },
      { expr = "x[0].t()[1:3, ::2]", inputs = { b } },
    })
    oracle.assert_close(a:expand_as(b), r[1])
    oracle.assert_close(dst:copy_(a), r[2])
    oracle.assert_close(b:clone():fill_(2.5), r[3])
    oracle.assert_close(b[{ {}, {1, 4, 2} }], r[4])
    oracle.assert_close(b:t()[{ {2, 3}, {1, -1, 2} }], r[5])
    -- empty_like: shape and dtype only (its values are unspecified, as in torch)
    local e = ember.empty_like(b)
    assert.same(b:size(), e:size())
    assert.equal("f32", e:dtype())
  end)
end)
