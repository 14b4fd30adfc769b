-- linalg_spec.lua — matmul mm bmm addmm outer dot: hand-computed values, identities,
-- error messages, and PyTorch as oracle on batched, broadcast and strided inputs.
local ember = require "ember"
local oracle = require "oracle"

local function gen(shape, seed, dtype) return oracle.gen(shape, seed, dtype) end

local function gen_int(shape, seed)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local flat = {}
  for i = 1, n do flat[i] = (i * 31 + seed * 17) % 11 - 5 end
  return ember.tensor(flat, "i64"):view(table.unpack(shape))
end

-- Max |a - b| over all elements (same shape), through totable.
local function max_diff(a, b)
  local fa, fb = a:contiguous():view(-1):totable(), b:contiguous():view(-1):totable()
  assert.equal(#fa, #fb)
  local m = 0
  for i = 1, #fa do m = math.max(m, math.abs(fa[i] - fb[i])) end
  return m
end

local function eye(n)
  local rows = {}
  for i = 1, n do
    rows[i] = {}
    for j = 1, n do rows[i][j] = i == j and 1 or 0 end
  end
  return ember.tensor(rows, "f32")
end

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok)
  return tostring(msg)
end

describe("linalg", function()
  local A = ember.tensor({{1, 2}, {3, 4}}, "f32")
  local B = ember.tensor({{5, 6}, {7, 8}}, "f32")

  it("multiplies 2x2 matrices by hand", function()
    assert.same({{19, 22}, {43, 50}}, A:matmul(B):totable())
    assert.same({{19, 22}, {43, 50}}, ember.mm(A, B):totable())
    assert.same({{23, 34}, {31, 46}}, B:matmul(A):totable())
    -- A^T B with A^T a transposed view (no copy): {{1,3},{2,4}} @ B
    assert.same({{26, 30}, {38, 44}}, A:t():matmul(B):totable())
    assert.same({{17, 23}, {39, 53}}, A:matmul(B:t()):totable())
    assert.equal("f32", A:matmul(B):dtype())
  end)

  it("treats 1-D operands as PyTorch does", function()
    local v = ember.tensor({1, -1}, "f32")
    local r = A:matmul(v)                       -- matrix . vector -> 2
    assert.same({2}, r:size())
    assert.same({-1, -1}, r:totable())
    r = v:matmul(A)                             -- vector . matrix -> 2
    assert.same({-2, -2}, r:totable())
    local d = ember.tensor({1, 2, 3}, "f32"):matmul(ember.tensor({4, 5, 6}, "f32"))
    assert.equal(0, d:dim())
    assert.equal(32, d:item())
    assert.equal(32, ember.dot(ember.tensor({1, 2, 3}), ember.tensor({4, 5, 6})):item())
    -- batched: 3-D . 1-D drops the appended dim, 1-D . 3-D the prepended one
    local T = ember.tensor({{{1, 2}, {3, 4}}, {{0, 1}, {1, 0}}}, "f32")
    assert.same({{-1, -1}, {-1, 1}}, T:matmul(v):totable())
    assert.same({{-2, -2}, {-1, 1}}, v:matmul(T):totable())
  end)

  it("computes outer, addmm and integer products by hand", function()
    assert.same({{3, 4}, {6, 8}, {9, 12}},
                ember.outer(ember.tensor({1, 2, 3}), ember.tensor({3, 4})):totable())
    assert.equal("f32", ember.outer(ember.tensor({1, 2}), ember.tensor({1.5}, "f32")):dtype())
    -- 2*C + 3*(A@B), C broadcast from a row
    local C = ember.tensor({1, -1}, "f32")
    assert.same({{59, 64}, {131, 148}}, ember.addmm(C, A, B, 2, 3):totable())
    assert.same({{20, 21}, {44, 49}}, ember.addmm(C, A, B):totable())
    assert.same({{19, 22}, {43, 50}}, ember.addmm(C, A, B, {beta = 0}):totable())
    -- beta = 0 ignores NaN in input, as PyTorch
    local nan = ember.tensor({0 / 0, 0 / 0}, "f32")
    assert.same({{19, 22}, {43, 50}}, ember.addmm(nan, A, B, 0):totable())
    local Ai = ember.tensor({{1, 2}, {3, 4}})
    assert.equal("i64", Ai:matmul(Ai):dtype())
    assert.same({{7, 10}, {15, 22}}, Ai:matmul(Ai):totable())
    assert.same({{7, 10}, {15, 22}}, Ai:matmul(Ai:t():t()):totable())
    assert.same({{5, 11}, {11, 25}}, Ai:matmul(Ai:t()):totable())
    local i32 = ember.tensor({{1, 2}, {3, 4}}, "i32")
    assert.equal("i32", i32:matmul(i32):dtype())
    assert.same({{7, 10}, {15, 22}}, i32:matmul(i32):totable())
    local h = ember.tensor({{1, 2}, {3, 4}}, "f16")
    assert.equal("f16", h:matmul(h):dtype())
    assert.same({{7, 10}, {15, 22}}, h:matmul(h):totable())
    local bf = ember.tensor({{1, 2}, {3, 4}}, "bf16")
    assert.same({{7, 10}, {15, 22}}, ember.bmm(bf:view(1, 2, 2), bf:view(1, 2, 2)):totable()[1])
  end)

  it("handles empty dims", function()
    local e = ember.mm(ember.tensor({{1, 2}}, "f32"):narrow(2, 1, 0), ember.tensor({{1, 2}}, "f32"):narrow(1, 1, 0))
    assert.same({1, 2}, e:size())         -- k = 0: a zero matrix, not garbage
    assert.same({{0, 0}}, e:totable())
    local z = ember.bmm(gen({2, 1, 3}, 1):narrow(3, 1, 0), gen({2, 3, 1}, 2):narrow(2, 1, 0))
    assert.same({{{0}}, {{0}}}, z:totable())
    assert.same({0, 2, 2}, ember.matmul(gen({1, 2, 1}, 1):expand(0, 2, 1), gen({1, 2}, 2)):size())
  end)

  it("reads stride-0 (expanded) operands", function()
    local e = ember.tensor({{2}}, "f32"):expand(3, 4)
    local b = ember.tensor({{1}, {2}, {3}, {4}}, "f32"):expand(4, 2)
    assert.same({{20, 20}, {20, 20}, {20, 20}}, e:matmul(b):totable())
    assert.same({30}, ember.tensor({5}, "f32"):expand(3):matmul(ember.tensor({{1}, {2}, {3}}, "f32")):totable())
    assert.same({9, 21}, ember.tensor({3}):expand(2):matmul(ember.tensor({{1, 2}, {3, 4}}):t()):totable())
  end)

  it("satisfies (AB)^T = B^T A^T and A I = I A = A", function()
    local X, Y = gen({5, 7}, 1), gen({7, 3}, 2)
    local lhs = X:matmul(Y):t()
    local rhs = Y:t():matmul(X:t())            -- both operands transposed views
    assert.is_true(max_diff(lhs, rhs) < 1e-6)
    assert.is_true(max_diff(X:matmul(eye(7)), X) == 0)
    assert.is_true(max_diff(eye(5):matmul(X), X) == 0)
    assert.is_true(max_diff(X:t():matmul(eye(5)), X:t()) == 0)
    -- a matrix with no unit stride (every other column of a wider one) is copied, not misread
    local W = gen({7, 6}, 3)
    local strided = W[{{}, {1, 6, 2}}]          -- 7 x 3, strides (6, 2)
    assert.is_true(max_diff(strided:matmul(eye(3)), strided) == 0)
    assert.is_true(max_diff(eye(7):matmul(strided), strided) == 0)
    -- (AB)C = A(BC)
    local Z = gen({3, 4}, 4)
    assert.is_true(max_diff(X:matmul(Y):matmul(Z), X:matmul(Y:matmul(Z))) < 1e-5)
  end)

  it("gives bmm of a batch the matmul of each slice", function()
    local P, Q = gen({4, 3, 5}, 5), gen({4, 5, 2}, 6)
    local R = ember.bmm(P, Q)
    for b = 1, 4 do
      assert.is_true(max_diff(R[b], P[b]:matmul(Q[b])) < 1e-6)
    end
  end)

  it("raises errors that name the op and the shapes", function()
    local m23, m45 = gen({2, 3}, 1), gen({4, 5}, 2)
    assert.equal("matmul: shapes 2x3 and 4x5 cannot be multiplied (3 ~= 4)",
                 err(ember.matmul, m23, m45):match("matmul: .*"))
    assert.matches("mm: shapes 2x3 and 4x5 cannot be multiplied %(3 ~= 4%)", err(ember.mm, m23, m45))
    assert.matches("mm: expects 2%-D matrices, got shapes 2x3x4 and 4x5",
                   err(ember.mm, gen({2, 3, 4}, 1), m45))
    assert.matches("matmul: shapes 3 and 4 cannot be multiplied %(3 ~= 4%)",
                   err(ember.matmul, gen({3}, 1), gen({4}, 1)))
    assert.matches("matmul: expects operands with at least 1 dim, got shapes %[%] and 2x3",
                   err(ember.matmul, ember.tensor(1.5), m23))
    assert.matches("matmul: batch dims of shapes 2x3x4 and 3x4x5 do not broadcast",
                   err(ember.matmul, gen({2, 3, 4}, 1), gen({3, 4, 5}, 2)))
    assert.matches("matmul: expects operands of one dtype, got f32 and f64",
                   err(ember.matmul, m23, gen({3, 2}, 1, "f64")))
    assert.matches("matmul: not defined for bool", err(ember.matmul,
                   ember.tensor({true, false}, "bool"), ember.tensor({true, true}, "bool")))
    assert.matches("bmm: batch sizes of shapes 2x3x4 and 3x4x5 differ %(2 ~= 3%)",
                   err(ember.bmm, gen({2, 3, 4}, 1), gen({3, 4, 5}, 2)))
    assert.matches("bmm: shapes 2x3x4 and 2x5x5 cannot be multiplied %(4 ~= 5%)",
                   err(ember.bmm, gen({2, 3, 4}, 1), gen({2, 5, 5}, 2)))
    assert.matches("bmm: expects 3%-D batches", err(ember.bmm, m23, m23))
    assert.matches("addmm: input of shape 3 does not broadcast to the product's shape 2x5",
                   err(ember.addmm, gen({3}, 1), gen({2, 4}, 1), m45))
    assert.matches("addmm: shapes 2x3 and 4x5 cannot be multiplied", err(ember.addmm, gen({5}, 1), m23, m45))
    assert.matches("addmm: beta and alpha must be integers for i64",
                   err(ember.addmm, gen_int({2}, 1), gen_int({2, 2}, 1), gen_int({2, 2}, 2), 0.5))
    assert.matches("outer: expects 1%-D vectors, got shapes 2x3 and 3", err(ember.outer, m23, gen({3}, 1)))
    assert.matches("dot: vectors of lengths 3 and 4 differ", err(ember.dot, gen({3}, 1), gen({4}, 1)))
    assert.matches("dot: expects operands of one dtype, got f32 and i64",
                   err(ember.dot, gen({3}, 1), gen_int({3}, 1)))
  end)

  it("matches torch on batched, broadcast, transposed and strided inputs", function()
    local cases, got = {}, {}
    local function case(expr, inputs, result, rtol, atol)
      cases[#cases + 1] = { expr = expr, inputs = inputs }
      got[#got + 1] = { result, rtol or 1e-5, atol or 1e-5 }
    end
    local a34, b45 = gen({3, 4}, 1), gen({4, 5}, 2)
    case("x[0] @ x[1]", { a34, b45 }, a34:matmul(b45))
    local at = gen({4, 3}, 3):t()               -- 3x4 transposed view
    local bt = gen({5, 4}, 4):t()               -- 4x5 transposed view
    case("x[0] @ x[1]", { at, bt }, at:matmul(bt))
    case("torch.mm(x[0], x[1])", { at, b45 }, ember.mm(at, b45))
    case("x[0] @ x[1]", { a34, gen({4}, 5) }, a34:matmul(gen({4}, 5)))
    case("x[0] @ x[1]", { gen({3}, 6), at }, gen({3}, 6):matmul(at))
    case("torch.dot(x[0], x[1])", { gen({7}, 1), gen({7}, 2) }, ember.dot(gen({7}, 1), gen({7}, 2)))
    -- a strided vector (every other element) and a matrix column
    local w = gen({6, 8}, 7)
    local col, row = w[{{}, 3}], w[{2, {1, 8, 2}}]
    case("x[0] @ x[1]", { col, gen({6, 3}, 8) }, col:matmul(gen({6, 3}, 8)))
    case("x[0] @ x[1]", { gen({2, 4}, 9), row }, gen({2, 4}, 9):matmul(row))
    case("torch.dot(x[0], x[1])", { row, col:narrow(1, 1, 4) }, ember.dot(row, col:narrow(1, 1, 4)))
    -- no unit stride at all
    local s = gen({5, 6, 4}, 10):select(3, 2)   -- 5x6, strides (24, 4)
    case("x[0] @ x[1]", { s, gen({6, 2}, 11) }, s:matmul(gen({6, 2}, 11)))
    case("x[0] @ x[1]", { gen({3, 5}, 12), s }, gen({3, 5}, 12):matmul(s))
    -- batched with broadcasting of batch dims
    local p, q = gen({2, 1, 3, 4}, 13), gen({5, 4, 2}, 14)
    case("x[0] @ x[1]", { p, q }, p:matmul(q))
    local qt, ut = q:transpose(2, 3), gen({1, 3, 4}, 15):transpose(2, 3)   -- 5x2x4 @ 1x4x3
    case("x[0] @ x[1]", { qt, ut }, qt:matmul(ut))
    local e = gen({1, 3, 4}, 16):expand(6, 3, 4)   -- stride-0 batch dim
    case("x[0] @ x[1]", { e, gen({6, 4, 2}, 17) }, e:matmul(gen({6, 4, 2}, 17)))
    -- a 3-D input against a matrix folds into one product; also when the matrix is transposed
    local x3 = gen({4, 5, 6}, 18)
    case("x[0] @ x[1]", { x3, gen({6, 3}, 19) }, x3:matmul(gen({6, 3}, 19)))
    case("x[0] @ x[1]", { x3, gen({3, 6}, 20):t() }, x3:matmul(gen({3, 6}, 20):t()))
    local xp = gen({5, 4, 6}, 21):permute(2, 1, 3)   -- 4x5x6, rows not in batch order
    case("x[0] @ x[1]", { xp, gen({6, 2}, 22) }, xp:matmul(gen({6, 2}, 22)))
    local xr = gen({6, 4, 5}, 23):permute(2, 3, 1)   -- rows adjacent: transposed fold
    case("x[0] @ x[1]", { xr, gen({6, 2}, 24) }, xr:matmul(gen({6, 2}, 24)))
    case("x[0] @ x[1]", { gen({3, 4}, 25), gen({2, 2, 4, 5}, 26) },
         gen({3, 4}, 25):matmul(gen({2, 2, 4, 5}, 26)))
    case("x[0] @ x[1]", { gen({2, 3, 4}, 27), gen({4}, 28) }, gen({2, 3, 4}, 27):matmul(gen({4}, 28)))
    case("x[0] @ x[1]", { gen({4}, 29), gen({2, 3, 4, 5}, 30) }, gen({4}, 29):matmul(gen({2, 3, 4, 5}, 30)))
    -- many small products spread over threads
    local bp, bq = gen({64, 16, 16}, 31), gen({64, 16, 16}, 32):transpose(2, 3)
    case("torch.bmm(x[0], x[1])", { bp, bq }, ember.bmm(bp, bq))
    -- large enough for OpenBLAS to thread (k = 200: a looser atol for the long sums)
    local L1, L2 = gen({150, 200}, 33), gen({100, 200}, 34):t()
    case("x[0] @ x[1]", { L1, L2 }, L1:matmul(L2), 1e-5, 1e-4)
    -- addmm and outer
    local bias = gen({5}, 35)
    case("torch.addmm(x[0], x[1], x[2], beta=0.5, alpha=-2)", { bias, at, b45 },
         ember.addmm(bias, at, b45, 0.5, -2))
    case("torch.addmm(x[0], x[1], x[2])", { gen({3, 1}, 36), a34, bt }, ember.addmm(gen({3, 1}, 36), a34, bt))
    case("torch.outer(x[0], x[1])", { col, row }, ember.outer(col, row))
    -- a few output columns (a classifier head: x @ W^T with W out x in) take their own
    -- f32 kernel on CPUs with AVX2: rows in pairs and alone, up to twelve columns in
    -- tiles of six, sums with a tail past the last 8, alpha and beta, a strided C; and
    -- the layouts it declines (k < 8, 13 columns, A transposed) still go to BLAS
    local n = 0
    for _, m in ipairs({ 1, 2, 7, 32 }) do
      for _, k in ipairs({ 8, 13, 128 }) do
        for _, cols in ipairs({ 2, 5, 6, 10, 12, 13 }) do
          n = n + 1
          local x, wt = gen({m, k}, 100 + n), gen({cols, k}, 200 + n)
          case("x[0] @ x[1].t()", { x, wt }, x:matmul(wt:t()), 1e-5, 1e-5)
        end
      end
    end
    local xs, ws = gen({9, 20}, 301), gen({10, 20}, 302)
    case("torch.addmm(x[0], x[1], x[2].t(), beta=0.5, alpha=-2)", { gen({10}, 303), xs, ws },
         ember.addmm(gen({10}, 303), xs, ws:t(), 0.5, -2))
    case("torch.nn.functional.linear(x[0], x[1], x[2])", { xs, ws, gen({10}, 304) },
         ember.linear(xs, ws, gen({10}, 304)))
    case("x[0] @ x[1].t()", { gen({5, 7}, 305), gen({4, 7}, 306) }, gen({5, 7}, 305):matmul(gen({4, 7}, 306):t()))
    local xT = gen({20, 9}, 307):t()
    case("x[0] @ x[1].t()", { xT, ws }, xT:matmul(ws:t()))
    -- C written through a transposed view: C^T = W x^T, a product with 9 columns
    case("(x[0] @ x[1].t()).t()", { xs, ws }, ws:matmul(xs:t()))
    -- f64, integers, half precision
    local d1, d2 = gen({2, 3, 4}, 37, "f64"), gen({4, 3}, 38, "f64")
    case("x[0] @ x[1]", { d1, d2 }, d1:matmul(d2), 1e-12, 1e-12)
    local i1, i2 = gen_int({2, 1, 3, 4}, 1), gen_int({3, 2, 4}, 2):transpose(2, 3)
    case("x[0] @ x[1]", { i1, i2 }, i1:matmul(i2), 0, 0)
    case("torch.dot(x[0], x[1])", { gen_int({9}, 3), gen_int({9}, 4) }, ember.dot(gen_int({9}, 3), gen_int({9}, 4)), 0, 0)
    case("torch.outer(x[0], x[1])", { gen_int({3}, 5), gen_int({4}, 6) }, ember.outer(gen_int({3}, 5), gen_int({4}, 6)), 0, 0)
    local h1, h2 = gen({3, 8}, 39, "f16"), gen({8, 2}, 40, "f16")
    case("(x[0].float() @ x[1].float()).half()", { h1, h2 }, h1:matmul(h2), 1e-3, 1e-3)
    local g1, g2 = gen({2, 3, 8}, 41, "bf16"), gen({8, 2}, 42, "bf16")
    case("(x[0].float() @ x[1].float()).bfloat16()", { g1, g2 }, g1:matmul(g2), 1e-2, 1e-2)

    local r = oracle.eval(cases)
    for i, g in ipairs(got) do
      local ok, msg = pcall(oracle.assert_close, g[1], r[i], g[2], g[3])
      assert(ok, "case " .. i .. " (" .. cases[i].expr .. "): " .. tostring(msg))
    end
  end)
end)
