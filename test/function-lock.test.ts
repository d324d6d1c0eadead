/**
 * The lock on VPC Lambda functions (issue 13, part 1), proven with IAM verdicts: what IAM (as modelled by
 * @cloud-copilot/iam-simulate) answers for a request signed with a function's execution-role credential, which
 * carries lambda:SourceFunctionArn and no EC2 key, when the role carries the documents decideLock returned and an
 * ordinary allow-all policy. Everything is computed inside the tests, never at module load.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError } from '../policy/errors.js'
import {
  type CurrentLock,
  decideLock,
  type FunctionFacts,
  functionArn,
  type InstanceFacts,
  LAMBDA_SERVICE_ACTIONS,
  type LockDecision,
  lockPolicyName,
  OUTSIDE_VPC_REASON,
  readLock,
} from '../policy/lock/index.js'
import {
  ACCOUNT,
  ALLOWED,
  APP_VPC,
  at,
  DENIED,
  FOREIGN_VPC,
  HOUR,
  instanceCredentials,
  REGION,
  RETENTION,
  SECOND,
  SETTINGS,
  T0,
  ATTACKER_V4 as THIEF,
} from './support/lock-scene.js'
import {
  ALLOW_ALL,
  type ApiCall,
  byLambdaService,
  type FunctionCredentials,
  fromPublicIp,
  GET_OBJECT,
  type RolePolicy,
  type SimulatedRequest,
  throughEndpoint,
  type Verdict,
  verdict,
  viaAwsService,
} from './support/simulate.js'

const ROLE = 'defenders'
const OTHER_ROLE = 'defenders-next'
const NAT = '198.51.100.200'
/** An address Lambda's own service calls come from (documentation range, not a real one). */
const LAMBDA_SERVICE_IP = '192.0.2.80'
const SUBNET_A = '10.0.2.0/24'
const SUBNET_B = '10.0.3.0/24'
/** An ENI address of the function in its subnet. */
const FUNCTION_ENI = '10.0.2.57'

/** Tagged, in two private subnets behind one NAT gateway. */
const REPORTER: FunctionFacts = {
  functionName: 'reporter',
  roleName: ROLE,
  optedIn: true,
  vpcId: APP_VPC,
  egressIps: [NAT],
  subnetCidrs: [SUBNET_B, SUBNET_A],
}
/** Same role, not tagged: never touched. Its name starts like the tagged one's. */
const REPORTER_DRAFT: FunctionFacts = { ...REPORTER, functionName: 'reporter-draft', optedIn: false }
/** Tagged but not in a VPC: the controller cannot pin it. */
const WEBHOOK: FunctionFacts = {
  functionName: 'webhook',
  roleName: ROLE,
  optedIn: true,
  vpcId: undefined,
  egressIps: [],
  subnetCidrs: [],
}

/** An instance on the same role with a public address of its own. */
const LUKE: InstanceFacts = {
  instanceId: 'i-0a1b2c3d4e5f60718',
  state: 'running',
  roleName: ROLE,
  optedIn: true,
  publicIps: ['198.51.100.10'],
  egressIps: [],
  privateIps: ['10.0.1.10'],
  primaryPrivateIpv4: '10.0.1.10',
}

const NO_LOCK: CurrentLock = { locked: new Set(), tombstones: new Map() }

