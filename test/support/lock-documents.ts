/**
 * What a role carries once the controller applied a lock decision, and the IAM verdicts (iam-simulate) asserted
 * on it: shared by the lock-engine scenes in test/support/lock-*.ts.
 */
import { expect } from 'vitest'
import { type CurrentLock, type LockDecision, lockPolicyName, readLock } from '../../policy/lock/index.js'
import { REGION } from './lock-scene.js'
import { ALLOW_ALL, type RolePolicy, type SimulatedRequest, type Verdict, verdict } from './simulate.js'

export function documentsOf(decision: LockDecision): readonly string[] {
  return decision.action === 'put' ? decision.documents : []
}

/** The role's policies once the decision is applied: an allow-all, its `others`, then the lock's documents. */
export function rolePolicies(decision: LockDecision, ...others: readonly RolePolicy[]): RolePolicy[] {
  return [
    ALLOW_ALL,
    ...others,
    ...documentsOf(decision).map((document, index) => ({
      name: index === 0 ? lockPolicyName(REGION) : `part-${index}`,
      document,
    })),
  ]
}

/** The lock a role carries after `decision`, as the next decision reads it back. */
export function carried(decision: LockDecision): CurrentLock {
  return readLock(documentsOf(decision))
}

export interface VerdictRow {
  readonly story: string
  readonly request: SimulatedRequest
  readonly expected: Verdict
}

/** Every row's verdict at once, so that a failure lists each story with what IAM answered. */
export async function expectVerdictsOn(
  policies: readonly RolePolicy[],
  rows: readonly VerdictRow[],
): Promise<void> {
  const got = []
  for (const row of rows) got.push({ story: row.story, verdict: await verdict(policies, row.request) })
  expect(got).toEqual(rows.map((row) => ({ story: row.story, verdict: row.expected })))
}
