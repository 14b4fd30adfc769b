-- make_program_corpus.lua DIR — writes the seed programs for fuzz_program.c: small
-- models (so that each run is fast) that cover the program format's parts: fused and
-- unfused nodes, views, constants shared, index inputs and outputs, dynamic dims.
--   build/ember spec/fuzz/make_program_corpus.lua spec/fuzz/corpus_program
local ember = require "ember"
local nn = require "ember.nn"
local dir = assert(arg[1], "usage: make_program_corpus.lua DIR")
ember.manual_seed(1)

local function save(name, fn, ins, opts)
  opts = opts or {}
  opts.path = dir .. "/" .. name .. ".ember"
  ember.export(fn, ins, opts)
end

local mlp = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
mlp:eval()
save("mlp", mlp, { ember.randn(2, 4) })
save("mlp_unfused", mlp, { ember.randn(2, 4) }, { passes = false })
save("mlp_dynamic", mlp, { ember.randn(2, 4) }, { dynamic = { batch = { dim = 1, max = 8 } } })

local cnn = nn.Sequential(nn.Conv2d(1, 2, 3, { padding = 1 }), nn.BatchNorm2d(2), nn.ReLU(),
  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
cnn:eval()
save("cnn", cnn, { ember.randn(1, 1, 4, 4) })

local emb, lin = nn.Embedding(5, 3), nn.Linear(3, 2)
save("index", function(ids) local l = lin(emb(ids)); return l, l:argmax(2) end,
  { ember.tensor({ { 1, 2 }, { 5, 3 } }, "i64") })

save("views", function(x)
  local a, b = table.unpack(x:chunk(2, 2))
  return (a:t() + b:t()):softmax(1), x:transpose(1, 2):reshape(8)
end, { ember.randn(2, 4) })
