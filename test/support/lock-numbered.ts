/**
 * Numbered instances and functions on one role, for the lock-engine tests in test/policy/lock/ that need many
 * of a kind: instance n's ID, public address, facts and credential, a function in a VPC, deciding for them, and
 * the check that every Sid in the documents is one IAM accepts.
 */
import { expect } from 'vitest'
import {
  type CurrentLock,
  decideLock,
  type FunctionFacts,
  type InstanceFacts,
  type LockBudget,
  type LockDecision,
  type LockSettings,
} from '../../policy/lock/index.js'
import { ACCOUNT, APP_VPC, INLINE_ONLY, NO_LOCK, REGION, SETTINGS, T0 } from './lock-scene.js'
import type { FunctionCredentials, InstanceCredentials } from './simulate.js'

export { rolePolicies } from './lock-documents.js'

export const ROLE = 'app-server'
export const SECOND_VPC = 'vpc-0b1b2b3b4b5b6b7b8'
export const INSTANCE = 'i-0a1b2c3d4e5f60718'

export const idOf = (n: number) => `i-0a1b2c3d4e5f6${String(n).padStart(4, '0')}`
export const publicIpOf = (n: number) => `198.51.${100 + Math.floor(n / 200)}.${(n % 200) + 10}`

export function facts(n: number, change: Partial<InstanceFacts> = {}): InstanceFacts {
  return {
    instanceId: idOf(n),
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: [publicIpOf(n)],
    egressIps: [],
    privateIps: [`10.0.${Math.floor(n / 200)}.${(n % 200) + 10}`],
    ...change,
  }
}

export function decide(
  instances: readonly InstanceFacts[],
  options: {
    current?: CurrentLock
    budget?: LockBudget
    functions?: readonly FunctionFacts[]
    settings?: Partial<LockSettings>
    exemptActions?: readonly string[]
  } = {},
): LockDecision {
  return decideLock(
    {
      roleName: ROLE,
      instances,
      functions: options.functions,
      current: options.current ?? NO_LOCK,
      budget: options.budget ?? INLINE_ONLY,
      exemptActions: options.exemptActions,
    },
    { ...SETTINGS, ...options.settings },
    T0,
  )
}

export function credentialsOf(n: number, change: Partial<InstanceCredentials> = {}): InstanceCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: ROLE,
    instanceId: idOf(n),
    vpcId: APP_VPC,
    ...change,
  }
}

/** A function on the role, opted in, in a VPC behind one NAT address. */
export function fn(name: string, change: Partial<FunctionFacts> = {}): FunctionFacts {
  return {
    functionName: name,
    roleName: ROLE,
    optedIn: true,
    vpcId: APP_VPC,
    egressIps: ['198.51.100.200'],
    subnetCidrs: ['10.0.8.0/24'],
    ...change,
  }
}

export function fnCredentials(name: string, issuedAt?: Date): FunctionCredentials {
  return { accountId: ACCOUNT, region: REGION, roleName: ROLE, functionName: name, issuedAt }
}

export function statementsOf(decision: LockDecision): { Sid?: string; NotAction?: string[] }[][] {
  return decision.action === 'put' ? decision.documents.map((document) => JSON.parse(document).Statement) : []
}

/**
 * IAM accepts a Sid (optional) of ASCII letters and digits only, unique within its policy; anything else makes the write
 * fail as a malformed document, and the role's events end in the dead-letter queue.
 */
export function expectSidsIamAccepts(decision: LockDecision): void {
  const documents = statementsOf(decision)
  expect(documents.length).toBeGreaterThan(0)
  for (const statements of documents) {
    const sids = statements.flatMap((statement) => (statement.Sid === undefined ? [] : [statement.Sid]))
    expect(sids.filter((sid) => !/^[A-Za-z0-9]+$/.test(sid))).toEqual([])
    expect(new Set(sids).size).toBe(sids.length)
  }
}
