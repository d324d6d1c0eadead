/**
 * A large fleet on one role behind one NAT gateway, and what one launch or termination in it costs in IAM writes:
 * shared by the stable-parts tests and `npm run bench`.
 */
import {
  type CurrentLock,
  decideLock,
  type FunctionFacts,
  type InstanceFacts,
  type LockBudget,
  type LockDecision,
  readLock,
  readPlacement,
} from '../../policy/lock/index.js'

import { SETTINGS, T0 } from './lock-scene.js'

export { documentsOf } from './lock-documents.js'

export const FLEET_ROLE = 'fleet'
export const FLEET_NAT = '198.51.100.7'
/** Ten managed policies beyond the inline one: IAM's default quota. */
export const ROOMY: LockBudget = { otherInlineChars: 0, managedPolicies: 10 }

/** Worker `n` of the fleet: a private address of its own, calls to AWS through the NAT gateway. */
export function worker(n: number, state: InstanceFacts['state'] = 'running'): InstanceFacts {
  const address = `10.0.${16 + (n >> 8)}.${n & 255}`
  return {
    instanceId: `i-0f9e8d7c6b5a${n.toString(16).padStart(5, '0')}`,
    state,
    roleName: FLEET_ROLE,
    optedIn: true,
    publicIps: [],
    egressIps: [FLEET_NAT],
    privateIps: [address],
    primaryPrivateIpv4: address,
  }
}

/** Workers 2, 4, ... 2 × count: an odd worker launched later sorts into the middle of the fleet. */
export function evenFleet(count: number): InstanceFacts[] {
  return Array.from({ length: count }, (_, n) => worker(2 * (n + 1)))
}

/** The lock the role carries after `documents`, as the controller reads it back, placement included. */
function carriedWithPlacement(documents: readonly string[]): CurrentLock {
  return { ...readLock(documents), placement: readPlacement(documents) }
}

export interface FleetDecision {
  readonly budget?: LockBudget
  readonly functions?: readonly FunctionFacts[]
  readonly now?: Date
  /** Pack afresh, as the controller did before issue 21, instead of keeping each worker's document. @default true */
  readonly keepPlacement?: boolean
}

export function decideFleet(
  instances: readonly InstanceFacts[],
  documents: readonly string[],
  options: FleetDecision = {},
): LockDecision {
  const current = carriedWithPlacement(documents)
  return decideLock(
    {
      roleName: FLEET_ROLE,
      instances,
      functions: options.functions,
      current: options.keepPlacement === false ? { ...current, placement: undefined } : current,
      budget: options.budget ?? ROOMY,
    },
    SETTINGS,
    options.now ?? T0,
  )
}

/**
 * IAM write calls the controller makes to go from `before` to `after`: PutRolePolicy or DeleteRolePolicy for the
 * inline policy; CreatePolicyVersion and DeletePolicyVersion for a changed part; CreatePolicy and AttachRolePolicy
 * for a new one; DetachRolePolicy, DeletePolicyVersion and DeletePolicy for one no longer needed.
 */
export function writesBetween(before: readonly string[], after: readonly string[]): number {
  let writes = before[0] === after[0] ? 0 : 1
  for (let index = 1; index < Math.max(before.length, after.length); index++) {
    if (before[index] === after[index]) continue
    writes += before[index] === undefined ? 2 : after[index] === undefined ? 3 : 2
  }
  return writes
}
