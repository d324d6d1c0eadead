/**
 * The policy engine, proven with IAM verdicts: every expectation below is what IAM (as modelled by
 * @cloud-copilot/iam-simulate) answers for a request signed with an instance's role credential, when the role
 * carries the document decideLock returned, an ordinary allow-all policy and a foreign inline policy.
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
  type LockDecision,
  type LockedInstance,
  type LockSettings,
  lockPolicyName,
  policyChars,
  readLock,
  renderLock,
} from '../policy/lock.js'
import {
  ALLOW_ALL,
  type ApiCall,
  fromPublicIp,
  GET_CALLER_IDENTITY,
  type InstanceCredentials,
  LIST_ROLES,
  type RolePolicy,
  roleSessionFromPublicIp,
  type SimulatedRequest,
  throughEndpoint,
  type Verdict,
  verdict,
  viaAwsService,
} from './support/simulate.js'

// ---------------------------------------------------------------------------------------------------------
// Shared facts: one account, one region, one role with three instances on it.
// ---------------------------------------------------------------------------------------------------------

const ACCOUNT = '123456789012'
const REGION = 'us-east-1'
const ROLE = 'app-server'
const SECOND = 1000
const HOUR = 3_600 * SECOND
const RETENTION = 12 * HOUR
const SETTINGS: LockSettings = {
  partition: 'aws',
  region: REGION,
  accountId: ACCOUNT,
  tombstoneRetentionMs: RETENTION,
}
const T0 = new Date('2025-06-02T08:00:00.000Z')
const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs)

const ALLOWED: Verdict = 'Allowed'
const DENIED: Verdict = 'ExplicitlyDenied'

const APP_VPC = 'vpc-0a1a2a3a4a5a6a7a8'
const FOREIGN_VPC = 'vpc-0f1f2f3f4f5f6f7f8'
const ATTACKER_V4 = '203.0.113.66'
const ATTACKER_V6 = '2001:db8::66'
/** A service's own address, as seen on a forward-access-session call (documentation range, not a real one). */
const SERVICE_IP = '192.0.2.50'

/** A role's other inline policy: the controller must leave it alone and count its size. */
const FOREIGN_POLICY: RolePolicy = {
  name: 'app-server-data',
  document: JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ReadAppData',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:ListBucket'],
        Resource: ['arn:aws:s3:::example-app-data', 'arn:aws:s3:::example-app-data/*'],
      },
      { Sid: 'NeverDeleteBuckets', Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' },
    ],
  }),
}
const FOREIGN_CHARS = policyChars(FOREIGN_POLICY.document as string)

interface Machine {
  readonly facts: InstanceFacts
  readonly vpcId: string
}

/** Public subnet: an auto-assigned IPv4 on eth0, an Elastic IP on eth1, an IPv6 on each. */
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
    otherVpcIds: [],
  },
}

/** Private subnet: IPv4 out through a NAT gateway (two EIPs), IPv6 out through an egress-only gateway. */
const WORKER: Machine = {
  vpcId: APP_VPC,
  facts: {
    instanceId: 'i-0f9e8d7c6b5a40312',
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: ['2001:db8:20::20'],
    egressIps: ['198.51.100.200', '198.51.100.201'],
    privateIps: ['10.0.2.20', '10.0.2.48/28', '2001:db8:20::20'],
    primaryPrivateIpv4: '10.0.2.20',
    otherVpcIds: [],
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
    otherVpcIds: [],
  },
}

const NO_LOCK: CurrentLock = { locked: new Set(), tombstones: new Map() }

/** The credential an instance's role session carries (stolen or not). */
function credentials(machine: Machine): InstanceCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: ROLE,
    instanceId: machine.facts.instanceId,
    vpcId: machine.vpcId,
    privateIpv4: machine.facts.privateIps.find((ip) => !ip.includes(':') && !ip.includes('/')),
  }
}
const web = credentials(WEB)
const worker = credentials(WORKER)
const bystander = credentials(BYSTANDER)

function withFacts(machine: Machine, change: Partial<InstanceFacts>): InstanceFacts {
  return { ...machine.facts, ...change }
}

interface Situation {
  readonly instances: readonly InstanceFacts[]
  readonly current?: CurrentLock
  readonly now?: Date
  readonly otherInlineChars?: number
  readonly settings?: LockSettings
}

