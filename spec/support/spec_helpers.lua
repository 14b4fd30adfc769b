-- spec_helpers.lua — small checks and paths that many specs share: the message of an
-- expected error, a substring test that shows the whole message when it fails, and
-- the command that starts a child ember process.

-- busted gives specs luassert as their assert, but not the modules they require
local assert = require "luassert"

local helpers = {}

-- The message of the error f(...) raises; fails the test when it raises none.
function helpers.error_of(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

-- Asserts that s holds part as plain text (no patterns).
function helpers.contains(s, part)
  assert(s:find(part, 1, true), string.format("message lacks %q:\n%s", part, s))
end

-- The command line that runs the ember executable (the sanitized one under make
-- sanitize) by an absolute path, so a child may start in another directory; it finds
-- the Lua library by the path compiled into it, not by LUA_PATH, which is unset.
function helpers.child_command()
  local build = os.getenv("EMBER_BUILD") or "build"
  local pwd = io.popen("pwd")
  local root = pwd:read("l")
  pwd:close()
  local exe = (build:sub(1, 1) == "/" and build or root .. "/" .. build) .. "/ember"
  return "env -u LUA_PATH -u LUA_CPATH " .. exe
end

return helpers
