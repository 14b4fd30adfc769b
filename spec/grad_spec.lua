-- grad_spec.lua — every backward rule in the op table, checked against PyTorch
-- autograd (f32) and against finite differences (f64). The cases live in
-- spec/grad/<family>.lua, one list per op family; a coverage check makes sure every
-- op is either covered by a case or listed as not differentiable, with the reason.
local ember = require "ember"
local gradcheck = require "gradcheck"

local families = { "elementwise", "linalg", "reduce", "nn", "index", "view", "shape", "conv", "loss" }

local cases = {}
for _, f in ipairs(families) do
  local path = "spec/grad/" .. f .. ".lua"
  local fh = io.open(path)
  if fh then
    fh:close()
    for _, c in ipairs(dofile(path)) do
      c.family = f
      cases[#cases + 1] = c
    end
  end
end

local results = gradcheck.oracle(cases)

describe("gradients against torch autograd (f32)", function()
  for i, c in ipairs(cases) do
    it(string.format("%s: %s", c.op, c.name or ""), function()
      assert(results[i].ok, results[i].msg)
    end)
  end
end)

describe("gradients against finite differences (f64)", function()
  for _, c in ipairs(cases) do
    if c.fd ~= false then
      it(string.format("%s: %s", c.op, c.name or ""), function()
        local ok, msg = gradcheck.finite_differences(c)
        assert(ok, msg)
      end)
    end
  end
end)

describe("coverage", function()
  local nondiff = dofile("spec/grad/nondiff.lua")
  it("gives every op a backward rule and a case, or a reason it has none", function()
    local covered = {}
    for _, c in ipairs(cases) do covered[c.op] = true end
    local missing = {}
    for _, op in ipairs(ember.ops()) do
      local why = nondiff[op.name]
      if why then
        if op.differentiable then missing[#missing + 1] = op.name .. " (listed as not differentiable, but has a rule)" end
      elseif not op.differentiable then
        missing[#missing + 1] = op.name .. " (no backward rule)"
      elseif not covered[op.name] then
        missing[#missing + 1] = op.name .. " (no gradient case)"
      end
    end
    assert(#missing == 0, "ops without gradient coverage: " .. table.concat(missing, ", "))
  end)
end)