function decide(situation: Situation): LockDecision {
  return decideLock(
    {
      roleName: ROLE,
      instances: situation.instances,
      current: situation.current ?? NO_LOCK,
      otherInlineChars: situation.otherInlineChars ?? FOREIGN_CHARS,
    },
    situation.settings ?? SETTINGS,
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
  const policies = [ALLOW_ALL, FOREIGN_POLICY]
  if (decision.action === 'put') policies.push({ name: lockPolicyName(REGION), document: decision.document })
  return policies
}

function outcomeOf(decision: LockDecision, instanceId: string): InstanceOutcome | undefined {
  return decision.instances.find((outcome) => outcome.instanceId === instanceId)
}

/** The locked instances of a decision, as renderLock takes them. */
function lockedOf(decision: LockDecision): LockedInstance[] {
  return decision.instances.flatMap((outcome) =>
    outcome.outcome === 'locked'
      ? [{ arn: instanceArn(SETTINGS, outcome.instanceId), allowedFrom: outcome.allowedFrom }]
      : [],
  )
}

interface VerdictCase {
  readonly story: string
  readonly request: SimulatedRequest
  readonly expected: Verdict
}

/** Every string array inside the document's conditions. */
function conditionLists(document: string): string[][] {
  const parsed = JSON.parse(document) as {
    Statement: { Condition: Record<string, Record<string, unknown>> }[]
  }
  return parsed.Statement.flatMap((statement) =>
    Object.values(statement.Condition).flatMap((block) =>
      Object.values(block).flatMap((value) => (Array.isArray(value) ? [value as string[]] : [])),
    ),
  )
}

// ---------------------------------------------------------------------------------------------------------
// The live lock: running opted-in instances, in both forms.
// ---------------------------------------------------------------------------------------------------------

const LIVE = [WEB.facts, WORKER.facts, BYSTANDER.facts]
const PRECISE = put(decide({ instances: LIVE }))
const COMPACT_CHARS = policyChars(renderLock('compact', lockedOf(PRECISE), []))
/** The role's other inline policies leave exactly room for the compact lock. */
const COMPACT = put(decide({ instances: LIVE, otherInlineChars: INLINE_POLICY_BUDGET - COMPACT_CHARS }))

interface LiveCase {
  readonly story: string
  readonly request: SimulatedRequest
  readonly precise: Verdict
  /** Defaults to the precise verdict; differs only where the compact form shares addresses role-wide. */
  readonly compact?: Verdict
}

const LIVE_CASES: readonly LiveCase[] = [
  // Its own public addresses, on every network interface.
  {
    story: 'web from its auto-assigned public IPv4 (eth0)',
    request: fromPublicIp(web, '198.51.100.10'),
    precise: ALLOWED,
  },
  { story: 'web from its Elastic IP (eth1)', request: fromPublicIp(web, '198.51.100.11'), precise: ALLOWED },
  { story: 'web from its IPv6 (eth0)', request: fromPublicIp(web, '2001:db8:10::10'), precise: ALLOWED },
  { story: 'web from its IPv6 (eth1)', request: fromPublicIp(web, '2001:db8:10:1::11'), precise: ALLOWED },
  {
    story: 'web, wildcard-resource action, from its own IPv4',
    request: fromPublicIp(web, '198.51.100.10', LIST_ROLES),
    precise: ALLOWED,
  },
  // Through the NAT gateway its subnet routes through, and its own IPv6 via the egress-only gateway.
  {
    story: 'worker through its NAT gateway (first EIP)',
    request: fromPublicIp(worker, '198.51.100.200'),
    precise: ALLOWED,
  },
  {
    story: 'worker through its NAT gateway (second EIP)',
    request: fromPublicIp(worker, '198.51.100.201'),
    precise: ALLOWED,
  },
  { story: 'worker from its own IPv6', request: fromPublicIp(worker, '2001:db8:20::20'), precise: ALLOWED },
  // Through a VPC endpoint of its own VPC, from its own private addresses.
  {
    story: 'web through its VPC endpoint from its private IPv4 (eth0)',
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.10' }),
    precise: ALLOWED,
  },
  {
    story: 'web through its VPC endpoint from its private IPv4 (eth1)',
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.11' }, LIST_ROLES),
    precise: ALLOWED,
  },
  {
    story: 'web through its VPC endpoint from its IPv6',
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '2001:db8:10:1::11' }),
    precise: ALLOWED,
  },
  {
    story: 'worker through its VPC endpoint from an address of its delegated prefix',
    request: throughEndpoint(worker, { vpc: APP_VPC, privateIp: '10.0.2.53' }),
    precise: ALLOWED,
  },
  // An AWS service calling with the instance's credential, from the service's own address.
  { story: 'web via an AWS service', request: viaAwsService(web, SERVICE_IP), precise: ALLOWED },
  {
    story: 'worker via an AWS service (IPv6)',
    request: viaAwsService(worker, '2001:db8:ffff::50'),
    precise: ALLOWED,
  },
  // Stolen credentials used from anywhere else.
  { story: "web's credentials from another IPv4", request: fromPublicIp(web, ATTACKER_V4), precise: DENIED },
  { story: "web's credentials from another IPv6", request: fromPublicIp(web, ATTACKER_V6), precise: DENIED },
  {
    story: "web's credentials, wildcard-resource action, from another IPv4",
    request: fromPublicIp(web, ATTACKER_V4, LIST_ROLES),
    precise: DENIED,
  },
  {
    story: "worker's credentials from another IPv4",
    request: fromPublicIp(worker, ATTACKER_V4),
    precise: DENIED,
  },
  {
    story: "worker's credentials from another IPv6",
    request: fromPublicIp(worker, ATTACKER_V6),
    precise: DENIED,
  },
  {
    story: "web's credentials from a not-locked sibling's public IP",
    request: fromPublicIp(web, '198.51.100.30'),
    precise: DENIED,
  },
  {
    // The compact form allows every locked instance's addresses for every locked instance of the role.
    story: "web's credentials from a locked sibling's NAT gateway",
    request: fromPublicIp(web, '198.51.100.200'),
    precise: DENIED,
    compact: ALLOWED,
  },
  {
    story: "worker's credentials from a locked sibling's Elastic IP",
    request: fromPublicIp(worker, '198.51.100.11'),
    precise: DENIED,
    compact: ALLOWED,
  },
  {
    story: "web's credentials through a foreign VPC's endpoint, with web's own private IP",
    request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' }),
    precise: DENIED,
  },
  {
    story: "web's credentials through a foreign VPC's endpoint, with web's own IPv6",
    request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '2001:db8:10::10' }),
    precise: DENIED,
  },
  {
    story: "web's credentials through its own VPC's endpoint from another private IPv4",
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.99' }),
    precise: DENIED,
  },
  {
    story: "web's credentials through its own VPC's endpoint from another IPv6",
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '2001:db8:10::66' }),
    precise: DENIED,
  },
  {
    story: "web's credentials through its own VPC's endpoint from a locked sibling's private IP",
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.2.20' }),
    precise: DENIED,
    compact: ALLOWED,
  },
  // A sibling on the same role that is not opted in is not affected at all.
  {
    story: 'not-opted sibling from its own IP',
    request: fromPublicIp(bystander, '198.51.100.30'),
    precise: ALLOWED,
  },
  {
    story: 'not-opted sibling from anywhere (IPv4)',
    request: fromPublicIp(bystander, ATTACKER_V4),
    precise: ALLOWED,
  },
  {
    story: 'not-opted sibling from anywhere (IPv6)',
    request: fromPublicIp(bystander, ATTACKER_V6),
    precise: ALLOWED,
  },
  {
    story: "not-opted sibling through a foreign VPC's endpoint",
    request: throughEndpoint(bystander, { vpc: FOREIGN_VPC, privateIp: '172.16.0.9' }),
    precise: ALLOWED,
  },
  // A session of the same role that is not an instance's (no ec2:SourceInstanceARN) is not affected either.
  {
    story: 'a non-instance session of the same role from anywhere',
    request: roleSessionFromPublicIp({ accountId: ACCOUNT, roleName: ROLE }, 'deploy-pipeline', ATTACKER_V4),
    precise: ALLOWED,
  },
]

