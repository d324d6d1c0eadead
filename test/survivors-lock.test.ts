/**
 * The policy engine on the edges mutation testing found unguarded, proven with IAM verdicts
 * (@cloud-copilot/iam-simulate): a launching instance, a request that carries no aws:ViaAWSService, the opt-in
 * tag, the shape of every ARN part, and the tombstone of an instance stopped before it was ever locked.
 */
import { describe, expect, it } from 'vitest'
import {
  type CurrentLock,
  decideLock,
  INLINE_POLICY_BUDGET,
  type InstanceFacts,
  instanceArn,
  isCompactLock,
  isOptedIn,
  type LockBudget,
  type LockDecision,
  lockPolicyName,
  policyChars,
  readLock,
} from '../policy/lock/index.js'
import {
  ACCOUNT,
  FOREIGN_VPC,
  HOUR,
  INLINE_ONLY,
  NO_LOCK,
  T0 as NOW,
  REGION,
  SETTINGS,
  ATTACKER_V4 as THIEF_IP,
  APP_VPC as VPC,
} from './support/lock-scene.js'
import {
  ALLOW_ALL,
  fromPublicIp,
  type InstanceCredentials,
  type RolePolicy,
  type SimulatedRequest,
  throughEndpoint,
  verdict,
} from './support/simulate.js'

const ROLE = 'app-server'
const OWN_IP = '198.51.100.10'
const PRIVATE_IP = '10.0.1.10'
const INSTANCE = 'i-0a1b2c3d4e5f60718'

function facts(change: Partial<InstanceFacts> = {}): InstanceFacts {
  return {
    instanceId: INSTANCE,
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: [OWN_IP],
    egressIps: [],
    privateIps: [PRIVATE_IP],
    ...change,
  }
}

function decide(
  instances: readonly InstanceFacts[],
  current: CurrentLock = NO_LOCK,
  budget: LockBudget = INLINE_ONLY,
): LockDecision {
  return decideLock({ roleName: ROLE, instances, current, budget }, SETTINGS, NOW)
}

const credentials: InstanceCredentials = {
  accountId: ACCOUNT,
  region: REGION,
  roleName: ROLE,
  instanceId: INSTANCE,
  vpcId: VPC,
  privateIpv4: PRIVATE_IP,
}

/** The role's policies once the decision is applied. */
function rolePolicies(decision: LockDecision): RolePolicy[] {
  const own = decision.action === 'put' ? decision.documents : []
  return [
    ALLOW_ALL,
    ...own.map((document, index) => ({
      name: index === 0 ? lockPolicyName(REGION) : `part-${index}`,
      document,
    })),
  ]
}

/** The same request without aws:ViaAWSService: some calls carry no such key at all. */
function withoutViaAwsService(request: SimulatedRequest): SimulatedRequest {
  const { 'aws:ViaAWSService': _, ...context } = request.context
  return { ...request, context }
}

describe('a launching (pending) instance', () => {
  it.each([
    ['opted in now', NO_LOCK],
    ['already locked', { locked: new Set([INSTANCE]), tombstones: new Map() } satisfies CurrentLock],
  ])('%s gets a live lock: its own address is allowed, a thief is refused', async (_, current) => {
    // Prepare
    const pending = facts({ state: 'pending' })

    // Act
    const decision = decide([pending], current)

    // Assess
    const policies = rolePolicies(decision)
    expect(await verdict(policies, fromPublicIp(credentials, OWN_IP))).toBe('Allowed')
    expect(await verdict(policies, fromPublicIp(credentials, THIEF_IP))).toBe('ExplicitlyDenied')
  })
})

describe('a request that carries no aws:ViaAWSService key', () => {
  it.each([
    ['from an outside address', () => fromPublicIp(credentials, THIEF_IP)],
    [
      'through an endpoint of another VPC, from the instance’s own private address',
      () => throughEndpoint(credentials, { vpc: FOREIGN_VPC, privateIp: PRIVATE_IP }),
    ],
  ])('is refused %s', async (_, build) => {
    // Prepare
    const decision = decide([facts()])
    const request = build()

    // Act
    const result = await verdict(rolePolicies(decision), withoutViaAwsService(request))

    // Assess
    expect(result).toBe('ExplicitlyDenied')
  })

  it('is allowed from the instance’s own address', async () => {
    // Prepare
    const decision = decide([facts()])

    // Act
    const result = await verdict(
      rolePolicies(decision),
      withoutViaAwsService(fromPublicIp(credentials, OWN_IP)),
    )

    // Assess
    expect(result).toBe('Allowed')
  })
})

describe('an instance with no public address and no NAT', () => {
  it('is allowed only through an endpoint of its own VPC, by a lock that lists no empty set of addresses', async () => {
    // Prepare
    const privateOnly = facts({ publicIps: [] })

    // Act
    const decision = decide([privateOnly])

    // Assess
    const policies = rolePolicies(decision)
    expect(await verdict(policies, throughEndpoint(credentials, { vpc: VPC, privateIp: PRIVATE_IP }))).toBe(
      'Allowed',
    )
    expect(await verdict(policies, fromPublicIp(credentials, OWN_IP))).toBe('ExplicitlyDenied')
    // An empty list names no address: IAM would read it as "deny everywhere" on that path, and it costs budget.
    expect(decision.action === 'put' && decision.documents.join()).not.toMatch(/\[\]/)
  })
})

