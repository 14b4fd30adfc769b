-- train_memory_spec.lua — a long training run keeps its memory flat: 10 000 steps of
-- the digits MLP (forward, backward, Adam) in a child process, whose resident set
-- size at the last step must be within 10% of the size at step 1 000; the loss must
-- also have gone down, so the run really trained.
local exe = (os.getenv("EMBER_BUILD") or "build") .. "/ember"

-- Under AddressSanitizer (make sanitize) freed memory waits in a quarantine of up to
-- 256 MiB before reuse, which is growth by design; the child runs with none, so what
-- is measured is still ember's own memory.
local env = ""
local asan = os.getenv("ASAN_OPTIONS")
if asan then env = "ASAN_OPTIONS='" .. asan .. ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0' " end

describe("memory over a long training run", function()
  it("keeps RSS flat over 10 000 steps", function()
    local p = assert(io.popen(env .. exe .. " spec/support/train_steps.lua 10000 1 1000 5000 10000 2>&1"))
    local rss, loss = {}, {}
    local out = {}
    for line in p:lines() do
      out[#out + 1] = line
      local step, kib, l = line:match("^rss (%d+) (%d+) loss ([%d%.]+)")
      if step then
        rss[tonumber(step)], loss[tonumber(step)] = tonumber(kib), tonumber(l)
      end
    end
    p:close()
    assert(rss[1000] and rss[10000], "the child did not report: " .. table.concat(out, "\n"))
    local growth = (rss[10000] - rss[1000]) / rss[1000]
    assert(math.abs(growth) <= 0.10, string.format("RSS %d KiB at step 1000, %d KiB at step 10000 (%+.1f%%)",
                                                   rss[1000], rss[10000], 100 * growth))
    assert(loss[10000] < loss[1] / 4, string.format("loss %.4f at step 1, %.4f at step 10000", loss[1], loss[10000]))
  end)
end)
