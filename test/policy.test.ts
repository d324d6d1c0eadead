/**
 * The policy engine, proven with IAM verdicts: every expectation below is what IAM (as modelled by
 * @cloud-copilot/iam-simulate) answers for a request signed with an instance's role credential, when the role
 * carries the documents decideLock returned, an ordinary allow-all policy and a foreign inline policy.
 * Everything is computed inside the tests, never at module load.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError, LockTooLargeError } from '../policy/errors.js'
import {
  type CurrentLock,
  decideLock,
  INLINE_POLICY_BUDGET,
  type InstanceFacts,
  type InstanceOutcome,
  instanceArn,
  isCompactLock,
  isOptedIn,
  type LockBudget,
  type LockDecision,
  type LockSettings,
  lockPolicyName,
  MANAGED_POLICY_BUDGET,
  policyChars,
  readLock,
  type TombstoneEntry,
} from '../policy/lock/index.js'
import {
  ACCOUNT,
  ALLOWED,
  APP_VPC,
  ATTACKER_V4,
  at,
  DENIED,
  FOREIGN_VPC,
  HOUR,
  MINUTE,
  NO_LOCK,
  REGION,
  RETENTION,
  SECOND,
  SETTINGS,
  T0,
} from './support/lock-scene.js'
import {
  ALLOW_ALL,
  type ApiCall,
  fromPublicIp,
  GET_CALLER_IDENTITY,
  GET_OBJECT,
  type InstanceCredentials,
  LIST_ROLES,
  type RolePolicy,
  roleSessionFromPublicIp,
  type SimulatedRequest,
  throughEndpoint,
  type Verdict,
  verdict,
  viaAwsService,
  withContext,
  withoutContext,
} from './support/simulate.js'

// ---------------------------------------------------------------------------------------------------------
// Shared facts: one account, one region, one role with instances on it.
// ---------------------------------------------------------------------------------------------------------

const ROLE = 'app-server'
const issued = (time: Date) => ({ 'aws:TokenIssueTime': time.toISOString() })

const DATA_VPC = 'vpc-0d1d2d3d4d5d6d7d8'
const SHARED_ENDPOINT = 'vpce-0123456789abcdef1'
const ATTACKER_V6 = '2001:db8::66'
const NAT_1 = '198.51.100.200'
const NAT_2 = '198.51.100.201'
/** A service's own address, as seen on a forward-access-session call (documentation range, not a real one). */
const SERVICE_IP = '192.0.2.50'

/** A role's other inline policy: the controller must leave it alone and count its size. */
const FOREIGN_POLICY: RolePolicy = {
  name: 'app-server-data',
  document: JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'NeverDeleteBuckets', Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }],
  }),
}

