/**
 * A role with a fleet on it, for the lock-engine tests in test/policy/lock/: a public web server, workers behind
 * a NAT gateway, an IPv6-only host, an EKS-style node and a bystander that never opted in; deciding for them, and
 * asserting what IAM (as modelled by @cloud-copilot/iam-simulate) answers once the role carries the decision
 * beside an allow-all and a foreign inline policy.
 */

import {
  type CurrentLock,
  decideLock,
  type InstanceFacts,
  type InstanceOutcome,
  type LockBudget,
  type LockDecision,
  type LockSettings,
  policyChars,
} from '../../policy/lock/index.js'
import { expectVerdictsOn, rolePolicies as rolePoliciesWith, type VerdictRow } from './lock-documents.js'
import { ACCOUNT, APP_VPC, NO_LOCK, REGION, SETTINGS, T0 } from './lock-scene.js'
import type { ApiCall, InstanceCredentials, RolePolicy } from './simulate.js'

export { carried, type VerdictRow } from './lock-documents.js'

export const ROLE = 'app-server'
export const issued = (time: Date) => ({ 'aws:TokenIssueTime': time.toISOString() })

export const DATA_VPC = 'vpc-0d1d2d3d4d5d6d7d8'
export const SHARED_ENDPOINT = 'vpce-0123456789abcdef1'
export const ATTACKER_V6 = '2001:db8::66'
export const NAT_1 = '198.51.100.200'
export const NAT_2 = '198.51.100.201'
/** A service's own address, as seen on a forward-access-session call (documentation range, not a real one). */
export const SERVICE_IP = '192.0.2.50'

/** A role's other inline policy: the controller must leave it alone and count its size. */
export const FOREIGN_POLICY: RolePolicy = {
  name: 'app-server-data',
  document: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'NeverDeleteBuckets', Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }],
  }),
}

/** IAM-authenticated services reached inside the VPC: no VPC keys, aws:SourceIp is the private address. */
export const IN_VPC_SERVICES: readonly ApiCall[] = [
  { action: 'rds-db:connect', resource: `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-ABCDEFGHIJKL/app` },
  {
    action: 'elasticfilesystem:ClientMount',
    resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-0123456789abcdef0`,
  },
  {
    action: 'kafka-cluster:Connect',
    resource: `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/events/abcd1234-ab12`,
  },
  { action: 'dax:GetItem', resource: `arn:aws:dax:${REGION}:${ACCOUNT}:cache/sessions` },
  { action: 'neptune-db:connect', resource: `arn:aws:neptune-db:${REGION}:${ACCOUNT}:cluster-ABCDEFGHIJ/*` },
  { action: 'es:ESHttpGet', resource: `arn:aws:es:${REGION}:${ACCOUNT}:domain/search/*` },
]

export interface Machine {
  readonly facts: InstanceFacts
  readonly vpcId: string
}

/** Public subnet: an auto-assigned IPv4 on eth0, an Elastic IP on eth1, an IPv6 on each: listed explicitly. */
export const WEB: Machine = {
  vpcId: APP_VPC,
  facts: {
    instanceId: 'i-0a1b2c3d4e5f60718',
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: ['198.51.100.10', '198.51.100.11', '2001:db8:10::10', '2001:db8:10:1::11'],
    egressIps: [],
    privateIps: ['10.0.1.10', '10.0.1.11', '2001:db8:10::10', '2001:db8:10:1::11'],
    primaryPrivateIpv4: '10.0.1.10',
  },
}

/** Private subnet behind a NAT gateway with two addresses; only its primary IPv4: the lock uses IAM's variable. */
export function worker(n: number, change: Partial<InstanceFacts> = {}): Machine {
  const address = `10.0.${2 + (n >> 8)}.${n & 255}`
  return {
    vpcId: APP_VPC,
    facts: {
      instanceId: `i-0f9e8d7c6b5a${n.toString(16).padStart(5, '0')}`,
      state: 'running',
      roleName: ROLE,
      optedIn: true,
      publicIps: [],
      egressIps: [NAT_1, NAT_2],
      privateIps: [address],
      primaryPrivateIpv4: address,
      ...change,
    },
  }
}
export const WORKER = worker(20)
export const WORKER_2 = worker(21)

/** IPv6-only subnet: its IPv6 goes out itself (egress-only gateway), IPv4 through NAT64 on the NAT gateway. */
export const V6_ONLY: Machine = {
  vpcId: APP_VPC,
  facts: {
    instanceId: 'i-0b6b6b6b6b6b6b6b6',
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: ['2001:db8:60::6'],
    egressIps: [NAT_1],
    privateIps: ['2001:db8:60::6'],
    primaryPrivateIpv4: undefined,
  },
}

/** An EKS-style node: pods on secondary addresses and a delegated prefix, a second interface in another VPC. */
export const NODE: Machine = {
  vpcId: APP_VPC,
  facts: {
    instanceId: 'i-0e0e0e0e0e0e0e0e0',
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: [],
    egressIps: [NAT_1, NAT_2],
    privateIps: ['10.0.3.10', '10.0.3.11', '10.0.3.48/28', '10.9.0.10'],
    primaryPrivateIpv4: '10.0.3.10',
    otherVpcIds: [DATA_VPC],
  },
}

/** Same role, not opted in: the lock must not touch it. */
export const BYSTANDER: Machine = {
  vpcId: APP_VPC,
  facts: {
    instanceId: 'i-0c0ffee0c0ffee012',
    state: 'running',
    roleName: ROLE,
    optedIn: false,
    publicIps: ['198.51.100.30'],
    egressIps: [],
    privateIps: ['10.0.1.30'],
    primaryPrivateIpv4: '10.0.1.30',
  },
}

export const INLINE_ONLY: LockBudget = {
  otherInlineChars: policyChars(FOREIGN_POLICY.document as string),
  managedPolicies: 0,
}
export const ROOMY: LockBudget = { otherInlineChars: 0, managedPolicies: 10 }

/** The credential an instance's role session carries (stolen or not). */
export function credentials(machine: Machine): InstanceCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: ROLE,
    instanceId: machine.facts.instanceId,
    vpcId: machine.vpcId,
    privateIpv4: machine.facts.primaryPrivateIpv4,
  }
}

