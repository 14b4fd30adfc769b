-- nn_module_spec.lua — ember.nn: the Module class system (registration order, names,
-- traversal, modes, state dicts, repr), containers, PyTorch's default initialisations
-- and nn.init (bounds and moments), every layer's forward against the same torch layer
-- given the same weights (/usr/bin/python3), batch norm's running statistics over
-- several training steps, dropout's statistics, gradients of the layers against torch
-- autograd, and nn.utils.clip_grad_norm_ against torch's.
local ember = require "ember"
local nn = require "ember.nn"
local F = require "ember.nn.functional"
local oracle = require "oracle"
local helpers = require "spec_helpers"

local function gen(shape, seed, amp) return oracle.gen(shape, seed, "f32", amp or 1) end

local function flat(t) return t:contiguous():view(-1):totable() end

local error_of, contains = helpers.error_of, helpers.contains

local function collect(iter)
  local names, values = {}, {}
  for n, v in iter do names[#names + 1] = n; values[#values + 1] = v end
  return names, values
end

-- mean and (population) standard deviation of a tensor's values
local function moments(t)
  local v = flat(t)
  local s, s2 = 0, 0
  for _, x in ipairs(v) do s = s + x end
  local mean = s / #v
  for _, x in ipairs(v) do s2 = s2 + (x - mean) ^ 2 end
  return mean, math.sqrt(s2 / #v), v
end

-- {====== the class system

local Net = nn.Module:extend("Net")
function Net:init(n_in, n_out)
  self.fc1 = nn.Linear(n_in, 6)
  self.act = nn.ReLU()
  self.scale = nn.Parameter(ember.ones(n_out))
  self.fc2 = nn.Linear(6, n_out)
  self:register_buffer("steps", ember.zeros(1))
  self:register_buffer("scratch", ember.zeros(2), false)
  self.note = "plain field"
  self.plain = ember.zeros(3)       -- a plain tensor is no parameter
end
function Net:forward(x) return self.fc2(self.act(self.fc1(x))) * self.scale end

describe("nn.Module", function()
  it("registers children, parameters and buffers in assignment order with PyTorch's names", function()
    local net = Net(4, 3)
    local names, values = collect(net:named_parameters())
    assert.same({ "scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, names)
    assert.equal(5, #net:parameters())
    assert.is_true(rawequal(values[2], net.fc1.weight))
    for _, p in ipairs(net:parameters()) do assert.is_true(p.requires_grad) end
    assert.same({ "steps", "scratch" }, (collect(net:named_buffers())))
    assert.equal(2, #net:buffers())
    assert.same({ "fc1", "act", "fc2" }, (collect(net:named_children())))
    assert.equal(3, #net:children())
    assert.same({ "", "fc1", "act", "fc2" }, (collect(net:named_modules())))
    assert.equal(4, #net:modules())
    local sd, keys = net:state_dict()
    -- a module's parameters, then its persistent buffers, then its children
    assert.same({ "scale", "steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, keys)
    assert.is_nil(sd.scratch)
    assert.is_nil(sd.plain)
    assert.same({ "p.scale", "p.fc1.weight" }, { (collect(net:named_parameters("p")))[1],
                                                  (collect(net:named_parameters("p")))[2] })
    assert.same({ "scale" }, (collect(net:named_parameters(nil, false))))
    assert.equal("plain field", net.note)
    assert.is_false(nn.is_parameter(net.plain))
    assert.is_true(nn.is_parameter(net.scale))
  end)

  it("calls forward when called, and raises for a class without one", function()
    local net = Net(4, 3)
    local x = gen({ 2, 4 }, 1)
    assert.same(flat(net:forward(x)), flat(net(x)))
    local Empty = nn.Module:extend("Empty")
    contains(error_of(function() Empty()(x) end), "Empty: forward is not defined")
  end)

  it("keeps a name's place when its value is replaced, and skips it while nil", function()
    local net = Net(4, 3)
    local w = nn.Parameter(ember.zeros(3))
    net.scale = w
    assert.is_true(rawequal(net:parameters()[1], w))
    net.fc1 = nil
    assert.same({ "scale", "fc2.weight", "fc2.bias" }, (collect(net:named_parameters())))
    net.fc1 = nn.Linear(4, 6)
    assert.same({ "scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, (collect(net:named_parameters())))
    net.scale = nil
    contains(error_of(function() net.scale = ember.ones(3) end),
             "Net: cannot assign a plain tensor to parameter 'scale'")
    contains(error_of(function() net.fc1 = nil; net.fc1 = 3 end), "cannot assign a number to child module 'fc1'")
    contains(error_of(function() net:register_buffer("fc2", ember.zeros(1)) end), "'fc2' is already a child module")
    contains(error_of(function() net:register_parameter("a.b", ember.zeros(1)) end), "bad name a.b")
  end)

  it("makes a parameter of register_parameter's tensor, detached and requiring grad", function()
    local m = nn.Module()
    local t = ember.ones(2)
    local p = m:register_parameter("w", t)
    assert.is_true(p.requires_grad and p.is_leaf and nn.is_parameter(p))
    assert.is_true(rawequal(m.w, p))
    m:register_parameter("nothing", nil)
    assert.same({ "w" }, (collect(m:named_parameters())))
    local frozen = nn.Parameter(ember.ones(2), false)
    assert.is_false(frozen.requires_grad)
    contains(error_of(nn.Parameter, 3), "nn.Parameter: expected a tensor, got number")
  end)

  it("lists a shared parameter once but names it under every owner in the state dict", function()
    local a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    local s = nn.Sequential(a, b)
    assert.equal(3, #s:parameters())
    local sd, keys = s:state_dict()
    assert.same({ "0.weight", "0.bias", "1.weight", "1.bias" }, keys)
    local shared = nn.Sequential(a, a)
    assert.equal(2, #shared:parameters())
    assert.equal(2, #shared:modules())
    assert.same({ "0.weight", "0.bias", "1.weight", "1.bias" }, select(2, shared:state_dict()))
    assert.same(flat(sd["0.weight"]), flat(sd["1.weight"]))
  end)

  it("sets training on every descendant with train() and eval()", function()
    local net = nn.Sequential(Net(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    for _, m in ipairs(net:modules()) do assert.is_true(m.training) end
    assert.is_true(rawequal(net:eval(), net))
    for _, m in ipairs(net:modules()) do assert.is_false(m.training) end
    net[2]:train()
    assert.is_false(net.training)
    assert.is_true(net[2][2].training)
    net:train(false)
    assert.is_false(net[2][2].training)
  end)

  it("drops every gradient with zero_grad and freezes with requires_grad_", function()
    local net = Net(4, 3)
    for _, p in ipairs(net:parameters()) do p.grad = ember.ones_like(p) end
    net:zero_grad()
    for _, p in ipairs(net:parameters()) do assert.is_nil(p.grad) end
    net:requires_grad_(false)
    for _, p in ipairs(net:parameters()) do assert.is_false(p.requires_grad) end
  end)

  it("applies a function to children before parents", function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Tanh()))
    local seen = {}
    net:apply(function(m) seen[#seen + 1] = m.__name end)
    assert.same({ "Linear", "ReLU", "Tanh", "Sequential", "Sequential" }, seen)
  end)

  it("converts floating parameters and buffers with to(), keeping ties and integer buffers", function()
    local a = nn.Linear(3, 3)
    local net = nn.Sequential(a, nn.BatchNorm1d(3), nn.Linear(3, 3))
    net[3].weight = a.weight
    local before = flat(a.weight)
    net:to("f64")
    for _, p in ipairs(net:parameters()) do
      assert.equal("f64", p:dtype())
      assert.is_true(p.requires_grad and nn.is_parameter(p))
    end
    assert.equal("f64", net[2].running_var:dtype())
    assert.equal("i64", net[2].num_batches_tracked:dtype())
    assert.is_true(rawequal(net[1].weight, net[3].weight))
    assert.same(before, flat(net[1].weight:to("f32")))
    assert.equal("f64", net(ember.ones(2, 3, "f64")):dtype())
    net:float()
    assert.equal("f32", net[1].bias:dtype())
  end)

  it("prints the module tree as PyTorch does", function()
    local net = nn.Sequential(nn.Conv2d(1, 4, 3, { padding = 1 }), nn.ReLU(),
                              nn.Sequential(nn.Flatten(), nn.Linear(16, 2, false)))
    assert.equal(table.concat({
      "Sequential(",
      "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
      "  (1): ReLU()",
      "  (2): Sequential(",
      "    (0): Flatten(start_dim=2, end_dim=-1)",
      "    (1): Linear(in_features=16, out_features=2, bias=false)",
      "  )",
      ")" }, "\n"), tostring(net))
    assert.equal("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)",
                 tostring(nn.BatchNorm2d(3)))
    assert.equal("nn.Linear (class)", tostring(nn.Linear))
  end)

  it("copies a state dict into the module's own tensors, converting dtypes, under no_grad", function()
    local a, b = Net(4, 3), Net(4, 3)
    local w = b.fc1.weight
    local sd = a:state_dict()
    sd["fc1.bias"] = sd["fc1.bias"]:to("f64")
    local r = b:load_state_dict(sd)
    assert.same({ missing_keys = {}, unexpected_keys = {} }, r)
    assert.is_true(rawequal(w, b.fc1.weight))
    assert.equal("f32", b.fc1.bias:dtype())
    for _, k in ipairs(select(2, a:state_dict())) do
      assert.same(flat(a:state_dict()[k]), flat(b:state_dict()[k]))
    end
    -- the state dict shares storage with the module
    ember.no_grad(function() a:state_dict()["scale"]:fill_(5) end)
    assert.same({ 5, 5, 5 }, flat(a.scale))
    assert.is_false(a:state_dict()["scale"].requires_grad)
  end)

  it("names every missing, unexpected and mis-shaped key in one error when strict", function()
    local net = Net(4, 3)
    local sd = net:state_dict()
    sd["fc1.weight"] = ember.zeros(6, 5)
    sd["steps"] = ember.zeros(2)
    sd["fc2.bias"] = nil
    sd["scale"] = nil
    sd["extra.weight"] = ember.zeros(1)
    sd["aaa"] = ember.zeros(1)
    local msg = error_of(function() net:load_state_dict(sd) end)
    contains(msg, "Net: error loading state_dict")
    contains(msg, "missing keys: scale, fc2.bias")
    contains(msg, "unexpected keys: aaa, extra.weight")
    contains(msg, "size mismatch for fc1.weight: 6x5 in the state dict, 6x4 in the model")
    contains(msg, "size mismatch for steps: 2 in the state dict, 1 in the model")
    -- not strict: the lists come back, shapes still checked
    contains(error_of(function() net:load_state_dict(sd, false) end), "size mismatch for fc1.weight")
    sd["fc1.weight"], sd["steps"] = nil, nil
    local r = net:load_state_dict(sd, false)
    assert.same({ "scale", "steps", "fc1.weight", "fc2.bias" }, r.missing_keys)
    assert.same({ "aaa", "extra.weight" }, r.unexpected_keys)
    contains(error_of(function() net:load_state_dict({ scale = 1 }, false) end), "scale: a number in the state dict")
    contains(error_of(function() net:load_state_dict("x") end), "expected a table name -> tensor")
  end)

  it("finds submodules by dotted path", function()
    local net = nn.Sequential(Net(2, 2), nn.ModuleList({ nn.ReLU(), nn.Linear(2, 5) }))
    assert.equal(5, net:get_submodule("1.1").out_features)
    assert.is_true(rawequal(net[1].fc2, net:get_submodule("0.fc2")))
    contains(error_of(function() net:get_submodule("0.nope") end), "no submodule '0.nope'")
  end)

  it("subclasses a layer: the parent's init and forward called explicitly", function()
    local Scaled = nn.Linear:extend("Scaled")
    function Scaled:init(n_in, n_out)
      nn.Linear.init(self, n_in, n_out)
      self.gain = nn.Parameter(ember.full({ n_out }, 2.0))
    end
    function Scaled:forward(x) return nn.Linear.forward(self, x) * self.gain end
    local m = Scaled(3, 2)
    assert.equal(nn.Linear, Scaled.super)
    assert.same({ "weight", "bias", "gain" }, (collect(m:named_parameters())))
    local x = gen({ 4, 3 }, 5)
    local want = flat(ember.linear(x, m.weight, m.bias) * 2)
    local got = flat(m(x))
    for i = 1, #want do assert(math.abs(got[i] - want[i]) < 1e-6) end
    assert.equal("Scaled(in_features=3, out_features=2, bias=true)", tostring(m))
    -- nn.Module.init may be called too; it adds nothing
    local Plain = nn.Module:extend("Plain")
    function Plain:init() nn.Module.init(self); self.fc = nn.Linear(1, 1) end
    assert.same({ "fc.weight", "fc.bias" }, select(2, Plain():state_dict()))
  end)

  it("flattens parameters to one vector and back", function()
    local net = Net(3, 2)
    local v = nn.utils.parameters_to_vector(net:parameters())
    assert.equal(2 + 6 * 3 + 6 + 2 * 6 + 2, v:numel())
    assert.same(flat(net.scale), flat(v:narrow(1, 1, 2)))
    nn.utils.vector_to_parameters(ember.arange(v:numel()):to("f32"), net)
    assert.same({ 0, 1 }, flat(net.scale))
    assert.same({ 2, 3, 4 }, flat(net.fc1.weight[1]))
    assert.is_true(net.fc1.weight.requires_grad)
    contains(error_of(nn.utils.vector_to_parameters, ember.zeros(3), net), "expected a vector of 40 values")
    nn.utils.clip_grad_value_(net, 1)
    net.scale.grad = ember.tensor({ -3, 0.5 }, "f32")
    nn.utils.clip_grad_value_(net:parameters(), 1)
    assert.same({ -1, 0.5 }, flat(net.scale.grad))
  end)

  it("takes constructor arguments positionally or as named options, and rejects unknown ones", function()
    local a = nn.Conv2d(3, 8, 3, 2, 1)
    local b = nn.Conv2d(3, 8, 3, { stride = 2, padding = 1 })
    local c = nn.Conv2d{ in_channels = 3, out_channels = 8, kernel_size = 3, stride = 2, padding = 1 }
    for _, m in ipairs({ b, c }) do
      assert.same(a.stride, m.stride)
      assert.same(a.padding, m.padding)
    end
    contains(error_of(function() nn.Conv2d(3, 8, 3, { strides = 2 }) end), "Conv2d: unknown option 'strides'")
    contains(error_of(function() nn.Linear(3, 8, { in_features = 2 }) end), "'in_features' given twice")
    contains(error_of(function() nn.Linear(1, 2, 3, 4, 5) end), "Linear: takes at most 4 positional arguments")
    contains(error_of(function() nn.Linear(-1, 2) end), "Linear: in_features must be a non-negative integer")
    contains(error_of(function() nn.Conv2d(3, 8, 3, { groups = 2 }) end), "divisible by groups 2")
    contains(error_of(function() nn.BatchNorm2d(3)(ember.zeros(2, 3)) end), "BatchNorm2d: expected a 4-D")
    contains(error_of(function() nn.BatchNorm2d(3)(ember.zeros(2, 4, 2, 2)) end), "expected 3 channels")
    contains(error_of(function() nn.BatchNorm1d(3)(ember.zeros(1, 3)) end),
             "batch_norm: expected more than 1 value per channel when training, got input of size 1x3")
    -- errors found deep in the package are reported at the caller's line
    local line = debug.getinfo(1, "l").currentline + 1
    local msg = error_of(function() nn.Sequential(nn.Linear(2, 2), nn.Conv2d(2, 2, 3, { padding = "same", stride = 2 })) end)
    contains(msg, "nn_module_spec.lua:" .. line .. ": Conv2d: padding='same' is not supported for strided convolutions")
    line = debug.getinfo(1, "l").currentline + 1
    msg = error_of(function() nn.CrossEntropyLoss()(ember.zeros(3, 4), ember.tensor({ 1, 2 }, "i64")) end)
    contains(msg, "nn_module_spec.lua:" .. line .. ": cross_entropy: target of shape 2 does not fit input of shape 3x4")
  end)
end)

describe("containers", function()
  it("Sequential holds children at 1..n, named from 0, and chains them", function()
    local s = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert.equal(3, #s)
    assert.equal(4, s[1].out_features)
    assert.same({ "0.weight", "0.bias", "2.weight", "2.bias" }, (collect(s:named_parameters())))
    local x = gen({ 5, 3 }, 2)
    assert.same(flat(s[3](s[2](s[1](x)))), flat(s(x)))
    s:append(nn.Tanh())
    assert.equal(4, #s)
    assert.same({ "0", "1", "2", "3" }, (collect(s:named_children())))
    contains(error_of(function() nn.Sequential(nn.ReLU(), 3) end), "Sequential: argument 2 is a number, not a Module")
  end)

  it("Sequential takes named children in order", function()
    local s = nn.Sequential({ { "fc", nn.Linear(3, 4) }, { "act", nn.ReLU() }, { "out", nn.Linear(4, 1) } })
    assert.same({ "fc.weight", "fc.bias", "out.weight", "out.bias" }, (collect(s:named_parameters())))
    assert.equal(3, #s)
    local x = gen({ 2, 3 }, 3)
    assert.same(flat(s.out(s.act(s.fc(x)))), flat(s(x)))
  end)

  it("ModuleList appends, inserts and renames from 0", function()
    local l = nn.ModuleList({ nn.Linear(1, 1), nn.Linear(1, 2) })
    l:append(nn.Linear(1, 3))
    l:insert(1, nn.Linear(1, 4))
    local outs = {}
    for i, m in ipairs(l) do outs[i] = m.out_features end
    assert.same({ 4, 1, 2, 3 }, outs)
    local l2 = nn.ModuleList({ nn.Linear(1, 1), nn.Linear(1, 2) })
    l2:insert(-1, nn.Linear(1, 5))
    l2:extend_list({ nn.Linear(1, 6) })
    outs = {}
    for i, m in ipairs(l2) do outs[i] = m.out_features end
    assert.same({ 1, 5, 2, 6 }, outs)
    contains(error_of(function() l2:insert(7, nn.ReLU()) end), "ModuleList:insert: index 7 out of range 1..5")
    assert.same({ "0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias", "3.weight", "3.bias" },
                (collect(l:named_parameters())))
    assert.equal(4, l:state_dict()["0.weight"]:size(1))
    contains(error_of(function() l() end), "ModuleList: has no forward")
  end)

  it("ModuleDict keeps given order, sorts a plain table, and guards method names", function()
    local d = nn.ModuleDict({ { "z", nn.Linear(1, 1) }, { "a", nn.ReLU() } })
    assert.same({ "z", "a" }, d:keys())
    local e = nn.ModuleDict({ b = nn.Linear(1, 2), a = nn.Linear(1, 3) })
    assert.same({ "a", "b" }, e:keys())
    assert.equal(3, e.a.out_features)
    assert.equal(3, e["a"].out_features)
    assert.same({ "a.weight", "a.bias", "b.weight", "b.bias" }, select(2, e:state_dict()))
    assert.is_true(e:contains("b"))
    assert.is_false(e:contains("c"))
    contains(error_of(function() nn.ModuleDict({ train = nn.ReLU() }) end), "key 'train' would hide the method")
  end)
end)

-- }======

-- {====== initialisation

describe("initialisation", function()
  it("gives Linear and Conv2d PyTorch's kaiming_uniform(a=sqrt 5) weights and bias bounds", function()
    ember.manual_seed(11)
    for _, case in ipairs({
      { nn.Linear(256, 512), 256 },
      { nn.Conv2d(16, 64, 3), 16 * 9 },
      { nn.Conv2d(8, 64, { 3, 2 }, { groups = 4 }), 2 * 6 },
      { nn.ConvTranspose2d(16, 32, 3, { groups = 2 }), 16 * 9 },   -- fan_in from dim 2: out/groups * k*k
    }) do
      local m, fan_in = case[1], case[2]
      local bound = 1 / math.sqrt(fan_in)
      local mean, std, v = moments(m.weight)
      for _, x in ipairs(v) do assert(math.abs(x) <= bound, "weight beyond the bound") end
      assert(math.abs(mean) < 0.02 * bound, "weight mean " .. mean)
      assert(math.abs(std - bound / math.sqrt(3)) < 0.03 * bound, "weight std " .. std)
      local bmean, _, bv = moments(m.bias)
      for _, x in ipairs(bv) do assert(math.abs(x) <= bound) end
      assert(math.abs(bmean) < 0.35 * bound, "bias mean " .. bmean)
    end
  end)

  it("gives Embedding N(0, 1) with a zero padding row, norms ones and zeros", function()
    ember.manual_seed(12)
    local e = nn.Embedding(1000, 64, -2)
    assert.equal(999, e.padding_idx)
    local mean, std = moments(e.weight)
    assert(math.abs(mean) < 0.02 and math.abs(std - 1) < 0.02, string.format("%g %g", mean, std))
    assert.same(flat(ember.zeros(64)), flat(e.weight[999]))
    for _, m in ipairs({ nn.BatchNorm2d(5), nn.LayerNorm({ 2, 5 }), nn.GroupNorm(1, 5) }) do
      for _, x in ipairs(flat(m.weight)) do assert.equal(1, x) end
      for _, x in ipairs(flat(m.bias)) do assert.equal(0, x) end
    end
    local bn = nn.BatchNorm1d(4)
    assert.same({ 0, 0, 0, 0 }, flat(bn.running_mean))
    assert.same({ 1, 1, 1, 1 }, flat(bn.running_var))
    assert.equal(0, bn.num_batches_tracked:item())
  end)

  it("gives MultiheadAttention xavier_uniform in_proj and zero biases", function()
    ember.manual_seed(13)
    local e = 64
    local m = nn.MultiheadAttention(e, 4)
    local bound = math.sqrt(6 / (e + 3 * e))
    local mean, std, v = moments(m.in_proj_weight)
    for _, x in ipairs(v) do assert(math.abs(x) <= bound) end
    assert(math.abs(mean) < 0.02 * bound and math.abs(std - bound / math.sqrt(3)) < 0.03 * bound)
    for _, x in ipairs(flat(m.in_proj_bias)) do assert.equal(0, x) end
    for _, x in ipairs(flat(m.out_proj.bias)) do assert.equal(0, x) end
    for _, x in ipairs(flat(m.out_proj.weight)) do assert(math.abs(x) <= 1 / math.sqrt(e)) end
    assert.same({ "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias" }, select(2, m:state_dict()))
  end)

  it("fills with nn.init's formulas", function()
    ember.manual_seed(14)
    local init = nn.init
    local t = ember.empty(200, 300)
    local function check(mean_want, std_want, tol)
      local mean, std = moments(t)
      assert(math.abs(mean - mean_want) <= tol and math.abs(std - std_want) <= tol,
             string.format("mean %g std %g, want %g %g", mean, std, mean_want, std_want))
    end
    assert.is_true(rawequal(init.uniform_(t, -2, 4), t))
    check(1, 6 / math.sqrt(12), 0.03)
    for _, x in ipairs(flat(t)) do assert(x >= -2 and x < 4) end
    init.normal_(t, 3, 0.5); check(3, 0.5, 0.01)
    init.xavier_uniform_(t, 2); check(0, 2 * math.sqrt(2 / 500), 0.002)
    init.xavier_normal_(t); check(0, math.sqrt(2 / 500), 0.002)
    init.kaiming_uniform_(t, 0, "fan_in", "relu"); check(0, math.sqrt(2 / 300), 0.002)
    init.kaiming_normal_(t, 0, "fan_out", "relu"); check(0, math.sqrt(2 / 200), 0.002)
    init.kaiming_normal_(t); check(0, math.sqrt(2 / (1 + 0.01 ^ 2)) / math.sqrt(300), 0.002)
    init.trunc_normal_(t, 0, 1, -1, 1)
    for _, x in ipairs(flat(t)) do assert(x >= -1 and x <= 1) end
    init.constant_(t, 0.25); check(0.25, 0, 1e-7)
    init.zeros_(t); check(0, 0, 0)
    init.ones_(t); check(1, 0, 0)
    -- parameters are filled in place although they require grad
    local p = nn.Parameter(ember.zeros(3, 4))
    init.ones_(p)
    assert.same({ 1, 1, 1, 1 }, flat(p[1]))
    assert.equal(1, init.calculate_gain("linear"))
    assert.equal(1, init.calculate_gain("conv2d"))
    assert.equal(1, init.calculate_gain("sigmoid"))
    assert.equal(5 / 3, init.calculate_gain("tanh"))
    assert.equal(math.sqrt(2), init.calculate_gain("relu"))
    assert.equal(3 / 4, init.calculate_gain("selu"))
    assert.equal(math.sqrt(2 / (1 + 0.2 ^ 2)), init.calculate_gain("leaky_relu", 0.2))
    assert.equal(math.sqrt(2 / (1 + 0.01 ^ 2)), init.calculate_gain("leaky_relu"))
    assert.same({ 3 * 20, 5 * 20 }, { init.calculate_fan_in_and_fan_out(ember.empty(5, 3, 4, 5)) })
    contains(error_of(init.xavier_uniform_, ember.empty(3)), "at least 2 dims")
    contains(error_of(init.calculate_gain, "swish"), "unsupported nonlinearity 'swish'")
    contains(error_of(init.normal_, ember.zeros(2, "i64")), "expected a floating tensor")
  end)
end)

-- }======

-- {====== dropout

describe("Dropout", function()
  it("zeroes a fraction p in training, scales the rest by 1/(1-p), and is the identity in eval", function()
    ember.manual_seed(21)
    local x = ember.ones(200000)
    for _, p in ipairs({ 0.2, 0.5, 0.8 }) do
      local d = nn.Dropout(p)
      local y = flat(d(x))
      local zeros = 0
      for _, v in ipairs(y) do
        if v == 0 then zeros = zeros + 1
        else assert(math.abs(v - 1 / (1 - p)) < 1e-6, "kept value " .. v) end
      end
      local frac = zeros / #y
      assert(math.abs(frac - p) < 0.005, string.format("p %g: dropped %g", p, frac))
      d:eval()
      assert.is_true(rawequal(d(x), x))
    end
    assert.is_true(rawequal(nn.Dropout(0)(x), x))
    for _, v in ipairs(flat(nn.Dropout(1)(ember.ones(100)))) do assert.equal(0, v) end
    -- a new mask each call
    local d = nn.Dropout(0.5)
    assert.are_not.same(flat(d(ember.ones(64))), flat(d(ember.ones(64))))
    contains(error_of(nn.Dropout, 1.5), "Dropout: probability has to be between 0 and 1")
    local y = F.dropout(ember.ones(1000), 0.5, false)
    assert.same(flat(ember.ones(1000)), flat(y))
  end)
end)

-- }======

-- {====== layers against torch

-- Each case builds an ember module and returns (ember outputs, a torch request, tol).
-- The request builds the torch module `ctor`, loads the ember module's state dict as it
-- was before the ember run, sets train mode and evaluates `call`, Python over m and
-- x[0], x[1], ... (the given inputs). All cases go to torch in one batch.
local cases = {}
local function case(name, fn) cases[#cases + 1] = { name = name, fn = fn } end

local function against(m, ctor, inputs, call, train)
  local sd, keys = m:state_dict()
  local all, names = {}, {}
  for i, t in ipairs(inputs) do all[i] = t end
  for i, k in ipairs(keys) do
    all[#inputs + i] = sd[k]:clone()
    names[i] = string.format("%q", k)
  end
  return {
    expr = string.format("(lambda m: [m.load_state_dict(dict(zip([%s], x[%d:]))), m.train(%s), %s][-1])(%s)",
                         table.concat(names, ", "), #inputs, train and "True" or "False", call, ctor),
    inputs = all,
  }
end

-- random-looking but fixed parameters, so default inits (ones, zeros) do not hide bugs
local function scramble(m, seed)
  ember.no_grad(function()
    for i, p in ipairs(m:parameters()) do p:copy_(gen(p:size(), seed + i, 0.5)) end
  end)
  return m
end

-- forward only, m in mode `train`
local function forward_case(name, make, ctor, inputs, call, tol, train)
  case(name, function()
    local m = make()
    if not train then m:eval() end
    local req = against(m, ctor, inputs, call, train)
    local outs = table.pack(m(table.unpack(inputs)))
    local list = {}
    for i = 1, outs.n do list[i] = outs[i] end
    return list, req, tol
  end)
end

local T = "torch.nn."

-- {= linear, embedding, activations
forward_case("Linear", function() return nn.Linear(5, 3) end, T .. "Linear(5, 3)", { gen({ 4, 5 }, 1) }, "m(x[0])")
forward_case("Linear without bias on a 3-D input", function() return nn.Linear(5, 3, false) end,
             T .. "Linear(5, 3, bias=False)", { gen({ 2, 4, 5 }, 2) }, "m(x[0])")
forward_case("Embedding with padding_idx (1-based)", function() return scramble(nn.Embedding(10, 4, 3), 3) end,
             T .. "Embedding(10, 4, padding_idx=2)", { ember.tensor({ { 1, 3, 10 }, { 3, 2, 5 } }, "i64") },
             "m(x[0] - 1)")
forward_case("Embedding with padding_idx -1", function() return nn.Embedding(6, 3, -1) end,
             T .. "Embedding(6, 3, padding_idx=-1)", { ember.tensor({ 6, 1, 6 }, "i64") }, "m(x[0] - 1)")
local acts = {
  { "ReLU", function() return nn.ReLU() end, "ReLU()" },
  { "GELU", function() return nn.GELU() end, "GELU()" },
  { "GELU tanh", function() return nn.GELU("tanh") end, "GELU(approximate='tanh')" },
  { "SiLU", function() return nn.SiLU() end, "SiLU()" },
  { "Tanh", function() return nn.Tanh() end, "Tanh()" },
  { "Sigmoid", function() return nn.Sigmoid() end, "Sigmoid()" },
  { "LeakyReLU", function() return nn.LeakyReLU(0.2) end, "LeakyReLU(0.2)" },
  { "Softplus", function() return nn.Softplus(2, 3) end, "Softplus(2, 3)" },
  { "Softmax(2)", function() return nn.Softmax(2) end, "Softmax(dim=1)" },
  { "Softmax(-1)", function() return nn.Softmax(-1) end, "Softmax(dim=-1)" },
  { "LogSoftmax(3)", function() return nn.LogSoftmax(3) end, "LogSoftmax(dim=2)" },
  { "Flatten()", function() return nn.Flatten() end, "Flatten()" },
  { "Flatten(1, 2)", function() return nn.Flatten(1, 2) end, "Flatten(0, 1)" },
  { "Unflatten", function() return nn.Unflatten(3, { 2, 2 }) end, "Unflatten(2, (2, 2))" },
  { "Identity", function() return nn.Identity() end, "Identity()" },
}
for _, a in ipairs(acts) do
  forward_case(a[1], a[2], T .. a[3], { gen({ 2, 3, 4 }, 4, 3) }, "m(x[0])")
end
-- }=

-- {= convolutions
local conv_cases = {
  { "Conv2d stride 2 padding 1", function() return nn.Conv2d(3, 4, 3, 2, 1) end,
    "Conv2d(3, 4, 3, stride=2, padding=1)", { 2, 3, 7, 7 } },
  { "Conv2d dilation, groups, no bias, 3x2 kernel",
    function() return nn.Conv2d(4, 6, { 3, 2 }, { dilation = 2, groups = 2, bias = false }) end,
    "Conv2d(4, 6, (3, 2), dilation=2, groups=2, bias=False)", { 2, 4, 8, 9 } },
  { "Conv2d padding same, even kernel (asymmetric)", function() return nn.Conv2d(2, 3, 4, { padding = "same" }) end,
    "Conv2d(2, 3, 4, padding='same')", { 1, 2, 6, 5 } },
  { "Conv2d padding same, dilation", function() return nn.Conv2d(2, 3, { 3, 4 }, { padding = "same", dilation = { 2, 1 } }) end,
    "Conv2d(2, 3, (3, 4), padding='same', dilation=(2, 1))", { 2, 2, 7, 6 } },
  { "Conv2d padding valid", function() return nn.Conv2d(2, 3, 3, { padding = "valid" }) end,
    "Conv2d(2, 3, 3, padding='valid')", { 1, 2, 5, 5 } },
  { "Conv2d reflect padding", function() return nn.Conv2d(2, 3, 3, { padding = 2, padding_mode = "reflect" }) end,
    "Conv2d(2, 3, 3, padding=2, padding_mode='reflect')", { 2, 2, 5, 6 } },
  { "Conv2d replicate padding", function() return nn.Conv2d(2, 3, 3, { padding = { 1, 2 }, padding_mode = "replicate" }) end,
    "Conv2d(2, 3, 3, padding=(1, 2), padding_mode='replicate')", { 2, 2, 5, 6 } },
  { "Conv2d circular padding", function() return nn.Conv2d(2, 3, 3, { padding = 1, padding_mode = "circular" }) end,
    "Conv2d(2, 3, 3, padding=1, padding_mode='circular')", { 2, 2, 5, 6 } },
  { "Conv2d unbatched input", function() return nn.Conv2d(2, 3, 3) end, "Conv2d(2, 3, 3)", { 2, 5, 5 } },
  { "ConvTranspose2d stride, padding, output_padding, groups",
    function() return nn.ConvTranspose2d(4, 6, 3, { stride = 2, padding = 1, output_padding = 1, groups = 2 }) end,
    "ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)", { 2, 4, 5, 5 } },
  { "ConvTranspose2d dilation, no bias", function() return nn.ConvTranspose2d(3, 2, { 2, 3 }, { dilation = 2, bias = false }) end,
    "ConvTranspose2d(3, 2, (2, 3), dilation=2, bias=False)", { 1, 3, 4, 4 } },
}
for i, c in ipairs(conv_cases) do
  forward_case(c[1], c[2], T .. c[3], { gen(c[4], 10 + i) }, "m(x[0])")
end
-- }=

-- {= normalisation
-- batch norm: three training steps, the running statistics, then evaluation
local function bn_case(name, make, ctor, shape, tol)
  case(name, function()
    local m = make()
    local xs = {}
    for i = 1, 4 do xs[i] = gen(shape, 30 + i, 1 + i) + (i - 2) * 0.5 end
    local req = against(m, ctor, xs, "(lambda ys: ys)([m(x[0]), m(x[1]), m(x[2])] + "
      .. "([m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()] "
      .. "if m.track_running_stats else []) + [m.eval()(x[3])])", true)
    local outs = { m(xs[1]), m(xs[2]), m(xs[3]) }
    if m.track_running_stats then
      outs[4], outs[5], outs[6] = m.running_mean:clone(), m.running_var:clone(), m.num_batches_tracked:clone()
    end
    m:eval()
    outs[#outs + 1] = m(xs[4])
    return outs, req, tol
  end)
end
bn_case("BatchNorm2d: 3 training steps, running stats, eval", function() return scramble(nn.BatchNorm2d(3), 40) end,
        T .. "BatchNorm2d(3)", { 4, 3, 5, 6 })
bn_case("BatchNorm2d momentum 0.3", function() return nn.BatchNorm2d(3, { momentum = 0.3 }) end,
        T .. "BatchNorm2d(3, momentum=0.3)", { 2, 3, 4, 4 })
bn_case("BatchNorm2d momentum false: cumulative average", function() return nn.BatchNorm2d(3, { momentum = false }) end,
        T .. "BatchNorm2d(3, momentum=None)", { 2, 3, 4, 4 })
bn_case("BatchNorm2d eps, no affine", function() return nn.BatchNorm2d(2, { eps = 1e-3, affine = false }) end,
        T .. "BatchNorm2d(2, eps=1e-3, affine=False)", { 3, 2, 3, 3 })
bn_case("BatchNorm2d without running stats", function() return nn.BatchNorm2d(2, { track_running_stats = false }) end,
        T .. "BatchNorm2d(2, track_running_stats=False)", { 3, 2, 3, 3 })
bn_case("BatchNorm1d on N x C", function() return scramble(nn.BatchNorm1d(5), 41) end, T .. "BatchNorm1d(5)", { 6, 5 })
bn_case("BatchNorm1d on N x C x L", function() return scramble(nn.BatchNorm1d(3), 42) end, T .. "BatchNorm1d(3)", { 4, 3, 7 })

forward_case("LayerNorm over two dims", function() return scramble(nn.LayerNorm({ 4, 5 }), 43) end,
             T .. "LayerNorm([4, 5])", { gen({ 3, 4, 5 }, 44, 3) }, "m(x[0])")
forward_case("LayerNorm eps, no affine", function() return nn.LayerNorm(5, { eps = 1e-2, elementwise_affine = false }) end,
             T .. "LayerNorm(5, eps=1e-2, elementwise_affine=False)", { gen({ 3, 5 }, 45, 3) }, "m(x[0])")
forward_case("GroupNorm", function() return scramble(nn.GroupNorm(2, 6), 46) end, T .. "GroupNorm(2, 6)",
             { gen({ 3, 6, 4, 4 }, 47, 3) }, "m(x[0])")
forward_case("GroupNorm on N x C x L, no affine", function() return nn.GroupNorm(3, 6, { eps = 1e-3, affine = false }) end,
             T .. "GroupNorm(3, 6, eps=1e-3, affine=False)", { gen({ 2, 6, 5 }, 48, 3) }, "m(x[0])")
-- }=

-- {= pooling
local pool_cases = {
  { "MaxPool2d 3, stride 2, padding 1", function() return nn.MaxPool2d(3, 2, 1) end, "MaxPool2d(3, 2, 1)", { 2, 3, 7, 8 } },
  { "MaxPool2d ceil_mode", function() return nn.MaxPool2d(2, { ceil_mode = true }) end, "MaxPool2d(2, ceil_mode=True)", { 1, 2, 5, 7 } },
  { "MaxPool2d 2x3, stride 1x2, dilation 2", function() return nn.MaxPool2d({ 2, 3 }, { stride = { 1, 2 }, dilation = 2 }) end,
    "MaxPool2d((2, 3), stride=(1, 2), dilation=2)", { 1, 2, 6, 9 } },
  { "AvgPool2d without the padding in the count",
    function() return nn.AvgPool2d(3, 2, 1, { count_include_pad = false }) end,
    "AvgPool2d(3, 2, 1, count_include_pad=False)", { 2, 2, 7, 7 } },
  { "AvgPool2d ceil_mode", function() return nn.AvgPool2d(2, { ceil_mode = true }) end, "AvgPool2d(2, ceil_mode=True)", { 1, 2, 5, 5 } },
  { "AvgPool2d divisor_override", function() return nn.AvgPool2d(3, 1, 1, { divisor_override = 4 }) end,
    "AvgPool2d(3, 1, 1, divisor_override=4)", { 1, 2, 4, 4 } },
  { "AdaptiveAvgPool2d 3x2", function() return nn.AdaptiveAvgPool2d({ 3, 2 }) end, "AdaptiveAvgPool2d((3, 2))", { 2, 3, 7, 5 } },
  { "AdaptiveAvgPool2d 1", function() return nn.AdaptiveAvgPool2d(1) end, "AdaptiveAvgPool2d(1)", { 2, 3, 4, 4 } },
}
for i, c in ipairs(pool_cases) do
  forward_case(c[1], c[2], T .. c[3], { gen(c[4], 50 + i, 3) }, "m(x[0])")
end
-- }=

-- {= attention
local function mha(opts) return function() return nn.MultiheadAttention(8, 2, opts) end end
forward_case("MultiheadAttention self-attention, batch first", mha({ batch_first = true }),
             T .. "MultiheadAttention(8, 2, batch_first=True)", { gen({ 2, 5, 8 }, 60), gen({ 2, 5, 8 }, 60), gen({ 2, 5, 8 }, 60) },
             "m(x[0], x[0], x[0])", 1e-5)
case("MultiheadAttention masks, per-head weights", function()
  local m = nn.MultiheadAttention(8, 2, { batch_first = true })
  local x = gen({ 2, 4, 8 }, 61)
  local kpm = ember.tensor({ { false, false, true, false }, { false, true, false, false } }, "bool")
  local am = gen({ 4, 4 }, 62)
  local req = against(m, T .. "MultiheadAttention(8, 2, batch_first=True)", { x, kpm, am },
                      "m(x[0], x[0], x[0], key_padding_mask=x[1], attn_mask=x[2], average_attn_weights=False)")
  local out, w = m(x, x, x, { key_padding_mask = kpm, attn_mask = am, average_attn_weights = false })
  return { out, w }, req, 1e-5
end)
case("MultiheadAttention cross-attention, sequence first, bool attn_mask", function()
  local m = nn.MultiheadAttention(8, 4)
  local q, k, v = gen({ 3, 2, 8 }, 63), gen({ 5, 2, 8 }, 64), gen({ 5, 2, 8 }, 65)
  local am = ember.tensor({ { false, true, false, false, true }, { true, false, false, false, false },
                            { false, false, false, true, false } }, "bool")
  local req = against(m, T .. "MultiheadAttention(8, 4)", { q, k, v, am }, "m(x[0], x[1], x[2], attn_mask=x[3])")
  local out, w = m(q, k, v, nil, true, am)
  return { out, w }, req, 1e-5
end)
case("MultiheadAttention key = value, 3-D float mask, no bias", function()
  local m = nn.MultiheadAttention(8, 2, { batch_first = true, bias = false })
  local q, kv = gen({ 2, 3, 8 }, 66), gen({ 2, 4, 8 }, 67)
  local am = gen({ 4, 3, 4 }, 68)
  local req = against(m, T .. "MultiheadAttention(8, 2, batch_first=True, bias=False)", { q, kv, am },
                      "m(x[0], x[1], x[1], attn_mask=x[2])")
  local out, w = m(q, kv, kv, { attn_mask = am })
  return { out, w }, req, 1e-5
end)
case("MultiheadAttention unbatched, without weights", function()
  local m = nn.MultiheadAttention(8, 2)
  local x = gen({ 5, 8 }, 69)
  local req = against(m, T .. "MultiheadAttention(8, 2)", { x }, "m(x[0], x[0], x[0], need_weights=False)[0]")
  local out, w = m(x, x, x, { need_weights = false })
  assert(w == nil, "weights given although need_weights is false")
  return { out }, req, 1e-5
end)
local function tel(opts) return function() return scramble(nn.TransformerEncoderLayer(8, 2, opts), 70) end end
forward_case("TransformerEncoderLayer relu, post-norm, batch first",
             tel({ dim_feedforward = 16, dropout = 0, batch_first = true }),
             T .. "TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)",
             { gen({ 2, 5, 8 }, 71) }, "m(x[0])", 1e-5)
case("TransformerEncoderLayer gelu, pre-norm, key padding mask", function()
  local m = tel({ dim_feedforward = 12, dropout = 0.3, activation = "gelu", norm_first = true, batch_first = true })()
  m:eval()
  local x = gen({ 2, 4, 8 }, 72)
  local kpm = ember.tensor({ { false, false, false, true }, { false, true, false, false } }, "bool")
  local req = against(m, T .. "TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.3, activation='gelu', "
                      .. "norm_first=True, batch_first=True)", { x, kpm }, "m(x[0], src_key_padding_mask=x[1])")
  return { m(x, { src_key_padding_mask = kpm }) }, req, 1e-5
end)
case("TransformerEncoderLayer sequence first, causal float mask, training without dropout", function()
  local m = tel({ dim_feedforward = 16, dropout = 0 })()
  local x = gen({ 5, 2, 8 }, 73)
  local mask = ember.zeros(5, 5):masked_fill(ember.ones(5, 5):triu(1):gt(0), -math.huge)
  local req = against(m, T .. "TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)", { x, mask },
                      "m(x[0], src_mask=x[1])", true)
  return { m(x, mask) }, req, 1e-5
end)
-- }=

-- {= gradients of layers: (y * g):sum() backpropagated to the input and every
-- parameter, against torch.autograd.grad over the same module
local function grad_case(name, make, ctor, x, train, tol, int_input)
  case("gradient: " .. name, function()
    local m = make()
    m:train(train == true)
    local y0 = ember.no_grad(function() return m(x) end)
    local g = gen(y0:size(), 99)
    local call
    if int_input then
      call = "(lambda y: [y] + list(torch.autograd.grad((y * x[1]).sum(), list(m.parameters()))))(m(x[0] - 1))"
    else
      call = "(lambda xi: (lambda y: [y] + list(torch.autograd.grad((y * x[1]).sum(), [xi] + list(m.parameters()))))"
             .. "(m(xi)))(x[0].requires_grad_())"
    end
    local req = against(m, ctor, { x, g }, call, train)
    local xi = x
    if not int_input then
      xi = x:clone()
      xi.requires_grad = true
    end
    local y = m(xi)
    m:zero_grad();
    (y * g):sum():backward()
    local outs = { y }
    if not int_input then outs[2] = xi.grad or error("no gradient for the input") end
    for pname, p in m:named_parameters() do
      outs[#outs + 1] = p.grad or error("no gradient for " .. pname)
    end
    return outs, req, tol or 1e-4
  end)
end
grad_case("Linear", function() return nn.Linear(5, 3) end, T .. "Linear(5, 3)", gen({ 4, 5 }, 80))
grad_case("Linear without bias, 3-D", function() return nn.Linear(5, 3, false) end, T .. "Linear(5, 3, bias=False)",
          gen({ 2, 4, 5 }, 81))
grad_case("Conv2d stride, padding, groups", function() return nn.Conv2d(4, 6, 3, { stride = 2, padding = 1, groups = 2 }) end,
          T .. "Conv2d(4, 6, 3, stride=2, padding=1, groups=2)", gen({ 2, 4, 6, 6 }, 82))
grad_case("Conv2d padding same (asymmetric)", function() return nn.Conv2d(2, 3, 4, { padding = "same" }) end,
          T .. "Conv2d(2, 3, 4, padding='same')", gen({ 1, 2, 5, 5 }, 83))
grad_case("Conv2d reflect padding", function() return nn.Conv2d(2, 3, 3, { padding = 1, padding_mode = "reflect" }) end,
          T .. "Conv2d(2, 3, 3, padding=1, padding_mode='reflect')", gen({ 1, 2, 5, 5 }, 84))
grad_case("ConvTranspose2d", function() return nn.ConvTranspose2d(4, 2, 3, { stride = 2, padding = 1, output_padding = 1 }) end,
          T .. "ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)", gen({ 2, 4, 3, 3 }, 85))
grad_case("BatchNorm2d training", function() return scramble(nn.BatchNorm2d(3), 86) end, T .. "BatchNorm2d(3)",
          gen({ 4, 3, 3, 3 }, 87, 2), true)
grad_case("BatchNorm1d training", function() return scramble(nn.BatchNorm1d(4), 88) end, T .. "BatchNorm1d(4)",
          gen({ 6, 4 }, 89, 2), true)
grad_case("BatchNorm2d eval", function() return scramble(nn.BatchNorm2d(3), 90) end, T .. "BatchNorm2d(3)",
          gen({ 2, 3, 3, 3 }, 91, 2))
grad_case("LayerNorm", function() return scramble(nn.LayerNorm({ 3, 4 }), 92) end, T .. "LayerNorm([3, 4])",
          gen({ 2, 3, 4 }, 93, 2))
grad_case("GroupNorm", function() return scramble(nn.GroupNorm(2, 4), 94) end, T .. "GroupNorm(2, 4)",
          gen({ 2, 4, 3, 3 }, 95, 2))
grad_case("Embedding with padding_idx", function() return nn.Embedding(6, 3, 2) end, T .. "Embedding(6, 3, padding_idx=1)",
          ember.tensor({ { 1, 2, 6 }, { 2, 2, 4 } }, "i64"), false, 1e-4, true)
grad_case("MaxPool2d", function() return nn.MaxPool2d(3, 2, 1) end, T .. "MaxPool2d(3, 2, 1)", gen({ 1, 2, 6, 6 }, 96))
grad_case("AvgPool2d", function() return nn.AvgPool2d(3, 2, 1, { count_include_pad = false }) end,
          T .. "AvgPool2d(3, 2, 1, count_include_pad=False)", gen({ 1, 2, 6, 6 }, 97))
grad_case("AdaptiveAvgPool2d", function() return nn.AdaptiveAvgPool2d({ 2, 3 }) end, T .. "AdaptiveAvgPool2d((2, 3))",
          gen({ 1, 2, 5, 7 }, 98))
for _, a in ipairs(acts) do
  if a[1] ~= "Identity" then
    grad_case(a[1], a[2], T .. a[3], gen({ 2, 3, 4 }, 100, 3))
  end
end

local MHAOut = nn.Module:extend("MHAOut")    -- the output alone, for the gradient check
function MHAOut:init() self.attn = nn.MultiheadAttention(8, 2, { batch_first = true }) end
function MHAOut:forward(x) return (self.attn(x, x, x)) end
grad_case("MultiheadAttention", function() return MHAOut() end,
          "(lambda w: (setattr(w, 'attn', torch.nn.MultiheadAttention(8, 2, batch_first=True)), "
          .. "setattr(w, 'forward', lambda x: w.attn(x, x, x)[0]), w)[-1])(torch.nn.Module())",
          gen({ 2, 4, 8 }, 101))
grad_case("TransformerEncoderLayer", tel({ dim_feedforward = 16, dropout = 0, batch_first = true }),
          T .. "TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)",
          gen({ 2, 4, 8 }, 102), true)
-- }=

-- {= functional forms called directly
local function fcase(name, inputs, ember_fn, torch_expr, tol)
  case("functional: " .. name, function()
    local outs = table.pack(ember_fn(table.unpack(inputs)))
    local list = {}
    for i = 1, outs.n do list[i] = outs[i] end
    return list, { expr = torch_expr, inputs = inputs }, tol
  end)
end
local q4, k4, v4 = gen({ 2, 2, 3, 4 }, 120), gen({ 2, 2, 5, 4 }, 121), gen({ 2, 2, 5, 3 }, 122)
local allow = ember.tensor({ { true, false, true, true, true }, { true, true, false, true, false },
                             { false, true, true, true, true } }, "bool")
fcase("scaled_dot_product_attention, bool mask", { q4, k4, v4, allow },
      function(q, k, v, m) return F.scaled_dot_product_attention(q, k, v, m) end,
      "(lambda a: (a @ x[2], a))(torch.softmax((x[0] @ x[1].transpose(-2, -1) / 2.0).masked_fill(~x[3], float('-inf')), -1))")
fcase("scaled_dot_product_attention, float mask, scale", { q4, k4, v4, gen({ 3, 5 }, 123) },
      function(q, k, v, m) return F.scaled_dot_product_attention(q, k, v, m, 0, false, 0.3) end,
      "(lambda a: (a @ x[2], a))(torch.softmax(x[0] @ x[1].transpose(-2, -1) * 0.3 + x[3], -1))")
fcase("scaled_dot_product_attention, causal", { gen({ 2, 4, 4 }, 124), gen({ 2, 4, 4 }, 125), gen({ 2, 4, 2 }, 126) },
      function(q, k, v) return F.scaled_dot_product_attention(q, k, v, nil, 0, true) end,
      "(lambda a: (a @ x[2], a))(torch.softmax((x[0] @ x[1].transpose(-2, -1) / 2.0)"
      .. ".masked_fill(torch.ones(4, 4).triu(1).bool(), float('-inf')), -1))")
case("functional: multi_head_attention_forward, sequence first, both masks", function()
  local q, k, v = gen({ 3, 2, 8 }, 127), gen({ 4, 2, 8 }, 128), gen({ 4, 2, 8 }, 129)
  local w, b, ow, ob = gen({ 24, 8 }, 130, 0.5), gen({ 24 }, 131), gen({ 8, 8 }, 132, 0.5), gen({ 8 }, 133)
  local kpm = ember.tensor({ { false, false, true, false }, { true, false, false, false } }, "bool")
  local am = gen({ 3, 4 }, 134)
  local out, weights = F.multi_head_attention_forward(q, k, v, 2, w, b, ow, ob,
                                                      { key_padding_mask = kpm, attn_mask = am })
  return { out, weights }, {
    expr = "F.multi_head_attention_forward(x[0], x[1], x[2], 8, 2, x[3], x[4], None, None, False, 0.0, x[5], x[6], "
           .. "training=False, key_padding_mask=x[7], need_weights=True, attn_mask=x[8])",
    inputs = { q, k, v, w, b, ow, ob, kpm, am } }, 1e-5
end)
case("functional: batch_norm in training moves the given running statistics", function()
  local x, rm, rv = gen({ 4, 3, 2, 2 }, 135, 2), gen({ 3 }, 136), gen({ 3 }, 137) + 2
  local w, b = gen({ 3 }, 138), gen({ 3 }, 139)
  local req = { expr = "(lambda rm, rv: [F.batch_norm(x[0], rm, rv, x[3], x[4], training=True, momentum=0.2, "
                       .. "eps=1e-3), rm, rv])(x[1].clone(), x[2].clone())", inputs = { x, rm, rv, w, b } }
  local rm2, rv2 = rm:clone(), rv:clone()
  local y = F.batch_norm(x, rm2, rv2, w, b, true, 0.2, 1e-3)
  return { y, rm2, rv2 }, req, 1e-5
end)
fcase("batch_norm in evaluation", { gen({ 2, 3, 4 }, 140), gen({ 3 }, 141), gen({ 3 }, 142) + 2 },
      function(x, rm, rv) return F.batch_norm(x, rm, rv) end, "F.batch_norm(x[0], x[1], x[2])")
fcase("batch_norm in training without running statistics", { gen({ 5, 3 }, 143, 2) },
      function(x) return F.batch_norm(x, nil, nil, nil, nil, true) end, "F.batch_norm(x[0], None, None, training=True)")
fcase("conv2d padding same, even kernel, dilation 2", { gen({ 1, 2, 7, 6 }, 144), gen({ 3, 2, 4, 2 }, 145), gen({ 3 }, 146) },
      function(x, w, b) return F.conv2d(x, w, b, 1, "same", 2) end,
      "F.conv2d(x[0], x[1], x[2], padding='same', dilation=2)")
fcase("conv2d padding valid, stride", { gen({ 1, 2, 7, 6 }, 147), gen({ 3, 2, 3, 3 }, 148) },
      function(x, w) return F.conv2d(x, w, nil, 2, "valid") end, "F.conv2d(x[0], x[1], stride=2, padding='valid')")
fcase("pad circular", { gen({ 1, 2, 3, 4 }, 149) }, function(x) return F.pad(x, { 1, 2, 2, 1 }, "circular") end,
      "F.pad(x[0], (1, 2, 2, 1), mode='circular')")
fcase("group_norm", { gen({ 2, 4, 3 }, 150, 2), gen({ 4 }, 151), gen({ 4 }, 152) },
      function(x, w, b) return F.group_norm(x, 2, w, b, 1e-3) end, "F.group_norm(x[0], 2, x[1], x[2], eps=1e-3)")
fcase("layer_norm", { gen({ 2, 4, 3 }, 153, 2), gen({ 3 }, 154), gen({ 3 }, 155) },
      function(x, w, b) return F.layer_norm(x, 3, w, b) end, "F.layer_norm(x[0], [3], x[1], x[2])")
fcase("embedding with padding_idx", { ember.tensor({ { 2, 1 }, { 3, 2 } }, "i64"), gen({ 3, 2 }, 156) },
      function(i, w) return F.embedding(i, w, 2) end, "F.embedding(x[0] - 1, x[1], padding_idx=1)")
fcase("softmax with a dtype", { gen({ 2, 3 }, 157, 3) }, function(x) return F.softmax(x, 1, "f64") end,
      "F.softmax(x[0], 0, dtype=torch.float64)")
fcase("log_softmax, gelu tanh, silu", { gen({ 2, 3 }, 158, 3) },
      function(x) return F.log_softmax(x, -1), F.gelu(x, "tanh"), F.silu(x), F.relu(x) end,
      "(F.log_softmax(x[0], -1), F.gelu(x[0], approximate='tanh'), F.silu(x[0]), F.relu(x[0]))")
fcase("max_pool2d, avg_pool2d, adaptive_avg_pool2d", { gen({ 1, 2, 5, 5 }, 159) },
      function(x) return F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1), F.adaptive_avg_pool2d(x, { 2, 3 }) end,
      "(F.max_pool2d(x[0], 2), F.avg_pool2d(x[0], 3, 2, 1), F.adaptive_avg_pool2d(x[0], (2, 3)))")
-- }=

-- {= clip_grad_norm_
local function clip_case(name, max_norm, norm_type, py_norm)
  case("clip_grad_norm_: " .. name, function()
    local gs = { gen({ 3, 4 }, 110, 2), gen({ 5 }, 111, 3), gen({ 2, 2, 2 }, 112) }
    local ps = {}
    for i, g in ipairs(gs) do
      ps[i] = nn.Parameter(ember.zeros_like(g))
      ps[i].grad = g:clone()
    end
    ps[4] = nn.Parameter(ember.zeros(2))     -- no gradient: left out
    local total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    local req = {
      expr = string.format("(lambda ps: [torch.nn.utils.clip_grad_norm_(ps, %s, norm_type=%s)] + [p.grad for p in ps])"
                           .. "([(lambda p, g: (setattr(p, 'grad', g), p)[1])(torch.nn.Parameter(torch.zeros_like(g)), g) "
                           .. "for g in x])", tostring(max_norm), py_norm),
      inputs = gs,
    }
    local outs = { total }
    for i = 1, 3 do outs[i + 1] = ps[i].grad end
    assert(ps[4].grad == nil)
    return outs, req, 1e-5
  end)
end
clip_case("2-norm, clipped", 0.5, 2, "2.0")
clip_case("2-norm, under the limit (coefficient clamped to 1)", 100, nil, "2.0")
clip_case("1-norm", 1.5, 1, "1.0")
clip_case("inf-norm", 0.25, math.huge, "float('inf')")
-- }=

local prepared, req = {}, {}
for i, c in ipairs(cases) do
  local ok, outs, r, tol = pcall(c.fn)
  if ok then
    req[#req + 1] = r
    prepared[i] = { outs = outs, k = #req, tol = tol or 1e-5 }
  else
    prepared[i] = { err = tostring(outs) }
  end
end
local results = oracle.eval(req)

describe("layers against torch", function()
  for i, c in ipairs(cases) do
    it(c.name, function()
      local p = prepared[i]
      assert(not p.err, p.err)
      local r = results[p.k]
      assert(r.ok, r.error)
      assert.equal(#r.outputs, #p.outs)
      for j, o in ipairs(p.outs) do
        local ok, msg = oracle.close(o, r.outputs[j], p.tol, p.tol)
        assert(ok, string.format("output %d: %s", j, msg))
      end
    end)
  end
end)

-- }======