/** IAM-authenticated services reached inside the VPC: no VPC keys, aws:SourceIp is the private address. */
const IN_VPC_SERVICES: readonly ApiCall[] = [
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

interface Machine {
  readonly facts: InstanceFacts
  readonly vpcId: string
}

/** Public subnet: an auto-assigned IPv4 on eth0, an Elastic IP on eth1, an IPv6 on each: listed explicitly. */
const WEB: Machine = {
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
function worker(n: number, change: Partial<InstanceFacts> = {}): Machine {
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
const WORKER = worker(20)
const WORKER_2 = worker(21)

/** IPv6-only subnet: its IPv6 goes out itself (egress-only gateway), IPv4 through NAT64 on the NAT gateway. */
const V6_ONLY: Machine = {
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
const NODE: Machine = {
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
const BYSTANDER: Machine = {
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

const INLINE_ONLY: LockBudget = {
  otherInlineChars: policyChars(FOREIGN_POLICY.document as string),
  managedPolicies: 0,
}
const ROOMY: LockBudget = { otherInlineChars: 0, managedPolicies: 10 }

/** The credential an instance's role session carries (stolen or not). */
function credentials(machine: Machine): InstanceCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: ROLE,
    instanceId: machine.facts.instanceId,
    vpcId: machine.vpcId,
    privateIpv4: machine.facts.primaryPrivateIpv4,
  }
}

interface Situation {
  readonly instances: readonly InstanceFacts[]
  readonly current?: CurrentLock
  readonly now?: Date
  readonly budget?: LockBudget
  readonly settings?: Partial<LockSettings>
  readonly exemptActions?: readonly string[]
}

function decide(situation: Situation): LockDecision {
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

type PutDecision = Extract<LockDecision, { action: 'put' }>

function put(decision: LockDecision): PutDecision {
  if (decision.action !== 'put') throw new Error(`expected a put decision, got ${JSON.stringify(decision)}`)
  return decision
}

/** What the role carries after the controller applied the decision. */
function rolePolicies(decision: LockDecision): RolePolicy[] {
  const own = decision.action === 'put' ? decision.documents : []
  return [
    ALLOW_ALL,
    FOREIGN_POLICY,
    ...own.map((document, index) => ({
      name: index === 0 ? lockPolicyName(REGION) : `part-${index}`,
      document,
    })),
  ]
}

function outcomesOf(decision: LockDecision, instanceId: string): InstanceOutcome[] {
  return decision.instances.filter((outcome) => outcome.instanceId === instanceId)
}

/** The lock a role carries after `decision`, as the next decision reads it back. */
function carried(decision: LockDecision): CurrentLock {
  return readLock(decision.action === 'put' ? decision.documents : [])
}

interface VerdictRow {
  readonly story: string
  readonly request: SimulatedRequest
  readonly expected: Verdict
}

async function expectVerdicts(decision: LockDecision, rows: readonly VerdictRow[]): Promise<void> {
  const policies = rolePolicies(decision)
  const got = []
  for (const row of rows) got.push({ story: row.story, verdict: await verdict(policies, row.request) })
  expect(got).toEqual(rows.map((row) => ({ story: row.story, verdict: row.expected })))
}

const web = credentials(WEB)
const workerCredentials = credentials(WORKER)
const worker2 = credentials(WORKER_2)
const v6Only = credentials(V6_ONLY)
const node = credentials(NODE)
const bystander = credentials(BYSTANDER)
const LIVE = [WEB.facts, WORKER.facts, WORKER_2.facts, V6_ONLY.facts, NODE.facts, BYSTANDER.facts]

// ---------------------------------------------------------------------------------------------------------
// The live lock.
// ---------------------------------------------------------------------------------------------------------

/** What must hold in both forms: every legitimate path allowed, every outside one refused. */
function legitimateAndOutside(): VerdictRow[] {
  return [
    // Its own addresses on the public path, IPv4 and IPv6, on every network interface.
    { story: 'web from its own IPv4', request: fromPublicIp(web, '198.51.100.10'), expected: ALLOWED },
    {
      story: 'web from its Elastic IP on eth1',
      request: fromPublicIp(web, '198.51.100.11'),
      expected: ALLOWED,
    },
    { story: 'web from its own IPv6', request: fromPublicIp(web, '2001:db8:10:1::11'), expected: ALLOWED },
    {
      story: 'worker through NAT address 1',
      request: fromPublicIp(workerCredentials, NAT_1),
      expected: ALLOWED,
    },
    {
      story: 'worker through NAT address 2',
      request: fromPublicIp(workerCredentials, NAT_2),
      expected: ALLOWED,
    },
    {
      story: 'IPv6-only host from its IPv6',
      request: fromPublicIp(v6Only, '2001:db8:60::6'),
      expected: ALLOWED,
    },
    { story: 'IPv6-only host through NAT64', request: fromPublicIp(v6Only, NAT_1), expected: ALLOWED },
    { story: 'node through its NAT', request: fromPublicIp(node, NAT_2), expected: ALLOWED },
    // VPC endpoints of its own VPC, from its own private addresses.
    {
      story: 'web through an endpoint from its private IPv4',
      request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.11' }),
      expected: ALLOWED,
    },
    {
      story: 'web through an endpoint from its IPv6',
      request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '2001:db8:10::10' }),
      expected: ALLOWED,
    },
    {
      story: 'worker through an endpoint from its primary IPv4',
      request: throughEndpoint(workerCredentials, { vpc: APP_VPC, privateIp: '10.0.2.20' }),
      expected: ALLOWED,
    },
    {
      story: 'a pod on the node through an endpoint from its delegated prefix',
      request: throughEndpoint(node, { vpc: APP_VPC, privateIp: '10.0.3.50' }),
      expected: ALLOWED,
    },
    {
      story: 'the node through an endpoint of the VPC its second interface is in',
      request: throughEndpoint(node, { vpc: DATA_VPC, privateIp: '10.9.0.10' }),
      expected: ALLOWED,
    },
    // Services acting with its credential.
    { story: 'web via an AWS service', request: viaAwsService(web, SERVICE_IP), expected: ALLOWED },
    {
      story: 'worker via an AWS service',
      request: viaAwsService(workerCredentials, SERVICE_IP),
      expected: ALLOWED,
    },
    // The thief.
    {
      story: 'web credentials from outside (IPv4)',
      request: fromPublicIp(web, ATTACKER_V4),
      expected: DENIED,
    },
    {
      story: 'web credentials from outside (IPv6)',
      request: fromPublicIp(web, ATTACKER_V6),
      expected: DENIED,
    },
    {
      story: 'worker credentials from outside',
      request: fromPublicIp(workerCredentials, ATTACKER_V4),
      expected: DENIED,
    },
    {
      story: 'IPv6-only credentials from outside',
      request: fromPublicIp(v6Only, ATTACKER_V6),
      expected: DENIED,
    },
    { story: 'node credentials from outside', request: fromPublicIp(node, ATTACKER_V4), expected: DENIED },
    {
      story: 'outside, on a path where AWS sets no aws:ViaAWSService',
      request: withoutContext(fromPublicIp(workerCredentials, ATTACKER_V4), 'aws:ViaAWSService'),
      expected: DENIED,
    },
    {
      story: 'an action with only * as resource, from outside',
      request: fromPublicIp(web, ATTACKER_V4, LIST_ROLES),
      expected: DENIED,
    },
    {
      story: 'web credentials through an endpoint in the thief’s VPC, with web’s own private IP',
      request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' }),
      expected: DENIED,
    },
    {
      story: 'worker credentials through an endpoint in the thief’s VPC, with its primary IP',
      request: throughEndpoint(workerCredentials, { vpc: FOREIGN_VPC, privateIp: '10.0.2.20' }),
      expected: DENIED,
    },
    {
      story: 'worker credentials through its own VPC’s endpoint from another host',
      request: throughEndpoint(workerCredentials, { vpc: APP_VPC, privateIp: '10.0.2.99' }),
      expected: DENIED,
    },
    {
      story: 'a fleet sibling’s credentials through the endpoint from the worker’s address',
      request: throughEndpoint(worker2, { vpc: APP_VPC, privateIp: '10.0.2.20' }),
      expected: DENIED,
    },
    {
      story: 'a fleet sibling through the same NAT',
      request: fromPublicIp(worker2, NAT_2),
      expected: ALLOWED,
    },
    {
      story: 'node credentials through an endpoint of the second VPC from an address not its own',
      request: throughEndpoint(node, { vpc: DATA_VPC, privateIp: '10.9.0.99' }),
      expected: DENIED,
    },
    {
      story: 'a shared-services endpoint not declared trusted',
      request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10', vpce: SHARED_ENDPOINT }),
      expected: DENIED,
    },
    // The sibling that did not opt in is untouched.
    { story: 'bystander from anywhere', request: fromPublicIp(bystander, ATTACKER_V4), expected: ALLOWED },
    {
      story: 'bystander through a foreign endpoint',
      request: throughEndpoint(bystander, { vpc: FOREIGN_VPC, privateIp: '10.0.1.30' }),
      expected: ALLOWED,
    },
  ]
}

/** Where the two forms differ: the precise one refuses a sibling's addresses, the compact one allows them. */
function siblingRows(expected: Verdict): VerdictRow[] {
  return [
    { story: 'web credentials from the worker NAT', request: fromPublicIp(web, NAT_1), expected },
    {
      story: 'node credentials from web’s public IP',
      request: fromPublicIp(node, '198.51.100.10'),
      expected,
    },
  ]
}

describe('live lock: running opted-in instances', () => {
  it('is precise when the budget allows: every legitimate path allowed, every outside one refused', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE }))

    // Assess
    expect(decision.form).toBe('precise')
    expect(decision.documents).toHaveLength(1)
    await expectVerdicts(decision, [...legitimateAndOutside(), ...siblingRows(DENIED)])
  })

  it('is compact when only that fits: outsiders still refused, siblings share addresses', async () => {
    // Prepare: the role's other inline policies leave less than the precise lock needs.
    const precise = put(decide({ instances: LIVE, budget: { otherInlineChars: 0, managedPolicies: 0 } }))
    const room = (precise.chars[0] ?? 0) - 1

    // Act
    const decision = put(
      decide({
        instances: LIVE,
        budget: { otherInlineChars: INLINE_POLICY_BUDGET - room, managedPolicies: 0 },
      }),
    )

    // Assess
    expect(decision.form).toBe('compact')
    expect(isCompactLock(decision.documents)).toBe(true)
    await expectVerdicts(decision, [...legitimateAndOutside(), ...siblingRows(ALLOWED)])
  })

  it.each(['198.51.100.10', '10.0.1.10', '2001:db8:10::10'])(
    'lets IAM-authenticated services inside the VPC through from web’s own address %s',
    async (address) => {
      // Prepare
      const decision = put(decide({ instances: LIVE }))
      const rows = IN_VPC_SERVICES.map((call) => ({
        story: `${call.action} from ${address}`,
        request: fromPublicIp(web, address, call),
        expected: ALLOWED,
      }))

      // Act / Assess
      await expectVerdicts(decision, rows)
    },
  )

  it('lets IAM-authenticated services inside the VPC through from a worker’s, a pod’s and an IPv6 host’s own address', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))
    const from = [
      { credential: workerCredentials, address: '10.0.2.20' },
      { credential: node, address: '10.0.3.50' },
      { credential: v6Only, address: '2001:db8:60::6' },
    ]
    const rows = from.flatMap(({ credential, address }) =>
      IN_VPC_SERVICES.map((call) => ({
        story: `${credential.instanceId} ${call.action} from ${address}`,
        request: fromPublicIp(credential, address, call),
        expected: ALLOWED,
      })),
    )

    // Act / Assess
    await expectVerdicts(decision, rows)
  })

  it('keeps those services and ordinary actions refused from outside, and from a sibling’s private address', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))
    const rows = [...IN_VPC_SERVICES, GET_OBJECT].flatMap((call) => [
      {
        story: `web ${call.action} from outside`,
        request: fromPublicIp(web, ATTACKER_V4, call),
        expected: DENIED,
      },
      {
        story: `worker ${call.action} from outside`,
        request: fromPublicIp(workerCredentials, ATTACKER_V4, call),
        expected: DENIED,
      },
      {
        story: `worker ${call.action} from its sibling's private address`,
        request: fromPublicIp(workerCredentials, '10.0.2.21', call),
        expected: DENIED,
      },
    ])

    // Act / Assess
    await expectVerdicts(decision, rows)
  })

  it('control: without the lock the same stolen-credential requests are allowed, so the denies come from it', async () => {
    // Prepare
    const unlocked = decide({ instances: [BYSTANDER.facts] })

    // Act / Assess
    await expectVerdicts(unlocked, [
      { story: 'web from outside', request: fromPublicIp(web, ATTACKER_V4), expected: ALLOWED },
      {
        story: 'worker via a foreign endpoint',
        request: throughEndpoint(workerCredentials, { vpc: FOREIGN_VPC, privateIp: '10.0.2.20' }),
        expected: ALLOWED,
      },
    ])
  })

  it('cannot refuse sts:GetCallerIdentity (AWS allows it under any deny): a thief learns only whose key it is', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))

    // Act / Assess
    await expectVerdicts(decision, [
      {
        story: 'GetCallerIdentity',
        request: fromPublicIp(web, ATTACKER_V4, GET_CALLER_IDENTITY),
        expected: ALLOWED,
      },
    ])
  })

  it('leaves other sessions of the role alone: only instance credentials carry the instance ARN', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))

    // Act / Assess
    await expectVerdicts(decision, [
      {
        story: 'a session of the same role that is not an instance’s',
        request: roleSessionFromPublicIp({ accountId: ACCOUNT, roleName: ROLE }, 'deploy-job', ATTACKER_V4),
        expected: ALLOWED,
      },
    ])
  })

  it('counts a launching (pending) instance as running: it is locked, not tombstoned', () => {
    // Prepare
    const pending = { ...WEB.facts, state: 'pending' as const }

    // Act
    const decision = decide({
      instances: [pending],
      current: { locked: new Set([WEB.facts.instanceId]), tombstones: new Map() },
    })

    // Assess
    expect(outcomesOf(decision, WEB.facts.instanceId).map((each) => each.outcome)).toEqual(['locked'])
  })

  it('locks an instance with neither public address nor NAT to its own private path only', async () => {
    // Prepare: a subnet that reaches AWS only through endpoints.
    const isolated = worker(40, { egressIps: [] })

    // Act
    const decision = put(decide({ instances: [isolated.facts] }))

    // Assess
    const isolatedCredentials = credentials(isolated)
    await expectVerdicts(decision, [
      {
        story: 'through its endpoint',
        request: throughEndpoint(isolatedCredentials, { vpc: APP_VPC, privateIp: '10.0.2.40' }),
        expected: ALLOWED,
      },
      {
        story: 'RDS from its own address',
        request: fromPublicIp(isolatedCredentials, '10.0.2.40', IN_VPC_SERVICES[0]),
        expected: ALLOWED,
      },
      { story: 'from outside', request: fromPublicIp(isolatedCredentials, ATTACKER_V4), expected: DENIED },
    ])
  })
})

