-- ember.nn — neural-network modules with PyTorch's names, layouts and defaults.
--
--   local nn = require "ember.nn"
--   local net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
--   local loss = nn.CrossEntropyLoss()(net(x), y)      -- y: classes 1..10
--
-- nn.Module and the class system: module.lua. Layers: linear.lua, conv.lua, norm.lua,
-- activation.lua, pooling.lua, attention.lua; containers: container.lua; losses:
-- loss.lua. nn.functional (also require "ember.nn.functional"), nn.init (weight
-- initialisations, initializers.lua) and nn.utils (gradient clipping) hang off this
-- table. A state dict from PyTorch (saved as safetensors) loads into the matching
-- module unchanged.
local base = require "ember.nn.module"

local nn = {
  Module = base.Module,
  Parameter = base.Parameter,
  is_parameter = base.is_parameter,
  is_module = base.is_module,
  functional = require "ember.nn.functional",
  init = require "ember.nn.initializers",
  utils = require "ember.nn.utils",
}

for _, family in ipairs({ "container", "linear", "conv", "norm", "activation", "pooling", "attention", "loss" }) do
  for name, cls in pairs(require("ember.nn." .. family)) do nn[name] = cls end
end

return nn