describe('live lock: running opted-in instances', () => {
  it('is precise by default, and compact when the role only has room for that', () => {
    // Prepare: LIVE facts, decided once with the small foreign policy and once with a nearly full role.
    // Act: (decided above, shared by the verdict tables)
    // Assess
    expect(PRECISE.form).toBe('precise')
    expect(COMPACT.form).toBe('compact')
    expect(COMPACT.chars).toBe(COMPACT_CHARS)
    expect(PRECISE.instances).toEqual([
      expect.objectContaining({ instanceId: WEB.facts.instanceId, outcome: 'locked' }),
      expect.objectContaining({ instanceId: WORKER.facts.instanceId, outcome: 'locked' }),
    ])
    expect(PRECISE.document).not.toContain(BYSTANDER.facts.instanceId)
  })

  describe.each([
    { form: 'precise' as const, decision: PRECISE },
    { form: 'compact' as const, decision: COMPACT },
  ])('$form form', ({ form, decision }) => {
    it.each(LIVE_CASES)('$story', async (row) => {
      // Prepare
      const policies = rolePolicies(decision)
      // Act
      const result = await verdict(policies, row.request)
      // Assess
      expect(result).toBe(form === 'compact' ? (row.compact ?? row.precise) : row.precise)
    })
  })

  it('control: without the lock the same stolen-credential requests are allowed, so the denies come from it', async () => {
    // Prepare
    const withoutLock = [ALLOW_ALL, FOREIGN_POLICY]
    const denied = LIVE_CASES.filter((row) => row.precise === DENIED)
    // Act
    const results = await Promise.all(denied.map((row) => verdict(withoutLock, row.request)))
    // Assess
    expect(denied.length).toBeGreaterThan(10)
    expect(results.every((result) => result === ALLOWED)).toBe(true)
  })

  it('cannot refuse sts:GetCallerIdentity (AWS allows it under any deny): a thief learns only whose key it is', async () => {
    // Prepare
    const policies = rolePolicies(PRECISE)
    // Act
    const result = await verdict(policies, fromPublicIp(web, ATTACKER_V4, GET_CALLER_IDENTITY))
    // Assess
    expect(result).toBe(ALLOWED)
  })

  it('leaves the aws:ec2-infrastructure path alone: only the instance principal is governed by the lock', async () => {
    // Encrypted-EBS and similar KMS calls are made by a different principal,
    // arn:aws:sts::<account>:assumed-role/aws:ec2-infrastructure/<instance-id>. That session belongs to a
    // service-managed role, not to ROLE: IAM never evaluates ROLE's inline policies (our lock included) for
    // it, so there is no verdict of our document to compute on that path and the lock cannot break it. What
    // the lock does govern is the instance principal when EC2 or another service acts with its credential
    // (aws:ViaAWSService true, from the service's address): that must stay allowed in every form, including
    // for an instance the lock names with nothing but a NAT or IPv6 address.
    // Prepare
    const infrastructure = `arn:aws:sts::${ACCOUNT}:assumed-role/aws:ec2-infrastructure/${WEB.facts.instanceId}`
    const kmsCall: ApiCall = { action: 's3:GetObject', resource: 'arn:aws:s3:::example-app-data/volume-key' }
    // Act
    const results = await Promise.all(
      [PRECISE, COMPACT].flatMap((decision) =>
        [web, worker].map((instance) =>
          verdict(rolePolicies(decision), viaAwsService(instance, SERVICE_IP, kmsCall)),
        ),
      ),
    )
    // Assess
    expect(web.roleName).toBe(ROLE)
    expect(infrastructure).not.toContain(`assumed-role/${ROLE}/`)
    expect(results).toEqual([ALLOWED, ALLOWED, ALLOWED, ALLOWED])
  })
})

// ---------------------------------------------------------------------------------------------------------
// Tombstones: a locked instance that can no longer be where its credentials are used.
// ---------------------------------------------------------------------------------------------------------

