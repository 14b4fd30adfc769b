-- host_spec.lua — the ember executable: arg and ... for scripts, -e, -l, -i, -, --version,
-- the REPL on piped stdin and on a terminal (history file, Tab completion), errors and
-- exit statuses, SIGINT.
local ember = require "ember"

local build = os.getenv("EMBER_BUILD") or "build"
local exe = build .. "/ember"

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Runs a shell command line; returns stdout, stderr and the exit status.
local function sh(cmd, stdin)
  local dir = os.tmpname()
  local out, err, inp = dir .. ".out", dir .. ".err", dir .. ".in"
  write(inp, stdin or "")
  local p = io.popen(string.format("(%s) <%s >%s 2>%s", cmd, inp, out, err))
  p:read("a")
  local _, _, code = p:close()
  local function slurp(path)
    local f = assert(io.open(path))
    local s = f:read("a")
    f:close()
    os.remove(path)
    return s
  end
  local o, e = slurp(out), slurp(err)
  os.remove(inp)
  os.remove(dir)
  return o, e, code
end

local function ember_run(args, stdin) return sh(quote(exe) .. " " .. args, stdin) end

local script = os.tmpname() .. ".lua"
write(script, [[
print("n", select("#", ...), ...)
for i = -3, #arg do io.write(i, "=", tostring(arg[i]), " ") end
print()
]])