// ---------------------------------------------------------------------------------------------------------
// Settings: IMDSv1, exempt actions, trusted shared endpoints.
// ---------------------------------------------------------------------------------------------------------

describe('settings', () => {
  it('refuses IMDSv1-delivered credentials when asked, even from the instance itself', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE, settings: { refuseImdsV1: true } }))

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'IMDSv1 credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), { 'ec2:RoleDelivery': '1.0' }),
        expected: DENIED,
      },
      {
        story: 'IMDSv2 credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), { 'ec2:RoleDelivery': '2.0' }),
        expected: ALLOWED,
      },
      {
        story: 'the bystander’s IMDSv1 credentials',
        request: withContext(fromPublicIp(bystander, '198.51.100.30'), { 'ec2:RoleDelivery': '1.0' }),
        expected: ALLOWED,
      },
    ])
  })

  it('leaves IMDSv1 credentials alone by default', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE }))

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'IMDSv1 credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), { 'ec2:RoleDelivery': '1.0' }),
        expected: ALLOWED,
      },
    ])
  })

  it('lets a browser use a presigned URL for an exempt action, and only that action', async () => {
    // Prepare
    const putObject = { action: 's3:PutObject', resource: GET_OBJECT.resource }

    // Act
    const decision = put(decide({ instances: LIVE, exemptActions: ['s3:GetObject'] }))

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'exempt GetObject from a browser',
        request: fromPublicIp(web, ATTACKER_V4),
        expected: ALLOWED,
      },
      {
        story: 'PutObject from a browser',
        request: fromPublicIp(web, ATTACKER_V4, putObject),
        expected: DENIED,
      },
      {
        story: 'PutObject through a foreign endpoint',
        request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' }, putObject),
        expected: DENIED,
      },
    ])
  })

  it('allows a trusted shared-services endpoint from the instance’s own private address only', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE, settings: { trustedVpcEndpoints: [SHARED_ENDPOINT] } }))
    const shared = (credential: InstanceCredentials, privateIp: string) =>
      throughEndpoint(credential, { vpc: FOREIGN_VPC, privateIp, vpce: SHARED_ENDPOINT })

    // Assess
    await expectVerdicts(decision, [
      { story: 'web from its own IPv4', request: shared(web, '10.0.1.10'), expected: ALLOWED },
      {
        story: 'worker from its primary IPv4',
        request: shared(workerCredentials, '10.0.2.20'),
        expected: ALLOWED,
      },
      {
        story: 'worker from another address',
        request: shared(workerCredentials, '10.0.2.99'),
        expected: DENIED,
      },
      {
        story: 'another endpoint in that VPC',
        request: throughEndpoint(web, {
          vpc: FOREIGN_VPC,
          privateIp: '10.0.1.10',
          vpce: 'vpce-0fedcba9876543210',
        }),
        expected: DENIED,
      },
    ])
  })
})

