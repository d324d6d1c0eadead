/** Judging each instance a role names: locked, tombstoned, released, expired, skipped or unprotected, and why. */
import { cidrSet } from '../addresses.js'
import { InvalidFactsError } from '../errors.js'
import { assertInstanceId } from './arns.js'
import {
  ACTIVE_STATES,
  type AllowedSources,
  FINAL_STATES,
  type InstanceFacts,
  type InstanceOutcome,
  type LockedInstance,
  type LockSettings,
  type RoleFacts,
  type Tombstone,
  type TombstoneEntry,
} from './facts.js'
import { bucketEnd, nextWholeSecond, wholeSecond } from './tombstones.js'

export function judgeInstances(role: RoleFacts, settings: LockSettings, now: Date) {
  const facts = new Map(role.instances.map((instance) => [instance.instanceId, instance]))
  const ids = new Set([...facts.keys(), ...role.current.locked, ...role.current.tombstones.keys()])
  const locked: LockedInstance[] = []
  const tombstones: Tombstone[] = []
  const outcomes: InstanceOutcome[] = []
  for (const instanceId of [...ids].sort()) {
    assertInstanceId(instanceId)
    for (const outcome of judgeInstance(instanceId, facts.get(instanceId), role, settings, now)) {
      outcomes.push(outcome)
      if (outcome.outcome === 'locked') locked.push({ instanceId, allowedFrom: outcome.allowedFrom })
      if (outcome.outcome === 'tombstoned') tombstones.push(outcome)
    }
  }
  return { locked, tombstones, outcomes }
}

function judgeInstance(
  instanceId: string,
  instance: InstanceFacts | undefined,
  role: RoleFacts,
  settings: LockSettings,
  now: Date,
): InstanceOutcome[] {
  const wasLocked = role.current.locked.has(instanceId)
  const runningHere = instance?.roleName === role.roleName && ACTIVE_STATES.has(instance.state)
  // An instance that stops again after running replaces its old tombstone with one covering its newer credentials.
  const existing = wasLocked && !runningHere ? undefined : role.current.tombstones.get(instanceId)
  const tombstone = existing && tombstoneOutcome(instanceId, instance, existing, runningHere, settings, now)
  const kept = tombstone ? [tombstone] : []
  if (instance && runningHere) {
    // A running instance is never refused its own path: it gets a live lock or none, and a tombstone it still
    // carries refuses only the credentials it had before it stopped or moved.
    if (!instance.optedIn) {
      return wasLocked ? [{ instanceId, outcome: 'released', reason: 'not opted in' }, ...kept] : kept
    }
    if (instance.egressIps === 'unknown') {
      const reason =
        instance.egressUnknownReason ??
        'its traffic to AWS leaves through a route whose egress address is unknown'
      return [{ instanceId, outcome: 'skipped', reason }, ...kept]
    }
    return [{ instanceId, outcome: 'locked', allowedFrom: allowedSources(instance) }, ...kept]
  }
  if (existing) return kept
  const why =
    instance === undefined
      ? 'gone from EC2'
      : ACTIVE_STATES.has(instance.state)
        ? 'moved to another role'
        : instance.state
  const refuseAll = instance === undefined || FINAL_STATES.has(instance.state)
  if (wasLocked) {
    const since = refuseAll ? bucketEnd(now, settings) : nextWholeSecond(now)
    return [
      { instanceId, outcome: 'tombstoned', since, issuedBefore: refuseAll ? undefined : since, reason: why },
    ]
  }
  const changedAt = instance?.stateChangedAt
  if (instance && instance.roleName === role.roleName && instance.optedIn && changedAt) {
    // Stopped before the controller ever locked it: its credentials may still be live.
    if (now.getTime() - changedAt.getTime() < settings.tombstoneRetentionMs) {
      const since = wholeSecond(changedAt)
      return [
        {
          instanceId,
          outcome: 'tombstoned',
          since,
          issuedBefore: refuseAll ? undefined : nextWholeSecond(now),
          reason: why,
        },
      ]
    }
  }
  return []
}

/** An existing tombstone: kept until the retention has passed, never refusing a running instance's fresh credentials. */
function tombstoneOutcome(
  instanceId: string,
  instance: InstanceFacts | undefined,
  existing: TombstoneEntry,
  runningHere: boolean,
  settings: LockSettings,
  now: Date,
): InstanceOutcome | undefined {
  if (now.getTime() - existing.since.getTime() >= settings.tombstoneRetentionMs) {
    return { instanceId, outcome: 'expired', reason: 'its old credentials have expired' }
  }
  let issuedBefore = existing.issuedBefore
  if (runningHere && issuedBefore === undefined) {
    // A tombstone refusing every credential (written before tombstones were dated by issue time, or for an
    // instance EC2 briefly did not list) on an instance that runs again: refuse only what came before its start.
    const launched = instance?.launchedAt ? wholeSecond(instance.launchedAt) : undefined
    issuedBefore = launched && launched < existing.since ? launched : existing.since
  }
  const reason = runningHere
    ? 'credentials from before it last stopped or moved'
    : (instance?.state ?? 'gone from EC2')
  return { instanceId, outcome: 'tombstoned', since: existing.since, issuedBefore, reason }
}

export function allowedSources(instance: InstanceFacts): AllowedSources {
  const egress = instance.egressIps === 'unknown' ? [] : instance.egressIps
  const privateCidrs = cidrSet(instance.privateIps, `Private address of ${instance.instanceId}`)
  if (privateCidrs.length === 0) {
    throw new InvalidFactsError(
      `Instance ${instance.instanceId} has no private address: EC2 always gives one.`,
    )
  }
  const otherVpcIds = [...new Set(instance.otherVpcIds ?? [])].sort()
  const primary = instance.primaryPrivateIpv4
  const onlyPrimary =
    primary !== undefined &&
    otherVpcIds.length === 0 &&
    privateCidrs.length === 1 &&
    privateCidrs[0] === cidrSet([primary], `Primary private address of ${instance.instanceId}`)[0]
  return {
    publicCidrs: cidrSet([...instance.publicIps, ...egress], `Public address of ${instance.instanceId}`),
    privateCidrs,
    onlyPrimary,
    otherVpcIds,
  }
}