const LAMBDA_CALLS: readonly ApiCall[] = [
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
const NOT_EXEMPT: readonly ApiCall[] = [
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

interface Situation {
  readonly functions: readonly FunctionFacts[]
  readonly instances?: readonly InstanceFacts[]
  readonly current?: CurrentLock
  readonly now?: Date
  readonly roleName?: string
  readonly exemptActions?: readonly string[]
}

function decide(situation: Situation): LockDecision {
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

function documentsOf(decision: LockDecision): readonly string[] {
  return decision.action === 'put' ? decision.documents : []
}

function rolePolicies(decision: LockDecision): RolePolicy[] {
  return [
    ALLOW_ALL,
    ...documentsOf(decision).map((document, index) => ({
      name: index === 0 ? lockPolicyName(REGION) : `part-${index}`,
      document,
    })),
  ]
}

function carried(decision: LockDecision): CurrentLock {
  return readLock(documentsOf(decision))
}

function credentialsOf(fn: FunctionFacts, issuedAt?: Date): FunctionCredentials {
  return {
    accountId: ACCOUNT,
    region: REGION,
    roleName: fn.roleName,
    functionName: fn.functionName,
    issuedAt,
  }
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

describe('a tagged function in a VPC', () => {
  it('may use its credentials from its NAT and its own VPC only; a thief is refused everywhere else', async () => {
    // Prepare
    const reporter = credentialsOf(REPORTER)
    const rdsConnect = {
      action: 'rds-db:connect',
      resource: `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-A/app`,
    }

    // Act
    const decision = decide({ functions: [REPORTER] })

    // Assess
    expect(decision.functions).toEqual([
      {
        functionName: 'reporter',
        outcome: 'locked',
        allowedFrom: { vpcId: APP_VPC, publicCidrs: [`${NAT}/32`], privateCidrs: [SUBNET_A, SUBNET_B] },
      },
    ])
    await expectVerdicts(decision, [
      { story: 'from its NAT gateway', request: fromPublicIp(reporter, NAT), expected: ALLOWED },
      {
        story: 'through an endpoint of its VPC',
        request: throughEndpoint(reporter, { vpc: APP_VPC, privateIp: FUNCTION_ENI }),
        expected: ALLOWED,
      },
      {
        story: 'an IAM-authenticated service inside the VPC',
        request: fromPublicIp(reporter, FUNCTION_ENI, rdsConnect),
        expected: ALLOWED,
      },
      { story: 'via an AWS service', request: viaAwsService(reporter, LAMBDA_SERVICE_IP), expected: ALLOWED },
      { story: 'a thief on the internet', request: fromPublicIp(reporter, THIEF), expected: DENIED },
      {
        story: 'a thief through an endpoint of another VPC, from an address in its subnet range',
        request: throughEndpoint(reporter, { vpc: FOREIGN_VPC, privateIp: FUNCTION_ENI }),
        expected: DENIED,
      },
      {
        story: 'through its own VPC from outside its subnets',
        request: throughEndpoint(reporter, { vpc: APP_VPC, privateIp: '10.0.9.9' }),
        expected: DENIED,
      },
    ])
  })

  it('keeps the five calls Lambda makes for it from its own addresses, and nothing next to them', async () => {
    // Prepare
    const reporter = credentialsOf(REPORTER)

    // Act
    const decision = decide({ functions: [REPORTER] })

    // Assess
    expect(LAMBDA_CALLS.map((call) => call.action).sort()).toEqual([...LAMBDA_SERVICE_ACTIONS].sort())
    await expectVerdicts(decision, [
      ...LAMBDA_CALLS.map((call) => ({
        story: `Lambda's ${call.action}`,
        request: byLambdaService(reporter, LAMBDA_SERVICE_IP, call),
        expected: ALLOWED,
      })),
      ...NOT_EXEMPT.map((call) => ({
        story: `a thief's ${call.action}`,
        request: fromPublicIp(reporter, THIEF, call),
        expected: DENIED,
      })),
    ])
  })

  it('shares its statements with functions in the same subnets, each still refused outside', async () => {
    // Prepare
    const archiver: FunctionFacts = { ...REPORTER, functionName: 'archiver' }

    // Act
    const decision = decide({ functions: [REPORTER, archiver] })

    // Assess
    expect(
      documentsOf(decision)
        .join('')
        .match(/lambda:SourceFunctionArn/g),
    ).toHaveLength(2)
    await expectVerdicts(decision, [
      {
        story: 'reporter from the NAT',
        request: fromPublicIp(credentialsOf(REPORTER), NAT),
        expected: ALLOWED,
      },
      {
        story: 'archiver from the NAT',
        request: fromPublicIp(credentialsOf(archiver), NAT),
        expected: ALLOWED,
      },
      { story: 'reporter stolen', request: fromPublicIp(credentialsOf(REPORTER), THIEF), expected: DENIED },
      { story: 'archiver stolen', request: fromPublicIp(credentialsOf(archiver), THIEF), expected: DENIED },
    ])
  })

  it("adds the role's exempt actions to Lambda's own", async () => {
    // Prepare
    const reporter = credentialsOf(REPORTER)

    // Act
    const decision = decide({ functions: [REPORTER], exemptActions: ['s3:GetObject'] })

    // Assess
    await expectVerdicts(decision, [
      { story: 'an exempt action from outside', request: fromPublicIp(reporter, THIEF), expected: ALLOWED },
      {
        story: 'any other action from outside',
        request: fromPublicIp(reporter, THIEF, { action: 's3:PutObject', resource: GET_OBJECT.resource }),
        expected: DENIED,
      },
    ])
  })

  it('is skipped with the reason when its egress is unknown, and refused nothing', async () => {
    // Prepare
    const reason = 'its route 0.0.0.0/0 to transit gateway tgw-0123 leads where the controller cannot see it'
    const spoke: FunctionFacts = { ...REPORTER, egressIps: 'unknown', egressUnknownReason: reason }

    // Act
    const decision = decide({ functions: [spoke] })

    // Assess
    expect(decision).toMatchObject({ action: 'remove', functions: [{ outcome: 'skipped', reason }] })
  })

  it('refuses facts that name no subnet range or a name Lambda never gives', () => {
    // Prepare
    const noSubnets: FunctionFacts = { ...REPORTER, subnetCidrs: [] }
    const badName: FunctionFacts = { ...REPORTER, functionName: 'reporter:1' }

    // Act / Assess
    expect(() => decide({ functions: [noSubnets] })).toThrow(InvalidFactsError)
    expect(() => decide({ functions: [badName] })).toThrow(InvalidFactsError)
  })
})

describe('functions the lock must not touch', () => {
  it('leaves an untagged function on the same role alone, even one whose name extends a locked one', async () => {
    // Prepare
    const draft = credentialsOf(REPORTER_DRAFT)

    // Act
    const decision = decide({ functions: [REPORTER, REPORTER_DRAFT] })

    // Assess
    expect(decision.functions.map((outcome) => outcome.functionName)).toEqual(['reporter'])
    await expectVerdicts(decision, [
      { story: 'the draft from anywhere', request: fromPublicIp(draft, THIEF), expected: ALLOWED },
      {
        story: 'the draft through another VPC',
        request: throughEndpoint(draft, { vpc: FOREIGN_VPC, privateIp: '172.16.0.9' }),
        expected: ALLOWED,
      },
    ])
  })

  it('skips a tagged function outside a VPC, pointing to the in-function lockdown', async () => {
    // Act
    const decision = decide({ functions: [WEBHOOK] })

    // Assess
    expect(decision).toEqual({
      roleName: ROLE,
      action: 'remove',
      instances: [],
      functions: [{ functionName: 'webhook', outcome: 'skipped', reason: OUTSIDE_VPC_REASON }],
    })
    expect(OUTSIDE_VPC_REASON).toContain('in-function lockdown')
  })

  it('lifts the lock when the tag is removed', async () => {
    // Prepare
    const current = carried(decide({ functions: [REPORTER] }))

    // Act
    const decision = decide({ functions: [{ ...REPORTER, optedIn: false }], current })

    // Assess
    expect(decision).toMatchObject({
      action: 'remove',
      functions: [{ functionName: 'reporter', outcome: 'released', reason: 'not opted in' }],
    })
  })
})

describe('an instance and a function on one role', () => {
  it('lock each to its own paths: neither statement matches the other credential', async () => {
    // Prepare
    const luke = instanceCredentials(ROLE, LUKE)
    const reporter = credentialsOf(REPORTER)

    // Act
    const decision = decide({ functions: [REPORTER], instances: [LUKE] })

    // Assess
    await expectVerdicts(decision, [
      { story: 'luke from its own address', request: fromPublicIp(luke, '198.51.100.10'), expected: ALLOWED },
      { story: 'reporter from its NAT', request: fromPublicIp(reporter, NAT), expected: ALLOWED },
      { story: "luke from reporter's NAT", request: fromPublicIp(luke, NAT), expected: DENIED },
      {
        story: "reporter from luke's address",
        request: fromPublicIp(reporter, '198.51.100.10'),
        expected: DENIED,
      },
      {
        story: "reporter through luke's VPC endpoint from luke's address",
        request: throughEndpoint(reporter, { vpc: APP_VPC, privateIp: '10.0.1.10' }),
        expected: DENIED,
      },
    ])
  })

  it('read back apart: the instance lock names the instance, the function lock the function', () => {
    // Act
    const current = carried(decide({ functions: [REPORTER], instances: [LUKE] }))

    // Assess
    expect(current).toEqual({
      locked: new Set([LUKE.instanceId]),
      tombstones: new Map(),
      functions: { locked: new Set(['reporter']), tombstones: new Map() },
    })
  })
})

describe('a deleted or moved function', () => {
  it('leaves a tombstone refusing credentials issued before it was deleted, even from its NAT', async () => {
    // Prepare
    const current = carried(decide({ functions: [REPORTER] }))
    const deletedAt = at(10 * 60 * SECOND + 400)

    // Act
    const decision = decide({ functions: [], current, now: deletedAt })

    // Assess
    const second = at(10 * 60 * SECOND + SECOND)
    expect(decision.functions).toEqual([
      {
        functionName: 'reporter',
        outcome: 'tombstoned',
        since: second,
        issuedBefore: second,
        reason: 'deleted',
      },
    ])
    await expectVerdicts(decision, [
      {
        story: 'old credentials from the NAT',
        request: fromPublicIp(credentialsOf(REPORTER, T0), NAT),
        expected: DENIED,
      },
      {
        story: "old credentials for Lambda's log delivery",
        request: byLambdaService(credentialsOf(REPORTER, T0), LAMBDA_SERVICE_IP, LAMBDA_CALLS[2] as ApiCall),
        expected: DENIED,
      },
      {
        story: 'the untagged draft on the same role',
        request: fromPublicIp(credentialsOf(REPORTER_DRAFT, T0), THIEF),
        expected: ALLOWED,
      },
    ])
  })

  it('created again under the same name: its new credentials work, the old ones stay refused', async () => {
    // Prepare
    const deletedAt = at(HOUR)
    const tombstoned = carried(
      decide({ functions: [], current: carried(decide({ functions: [REPORTER] })), now: deletedAt }),
    )
    const recreatedAt = at(HOUR + 30 * SECOND)

    // Act
    const decision = decide({ functions: [REPORTER], current: tombstoned, now: recreatedAt })

    // Assess
    expect(decision.functions.map((outcome) => outcome.outcome)).toEqual(['locked', 'tombstoned'])
    await expectVerdicts(decision, [
      {
        story: 'new from the NAT',
        request: fromPublicIp(credentialsOf(REPORTER, recreatedAt), NAT),
        expected: ALLOWED,
      },
      {
        story: 'new stolen',
        request: fromPublicIp(credentialsOf(REPORTER, recreatedAt), THIEF),
        expected: DENIED,
      },
      {
        story: 'old from the NAT',
        request: fromPublicIp(credentialsOf(REPORTER, at(HOUR - SECOND)), NAT),
        expected: DENIED,
      },
    ])
    expect(carried(decision).functions?.tombstones.get('reporter')).toEqual({
      since: at(HOUR),
      issuedBefore: at(HOUR),
    })
  })

  it('moved to another role: the old role refuses its old credentials, the new role locks it', async () => {
    // Prepare
    const current = carried(decide({ functions: [REPORTER] }))
    const moved: FunctionFacts = { ...REPORTER, roleName: OTHER_ROLE }
    const movedAt = at(2 * HOUR)

    // Act
    const oldRole = decide({ functions: [moved], current, now: movedAt })
    const newRole = decide({ functions: [moved], roleName: OTHER_ROLE, now: movedAt })

    // Assess
    expect(oldRole.functions).toMatchObject([{ outcome: 'tombstoned', reason: 'moved to another role' }])
    await expectVerdicts(oldRole, [
      {
        story: 'old-role credentials from the NAT',
        request: fromPublicIp(credentialsOf(REPORTER), NAT),
        expected: DENIED,
      },
    ])
    const onNewRole = credentialsOf(moved, at(2 * HOUR + SECOND))
    await expectVerdicts(newRole, [
      {
        story: 'new-role credentials from the NAT',
        request: fromPublicIp(onNewRole, NAT),
        expected: ALLOWED,
      },
      { story: 'new-role credentials stolen', request: fromPublicIp(onNewRole, THIEF), expected: DENIED },
    ])
  })

  it('forgets the tombstone once the retention has passed', () => {
    // Prepare
    const tombstoned = carried(
      decide({ functions: [], current: carried(decide({ functions: [REPORTER] })), now: at(HOUR) }),
    )

    // Act
    const decision = decide({ functions: [], current: tombstoned, now: at(HOUR + RETENTION) })

    // Assess
    expect(decision).toMatchObject({
      action: 'remove',
      functions: [{ functionName: 'reporter', outcome: 'expired' }],
    })
  })

  it('is matched by its exact ARN', () => {
    // Act / Assess
    expect(functionArn(SETTINGS, 'reporter')).toBe(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:reporter`)
  })
})
