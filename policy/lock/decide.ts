import { LockTooLargeError } from '../errors.js'
import {
  type FunctionOutcome,
  INLINE_POLICY_BUDGET,
  type InstanceOutcome,
  type LockDecision,
  type LockedInstance,
  type LockForm,
  type LockSettings,
  type RoleFacts,
} from './facts.js'
import { judgeFunctions } from './judge-functions.js'
import { judgeInstances } from './judge-instances.js'
import { documentCapacities, largestFitting, packDocuments, policyChars } from './pack.js'
import { lockPlans } from './statements.js'

/**
 * Decides the policies the controller owns on a role: a per-instance ("precise") lock when it fits the budget,
 * else a role-wide ("compact") one that still refuses every outside address. When even that does not fit, the
 * instances and functions that do not fit are left unprotected (each says so) rather than a stale lock staying
 * in place.
 */
export function decideLock(role: RoleFacts, settings: LockSettings, now: Date): LockDecision {
  const { locked, tombstones, outcomes } = judgeInstances(role, settings, now)
  const { functions, functionOutcomes } = judgeFunctions(role, settings, now)
  const noFunctions = functions.locked.length === 0 && functions.tombstones.length === 0
  if (locked.length === 0 && tombstones.length === 0 && noFunctions) {
    return { roleName: role.roleName, action: 'remove', instances: outcomes, functions: functionOutcomes }
  }
  const capacities = documentCapacities(role.budget)
  const render = (form: LockForm, instances: readonly LockedInstance[], lockedFunctions = functions) =>
    packDocuments(
      lockPlans(form, instances, tombstones, settings, role.exemptActions ?? [], lockedFunctions),
      settings,
      capacities,
      role.current.placement,
    )
  const putDecision = (
    form: LockForm,
    documents: readonly string[],
    instances: readonly InstanceOutcome[],
    functionsDecided: readonly FunctionOutcome[] = functionOutcomes,
  ) =>
    ({
      roleName: role.roleName,
      action: 'put',
      form,
      documents,
      chars: documents.map(policyChars),
      instances,
      functions: functionsDecided,
    }) as const
  for (const form of ['precise', 'compact'] as const) {
    const documents = render(form, locked)
    if (documents) return putDecision(form, documents, outcomes)
  }
  // Keep as many instances, then functions, locked as fit, in a stable order, and say which are not: a stale
  // lock left in place could refuse an instance's new address. Functions give way first.
  const units = locked.length + functions.locked.length
  const renderFirst = (count: number) =>
    render('compact', locked.slice(0, count), {
      locked: functions.locked.slice(0, Math.max(0, count - locked.length)),
      tombstones: functions.tombstones,
    })
  const kept = largestFitting(units - 1, (count) => renderFirst(count) !== undefined)
  const documents = renderFirst(kept)
  if (documents) {
    const keptInstances = Math.min(kept, locked.length)
    const keptFunctions = kept - keptInstances
    const leftInstances = new Set(locked.slice(keptInstances).map((instance) => instance.instanceId))
    const leftFunctions = new Set(functions.locked.slice(keptFunctions).map((fn) => fn.functionName))
    const held =
      functions.locked.length === 0
        ? `${keptInstances} locked instances`
        : `${keptInstances} locked instances and ${keptFunctions} locked functions`
    const reason =
      `the role's policy budget holds only ${held}: move some to another role, ` +
      'or raise the managed-policy quota and the managedPolicyQuota setting'
    const marked = outcomes.map(
      (outcome): InstanceOutcome =>
        outcome.outcome === 'locked' && leftInstances.has(outcome.instanceId)
          ? { instanceId: outcome.instanceId, outcome: 'unprotected', reason }
          : outcome,
    )
    const markedFunctions = functionOutcomes.map(
      (outcome): FunctionOutcome =>
        outcome.outcome === 'locked' && leftFunctions.has(outcome.functionName)
          ? { functionName: outcome.functionName, outcome: 'unprotected', reason }
          : outcome,
    )
    return kept === 0 && tombstones.length === 0 && functions.tombstones.length === 0
      ? { roleName: role.roleName, action: 'remove', instances: marked, functions: markedFunctions }
      : putDecision('compact', documents, marked, markedFunctions)
  }
  // What the tombstones and functions need with no instance kept, packed as they would be written, unbounded.
  const tombstoneDocuments = packDocuments(
    lockPlans('compact', [], tombstones, settings, role.exemptActions ?? [], functions),
    settings,
    [Number.POSITIVE_INFINITY],
  )
  throw new LockTooLargeError(
    role.roleName,
    (tombstoneDocuments ?? []).reduce((sum, document) => sum + policyChars(document), 0),
    role.budget.otherInlineChars,
    INLINE_POLICY_BUDGET,
  )
}