describe('isOptedIn', () => {
  const tag = { key: 'credential-lock', value: 'enabled' }

  it.each([
    ['the lock tag with the lock value', [{ Key: 'credential-lock', Value: 'enabled' }], true],
    ['another tag with the lock value', [{ Key: 'Name', Value: 'enabled' }], false],
    ['the lock tag with another value', [{ Key: 'credential-lock', Value: 'disabled' }], false],
    [
      'the key and the value on different tags',
      [
        { Key: 'credential-lock', Value: 'off' },
        { Key: 'Name', Value: 'enabled' },
      ],
      false,
    ],
    ['no tags', [], false],
  ])('an instance with %s: %s', (_, tags, expected) => {
    // Act
    const optedIn = isOptedIn(tags, tag)

    // Assess
    expect(optedIn).toBe(expected)
  })
})

describe('instanceArn refuses a scope part of the wrong shape', () => {
  it.each([
    ['partition', 'xaws'],
    ['partition', 'aws1'],
    ['region', '1us-east-1'],
    ['region', 'us-east-1a'],
    ['accountId', 'x123456789012'],
    ['accountId', '1234567890123'],
  ] as const)('%s "%s"', (part, value) => {
    // Act
    const build = () => instanceArn({ ...SETTINGS, [part]: value }, INSTANCE)

    // Assess
    expect(build).toThrowError(
      expect.objectContaining({
        name: 'InvalidFactsError',
        message: `The ${part} "${value}" cannot be part of an ARN: fix the settings.`,
      }),
    )
  })

  it.each([
    ['aws-us-gov', 'us-gov-west-1'],
    ['aws', 'ap-southeast-10'],
  ])('builds the ARN every request of the instance carries in %s %s', (partition, region) => {
    // Act
    const arn = instanceArn({ ...SETTINGS, partition, region }, INSTANCE)

    // Assess
    expect(arn).toBe(`arn:${partition}:ec2:${region}:${ACCOUNT}:instance/${INSTANCE}`)
  })

  it.each([`x${INSTANCE}`, `${INSTANCE}zz`])('and an instance ID "%s" of the wrong shape', (instanceId) => {
    // Act
    const build = () => instanceArn(SETTINGS, instanceId)

    // Assess
    expect(build).toThrowError(expect.objectContaining({ name: 'InvalidFactsError' }))
  })
})

describe('an instance that stopped before the controller ever locked it', () => {
  const stoppedAt = (ago: number) =>
    facts({ state: 'stopped', publicIps: [], stateChangedAt: new Date(NOW.getTime() - ago) })

  it('is tombstoned when it is opted in and on this role: its credentials are refused everywhere', async () => {
    // Prepare
    const stopped = stoppedAt(HOUR)

    // Act
    const decision = decide([stopped])

    // Assess
    expect(await verdict(rolePolicies(decision), fromPublicIp(credentials, OWN_IP))).toBe('ExplicitlyDenied')
  })

  it.each([
    ['it never opted in', { optedIn: false }],
    ['it uses another role', { roleName: 'another-role' }],
    ['it stopped a whole retention ago', { stateChangedAt: new Date(NOW.getTime() - 12 * HOUR) }],
    ['EC2 does not say when it stopped', { stateChangedAt: undefined }],
  ])('is left alone when %s', async (_, change) => {
    // Prepare
    const stopped = { ...stoppedAt(HOUR), ...change }

    // Act
    const decision = decide([stopped])

    // Assess
    expect(decision.action).toBe('remove')
    expect(await verdict(rolePolicies(decision), fromPublicIp(credentials, THIEF_IP))).toBe('Allowed')
  })
})

describe('a lock that only holds tombstones', () => {
  it('refuses the instance of this region, not one of the same ID in another region using the role', async () => {
    // Prepare: instance IDs are only unique per region; another region's controller owns that instance.
    const current: CurrentLock = { locked: new Set([INSTANCE]), tombstones: new Map() }
    const decision = decide([], current)
    const policies = rolePolicies(decision)

    // Act
    const here = await verdict(policies, fromPublicIp(credentials, OWN_IP))
    const there = await verdict(policies, fromPublicIp({ ...credentials, region: 'eu-west-1' }, OWN_IP))

    // Assess
    expect([here, there]).toEqual(['ExplicitlyDenied', 'Allowed'])
  })

  it('says why an expired tombstone is dropped', () => {
    // Prepare
    const current: CurrentLock = {
      locked: new Set<string>(),
      tombstones: new Map([[INSTANCE, { since: new Date(NOW.getTime() - 13 * HOUR) }]]),
    }

    // Act
    const decision = decide([], current)

    // Assess
    expect(decision).toMatchObject({
      action: 'remove',
      instances: [{ instanceId: INSTANCE, outcome: 'expired', reason: 'its old credentials have expired' }],
    })
  })
})

