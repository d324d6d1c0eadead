import { LockTooLargeError } from '../errors.js'
import {
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
 * instances that do not fit are left unprotected (each says so) rather than a stale lock staying in place.
 */
export function decideLock(role: RoleFacts, settings: LockSettings, now: Date): LockDecision {
  const { locked, tombstones, outcomes } = judgeInstances(role, settings, now)
  const { functions, functionOutcomes } = judgeFunctions(role, settings, now)
  const noFunctions = functions.locked.length === 0 && functions.tombstones.length === 0
  if (locked.length === 0 && tombstones.length === 0 && noFunctions) {
    return { roleName: role.roleName, action: 'remove', instances: outcomes, functions: functionOutcomes }
  }
  const capacities = documentCapacities(role.budget)
  const render = (form: LockForm, instances: readonly LockedInstance[]) =>
    packDocuments(
      lockPlans(form, instances, tombstones, settings, role.exemptActions ?? [], functions),
      settings,
      capacities,
    )
  const putDecision = (form: LockForm, documents: readonly string[], instances: readonly InstanceOutcome[]) =>
    ({
      roleName: role.roleName,
      action: 'put',
      form,
      documents,
      chars: documents.map(policyChars),
      instances,
      functions: functionOutcomes,
    }) as const
  for (const form of ['precise', 'compact'] as const) {
    const documents = render(form, locked)
    if (documents) return putDecision(form, documents, outcomes)
  }
  // Keep as many instances locked as fit, in a stable order, and say which are not: a stale lock left in place
  // could refuse an instance's new address.
  const kept = largestFitting(
    locked.length - 1,
    (count) => render('compact', locked.slice(0, count)) !== undefined,
  )
  const documents = render('compact', locked.slice(0, kept))
  if (documents) {
    const left = new Set(locked.slice(kept).map((instance) => instance.instanceId))
    const reason =
      `the role's policy budget holds only ${kept} locked instances: move some to another role, ` +
      'or raise the managed-policy quota and the managedPolicyQuota setting'
    const marked = outcomes.map(
      (outcome): InstanceOutcome =>
        outcome.outcome === 'locked' && left.has(outcome.instanceId)
          ? { instanceId: outcome.instanceId, outcome: 'unprotected', reason }
          : outcome,
    )
    return kept === 0 && tombstones.length === 0 && noFunctions
      ? { roleName: role.roleName, action: 'remove', instances: marked, functions: functionOutcomes }
      : putDecision('compact', documents, marked)
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