describe("ember executable", function()
  teardown(function() os.remove(script) end)

  it("passes script arguments in arg and ... as lua5.4 does", function()
    local out, err, code = ember_run(quote(script) .. " a 'b c'")
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("n\t2\ta\tb c\n-3=nil -2=nil -1=" .. exe .. " 0=" .. script .. " 1=a 2=b c \n", out)
    -- options sit at negative indices
    out = ember_run("-W -e 'x=1' " .. quote(script) .. " z")
    assert.equal("n\t1\tz\n-3=-W -2=-e -1=x=1 0=" .. script .. " 1=z \n", out)
    -- "--" ends options; the script after it is arg[0]
    out = ember_run("-- " .. quote(script))
    assert.equal("n\t0\n-3=nil -2=" .. exe .. " -1=-- 0=" .. script .. " \n", out)
  end)

  it("runs -e code with ember loaded, and -l libraries, in order", function()
    local out, _, code = ember_run([[-e 'print(ember.tensor({1, 2}):numel(), type(ember))']])
    assert.equal(0, code)
    assert.equal("2\ttable\n", out)
    out = ember_run([[-e 'a = 1' -e 'print(a + 1, arg[0] == nil, arg[1])']])
    assert.equal("2\tfalse\t-e\n", out)                -- no script: arg[0] is ember itself
    out = ember_run([[-l s=string -e 'print(s.rep("ab", 2))']])
    assert.equal("abab\n", out)
  end)

  it("prints its version", function()
    local out, _, code = ember_run("--version")
    assert.equal(0, code)
    assert.equal("ember " .. ember.version .. " (Lua 5.4", out:sub(1, #("ember " .. ember.version) + 9))
    assert.equal(out, (ember_run("-v")))
  end)

  it("prints the values of expressions read from piped stdin", function()
    local out, err, code = ember_run("", "1+1\nprint(ember.tensor({1,2}))\n")
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("2\n 1\n 2\n[ember.LongTensor of size 2 (cpu)]\n", out)
  end)

  it("continues multi-line chunks, prints tensors and several values, survives errors", function()
    local input = table.concat({
      "t = ember.tensor({{1, 2}, {3, 4}})",
      "t",
      "for i = 1, 2 do",
      "  io.write(i, ' ')",
      "end",
      "error('boom')",
      "local x = 5; return x, 'five', nil",
      "=7",
      "return 1 +",                              -- an open expression continues
      "2",
      "x = = 1",
      "'still here'",
    }, "\n") .. "\n"
    local out, err, code = ember_run("", input)
    assert.equal(0, code)
    assert.equal(table.concat({
      " 1  2", " 3  4", "[ember.LongTensor of size 2x2 (cpu)]",
      "1 2 5\tfive\tnil", "7", "3", "still here", ""
    }, "\n"), out)
    assert.truthy(err:find("ember: stdin:1: boom\nstack traceback:", 1, true))
    assert.truthy(err:find("ember: stdin:1: unexpected symbol near '='", 1, true))
  end)

  it("runs stdin as a script with -", function()
    local out, _, code = ember_run("- q r", "print('stdin', ...)\nprint(arg[0], arg[1])\n")
    assert.equal(0, code)
    assert.equal("stdin\tq\tr\n-\tq\n", out)
  end)

  it("opens the REPL after a script with -i", function()
    local out, _, code = ember_run("-i " .. quote(script) .. " k", "select('#', ...)\nn = 40\nn + 2\n")
    assert.equal(0, code)
    assert.equal("n\t1\tk\n-3=nil -2=" .. exe .. " -1=-i 0=" .. script .. " 1=k \n0\n42\n", out)
  end)

  it("reports errors as 'ember: msg' with a traceback and exits with 1", function()
    local out, err, code = ember_run([[-e 'local function f() error("bad thing") end f()']])
    assert.equal("", out)
    assert.equal(1, code)
    local head = "ember: (command line):1: bad thing\nstack traceback:\n"
    assert.equal(head, err:sub(1, #head))
    assert.truthy(err:find("in local 'f'", 1, true) or err:find("in upvalue 'f'", 1, true)
                  or err:find("'f'", 1, true))
    -- a bad op call from a script
    local bad = os.tmpname() .. ".lua"
    write(bad, "local a = ember.tensor({1, 2, 3})\nlocal b = a + ember.tensor({1, 2})\n")
    out, err, code = ember_run(quote(bad))
    os.remove(bad)
    assert.equal(1, code)
    assert.truthy(err:find("^ember: " .. bad:gsub("%p", "%%%0") .. ":2: add: "))
    assert.truthy(err:find("stack traceback:", 1, true))
    -- error objects that are not strings
    _, err, code = ember_run([[-e 'error(setmetatable({}, {__tostring = function() return "custom" end}))']])
    assert.equal(1, code)
    assert.equal("ember: custom\n", err)
    _, err, code = ember_run([[-e 'error({})']])
    assert.equal(1, code)
    assert.truthy(err:find("ember: (error object is a table value)", 1, true))
    -- syntax errors, missing scripts, bad options
    _, err, code = ember_run([[-e 'x = = 1']])
    assert.equal(1, code)
    assert.truthy(err:find("ember: (command line):1: unexpected symbol near '='", 1, true))
    _, err, code = ember_run("/nonexistent/script.lua")
    assert.equal(1, code)
    assert.truthy(err:find("ember: cannot open /nonexistent/script.lua", 1, true))
    _, err, code = ember_run("-x")
    assert.equal(1, code)
    assert.truthy(err:find("unrecognized option '-x'", 1, true))
    _, err, code = ember_run("-e")
    assert.equal(1, code)
    assert.truthy(err:find("'-e' needs an argument", 1, true))
    -- a later -e does not run after a failing one; os.exit keeps its status
    out, _, code = ember_run([[-e 'error("x")' -e 'print("no")']])
    assert.equal("", out)
    assert.equal(1, code)
    _, _, code = ember_run([[-e 'os.exit(3)']])
    assert.equal(3, code)
  end)

  it("stops running code on SIGINT with 'interrupted!'", function()
    -- python starts it (with SIGINT at its default, as `cmd &` in sh would not leave it)
    -- and sends SIGINT once the loop is surely running
    local pyfile = os.tmpname()
    write(pyfile, [[
import signal, subprocess, sys
# a suite started in the background (`make sanitize &`) inherits SIGINT ignored, and
# ember rightly keeps ignoring it; the child gets the default disposition back
p = subprocess.Popen([sys.argv[1], "-e", "print('go') io.flush() local n = 0 while true do n = n + 1 end"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
p.stdout.readline()
p.send_signal(signal.SIGINT)
try:
    _, err = p.communicate(timeout=90)   # a sanitized ember on a loaded machine can be slow
except subprocess.TimeoutExpired:
    p.kill()   # never leave a spinning ember behind
    _, err = p.communicate()
sys.stdout.write("%d %s" % (p.returncode, err.decode()))
]])
    local out = sh("python3 " .. quote(pyfile) .. " " .. quote(exe))
    os.remove(pyfile)
    -- "ember: interrupted!" or "ember: (command line):1: interrupted!": where the hook hit
    assert.equal("1 ember: ", out:sub(1, 9))
    assert.truthy(out:find("interrupted!\nstack traceback:", 1, true), out)
  end)

  it("uses readline and keeps history in ~/.ember_history on a terminal", function()
    if not io.open("/usr/bin/script") then return pending("util-linux script is missing") end
    local home = os.tmpname()
    os.remove(home)
    assert(os.execute("mkdir -p " .. quote(home)))
    -- Tab completes fields and tensor methods
    local input = "1+1\nfor i = 1, 2 do\nprint(i * 10)\nend\n" ..
                  "t = ember.ones(1, 2)\nt:nume\t()\nember.matm\t(t, t:t()):item()\n"
    -- script(1) gives ember a pseudo-terminal; the line discipline echoes the input
    local out, _, code = sh("HOME=" .. quote(home) .. " timeout 20 script -qec " ..
                            quote(quote(exe)) .. " /dev/null", input)
    assert.equal(0, code)
    out = out:gsub("\r", ""):gsub("\27%[[%d;?]*[a-zA-Z]", "")
    assert.truthy(out:find("ember " .. ember.version, 1, true))
    assert.truthy(out:find("> 1+1\n2\n", 1, true))
    assert.truthy(out:find("> for i = 1, 2 do\n>> print(i * 10)\n>> end\n10\n20\n", 1, true))
    local f = assert(io.open(home .. "/.ember_history"))
    local hist = f:read("a")
    f:close()
    assert.truthy(out:find("> t:numel()\n2\n> ember.matmul(t, t:t()):item()\n2.0\n", 1, true))
    assert.equal("1+1\nfor i = 1, 2 do\nprint(i * 10)\nend\nt = ember.ones(1, 2)\n" ..
                 "t:numel()\nember.matmul(t, t:t()):item()\n", hist)
    -- piped stdin never touches the history file
    sh("HOME=" .. quote(home) .. " " .. quote(exe), "2+2\n")
    f = assert(io.open(home .. "/.ember_history"))
    assert.equal(hist, f:read("a"))
    f:close()
    os.execute("rm -rf " .. quote(home))
  end)

  it("drops the line or chunk on Ctrl-C at the prompt and interrupts running code", function()
    -- an expect-style dialogue over a pseudo-terminal: send, then wait for the text
    local steps = {
      { "for i = 1, 2 do\n", ">> " },
      { "\3", "^C\r\n", "> " },                  -- the continued chunk is dropped
      { "1+1\n", "2\r\n", "> " },
      { "x = 1 +", "x = 1 +" },
      { "\3", "^C\r\n", "> " },                  -- so is the line being typed
      { "2+3\n", "5\r\n", "> " },
      { "io.write('go\\n') io.flush() local n = 0 while true do n = n + 1 end\n", "go\r\n" },
      { "\3", "interrupted!", "> " },       -- running code stops, the REPL goes on
      { "'alive'\n", "alive\r\n", "> " },
      { "\4", "" },
    }
    local py = { [[
import os, pty, select, sys, time
steps = ]] }
    local function pystr(str)                  -- a Python string literal
      return '"' .. str:gsub(".", function(c)
        if c == "\\" or c == '"' then return "\\" .. c end
        if c:match("[%w%p ]") then return c end
        return string.format("\\x%02x", c:byte())
      end) .. '"'
    end
    local items = {}
    for _, st in ipairs(steps) do
      local wants = {}
      for k = 2, #st do wants[#wants + 1] = pystr(st[k]) end
      items[#items + 1] = "(" .. pystr(st[1]) .. ", [" .. table.concat(wants, ", ") .. "])"
    end
    py[#py + 1] = "[" .. table.concat(items, ", ") .. "]"
    py[#py + 1] = [[

pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["ember"])
buf = b""
def expect(text, limit=10.0):
    global buf
    end = time.time() + limit
    while text.encode() not in buf:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
        if time.time() > end:
            return False
    buf = buf[buf.index(text.encode()) + len(text):]
    return True
if not expect("> "):
    print("no prompt"); sys.exit(1)
for send, wants in steps:
    os.write(fd, send.encode())
    for want in wants:
        if not expect(want):
            print("after %r: wanted %r, got %r" % (send, want, buf)); sys.exit(1)
_, status = os.waitpid(pid, 0)
print("exit", os.WEXITSTATUS(status))
]]
    local home = os.tmpname()
    local pyfile = home .. ".py"
    os.remove(home)
    assert(os.execute("mkdir -p " .. quote(home)))
    write(pyfile, table.concat(py))
    local out, err = sh("HOME=" .. quote(home) .. " python3 " .. quote(pyfile) .. " " .. quote(exe))
    os.remove(pyfile)
    os.execute("rm -rf " .. quote(home))
    assert.equal("exit 0\n", out, err)
  end)
end)