describe('the budget', () => {
  it('keeps the precise form when it uses the budget to the last character', () => {
    // Prepare
    const roomy = decide([facts()])
    const chars = roomy.action === 'put' ? (roomy.chars[0] ?? Number.NaN) : Number.NaN

    // Act
    const decision = decide([facts()], NO_LOCK, {
      otherInlineChars: INLINE_POLICY_BUDGET - chars,
      managedPolicies: 0,
    })

    // Assess
    expect(decision).toMatchObject({ action: 'put', form: 'precise', chars: [chars] })
  })

  it('refuses, saying what to do, a tombstone that does not fit at all', () => {
    // Prepare
    const current: CurrentLock = { locked: new Set([INSTANCE]), tombstones: new Map() }

    // Act
    const decideTight = () =>
      decide([], current, { otherInlineChars: INLINE_POLICY_BUDGET - 10, managedPolicies: 0 })

    // Assess
    expect(decideTight).toThrowError(
      expect.objectContaining({
        name: 'LockTooLargeError',
        message: expect.stringMatching(
          /^The credential-lock policy for role app-server needs \d+ characters, but the role's other inline policies already use 10230 of IAM's 10240-character budget: move fewer opted-in instances onto this role or shrink its other inline policies\.$/,
        ),
      }),
    )
  })

  it('counts every character but whitespace, as IAM does', () => {
    // Act
    const chars = policyChars('{ "Sid": "a b",\n\t"x": 1 }\n')

    // Assess
    expect(chars).toBe('{"Sid":"ab","x":1}'.length)
  })
})

describe('readLock and isCompactLock on documents the controller may find', () => {
  it.each([
    ['no document', undefined],
    ['text that is not JSON', 'not json'],
    ['JSON null', 'null'],
    ['a Statement that is not a list', '{"Statement":{"Sid":"Compact"}}'],
  ])('%s holds nothing and is not compact', (_, document) => {
    // Act
    const current = readLock(document)

    // Assess
    expect(current).toEqual({
      locked: new Set(),
      tombstones: new Map(),
      functions: { locked: new Set(), tombstones: new Map() },
    })
    expect(isCompactLock([document])).toBe(false)
  })

  it('skips statements that are not objects or carry no condition, and reads the rest of every document', () => {
    // Prepare
    const arn = instanceArn(SETTINGS, INSTANCE)
    const other = 'i-0a1b2c3d4e5f60719'
    const document = JSON.stringify({
      Statement: [
        null,
        5,
        'Compact',
        { Sid: 'NoCondition' },
        { Condition: { StringEquals: { 'ec2:SourceInstanceARN': arn } } },
      ],
    })
    const second = JSON.stringify({
      Statement: [{ Condition: { StringLike: { 'ec2:SourceInstanceARN': [instanceArn(SETTINGS, other)] } } }],
    })

    // Act
    const current = readLock([document, undefined, second])

    // Assess
    expect(current.locked).toEqual(new Set([INSTANCE, other]))
    expect(current.tombstones).toEqual(new Map())
    expect(isCompactLock([document, second])).toBe(false)
  })

  it.each([
    ['a junk prefix', `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/x${INSTANCE}`],
    ['a junk suffix', `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${INSTANCE}zz`],
  ])('ignores an instance ID with %s', (_, arn) => {
    // Prepare
    const document = JSON.stringify({
      Statement: [{ Condition: { StringEquals: { 'ec2:SourceInstanceARN': arn } } }],
    })

    // Act
    const current = readLock(document)

    // Assess
    expect(current.locked.size).toBe(0)
  })

  it.each(['XTombstone1748851200', 'Tombstone1748851200y'])(
    'reads a statement with the Sid %s as a live lock',
    (sid) => {
      // Prepare
      const arn = instanceArn(SETTINGS, INSTANCE)
      const document = JSON.stringify({
        Statement: [{ Sid: sid, Condition: { StringEquals: { 'ec2:SourceInstanceARN': arn } } }],
      })

      // Act
      const current = readLock(document)

      // Assess
      expect(current.locked).toEqual(new Set([INSTANCE]))
      expect(current.tombstones).toEqual(new Map())
    },
  )

  it('tells the compact form from the precise one', () => {
    // Prepare: two instances with their own addresses fit only as one role-wide statement in a tight budget.
    const two = [facts(), facts({ instanceId: 'i-0a1b2c3d4e5f60719', publicIps: ['198.51.100.11'] })]
    const precise = decide(two)
    const preciseChars = precise.action === 'put' ? (precise.chars[0] ?? 0) : 0
    const compact = decide(two, NO_LOCK, {
      otherInlineChars: INLINE_POLICY_BUDGET - preciseChars + 1,
      managedPolicies: 0,
    })

    // Act
    const forms = [precise, compact].map((decision) =>
      isCompactLock(decision.action === 'put' ? decision.documents : []),
    )

    // Assess
    expect(compact).toMatchObject({ action: 'put', form: 'compact' })
    expect(forms).toEqual([false, true])
  })
})