/** Every way web can be found after it was locked, with the reason the tombstone must give. */
const LEAVING: readonly {
  readonly story: string
  readonly now: InstanceFacts | undefined
  readonly reason: string
}[] = [
  { story: 'stopped', now: withFacts(WEB, { state: 'stopped', publicIps: [] }), reason: 'stopped' },
  { story: 'stopping', now: withFacts(WEB, { state: 'stopping' }), reason: 'stopping' },
  { story: 'shutting-down', now: withFacts(WEB, { state: 'shutting-down' }), reason: 'shutting-down' },
  { story: 'terminated', now: withFacts(WEB, { state: 'terminated', publicIps: [] }), reason: 'terminated' },
  {
    story: 'moved to another role',
    now: withFacts(WEB, { roleName: 'other-role' }),
    reason: 'moved to another role',
  },
  { story: 'gone from EC2', now: undefined, reason: 'gone from EC2' },
]

/** web's old credential, from everywhere it used to be allowed and from elsewhere. */
const WEB_EVERYWHERE: readonly VerdictCase[] = [
  ...WEB.facts.publicIps.map((ip) => ({
    story: `from its old public IP ${ip}`,
    request: fromPublicIp(web, ip),
    expected: DENIED,
  })),
  ...WEB.facts.privateIps.map((ip) => ({
    story: `through its VPC's endpoint from its old private IP ${ip}`,
    request: throughEndpoint(web, { vpc: APP_VPC, privateIp: ip }),
    expected: DENIED,
  })),
  {
    story: 'wildcard-resource action from its old IP',
    request: fromPublicIp(web, '198.51.100.10', LIST_ROLES),
    expected: DENIED,
  },
  { story: 'via an AWS service', request: viaAwsService(web, SERVICE_IP), expected: DENIED },
  { story: 'from another IPv4', request: fromPublicIp(web, ATTACKER_V4), expected: DENIED },
  { story: 'from another IPv6', request: fromPublicIp(web, ATTACKER_V6), expected: DENIED },
  {
    story: "through a foreign VPC's endpoint",
    request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' }),
    expected: DENIED,
  },
]

/** The siblings are unaffected by web's tombstone. */
const SIBLINGS_STILL: readonly VerdictCase[] = [
  { story: 'worker through its NAT', request: fromPublicIp(worker, '198.51.100.200'), expected: ALLOWED },
  {
    story: 'worker through its endpoint',
    request: throughEndpoint(worker, { vpc: APP_VPC, privateIp: '10.0.2.20' }),
    expected: ALLOWED,
  },
  {
    story: "worker's credentials from elsewhere",
    request: fromPublicIp(worker, ATTACKER_V4),
    expected: DENIED,
  },
  {
    story: 'not-opted sibling from anywhere',
    request: fromPublicIp(bystander, ATTACKER_V4),
    expected: ALLOWED,
  },
]

/** web after it left, decided an hour after the live lock and read back from that lock. */
function afterLeaving(now: InstanceFacts | undefined): LockDecision {
  const instances = [now, WORKER.facts, BYSTANDER.facts].filter((facts) => facts !== undefined)
  return decide({ instances, current: readLock(PRECISE.document), now: at(HOUR) })
}

describe.each(LEAVING)('tombstone: web $story after it was locked', ({ now, reason }) => {
  const decision = put(afterLeaving(now))

  it('records a tombstone dated when it was first seen gone, with the reason', () => {
    // Prepare / Act: decided above
    // Assess
    expect(outcomeOf(decision, WEB.facts.instanceId)).toEqual({
      instanceId: WEB.facts.instanceId,
      outcome: 'tombstoned',
      since: at(HOUR),
      reason,
    })
    expect(readLock(decision.document).tombstones.get(WEB.facts.instanceId)).toEqual(at(HOUR))
  })

  it.each([...WEB_EVERYWHERE, ...SIBLINGS_STILL])('$story: $expected', async (row) => {
    // Prepare
    const policies = rolePolicies(decision)
    // Act
    const result = await verdict(policies, row.request)
    // Assess
    expect(result).toBe(row.expected)
  })
})

