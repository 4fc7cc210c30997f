-- Argo CD health of a harikube.info TopologyConfig. Healthy only when the
-- reconciler has merged the config's current generation into the target
-- Secret and its Ready condition is True, so that a later sync wave (the
-- microservice whose data it routes) waits for its routing to be live.
-- Argo CD opens only the base and table libraries for a configured script.
local hs = {}
local generation = obj.metadata.generation

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: waiting for its backends to leave the target Secret"
  return hs
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the reconciler to see the config"
  return hs
end

local function condition(kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function current(c)
  return c ~= nil and c.observedGeneration == generation
end

local ready = condition("Ready")
local stalled = condition("Stalled")

if ready == nil then
  -- A status written before the reconciler wrote conditions.
  if status.observedGeneration == generation and status.deployStatus == "Error" then
    hs.status = "Degraded"
    hs.message = status.deployStatusReason or "Error"
  elseif status.observedGeneration == generation and status.deployStatus == "Active" then
    hs.status = "Healthy"
    hs.message = "Active"
  else
    hs.status = "Progressing"
    hs.message = "Waiting for the reconciler to merge generation " .. tostring(generation)
  end
  return hs
end

if current(stalled) and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end

if current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

hs.status = "Progressing"
if current(ready) then
  hs.message = ready.reason .. ": " .. ready.message
else
  hs.message = "Waiting for the reconciler to merge generation " .. tostring(generation)
end
return hs
