/** Judging each Lambda function a role names: like an instance, with no stopped state. */
import { cidrSet } from '../addresses.js'
import { InvalidFactsError } from '../errors.js'
import { assertFunctionName } from './arns.js'
import type {
  FunctionFacts,
  FunctionLock,
  FunctionOutcome,
  FunctionSources,
  FunctionsToLock,
  FunctionTombstone,
  LockedFunction,
  LockSettings,
  RoleFacts,
} from './facts.js'
import { nextWholeSecond } from './tombstones.js'

export const OUTSIDE_VPC_REASON =
  'it is not attached to a VPC, so the controller cannot know the address its calls leave from: lock it from ' +
  'inside with the in-function lockdown (docs/lambda-functions.md, "The in-function lockdown")'

export function judgeFunctions(role: RoleFacts, settings: LockSettings, now: Date) {
  const facts = new Map((role.functions ?? []).map((fn) => [fn.functionName, fn]))
  const current = role.current.functions ?? { locked: new Set<string>(), tombstones: new Map() }
  const names = new Set([
    ...[...facts.values()].filter((fn) => fn.roleName === role.roleName).map((fn) => fn.functionName),
    ...current.locked,
    ...current.tombstones.keys(),
  ])
  const locked: LockedFunction[] = []
  const tombstones: FunctionTombstone[] = []
  const functionOutcomes: FunctionOutcome[] = []
  for (const functionName of [...names].sort()) {
    assertFunctionName(functionName)
    const fn = facts.get(functionName)
    for (const outcome of judgeFunction(functionName, fn, role.roleName, current, settings, now)) {
      functionOutcomes.push(outcome)
      if (outcome.outcome === 'locked') locked.push({ functionName, allowedFrom: outcome.allowedFrom })
      if (outcome.outcome === 'tombstoned') tombstones.push(outcome)
    }
  }
  return { functions: { locked, tombstones } satisfies FunctionsToLock, functionOutcomes }
}

/**
 * Like an instance's, but a function has no stopped state: it is here (locked, released or skipped), gone, or
 * on another role. Its old credentials live on in warm environments after it is deleted or moved, so those are
 * refused by issue time; a function created again under the same name gets fresh credentials that work.
 */
function judgeFunction(
  functionName: string,
  fn: FunctionFacts | undefined,
  roleName: string,
  current: FunctionLock,
  settings: LockSettings,
  now: Date,
): FunctionOutcome[] {
  const wasLocked = current.locked.has(functionName)
  const here = fn?.roleName === roleName
  // A function locked again after an earlier tombstone gets a new one covering its newer credentials.
  const existing = wasLocked && !here ? undefined : current.tombstones.get(functionName)
  const kept: FunctionOutcome[] = []
  if (existing) {
    kept.push(
      now.getTime() - existing.since.getTime() >= settings.tombstoneRetentionMs
        ? { functionName, outcome: 'expired', reason: 'its old credentials have expired' }
        : {
            functionName,
            outcome: 'tombstoned',
            since: existing.since,
            issuedBefore: existing.issuedBefore ?? existing.since,
            reason: here
              ? 'credentials from before it was deleted or moved'
              : fn
                ? 'moved to another role'
                : 'deleted',
          },
    )
  }
  if (fn && here) {
    if (!fn.optedIn) {
      return wasLocked ? [{ functionName, outcome: 'released', reason: 'not opted in' }, ...kept] : kept
    }
    if (fn.vpcId === undefined)
      return [{ functionName, outcome: 'skipped', reason: OUTSIDE_VPC_REASON }, ...kept]
    if (fn.egressIps === 'unknown') {
      const reason =
        fn.egressUnknownReason ?? 'its traffic to AWS leaves through a route whose egress address is unknown'
      return [{ functionName, outcome: 'skipped', reason }, ...kept]
    }
    return [
      { functionName, outcome: 'locked', allowedFrom: functionSources(fn, fn.vpcId, fn.egressIps) },
      ...kept,
    ]
  }
  if (existing || !wasLocked) return kept
  const since = nextWholeSecond(now)
  const reason = fn ? 'moved to another role' : 'deleted'
  return [{ functionName, outcome: 'tombstoned', since, issuedBefore: since, reason }]
}

function functionSources(fn: FunctionFacts, vpcId: string, egressIps: readonly string[]): FunctionSources {
  const privateCidrs = cidrSet(fn.subnetCidrs, `Subnet CIDR of function ${fn.functionName}`)
  if (privateCidrs.length === 0) {
    throw new InvalidFactsError(
      `Function ${fn.functionName} is in VPC ${vpcId} but no subnet CIDR was given: pass its subnets' CIDRs.`,
    )
  }
  return {
    vpcId,
    publicCidrs: cidrSet(egressIps, `Egress address of function ${fn.functionName}`),
    privateCidrs,
  }
}