describe('tombstone lifetime', () => {
  const stopped = withFacts(WEB, { state: 'stopped', publicIps: [] })
  /** Locked alone at T0, seen stopped at T0 + 1 h. */
  const first = put(
    decide({
      instances: [stopped],
      current: readLock(put(decide({ instances: [WEB.facts] })).document),
      now: at(HOUR),
    }),
  )
  const later = (instances: readonly InstanceFacts[], offsetMs: number) =>
    decide({ instances, current: readLock(first.document), now: at(HOUR + offsetMs) })

  it('keeps its original time across re-decisions: same document hours later', () => {
    // Prepare: the tombstone written at T0 + 1 h
    // Act
    const again = put(later([stopped], 5 * HOUR))
    // Assess
    expect(again.document).toBe(first.document)
    expect(outcomeOf(again, WEB.facts.instanceId)).toMatchObject({ outcome: 'tombstoned', since: at(HOUR) })
  })

  it('survives the instance disappearing from EC2, still refusing its credential', async () => {
    // Prepare: the tombstone written at T0 + 1 h
    // Act
    const gone = put(later([], 6 * HOUR))
    const result = await verdict(rolePolicies(gone), fromPublicIp(web, '198.51.100.10'))
    // Assess
    expect(outcomeOf(gone, WEB.facts.instanceId)).toMatchObject({ outcome: 'tombstoned', since: at(HOUR) })
    expect(gone.document).toBe(first.document)
    expect(result).toBe(DENIED)
  })

  it('is still there one second before the retention ends', () => {
    // Prepare / Act
    const decision = later([stopped], RETENTION - SECOND)
    // Assess
    expect(decision.action).toBe('put')
    expect(outcomeOf(decision, WEB.facts.instanceId)).toMatchObject({ outcome: 'tombstoned' })
  })

  it.each([
    { story: 'the instance still stopped', instances: [stopped] },
    { story: 'the instance gone', instances: [] },
  ])(
    'is dropped once the retention has passed ($story): nothing left, the policy is removed',
    ({ instances }) => {
      // Prepare / Act
      const decision = later(instances, RETENTION)
      // Assess
      expect(decision.action).toBe('remove')
      expect(decision.instances).toEqual([
        { instanceId: WEB.facts.instanceId, outcome: 'expired', reason: expect.any(String) },
      ])
    },
  )

  it('is dropped on its own while the siblings stay locked', async () => {
    // Prepare
    const both = put(
      decide({ instances: [stopped, WORKER.facts], current: readLock(PRECISE.document), now: at(HOUR) }),
    )
    // Act
    const decision = put(
      decide({
        instances: [stopped, WORKER.facts],
        current: readLock(both.document),
        now: at(HOUR + RETENTION),
      }),
    )
    const results = await Promise.all([
      verdict(rolePolicies(decision), fromPublicIp(worker, '198.51.100.200')),
      verdict(rolePolicies(decision), fromPublicIp(worker, ATTACKER_V4)),
    ])
    // Assess
    expect(decision.document).not.toContain(WEB.facts.instanceId)
    expect(decision.document).not.toContain('Tombstone')
    expect(results).toEqual([ALLOWED, DENIED])
  })

  it.each([
    // Tombstones are dated at the end of the retention's twelfth (here the hour) they fall in.
    { story: '2 h ago: dated at the next whole hour', stoppedAt: at(-2 * HOUR + 250), since: at(-HOUR) },
    { story: 'on the hour: dated that hour', stoppedAt: at(-2 * HOUR), since: at(-2 * HOUR) },
    {
      story: 'just inside the retention',
      stoppedAt: at(-RETENTION + SECOND),
      since: at(-RETENTION + HOUR),
    },
    {
      story: 'exactly the retention ago: nothing left to refuse',
      stoppedAt: at(-RETENTION),
      since: undefined,
    },
  ])('an opted-in instance stopped before it was ever locked, $story', ({ stoppedAt, since }) => {
    // Prepare
    const stopped = withFacts(WEB, { state: 'stopped', publicIps: [], stateChangedAt: stoppedAt })
    // Act
    const decision = decide({ instances: [stopped], now: T0 })
    // Assess
    if (since === undefined) {
      expect(decision).toEqual({ roleName: ROLE, action: 'remove', instances: [] })
    } else {
      expect(outcomeOf(decision, WEB.facts.instanceId)).toMatchObject({ outcome: 'tombstoned', since })
    }
  })
})

