-- ember.optim — optimizers and learning-rate schedules for training loops.
--
--   local optim = require "ember.optim"
--   local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
--   local sched = optim.StepLR(opt, {step_size = 10, gamma = 0.5})
--   for each batch: opt:zero_grad(); loss(...):backward(); opt:step()
--   for each epoch: sched:step()
--
-- Optimizers: SGD, Adam, AdamW, RMSprop (optimizer.lua explains groups and state
-- dicts). Schedules live in optim.lr_scheduler and, for short, in optim itself.
local Optimizer = require "ember.optim.optimizer"
local adam = require "ember.optim.adam"
local lr_scheduler = require "ember.optim.lr_scheduler"

local optim = {
  Optimizer = Optimizer,
  SGD = require "ember.optim.sgd",
  Adam = adam.Adam,
  AdamW = adam.AdamW,
  RMSprop = require "ember.optim.rmsprop",
  lr_scheduler = lr_scheduler,
  flatten_state_dict = Optimizer.flatten_state_dict,
  unflatten_state_dict = Optimizer.unflatten_state_dict,
}

for name, S in pairs(lr_scheduler) do
  if name ~= "Scheduler" then optim[name] = S end
end

return optim
