/**
 * Functions on one role, for the lock-engine tests in test/policy/lock/: a tagged function in a VPC behind a
 * NAT, an untagged one whose name extends it, one outside any VPC, and an instance beside them; deciding for
 * them, and asserting IAM verdicts for an execution-role credential (lambda:SourceFunctionArn, no EC2 key).
 */

import {
  type CurrentLock,
  decideLock,
  type FunctionFacts,
  type InstanceFacts,
  type LockDecision,
} from '../../policy/lock/index.js'
import { expectVerdictsOn, rolePolicies, type VerdictRow } from './lock-documents.js'
import { ACCOUNT, APP_VPC, NO_LOCK, REGION, SETTINGS, T0 } from './lock-scene.js'
import type { ApiCall, FunctionCredentials, InstanceCredentials } from './simulate.js'

export { carried, documentsOf, type VerdictRow } from './lock-documents.js'

export const ROLE = 'defenders'
export const OTHER_ROLE = 'defenders-next'
export const NAT = '198.51.100.200'
/** An address Lambda's own service calls come from (documentation range, not a real one). */
export const LAMBDA_SERVICE_IP = '192.0.2.80'
export const SUBNET_A = '10.0.2.0/24'
export const SUBNET_B = '10.0.3.0/24'
/** An ENI address of the function in its subnet. */
export const FUNCTION_ENI = '10.0.2.57'

/** Tagged, in two private subnets behind one NAT gateway. */
export const REPORTER: FunctionFacts = {
  functionName: 'reporter',
  roleName: ROLE,
  optedIn: true,
  vpcId: APP_VPC,
  egressIps: [NAT],
  subnetCidrs: [SUBNET_B, SUBNET_A],
}
/** Same role, not tagged: never touched. Its name starts like the tagged one's. */
export const REPORTER_DRAFT: FunctionFacts = { ...REPORTER, functionName: 'reporter-draft', optedIn: false }
/** Tagged but not in a VPC: the controller cannot pin it. */
export const WEBHOOK: FunctionFacts = {
  functionName: 'webhook',
  roleName: ROLE,
  optedIn: true,
  vpcId: undefined,
  egressIps: [],
  subnetCidrs: [],
}

/** An instance on the same role with a public address of its own. */
export const LUKE: InstanceFacts = {
  instanceId: 'i-0a1b2c3d4e5f60718',
  state: 'running',
  roleName: ROLE,
  optedIn: true,
  publicIps: ['198.51.100.10'],
  egressIps: [],
  privateIps: ['10.0.1.10'],
  primaryPrivateIpv4: '10.0.1.10',
}

export const LAMBDA_CALLS: readonly ApiCall[] = [
  {
    action: 'logs:CreateLogGroup',
    resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/reporter`,
  },
  {
    action: 'logs:CreateLogStream',
    resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/reporter:log-stream:x`,
  },
  {
    action: 'logs:PutLogEvents',
    resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/reporter:log-stream:x`,
  },
  { action: 'xray:PutTraceSegments', resource: '*' },
  {
    action: 'elasticfilesystem:ClientMount',
    resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-0123456789abcdef0`,
  },
]
/** Neighbours of the exempt actions a thief would want: a widened exemption lets them through. */
export const NOT_EXEMPT: readonly ApiCall[] = [
  {
    action: 'logs:GetLogEvents',
    resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/reporter:log-stream:x`,
  },
  {
    action: 'logs:DeleteLogGroup',
    resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/reporter`,
  },
  { action: 'xray:GetTraceSummaries', resource: '*' },
  {
    action: 'elasticfilesystem:ClientWrite',
    resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-0123456789abcdef0`,
  },
]

export interface Situation {
  readonly functions: readonly FunctionFacts[]
  readonly instances?: readonly InstanceFacts[]
  readonly current?: CurrentLock
  readonly now?: Date
  readonly roleName?: string
  readonly exemptActions?: readonly string[]
}

export function decide(situation: Situation): LockDecision {
  return decideLock(
    {
      roleName: situation.roleName ?? ROLE,
      instances: situation.instances ?? [],
      functions: situation.functions,
      current: situation.current ?? NO_LOCK,
      budget: { otherInlineChars: 0, managedPolicies: 0 },
      exemptActions: situation.exemptActions,
    },
    SETTINGS,
    situation.now ?? T0,
  )
}

export function credentialsOf(fn: FunctionFacts, issuedAt?: Date): FunctionCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: fn.roleName,
    functionName: fn.functionName,
    issuedAt,
  }
}

export function instanceCredentials(instance: InstanceFacts): InstanceCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: ROLE,
    instanceId: instance.instanceId,
    vpcId: APP_VPC,
    privateIpv4: instance.primaryPrivateIpv4,
  }
}

export async function expectVerdicts(decision: LockDecision, rows: readonly VerdictRow[]): Promise<void> {
  await expectVerdictsOn(rolePolicies(decision), rows)
}