// ---------------------------------------------------------------------------------------------------------
// Tombstones: old credentials of stopped, terminated and moved instances.
// ---------------------------------------------------------------------------------------------------------

describe('tombstones', () => {
  const lockedAtT0 = () => carried(put(decide({ instances: LIVE })))

  it.each([
    { story: 'stopped', change: { state: 'stopped' as const }, everyCredential: false },
    { story: 'stopping', change: { state: 'stopping' as const }, everyCredential: false },
    { story: 'moved to another role', change: { roleName: 'other-role' }, everyCredential: false },
    { story: 'left without a profile', change: { roleName: undefined }, everyCredential: false },
    { story: 'terminated', change: { state: 'terminated' as const }, everyCredential: true },
    { story: 'shutting down', change: { state: 'shutting-down' as const }, everyCredential: true },
  ])('refuse web’s old credentials everywhere once it is $story', async ({ change, everyCredential }) => {
    // Prepare
    const current = lockedAtT0()
    const instances = LIVE.map((facts) => (facts === WEB.facts ? { ...facts, ...change } : facts))

    // Act
    const decision = put(decide({ instances, current, now: at(HOUR) }))

    // Assess
    const [tombstone] = outcomesOf(decision, WEB.facts.instanceId)
    expect(tombstone).toMatchObject({ outcome: 'tombstoned' })
    expect(tombstone?.outcome === 'tombstoned' && tombstone.issuedBefore === undefined).toBe(everyCredential)
    const old = (request: SimulatedRequest) => withContext(request, issued(at(-HOUR)))
    await expectVerdicts(decision, [
      {
        story: 'old credentials from its old IP',
        request: old(fromPublicIp(web, '198.51.100.10')),
        expected: DENIED,
      },
      {
        story: 'old credentials through its endpoint',
        request: old(throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.10' })),
        expected: DENIED,
      },
      {
        story: 'old credentials via a service',
        request: old(viaAwsService(web, SERVICE_IP)),
        expected: DENIED,
      },
      {
        story: 'worker still locked, from its NAT',
        request: fromPublicIp(workerCredentials, NAT_1),
        expected: ALLOWED,
      },
      { story: 'bystander untouched', request: fromPublicIp(bystander, ATTACKER_V4), expected: ALLOWED },
    ])
  })

  it('refuse a stopped instance’s old credentials but let its fresh ones work once it runs again', async () => {
    // Prepare: locked at T0, stopped at 1 h, started again at 2 h with a new public address.
    const stopped = put(
      decide({
        instances: [{ ...WEB.facts, state: 'stopped' }, WORKER.facts],
        current: lockedAtT0(),
        now: at(HOUR),
      }),
    )
    const restarted = {
      ...WEB.facts,
      publicIps: ['198.51.100.99'],
      privateIps: ['10.0.1.10'],
      launchedAt: at(2 * HOUR),
    }

    // Act
    const decision = put(
      decide({ instances: [restarted, WORKER.facts], current: carried(stopped), now: at(2 * HOUR + MINUTE) }),
    )

    // Assess
    expect(outcomesOf(decision, WEB.facts.instanceId).map((each) => each.outcome)).toEqual([
      'locked',
      'tombstoned',
    ])
    await expectVerdicts(decision, [
      {
        story: 'fresh credentials from its new IP',
        request: withContext(fromPublicIp(web, '198.51.100.99'), issued(at(2 * HOUR + 30 * SECOND))),
        expected: ALLOWED,
      },
      {
        story: 'credentials issued before the stop, from its new IP',
        request: withContext(fromPublicIp(web, '198.51.100.99'), issued(at(30 * MINUTE))),
        expected: DENIED,
      },
      {
        story: 'fresh credentials from outside',
        request: withContext(fromPublicIp(web, ATTACKER_V4), issued(at(2 * HOUR + 30 * SECOND))),
        expected: DENIED,
      },
    ])
  })

  it('let a restarted instance’s fresh credentials work even before the controller sees it running', async () => {
    // Prepare: the stop was handled at 1 h; nothing has run since the restart at 1 h 10.
    const stopped = put(
      decide({ instances: [{ ...WEB.facts, state: 'stopped' }], current: lockedAtT0(), now: at(HOUR) }),
    )

    // Act / Assess: the role carries only what the stop wrote.
    await expectVerdicts(stopped, [
      {
        story: 'fresh credentials from anywhere (no live lock yet)',
        request: withContext(fromPublicIp(web, '198.51.100.99'), issued(at(HOUR + 10 * MINUTE))),
        expected: ALLOWED,
      },
      {
        story: 'credentials from before the stop',
        request: withContext(fromPublicIp(web, '198.51.100.10'), issued(at(HOUR - MINUTE))),
        expected: DENIED,
      },
    ])
  })

  it('refusing every credential, give way to fresh ones once the instance runs again (earlier releases wrote those)', async () => {
    // Prepare: a tombstone without an issue time, dated in the future as the old bucketed ones were.
    const current: CurrentLock = {
      locked: new Set(),
      tombstones: new Map([[WEB.facts.instanceId, { since: at(2 * HOUR) }]]),
    }

    // Act
    const decision = put(
      decide({ instances: [{ ...WEB.facts, launchedAt: at(HOUR) }], current, now: at(HOUR + MINUTE) }),
    )

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'fresh credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), issued(at(HOUR + SECOND))),
        expected: ALLOWED,
      },
      {
        story: 'credentials from its previous run',
        request: withContext(fromPublicIp(web, '198.51.100.10'), issued(at(HOUR - MINUTE))),
        expected: DENIED,
      },
    ])
  })

  it('cover the newer credentials when an instance that ran again stops again', async () => {
    // Prepare: stopped at 1 h, running from 2 h, stopped again at 5 h.
    const first = put(
      decide({ instances: [{ ...WEB.facts, state: 'stopped' }], current: lockedAtT0(), now: at(HOUR) }),
    )
    const running = put(
      decide({
        instances: [{ ...WEB.facts, launchedAt: at(2 * HOUR) }],
        current: carried(first),
        now: at(2 * HOUR),
      }),
    )

    // Act
    const second = put(
      decide({
        instances: [{ ...WEB.facts, state: 'stopped' }],
        current: carried(running),
        now: at(5 * HOUR),
      }),
    )

    // Assess
    await expectVerdicts(second, [
      {
        story: 'credentials of the second run',
        request: withContext(fromPublicIp(web, '198.51.100.10'), issued(at(3 * HOUR))),
        expected: DENIED,
      },
    ])
  })

  it('keep their time across re-decisions and expire after the retention, siblings staying locked', async () => {
    // Prepare
    const terminated = LIVE.map((facts) =>
      facts === WEB.facts ? { ...facts, state: 'terminated' as const } : facts,
    )
    const first = put(decide({ instances: terminated, current: lockedAtT0(), now: at(HOUR) }))
    const since = carried(first).tombstones.get(WEB.facts.instanceId)?.since

    // Act
    const later = put(decide({ instances: terminated, current: carried(first), now: at(3 * HOUR) }))
    const lastSecond = put(
      decide({
        instances: terminated,
        current: carried(first),
        now: new Date((since?.getTime() ?? 0) + RETENTION - SECOND),
      }),
    )
    const expired = put(
      decide({
        instances: terminated,
        current: carried(first),
        now: new Date((since?.getTime() ?? 0) + RETENTION),
      }),
    )

    // Assess
    expect(later.documents).toEqual(first.documents)
    expect(carried(lastSecond).tombstones.has(WEB.facts.instanceId)).toBe(true)
    expect(outcomesOf(expired, WEB.facts.instanceId)).toEqual([
      { instanceId: WEB.facts.instanceId, outcome: 'expired', reason: 'its old credentials have expired' },
    ])
    expect(carried(expired).tombstones.has(WEB.facts.instanceId)).toBe(false)
    await expectVerdicts(expired, [
      {
        story: 'worker still locked',
        request: fromPublicIp(workerCredentials, ATTACKER_V4),
        expected: DENIED,
      },
    ])
  })

  it('survive the instance disappearing from EC2, still refusing its credentials', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: [WORKER.facts], current: lockedAtT0(), now: at(HOUR) }))

    // Assess
    expect(outcomesOf(decision, WEB.facts.instanceId)).toEqual([
      expect.objectContaining({ outcome: 'tombstoned', reason: 'gone from EC2', issuedBefore: undefined }),
    ])
    await expectVerdicts(decision, [
      {
        story: 'its credentials from its old IP',
        request: fromPublicIp(web, '198.51.100.10'),
        expected: DENIED,
      },
    ])
  })

  it('hold 144 terminations in 12 hours in at most 13 statements (autoscaling churn)', () => {
    // Prepare
    let current = NO_LOCK
    let fleet = Array.from({ length: 10 }, (_, n) => worker(n).facts)
    let decision: PutDecision | undefined
    let next = 10

    // Act: one instance replaced every 5 minutes.
    for (let minute = 0; minute <= 12 * 60; minute += 5) {
      if (minute > 0) fleet = [...fleet.slice(1), worker(next++).facts]
      decision = put(decide({ instances: fleet, current, now: at(minute * MINUTE) }))
      current = carried(decision)
    }

    // Assess
    const statements = JSON.parse(decision?.documents[0] ?? '{}').Statement as { Sid?: string }[]
    expect(current.tombstones.size).toBe(144)
    expect(
      statements.filter((statement) => statement.Sid?.startsWith('Tombstone')).length,
    ).toBeLessThanOrEqual(13)
    expect(decision?.documents).toHaveLength(1)
  })

  it('tombstone an opted-in instance stopped before it was ever locked, not one that never opted in', () => {
    // Prepare
    const stoppedAt = at(-HOUR)
    const instances = [
      { ...WEB.facts, state: 'stopped' as const, stateChangedAt: stoppedAt },
      { ...BYSTANDER.facts, state: 'stopped' as const, stateChangedAt: stoppedAt },
      { ...WORKER.facts, state: 'stopped' as const, stateChangedAt: at(-RETENTION) },
    ]

    // Act
    const decision = decide({ instances })

    // Assess
    expect(decision.instances).toEqual([
      expect.objectContaining({ instanceId: WEB.facts.instanceId, outcome: 'tombstoned', since: stoppedAt }),
    ])
  })
})