export interface Situation {
  readonly instances: readonly InstanceFacts[]
  readonly current?: CurrentLock
  readonly now?: Date
  readonly budget?: LockBudget
  readonly settings?: Partial<LockSettings>
  readonly exemptActions?: readonly string[]
}

export function decide(situation: Situation): LockDecision {
  return decideLock(
    {
      roleName: ROLE,
      instances: situation.instances,
      current: situation.current ?? NO_LOCK,
      budget: situation.budget ?? INLINE_ONLY,
      exemptActions: situation.exemptActions,
    },
    { ...SETTINGS, ...situation.settings },
    situation.now ?? T0,
  )
}

export type PutDecision = Extract<LockDecision, { action: 'put' }>

export function put(decision: LockDecision): PutDecision {
  if (decision.action !== 'put') throw new Error(`expected a put decision, got ${JSON.stringify(decision)}`)
  return decision
}

/** What the role carries after the controller applied the decision: its foreign policy too. */
export function rolePolicies(decision: LockDecision): RolePolicy[] {
  return rolePoliciesWith(decision, FOREIGN_POLICY)
}

export function outcomesOf(decision: LockDecision, instanceId: string): InstanceOutcome[] {
  return decision.instances.filter((outcome) => outcome.instanceId === instanceId)
}

export async function expectVerdicts(decision: LockDecision, rows: readonly VerdictRow[]): Promise<void> {
  await expectVerdictsOn(rolePolicies(decision), rows)
}

export const web = credentials(WEB)
export const workerCredentials = credentials(WORKER)
export const worker2 = credentials(WORKER_2)
export const v6Only = credentials(V6_ONLY)
export const node = credentials(NODE)
export const bystander = credentials(BYSTANDER)
export const LIVE = [WEB.facts, WORKER.facts, WORKER_2.facts, V6_ONLY.facts, NODE.facts, BYSTANDER.facts]