describe('back to running', () => {
  const stoppedLock = put(afterLeaving(withFacts(WEB, { state: 'stopped', publicIps: [] })))

  it('stop then start: the tombstone is replaced by a live lock on its new address', async () => {
    // Prepare: web restarted with a new auto-assigned IPv4 (its Elastic IP and IPv6 addresses stay).
    const restarted = withFacts(WEB, {
      publicIps: ['198.51.100.99', '198.51.100.11', '2001:db8:10::10', '2001:db8:10:1::11'],
    })
    // Act
    const decision = put(
      decide({
        instances: [restarted, WORKER.facts, BYSTANDER.facts],
        current: readLock(stoppedLock.document),
        now: at(2 * HOUR),
      }),
    )
    const policies = rolePolicies(decision)
    const results = await Promise.all([
      verdict(policies, fromPublicIp(web, '198.51.100.99')),
      verdict(policies, fromPublicIp(web, '198.51.100.11')),
      verdict(policies, fromPublicIp(web, '2001:db8:10::10')),
      verdict(policies, throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.10' })),
      verdict(policies, viaAwsService(web, SERVICE_IP)),
      verdict(policies, fromPublicIp(web, '198.51.100.10')),
      verdict(policies, fromPublicIp(web, ATTACKER_V4)),
    ])
    // Assess
    expect(outcomeOf(decision, WEB.facts.instanceId)?.outcome).toBe('locked')
    expect(readLock(decision.document).tombstones.size).toBe(0)
    expect(results).toEqual([ALLOWED, ALLOWED, ALLOWED, ALLOWED, ALLOWED, DENIED, DENIED])
  })

  it.each([
    { story: 'after it was locked', current: () => readLock(PRECISE.document) },
    { story: 'after it was tombstoned', current: () => readLock(stoppedLock.document) },
  ])('a running instance that opted out $story is released and unaffected', async ({ current }) => {
    // Prepare
    const optedOut = withFacts(WEB, { optedIn: false })
    // Act
    const decision = decide({ instances: [optedOut, WORKER.facts], current: current(), now: at(2 * HOUR) })
    const results = await Promise.all([
      verdict(rolePolicies(decision), fromPublicIp(web, ATTACKER_V4)),
      verdict(rolePolicies(decision), throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' })),
      verdict(rolePolicies(decision), fromPublicIp(worker, ATTACKER_V4)),
    ])
    // Assess
    expect(outcomeOf(decision, WEB.facts.instanceId)).toMatchObject({ outcome: 'released' })
    expect(results).toEqual([ALLOWED, ALLOWED, DENIED])
  })

  it('the last locked instance opting out removes the policy', () => {
    // Prepare
    const webAlone = put(decide({ instances: [WEB.facts] }))
    // Act
    const decision = decide({
      instances: [withFacts(WEB, { optedIn: false })],
      current: readLock(webAlone.document),
    })
    // Assess
    expect(decision.action).toBe('remove')
    expect(decision.instances).toEqual([
      { instanceId: WEB.facts.instanceId, outcome: 'released', reason: 'not opted in' },
    ])
  })
})

describe('egress the controller cannot see', () => {
  const reason =
    'its route 0.0.0.0/0 to transit gateway tgw-0123456789abcdef0 leads where the controller cannot see the ' +
    'public egress: add "tgw-0123456789abcdef0" (or "*") to the knownEgress setting with the public CIDRs ' +
    'that traffic leaves by.'
  const unknownEgress = withFacts(WORKER, { egressIps: 'unknown', egressUnknownReason: reason })

  it('an instance routed through a transit gateway is skipped with a reason, not locked', async () => {
    // Prepare / Act
    const decision = decide({ instances: [unknownEgress] })
    const result = await verdict(rolePolicies(decision), fromPublicIp(worker, '198.51.100.200'))
    // Assess
    expect(decision.action).toBe('remove')
    expect(outcomeOf(decision, WORKER.facts.instanceId)).toMatchObject({
      outcome: 'skipped',
      reason,
    })
    expect(result).toBe(ALLOWED)
  })

  it('its siblings are still locked, and it is never denied its own path', async () => {
    // Prepare / Act
    const decision = put(
      decide({ instances: [WEB.facts, unknownEgress], current: readLock(PRECISE.document) }),
    )
    const results = await Promise.all([
      verdict(rolePolicies(decision), fromPublicIp(worker, '198.51.100.200')),
      verdict(rolePolicies(decision), fromPublicIp(web, ATTACKER_V4)),
    ])
    // Assess
    expect(decision.document).not.toContain(WORKER.facts.instanceId)
    expect(results).toEqual([ALLOWED, DENIED])
  })
})

// ---------------------------------------------------------------------------------------------------------
// Shape of the document: determinism, minimality, naming, round trip.
// ---------------------------------------------------------------------------------------------------------

describe('document', () => {
  const tombstoned = put(afterLeaving(withFacts(WEB, { state: 'terminated', publicIps: [] })))

  it('is byte-identical for the same facts in any order and spelling', () => {
    // Prepare: instances, addresses and the current lock listed in another order, IPv6 in upper case,
    // host addresses written as /32 and /128.
    const shuffled = [BYSTANDER.facts, WORKER.facts, WEB.facts].map((facts) => ({
      ...facts,
      publicIps: [...facts.publicIps].reverse().map((ip) => ip.toUpperCase()),
      egressIps: facts.egressIps === 'unknown' ? facts.egressIps : [...facts.egressIps].reverse(),
      privateIps: [...facts.privateIps]
        .reverse()
        .map((ip) => (ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`)),
    }))
    const current = readLock(tombstoned.document)
    const reordered: CurrentLock = {
      locked: new Set([...current.locked].reverse()),
      tombstones: new Map([...current.tombstones].reverse()),
    }
    // Act
    const a = decide({ instances: LIVE })
    const b = decide({ instances: shuffled })
    const c = decide({ instances: [WORKER.facts, BYSTANDER.facts], current, now: at(2 * HOUR) })
    const d = decide({ instances: [BYSTANDER.facts, WORKER.facts], current: reordered, now: at(2 * HOUR) })
    // Assess
    expect(put(b).document).toBe(put(a).document)
    expect(put(d).document).toBe(put(c).document)
  })

  it.each([
    { form: 'precise', document: () => PRECISE.document },
    { form: 'compact', document: () => COMPACT.document },
    { form: 'with a tombstone', document: () => tombstoned.document },
  ])('is minimal ($form): no list holds the same value twice', ({ document }) => {
    // Prepare: the same Elastic IP reported on two interfaces, two instances sharing a NAT gateway.
    const duplicated = [
      withFacts(WEB, { publicIps: [...WEB.facts.publicIps, '198.51.100.11', '198.51.100.11/32'] }),
      withFacts(WORKER, { egressIps: ['198.51.100.200', '198.51.100.200', '198.51.100.201'] }),
      withFacts(BYSTANDER, { optedIn: true, egressIps: ['198.51.100.200'] }),
    ]
    // Act
    const decisions = [
      put(decide({ instances: duplicated })),
      put(decide({ instances: duplicated, otherInlineChars: 9_000 })),
    ]
    // Assess
    for (const lists of [document(), ...decisions.map((each) => each.document)].map(conditionLists)) {
      for (const list of lists) expect(new Set(list).size).toBe(list.length)
    }
    expect(decisions.map((each) => each.form)).toEqual(['precise', 'compact'])
  })

  it('is named after its region, and names only instances of its region', () => {
    // Prepare
    const euSettings: LockSettings = { ...SETTINGS, region: 'eu-west-1' }
    // Act
    const eu = put(decide({ instances: LIVE, settings: euSettings }))
    // Assess
    expect(lockPolicyName('us-east-1')).toBe('credential-lock-us-east-1')
    expect(lockPolicyName('eu-west-1')).toBe('credential-lock-eu-west-1')
    expect(eu.document).toContain(`arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/${WEB.facts.instanceId}`)
    expect(eu.document).not.toContain('us-east-1')
    expect(PRECISE.document).not.toContain('eu-west-1')
  })

  it.each([
    { form: 'precise', decision: () => PRECISE },
    { form: 'compact', decision: () => COMPACT },
    { form: 'precise with a tombstone', decision: () => tombstoned },
  ])('round-trips through readLock ($form)', ({ decision }) => {
    // Prepare
    const { document, instances } = decision()
    // Act
    const current = readLock(document)
    // Assess
    expect([...current.locked].sort()).toEqual(
      instances.filter((each) => each.outcome === 'locked').map((each) => each.instanceId),
    )
    expect(Object.fromEntries(current.tombstones)).toEqual(
      Object.fromEntries(
        instances.flatMap((each) => (each.outcome === 'tombstoned' ? [[each.instanceId, each.since]] : [])),
      ),
    )
  })
})

// ---------------------------------------------------------------------------------------------------------
// The 10,240-character budget shared with the role's other inline policies.
// ---------------------------------------------------------------------------------------------------------

/** An opted-in instance of a larger fleet on the same role, one public and one private IPv4 each. */
function fleetMember(index: number): Machine {
  const hex = index.toString(16).padStart(4, '0')
  return {
    vpcId: APP_VPC,
    facts: {
      instanceId: `i-0abc0def01234${hex}`,
      state: 'running',
      roleName: ROLE,
      optedIn: true,
      publicIps: [`198.51.100.${index}`],
      egressIps: [],
      privateIps: [`10.0.${Math.floor(index / 250) + 10}.${(index % 250) + 1}`],
      primaryPrivateIpv4: `10.0.${Math.floor(index / 250) + 10}.${(index % 250) + 1}`,
      otherVpcIds: [],
    },
  }
}

describe('budget', () => {
  const preciseChars = PRECISE.chars

  it.each([
    { story: 'precise fits exactly', other: INLINE_POLICY_BUDGET - preciseChars, form: 'precise' },
    {
      story: 'precise is one character over: compact',
      other: INLINE_POLICY_BUDGET - preciseChars + 1,
      form: 'compact',
    },
    { story: 'compact fits exactly', other: INLINE_POLICY_BUDGET - COMPACT_CHARS, form: 'compact' },
  ])('$story', ({ other, form }) => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE, otherInlineChars: other }))
    // Assess
    expect(decision.form).toBe(form)
    expect(decision.chars + other).toBeLessThanOrEqual(INLINE_POLICY_BUDGET)
    expect(decision.chars).toBe(policyChars(decision.document))
  })

  it('refuses with LockTooLargeError naming role, sizes and limit when even compact does not fit', () => {
    // Prepare
    const other = INLINE_POLICY_BUDGET - COMPACT_CHARS + 1
    // Act
    const attempt = () => decide({ instances: LIVE, otherInlineChars: other })
    // Assess
    expect(attempt).toThrow(LockTooLargeError)
    expect(attempt).toThrow(
      new RegExp(`role ${ROLE} needs ${COMPACT_CHARS} characters.* already use ${other} of IAM's 10240`),
    )
    try {
      attempt()
    } catch (error) {
      expect(error).toMatchObject({
        name: 'LockTooLargeError',
        roleName: ROLE,
        lockChars: COMPACT_CHARS,
        otherInlineChars: other,
        limitChars: INLINE_POLICY_BUDGET,
      })
    }
  })

  describe('a fleet too large for the precise form', () => {
    const fleet = Array.from({ length: 40 }, (_, index) => fleetMember(index + 1))
    const decision = put(decide({ instances: fleet.map((member) => member.facts) }))

    it('falls back to compact within the budget', () => {
      // Prepare / Act: decided above
      // Assess
      expect(decision.form).toBe('compact')
      expect(decision.chars + FOREIGN_CHARS).toBeLessThanOrEqual(INLINE_POLICY_BUDGET)
      expect(policyChars(renderLock('precise', lockedOf(decision), [])) + FOREIGN_CHARS).toBeGreaterThan(
        INLINE_POLICY_BUDGET,
      )
    })

    it('still allows every instance its own public and private path', async () => {
      // Prepare
      const policies = rolePolicies(decision)
      // Act
      const results = await Promise.all(
        fleet.flatMap((member) => {
          const instance = credentials(member)
          const [publicIp = '', privateIp = ''] = [member.facts.publicIps[0], member.facts.privateIps[0]]
          return [
            verdict(policies, fromPublicIp(instance, publicIp)),
            verdict(policies, throughEndpoint(instance, { vpc: APP_VPC, privateIp })),
          ]
        }),
      )
      // Assess
      expect(results.filter((result) => result !== ALLOWED)).toEqual([])
    })

    it.each([
      {
        story: 'from another IPv4',
        request: (instance: InstanceCredentials) => fromPublicIp(instance, ATTACKER_V4),
      },
      {
        story: 'from another IPv6',
        request: (instance: InstanceCredentials) => fromPublicIp(instance, ATTACKER_V6),
      },
      {
        story: "through a foreign VPC's endpoint with its own private IP",
        request: (instance: InstanceCredentials) =>
          throughEndpoint(instance, { vpc: FOREIGN_VPC, privateIp: '10.0.10.2' }),
      },
      {
        story: 'through its own VPC from an address no locked instance has',
        request: (instance: InstanceCredentials) =>
          throughEndpoint(instance, { vpc: APP_VPC, privateIp: '10.0.99.9' }),
      },
    ])('still refuses outsiders: $story', async ({ request }) => {
      // Prepare
      const policies = rolePolicies(decision)
      const members = [fleet[0], fleet[39]].filter((member) => member !== undefined)
      // Act
      const results = await Promise.all(
        members.map((member) => verdict(policies, request(credentials(member)))),
      )
      // Assess
      expect(results).toEqual([DENIED, DENIED])
    })
  })

  it('refuses a fleet too large even for compact, given the other inline policies', () => {
    // Prepare
    const fleet = Array.from({ length: 200 }, (_, index) => fleetMember(index + 1).facts)
    // Act
    const attempt = () => decide({ instances: fleet })
    // Assess
    expect(attempt).toThrow(LockTooLargeError)
  })
})

// ---------------------------------------------------------------------------------------------------------
// Facts that cannot describe a real instance.
// ---------------------------------------------------------------------------------------------------------

describe('invalid facts', () => {
  it.each([
    {
      story: 'a public IPv4 out of range',
      change: { publicIps: ['198.51.100.300'] },
      message: /"198.51.100.300" is not an IPv4 or IPv6/,
    },
    {
      story: 'a public IPv6 that is not one',
      change: { publicIps: ['2001:db8::g'] },
      message: /"2001:db8::g" is not/,
    },
    {
      story: 'a NAT address that is an id',
      change: { egressIps: ['eipalloc-0123456789abcdef0'] },
      message: /Public address of i-0a1b2c3d4e5f60718 "eipalloc/,
    },
    {
      story: 'a private prefix too long',
      change: { privateIps: ['10.0.1.10/33'] },
      message: /"10.0.1.10\/33" has an invalid prefix length/,
    },
    {
      story: 'an IPv6 prefix too long',
      change: { privateIps: ['2001:db8:10::/129'] },
      message: /invalid prefix length/,
    },
    {
      story: 'no private address',
      change: { privateIps: [] },
      message: /i-0a1b2c3d4e5f60718 has no private address/,
    },
    {
      story: 'an instance id too short',
      change: { instanceId: 'i-0a1b2c3' },
      message: /"i-0a1b2c3" is not an EC2 instance ID/,
    },
    {
      story: 'an instance id in upper case',
      change: { instanceId: 'i-0A1B2C3D4E5F60718' },
      message: /not an EC2 instance ID/,
    },
    {
      story: 'an instance name instead of an id',
      change: { instanceId: 'web-1' },
      message: /"web-1" is not an EC2 instance ID/,
    },
  ])('$story', ({ change, message }) => {
    // Prepare
    const facts = withFacts(WEB, change as Partial<InstanceFacts>)
    // Act
    const attempt = () => decide({ instances: [facts] })
    // Assess
    expect(attempt).toThrow(InvalidFactsError)
    expect(attempt).toThrow(message)
  })

  it.each([
    { story: 'a partition in upper case', change: { partition: 'AWS' }, message: /partition "AWS"/ },
    { story: 'an unknown partition', change: { partition: 'azure' }, message: /partition "azure"/ },
    { story: 'a region with a space', change: { region: 'us east 1' }, message: /region "us east 1"/ },
    { story: 'a region without its number', change: { region: 'us-east' }, message: /region "us-east"/ },
    {
      story: 'an availability zone instead of a region',
      change: { region: 'us-east-1a' },
      message: /region "us-east-1a"/,
    },
    {
      story: 'an account id as the console shows it',
      change: { accountId: '1234-5678-9012' },
      message: /accountId "1234-5678-9012"/,
    },
    {
      story: 'an account id one digit short',
      change: { accountId: '12345678901' },
      message: /accountId "12345678901"/,
    },
    { story: 'an account alias', change: { accountId: 'acme-prod' }, message: /accountId "acme-prod"/ },
  ])('$story', ({ change, message }) => {
    // Prepare
    const settings: LockSettings = { ...SETTINGS, ...change }
    // Act
    const attempt = () => decide({ instances: [WEB.facts], settings })
    // Assess
    expect(attempt).toThrow(InvalidFactsError)
    expect(attempt).toThrow(message)
  })

  it('accepts every real partition and region shape, and settings carrying more than the scope', () => {
    // Prepare
    const scopes = [
      { partition: 'aws-cn', region: 'cn-northwest-1' },
      { partition: 'aws-us-gov', region: 'us-gov-west-1' },
      { partition: 'aws-iso-b', region: 'us-isob-east-1' },
      { partition: 'aws', region: 'ap-southeast-5' },
    ]
    const extended = { ...SETTINGS, tombstoneRetentionMs: 1.5 * HOUR, tagKey: 'CredentialLock' }
    // Act
    const decisions = [
      ...scopes.map((scope) => put(decide({ instances: [WEB.facts], settings: { ...SETTINGS, ...scope } }))),
      put(decide({ instances: [WEB.facts], settings: extended })),
    ]
    // Assess
    expect(decisions.map((each) => each.action)).toEqual(['put', 'put', 'put', 'put', 'put'])
    expect(decisions[0]?.document).toContain(`arn:aws-cn:ec2:cn-northwest-1:${ACCOUNT}:instance/`)
  })
})

// ---------------------------------------------------------------------------------------------------------
// The verdict helper itself: it must never turn a request it cannot model into a verdict.
// ---------------------------------------------------------------------------------------------------------

describe('verdict helper', () => {
  const policies = rolePolicies(PRECISE)

  it.each([
    {
      story: 'a context key the simulator would silently drop',
      request: {
        ...fromPublicIp(web, ATTACKER_V4),
        context: { ...fromPublicIp(web, ATTACKER_V4).context, 'aws:SourceIpAddress': '1.2.3.4' },
      },
      message: /ignored context keys aws:SourceIpAddress/,
    },
    {
      story: 'an IP key that holds no IP',
      request: fromPublicIp(web, 'not-an-ip'),
      message: /aws:SourceIp must be an IP/,
    },
    {
      story: 'an action that does not exist',
      request: fromPublicIp(web, ATTACKER_V4, { action: 's3:GetObjekt', resource: '*' }),
      message: /rejected the simulation/,
    },
    {
      story: 'a resource the action does not take',
      request: fromPublicIp(web, ATTACKER_V4, {
        action: 's3:GetObject',
        resource: 'arn:aws:sqs:us-east-1:123456789012:jobs',
      }),
      message: /rejected the simulation/,
    },
  ])('refuses $story', async ({ request, message }) => {
    // Prepare / Act
    const attempt = verdict(policies, request)
    // Assess
    await expect(attempt).rejects.toThrow(message)
  })
})