// ---------------------------------------------------------------------------------------------------------
// Fleets: managed policies beyond the inline one.
// ---------------------------------------------------------------------------------------------------------

describe('fleets', () => {
  const natFleet = (count: number) => Array.from({ length: count }, (_, n) => worker(n + 1))
  function publicFleet(count: number): Machine[] {
    return Array.from({ length: count }, (_, n) => ({
      vpcId: APP_VPC,
      facts: {
        ...worker(n + 1).facts,
        publicIps: [`198.18.${n >> 8}.${n & 255}`],
        egressIps: [],
      },
    }))
  }
  const firstAndLast = (fleet: readonly Machine[]) => [fleet[0], fleet.at(-1)] as Machine[]

  it('locks 1,000 workers behind one NAT, spread over the inline and managed policies', async () => {
    // Prepare
    const fleet = natFleet(1_000)

    // Act
    const decision = put(decide({ instances: fleet.map((machine) => machine.facts), budget: ROOMY }))

    // Assess
    expect(decision.form).toBe('precise')
    expect(decision.documents.length).toBeLessThanOrEqual(11)
    expect(decision.chars[0]).toBeLessThanOrEqual(INLINE_POLICY_BUDGET)
    for (const chars of decision.chars.slice(1)) expect(chars).toBeLessThanOrEqual(MANAGED_POLICY_BUDGET)
    expect(carried(decision).locked.size).toBe(1_000)
    const [first, last] = firstAndLast(fleet).map(credentials)
    await expectVerdicts(decision, [
      {
        story: 'first worker via NAT',
        request: fromPublicIp(first as InstanceCredentials, NAT_1),
        expected: ALLOWED,
      },
      {
        story: 'last worker via NAT',
        request: fromPublicIp(last as InstanceCredentials, NAT_2),
        expected: ALLOWED,
      },
      {
        story: 'last worker through its endpoint',
        request: throughEndpoint(last as InstanceCredentials, {
          vpc: APP_VPC,
          privateIp: last?.privateIpv4 ?? '',
        }),
        expected: ALLOWED,
      },
      {
        story: 'first worker from outside',
        request: fromPublicIp(first as InstanceCredentials, ATTACKER_V4),
        expected: DENIED,
      },
      {
        story: 'last worker from outside',
        request: fromPublicIp(last as InstanceCredentials, ATTACKER_V4),
        expected: DENIED,
      },
      {
        story: 'last worker through its endpoint from the first one’s address',
        request: throughEndpoint(last as InstanceCredentials, {
          vpc: APP_VPC,
          privateIp: first?.privateIpv4 ?? '',
        }),
        expected: DENIED,
      },
    ])
  })

  it('keeps 60 public instances precise: one instance’s credentials refused from a sibling’s address', async () => {
    // Prepare
    const fleet = publicFleet(60)
    const [first, last] = firstAndLast(fleet)

    // Act
    const decision = put(decide({ instances: fleet.map((machine) => machine.facts), budget: ROOMY }))

    // Assess
    expect(decision.form).toBe('precise')
    await expectVerdicts(decision, [
      {
        story: 'last from its own address',
        request: fromPublicIp(credentials(last as Machine), last?.facts.publicIps[0] ?? ''),
        expected: ALLOWED,
      },
      {
        story: 'last from the first one’s address',
        request: fromPublicIp(credentials(last as Machine), first?.facts.publicIps[0] ?? ''),
        expected: DENIED,
      },
    ])
  })

  it('keeps 300 public instances locked against outsiders', async () => {
    // Prepare
    const fleet = publicFleet(300)
    const last = fleet.at(-1) as Machine

    // Act
    const decision = put(decide({ instances: fleet.map((machine) => machine.facts), budget: ROOMY }))

    // Assess
    expect(decision.instances.every((outcome) => outcome.outcome === 'locked')).toBe(true)
    await expectVerdicts(decision, [
      {
        story: 'from its own address',
        request: fromPublicIp(credentials(last), last.facts.publicIps[0] ?? ''),
        expected: ALLOWED,
      },
      { story: 'from outside', request: fromPublicIp(credentials(last), ATTACKER_V4), expected: DENIED },
    ])
  })

  it('leaves the instances that do not fit unprotected, each saying why, the rest locked', async () => {
    // Prepare: room for the inline policy only.
    const fleet = natFleet(400)

    // Act
    const decision = put(decide({ instances: fleet.map((machine) => machine.facts), budget: INLINE_ONLY }))

    // Assess
    const unprotected = decision.instances.filter((outcome) => outcome.outcome === 'unprotected')
    const locked = decision.instances.filter((outcome) => outcome.outcome === 'locked')
    expect(unprotected.length).toBeGreaterThan(0)
    expect(locked.length).toBeGreaterThan(100)
    expect(unprotected[0]).toMatchObject({ reason: expect.stringContaining('policy budget') })
    expect(decision.documents).toHaveLength(1)
    const lockedMachine = fleet[0] as Machine
    await expectVerdicts(decision, [
      {
        story: 'a locked one from outside',
        request: fromPublicIp(credentials(lockedMachine), ATTACKER_V4),
        expected: DENIED,
      },
    ])
  })

  it('refuses with LockTooLargeError naming role, sizes and limit when not even the tombstones fit', () => {
    // Prepare: a tombstone the role's own policies leave no room for.
    const current: CurrentLock = {
      locked: new Set(),
      tombstones: new Map([[WEB.facts.instanceId, { since: T0 } satisfies TombstoneEntry]]),
    }

    // Act
    const attempt = () =>
      decide({
        instances: [],
        current,
        budget: { otherInlineChars: INLINE_POLICY_BUDGET - 10, managedPolicies: 0 },
      })

    // Assess
    expect(attempt).toThrow(LockTooLargeError)
    expect(attempt).toThrow(
      /role app-server needs \d+ characters, but the role's other inline policies already use 10230/,
    )
  })
})

