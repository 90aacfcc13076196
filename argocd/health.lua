-- Argo CD health check of mlrollout.dev/ModelPromotion (Argo CD's health.lua convention:
-- `obj` is the resource, the script returns {status, message}).
--
--   Progressing  no status yet, a spec the operator has not observed, or a promotion running
--                (Pending, Evaluating, RollingOut, Verifying, RollingBack)
--   Healthy      Promoted
--   Degraded     Rejected, RolledBack, Failed (a pause does not hide a failed attempt)
--   Suspended    paused (spec.paused or status.pausedAt), or AwaitingApproval
--
-- Argo CD runs a script from argocd-cm with only Lua's base functions and `table`: no `string`.
-- argocd/argocd-cm.yaml carries a copy of this file: `make argocd-cm` after editing it.

local hs = {}

local function statusMessage(fallback)
  local message = obj.status.message
  if message == nil or message == "" then
    return fallback
  end
  return message
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the promotion"
  return hs
end

-- A status written for an older spec says nothing about the current one (e.g. a pause just set).
local observed = tonumber(obj.status.observedGeneration)
local generation = tonumber(obj.metadata.generation)
if observed == nil or (generation ~= nil and observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end

local phase = obj.status.phase
if phase == nil then
  phase = "Pending"
end

local degraded = {Rejected = true, RolledBack = true, Failed = true}
if degraded[phase] then
  hs.status = "Degraded"
  hs.message = statusMessage(phase)
  return hs
end

if (obj.spec ~= nil and obj.spec.paused == true) or obj.status.pausedAt ~= nil then
  hs.status = "Suspended"
  hs.message = statusMessage("Paused")
  return hs
end

if phase == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = statusMessage("Awaiting approval")
  return hs
end

if phase == "Promoted" then
  hs.status = "Healthy"
  hs.message = statusMessage(phase)
  return hs
end

local running = {Pending = true, Evaluating = true, RollingOut = true, Verifying = true,
                 RollingBack = true}
if running[phase] then
  hs.status = "Progressing"
  hs.message = statusMessage(phase)
  return hs
end

hs.status = "Unknown"
hs.message = "Unknown phase " .. tostring(phase) .. ": is this Argo CD health check older than the operator?"
return hs
