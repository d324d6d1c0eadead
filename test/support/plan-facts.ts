/**
 * Hand-built facts for the plan's report (handlers/plan/plan-report.ts): one account, five instances, the
 * decision lines the controller logs and the outcomes in them, for the tests in test/plan/.
 */
import type { DecisionLine } from '../../handlers/aws/reconciler.js'
import type {
  EksCluster,
  PlanFacts,
  PlanInstance,
  PlanReport,
  RolePlan,
} from '../../handlers/plan/plan-report.js'

export const ACCOUNT = '123456789012'
export const REGION = 'eu-west-1'
export const LUKE = 'i-0a1b2c3d4e5f60001'
export const DANNY = 'i-0a1b2c3d4e5f60002'
export const MATT = 'i-0a1b2c3d4e5f60003'
export const TRISH = 'i-0a1b2c3d4e5f60004'
export const JESSICA = 'i-0a1b2c3d4e5f60005'
export const TRANSIT_REASON =
  'its traffic to AWS leaves through transit gateway tgw-0a1b2c3d4e5f60001, whose egress address is unknown'
export const PEERING_REASON =
  'its traffic to AWS leaves through peering connection pcx-0a1b2c3d4e5f60001, whose egress address is unknown'

export type Outcome = DecisionLine['instances'][number]

export function facts(overrides: Partial<PlanFacts>): PlanFacts {
  return {
    accountId: ACCOUNT,
    region: REGION,
    lockTag: { key: 'credential-lock', value: 'enabled' },
    everyInstanceOptedIn: false,
    decisions: [],
    failures: [],
    instances: [],
    clusters: [],
    otherInlineChars: new Map(),
    ...overrides,
  }
}

export function decision(roleName: string, line: Partial<DecisionLine> = {}): DecisionLine {
  return {
    roleName,
    action: 'put',
    form: 'precise',
    policyChars: 1_234,
    managedPolicies: 0,
    dryRun: true,
    reason: '1 locked',
    eventIds: ['plan'],
    instances: [],
    functions: [],
    ...line,
  }
}

export function locked(
  instanceId: string,
  publicCidrs: readonly string[] = ['198.51.100.7/32'],
  privateCidrs: readonly string[] = ['10.0.1.10/32'],
): Outcome {
  return {
    instanceId,
    outcome: 'locked',
    publicCidrs,
    privateCidrs,
    onlyPrimary: true,
    otherVpcIds: [],
  }
}

export function skipped(instanceId: string, reason = TRANSIT_REASON): Outcome {
  return { instanceId, outcome: 'skipped', reason }
}

export function tombstoned(instanceId: string): Outcome {
  return {
    instanceId,
    outcome: 'tombstoned',
    since: '2026-11-25T11:00:00.000Z',
    issuedBefore: '2026-11-25T11:00:00.000Z',
    reason: 'stopped',
  }
}

/** A running, opted-in instance on `roleName` that requires IMDSv2 and belongs to no EKS cluster. */
export function instance(
  instanceId: string,
  roleName: string | undefined,
  overrides: Partial<PlanInstance> = {},
) {
  return {
    instanceId,
    roleName,
    running: true,
    optedIn: true,
    imdsV1Allowed: false,
    eksClusterName: undefined,
    ...overrides,
  } satisfies PlanInstance
}

export function cluster(overrides: Partial<EksCluster> = {}): EksCluster {
  return {
    clusterName: 'avengers',
    publicEndpoint: true,
    publicAccessCidrs: [],
    nodeRoleNames: [],
    ...overrides,
  }
}

export function roleOf(report: PlanReport, roleName: string): RolePlan {
  const role = report.roles.find((candidate) => candidate.roleName === roleName)
  if (!role) throw new Error(`the plan has no role ${roleName}`)
  return role
}