// ---------------------------------------------------------------------------------------------------------
// The documents themselves.
// ---------------------------------------------------------------------------------------------------------

describe('documents', () => {
  it('are byte-identical for the same facts in any order', () => {
    // Prepare
    const shuffled = [...LIVE].reverse().map((facts) => ({
      ...facts,
      privateIps: [...facts.privateIps].reverse(),
      egressIps: facts.egressIps === 'unknown' ? facts.egressIps : [...facts.egressIps].reverse(),
    }))

    // Act
    const a = put(decide({ instances: LIVE }))
    const b = put(decide({ instances: shuffled }))

    // Assess
    expect(b.documents).toEqual(a.documents)
  })

  it('read back every locked instance and tombstone, with its dates', () => {
    // Prepare
    const locked = put(decide({ instances: LIVE }))
    const stopped = LIVE.map((facts) =>
      facts === WEB.facts ? { ...facts, state: 'stopped' as const } : facts,
    )

    // Act
    const current = carried(
      put(decide({ instances: stopped, current: carried(locked), now: at(HOUR + 500) })),
    )

    // Assess
    expect([...current.locked].sort()).toEqual(
      [WORKER, WORKER_2, V6_ONLY, NODE].map((machine) => machine.facts.instanceId).sort(),
    )
    expect(current.tombstones.get(WEB.facts.instanceId)).toEqual({
      since: at(HOUR + SECOND),
      issuedBefore: at(HOUR + SECOND),
    })
  })

  it('read as empty when they are not the controller’s', () => {
    // Prepare / Act / Assess
    for (const document of [undefined, 'not json', '{"Statement":"nope"}', '{"Statement":[1,null]}']) {
      expect(readLock(document)).toEqual({
        locked: new Set(),
        tombstones: new Map(),
        functions: { locked: new Set(), tombstones: new Map() },
      })
    }
  })

  it('are removed when no instance needs a lock any more', () => {
    // Prepare
    const current = carried(put(decide({ instances: [WEB.facts] })))

    // Act
    const decision = decide({ instances: [{ ...WEB.facts, optedIn: false }], current })

    // Assess
    expect(decision).toEqual({
      roleName: ROLE,
      action: 'remove',
      instances: [{ instanceId: WEB.facts.instanceId, outcome: 'released', reason: 'not opted in' }],
      functions: [],
    })
  })

  it('skip an instance whose egress is unknown, with the reason, without refusing it anything', async () => {
    // Prepare
    const spoke = worker(50, {
      egressIps: 'unknown',
      egressUnknownReason: 'its default route leads to transit gateway tgw-0123; set knownEgress for it',
    })

    // Act
    const decision = put(decide({ instances: [spoke.facts, WORKER.facts] }))

    // Assess
    expect(outcomesOf(decision, spoke.facts.instanceId)).toEqual([
      {
        instanceId: spoke.facts.instanceId,
        outcome: 'skipped',
        reason: 'its default route leads to transit gateway tgw-0123; set knownEgress for it',
      },
    ])
    await expectVerdicts(decision, [
      {
        story: 'skipped from anywhere',
        request: fromPublicIp(credentials(spoke), ATTACKER_V4),
        expected: ALLOWED,
      },
    ])
  })

  it('are named after their region', () => {
    expect(lockPolicyName('eu-west-3')).toBe('credential-lock-eu-west-3')
  })
})

