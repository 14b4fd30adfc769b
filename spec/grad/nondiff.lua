-- Ops that have no backward rule, each with the reason. Every other op in the table
-- must have a rule and a gradient case (grad_spec.lua checks both).
local bool_result = "bool result"
local index_result = "integer (index) result"
local creation = "makes a new tensor; no tensor input to differentiate"
local like = "result does not depend on the input's values (PyTorch: no gradient)"
return {
  eq = bool_result, ne = bool_result, lt = bool_result, le = bool_result,
  gt = bool_result, ge = bool_result, isnan = bool_result, isinf = bool_result,
  logical_and = bool_result, logical_or = bool_result, logical_xor = bool_result,
  logical_not = bool_result, all = bool_result, any = bool_result,
  argmax = index_result, argmin = index_result, nonzero = index_result,
  one_hot = index_result,
  floor_divide = "integer-valued steps: zero almost everywhere (PyTorch has no derivative)",
  zeros = creation, ones = creation, full = creation, empty = creation, arange = creation,
  linspace = creation, eye = creation, rand = creation, randn = creation, randint = creation,
  zeros_like = like, ones_like = like, full_like = like, empty_like = like,
  rand_like = like, randn_like = like, randint_like = like,
  -- the conv family's backward kernels (dispatched by its rules, not bound in Lua)
  conv2d_backward_input = "backward kernel", conv2d_backward_weight = "backward kernel",
  max_pool2d_backward = "backward kernel", avg_pool2d_backward = "backward kernel",
  adaptive_avg_pool2d_backward = "backward kernel", pad_backward = "backward kernel",
  interpolate_backward = "backward kernel",
  -- the nn family's backward kernel (dispatched by dropout's rule, not bound in Lua)
  dropout_backward = "backward kernel", batch_norm_train_backward = "backward kernel",
  -- the elementwise family's backward kernels (dispatched by its rules, not bound in Lua)
  relu_backward = "backward kernel", tanh_backward = "backward kernel",
  sigmoid_backward = "backward kernel", silu_backward = "backward kernel",
  gelu_backward = "backward kernel", softplus_backward = "backward kernel",
  -- the fused losses' backward kernel
  cross_entropy_backward = "backward kernel",
  -- export's fused ops: written into exported programs, which run without autograd
  -- (their unfused forms, linear, conv2d and the elementwise ops, have rules)
  fused_linear = "export's fused op (programs run without autograd)",
  fused_conv2d = "export's fused op (programs run without autograd)",
  fused_pointwise = "export's fused op (programs run without autograd)",
  -- optimizer updates: they change parameters outside the graph, by design
  sgd_step = "optimizer update (in place, outside autograd)",
  adam_step = "optimizer update (in place, outside autograd)",
}
