/**
 * The account, region, clock and addresses the policy-engine tests share: one place, so every verdict test
 * speaks of the same world.
 */
import type { CurrentLock, InstanceFacts, LockBudget, LockSettings } from '../../policy/lock/index.js'
import type { InstanceCredentials, Verdict } from './simulate.js'

export const ACCOUNT = '123456789012'
export const REGION = 'us-east-1'
export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 3_600 * SECOND
/** The tombstone retention the tests run with: the controller's default. */
export const RETENTION = 12 * HOUR
export const SETTINGS: LockSettings = {
  partition: 'aws',
  region: REGION,
  accountId: ACCOUNT,
  tombstoneRetentionMs: RETENTION,
}
/** The moment every decision is taken at unless a test says otherwise. */
export const T0 = new Date('2025-06-02T08:00:00.000Z')
export const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs)

export const ALLOWED: Verdict = 'Allowed'
export const DENIED: Verdict = 'ExplicitlyDenied'

export const APP_VPC = 'vpc-0a1a2a3a4a5a6a7a8'
export const FOREIGN_VPC = 'vpc-0f1f2f3f4f5f6f7f8'
/** Where the thief uses stolen credentials from (documentation range). */
export const ATTACKER_V4 = '203.0.113.66'
export const NO_LOCK: CurrentLock = { locked: new Set(), tombstones: new Map() }
/** A role with no other inline policy and no managed policy allowed: the whole lock must fit inline. */
export const INLINE_ONLY: LockBudget = { otherInlineChars: 0, managedPolicies: 0 }

/** The credential `instance` of `roleName` in the app VPC carries (stolen or not), issued at `issuedAt`. */
export function instanceCredentials(
  roleName: string,
  instance: InstanceFacts,
  issuedAt?: Date,
): InstanceCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName,
    instanceId: instance.instanceId,
    vpcId: APP_VPC,
    privateIpv4: instance.primaryPrivateIpv4,
    issuedAt,
  }
}