// ---------------------------------------------------------------------------------------------------------
// Opt-in and facts that cannot describe a real instance.
// ---------------------------------------------------------------------------------------------------------

describe('opt-in and invalid facts', () => {
  const TAG = { key: 'credential-lock', value: 'enabled' }

  it.each([
    { tags: [{ Key: 'credential-lock', Value: 'enabled' }], optedIn: true },
    { tags: [{ Key: 'credential-lock', Value: 'Enabled' }], optedIn: false },
    { tags: [{ Key: 'team', Value: 'enabled' }], optedIn: false },
    {
      tags: [
        { Key: 'credential-lock', Value: 'no' },
        { Key: 'other', Value: 'enabled' },
      ],
      optedIn: false,
    },
    { tags: [], optedIn: false },
  ])('opts in $tags: $optedIn', ({ tags, optedIn }) => {
    expect(isOptedIn(tags, TAG)).toBe(optedIn)
  })

  it.each([
    { part: 'accountId', value: '1234-5678-9012' },
    { part: 'accountId', value: 'x123456789012' },
    { part: 'accountId', value: '123456789012x' },
    { part: 'region', value: 'us-east-1a' },
    { part: 'region', value: 'us-east-1 ' },
    { part: 'partition', value: 'aws ' },
    { part: 'partition', value: 'xaws' },
  ])('refuses an ARN $part of "$value"', ({ part, value }) => {
    // Prepare
    const scope = { ...SETTINGS, [part]: value }

    // Act / Assess
    expect(() => instanceArn(scope, WEB.facts.instanceId)).toThrow(InvalidFactsError)
  })

  it.each(['aws', 'aws-cn', 'aws-us-gov'])('accepts the partition %s', (partition) => {
    expect(instanceArn({ ...SETTINGS, partition }, 'i-01234567')).toBe(
      `arn:${partition}:ec2:${REGION}:${ACCOUNT}:instance/i-01234567`,
    )
  })

  it.each([
    {
      story: 'a bad instance ID',
      facts: { ...WEB.facts, instanceId: 'i-xyz' },
      message: /not an EC2 instance ID/,
    },
    {
      story: 'no private address',
      facts: { ...WEB.facts, privateIps: [] },
      message: /has no private address/,
    },
    {
      story: 'a bad address',
      facts: { ...WEB.facts, publicIps: ['54.0.0.999'] },
      message: /not an IPv4 or IPv6/,
    },
  ])('refuses $story', ({ facts, message }) => {
    expect(() => decide({ instances: [facts] })).toThrow(message)
  })
})
