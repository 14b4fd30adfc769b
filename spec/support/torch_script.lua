-- torch_script.lua — runs a Python program given as text under /usr/bin/python3 (the
-- interpreter with PyTorch 1.13) on a JSON request, and decodes its JSON reply.
-- The program is called as `python3 program request.json reply.json`:
--   local torch_script = require "torch_script"
--   local reply = torch_script.run(TORCH, { { steps = 20 } }, "optim_spec")
-- who names the spec in the error raised when the program fails.
local json = require "dkjson"

local torch_script = {}

local PY = "/usr/bin/python3"

function torch_script.run(script, req, who)
  local sp, ip, op = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(sp, "w")); f:write(script); f:close()
  f = assert(io.open(ip, "w")); f:write(json.encode(req)); f:close()
  local ok = os.execute(string.format("%s %s %s %s", PY, sp, ip, op))
  os.remove(sp); os.remove(ip)
  assert(ok, who .. ": " .. PY .. " failed")
  f = assert(io.open(op)); local out = json.decode(f:read("a")); f:close()
  os.remove(op)
  return out
end

return torch_script
