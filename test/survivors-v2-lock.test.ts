/**
 * Lock v2's engine on the edges its mutation run found unguarded: a budget too small for every instance, the
 * reasons each outcome gives, tombstones written before they carried an issue time, functions' tombstones,
 * statements that must stay unique and stable, and which credentials a one-instance statement matches.
 */
import { describe, expect, it } from 'vitest'
import {
  type CurrentLock,
  decideLock,
  type FunctionFacts,
  INLINE_POLICY_BUDGET,
  type InstanceFacts,
  type LockBudget,
  type LockDecision,
  type LockSettings,
  lockPolicyName,
  MANAGED_POLICY_BUDGET,
  OUTSIDE_VPC_REASON,
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
  type FunctionCredentials,
  fromPublicIp,
  type InstanceCredentials,
  type RolePolicy,
  roleSessionFromPublicIp,
  throughEndpoint,
  verdict,
} from './support/simulate.js'

const ROLE = 'app-server'
const SECOND_VPC = 'vpc-0b1b2b3b4b5b6b7b8'
const INSTANCE = 'i-0a1b2c3d4e5f60718'

const idOf = (n: number) => `i-0a1b2c3d4e5f6${String(n).padStart(4, '0')}`
const publicIpOf = (n: number) => `198.51.${100 + Math.floor(n / 200)}.${(n % 200) + 10}`

function facts(n: number, change: Partial<InstanceFacts> = {}): InstanceFacts {
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

function decide(
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
    NOW,
  )
}

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

function credentialsOf(n: number, change: Partial<InstanceCredentials> = {}): InstanceCredentials {
  return { accountId: ACCOUNT, region: REGION, roleName: ROLE, instanceId: idOf(n), vpcId: VPC, ...change }
}

/** A function on the role, opted in, in a VPC behind one NAT address. */
function fn(name: string, change: Partial<FunctionFacts> = {}): FunctionFacts {
  return {
    functionName: name,
    roleName: ROLE,
    optedIn: true,
    vpcId: VPC,
    egressIps: ['198.51.100.200'],
    subnetCidrs: ['10.0.8.0/24'],
    ...change,
  }
}

function fnCredentials(name: string, issuedAt?: Date): FunctionCredentials {
  return { accountId: ACCOUNT, region: REGION, roleName: ROLE, functionName: name, issuedAt }
}

function statementsOf(decision: LockDecision): { Sid?: string; NotAction?: string[] }[][] {
  return decision.action === 'put' ? decision.documents.map((document) => JSON.parse(document).Statement) : []
}

/**
 * IAM accepts a Sid (optional) of ASCII letters and digits only, unique within its policy; anything else makes the write
 * fail as a malformed document, and the role's events end in the dead-letter queue.
 */
function expectSidsIamAccepts(decision: LockDecision): void {
  const documents = statementsOf(decision)
  expect(documents.length).toBeGreaterThan(0)
  for (const statements of documents) {
    const sids = statements.flatMap((statement) => (statement.Sid === undefined ? [] : [statement.Sid]))
    expect(sids.filter((sid) => !/^[A-Za-z0-9]+$/.test(sid))).toEqual([])
    expect(new Set(sids).size).toBe(sids.length)
  }
}

describe('a budget too small for every instance', () => {
  it('never puts a document in the inline policy that is larger than the room the role leaves', () => {
    // Prepare: the role's other inline policies leave 60 characters; the lock could go to managed policies.
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 60, managedPolicies: 2 }

    // Act
    const decision = decide([facts(1)], { budget })

    // Assess
    const chars = decision.action === 'put' ? decision.chars : []
    expect(chars.every((each, index) => each <= (index === 0 ? 60 : MANAGED_POLICY_BUDGET))).toBe(true)
    expect(decision.instances).toMatchObject([{ instanceId: idOf(1), outcome: 'unprotected' }])
  })

  it('locks as many instances as fit, and says which it leaves unprotected and what to do', async () => {
    // Prepare
    const fleet = Array.from({ length: 60 }, (_, n) => facts(n))
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 1_500, managedPolicies: 0 }

    // Act
    const decision = decide(fleet, { budget })

    // Assess
    const locked = decision.instances.filter((outcome) => outcome.outcome === 'locked')
    const unprotected = decision.instances.filter((outcome) => outcome.outcome === 'unprotected')
    expect(decision).toMatchObject({ action: 'put', form: 'compact' })
    expect(locked.length).toBeGreaterThan(0)
    expect(unprotected.length).toBe(60 - locked.length)
    expect(unprotected[0]).toEqual({
      instanceId: unprotected[0]?.instanceId,
      outcome: 'unprotected',
      reason:
        `the role's policy budget holds only ${locked.length} locked instances: move some to another role, ` +
        'or raise the managed-policy quota and the managedPolicyQuota setting',
    })
    const policies = rolePolicies(decision)
    const lockedIndex = Number(locked[0]?.instanceId.slice(-4))
    const leftIndex = Number(unprotected[0]?.instanceId.slice(-4))
    expect(await verdict(policies, fromPublicIp(credentialsOf(lockedIndex), THIEF_IP))).toBe(
      'ExplicitlyDenied',
    )
    expect(await verdict(policies, fromPublicIp(credentialsOf(leftIndex), THIEF_IP))).toBe('Allowed')
  })

  it('names its compact statements with Sids IAM accepts', () => {
    // Prepare: a fleet that only fits in the compact form, with IMDSv1 refused.
    const fleet = Array.from({ length: 60 }, (_, n) => facts(n))
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 1_500, managedPolicies: 0 }

    // Act
    const decision = decide(fleet, { budget, settings: { refuseImdsV1: true } })

    // Assess
    expect(decision).toMatchObject({ action: 'put', form: 'compact' })
    expectSidsIamAccepts(decision)
  })

  it('keeps a tombstone when no instance fits beside it', async () => {
    // Prepare: instance 2 was locked and is gone; instance 1 runs but its statements do not fit.
    const current: CurrentLock = { locked: new Set([idOf(2)]), tombstones: new Map() }
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 300, managedPolicies: 0 }

    // Act
    const decision = decide([facts(1)], { current, budget })

    // Assess
    expect(decision.action).toBe('put')
    expect(decision.instances).toMatchObject([
      { instanceId: idOf(1), outcome: 'unprotected' },
      { instanceId: idOf(2), outcome: 'tombstoned', reason: 'gone from EC2' },
    ])
    expect(await verdict(rolePolicies(decision), fromPublicIp(credentialsOf(2), publicIpOf(2)))).toBe(
      'ExplicitlyDenied',
    )
  })

  it('removes the lock when neither an instance nor a tombstone fits, saying each instance is unprotected', () => {
    // Act
    const decision = decide([facts(1)], {
      budget: { otherInlineChars: INLINE_POLICY_BUDGET - 300, managedPolicies: 0 },
    })

    // Assess
    expect(decision).toMatchObject({ action: 'remove', instances: [{ outcome: 'unprotected' }] })
  })
})

describe('the reason each instance outcome gives', () => {
  it('says its egress is unknown when EC2 gave no better reason', () => {
    // Act
    const decision = decide([facts(1, { egressIps: 'unknown' })])

    // Assess
    expect(decision.instances).toEqual([
      {
        instanceId: idOf(1),
        outcome: 'skipped',
        reason: 'its traffic to AWS leaves through a route whose egress address is unknown',
      },
    ])
  })

  it.each([
    ['moved to another role', { roleName: 'another-role' }, 'moved to another role'],
    ['stopped', { state: 'stopped' as const }, 'stopped'],
  ])('tombstones a locked instance that %s, saying so', (_, change, reason) => {
    // Prepare
    const current: CurrentLock = { locked: new Set([idOf(1)]), tombstones: new Map() }

    // Act
    const decision = decide([facts(1, change)], { current })

    // Assess
    expect(decision.instances).toMatchObject([{ instanceId: idOf(1), outcome: 'tombstoned', reason }])
  })

  it.each([
    ['its state', [facts(1, { state: 'stopped' })], 'stopped'],
    ['that it is gone', [], 'gone from EC2'],
  ])('keeps an existing tombstone giving %s', (_, instances, reason) => {
    // Prepare
    const since = new Date(NOW.getTime() - HOUR)
    const current: CurrentLock = { locked: new Set(), tombstones: new Map([[idOf(1), { since }]]) }

    // Act
    const decision = decide(instances, { current })

    // Assess
    expect(decision.instances).toEqual([
      { instanceId: idOf(1), outcome: 'tombstoned', since, issuedBefore: undefined, reason },
    ])
  })
})

describe('a tombstone written before tombstones carried an issue time, on an instance that runs again', () => {
  const since = new Date(NOW.getTime() - HOUR)
  const current: CurrentLock = { locked: new Set(), tombstones: new Map([[idOf(1), { since }]]) }

  it.each([
    [
      'it started before the tombstone',
      new Date(since.getTime() - 600_000),
      new Date(since.getTime() - 600_000),
    ],
    ['it started after the tombstone', new Date(since.getTime() + 600_000), since],
    ['EC2 does not say when it started', undefined, since],
  ])('refuses only what came before its start when %s', async (_, launchedAt, issuedBefore) => {
    // Act
    const decision = decide([facts(1, { launchedAt })], { current })

    // Assess
    expect(decision.instances).toContainEqual({
      instanceId: idOf(1),
      outcome: 'tombstoned',
      since,
      issuedBefore,
      reason: 'credentials from before it last stopped or moved',
    })
    const fresh = credentialsOf(1, { issuedAt: issuedBefore })
    expect(await verdict(rolePolicies(decision), fromPublicIp(fresh, publicIpOf(1)))).toBe('Allowed')
  })
})

describe('functions', () => {
  const since = new Date(NOW.getTime() - HOUR)
  const tombstoned = (name: string, issuedBefore?: Date): CurrentLock => ({
    ...NO_LOCK,
    functions: { locked: new Set(), tombstones: new Map([[name, { since, issuedBefore }]]) },
  })

  it('share documents with every other kind of statement, each with a Sid IAM accepts', () => {
    // Prepare: instances locked and tombstoned, a function locked and one deleted, IMDSv1 refused.
    const current: CurrentLock = {
      locked: new Set([idOf(3)]),
      tombstones: new Map([[idOf(4), { since }]]),
      functions: {
        locked: new Set(['gone']),
        tombstones: new Map([['older', { since, issuedBefore: since }]]),
      },
    }

    // Act
    const decision = decide([facts(1), facts(2, { egressIps: ['198.51.100.201'] })], {
      current,
      functions: [fn('worker')],
      settings: { refuseImdsV1: true },
    })

    // Assess
    expect(decision).toMatchObject({ action: 'put', form: 'precise' })
    expectSidsIamAccepts(decision)
  })

  it.each([
    ['with exempt actions', ['s3:GetObject']],
    ['without exempt actions', undefined],
  ])(
    'name, in LockTooLargeError, exactly the characters the tombstones and a locked function take, %s',
    (_, exemptActions) => {
      // Prepare: five instances' tombstones and a locked function, once with room and once with none.
      const current: CurrentLock = {
        locked: new Set(),
        tombstones: new Map([1, 2, 3, 4, 5].map((n) => [idOf(n), { since }])),
      }
      const options = { current, functions: [fn('worker')], exemptActions }
      const withRoom = decide([], options)

      // Act
      const attempt = () =>
        decide([], {
          ...options,
          budget: { otherInlineChars: INLINE_POLICY_BUDGET - 10, managedPolicies: 0 },
        })

      // Assess: the figure a user reads is what the controller would write, not an estimate that understates it.
      expect(withRoom).toMatchObject({ action: 'put' })
      const needed = withRoom.action === 'put' ? withRoom.chars.reduce((sum, chars) => sum + chars, 0) : 0
      expect(attempt).toThrowError(expect.objectContaining({ name: 'LockTooLargeError', lockChars: needed }))
    },
  )

  it('are judged in name order whatever order Lambda lists them in', () => {
    // Act
    const decision = decide([], { functions: [fn('worker-b'), fn('worker-a')] })

    // Assess
    expect(decision.functions.map((outcome) => outcome.functionName)).toEqual(['worker-a', 'worker-b'])
  })

  it.each([
    ['here again', [fn('worker')], 'credentials from before it was deleted or moved'],
    ['moved to another role', [fn('worker', { roleName: 'another-role' })], 'moved to another role'],
    ['deleted', [], 'deleted'],
  ])('keep a tombstone of one %s, with its issue time, saying why', (_, functions, reason) => {
    // Prepare
    const issuedBefore = new Date(since.getTime() + 5_000)

    // Act
    const decision = decide([], { functions, current: tombstoned('worker', issuedBefore) })

    // Assess
    expect(decision.functions).toContainEqual({
      functionName: 'worker',
      outcome: 'tombstoned',
      since,
      issuedBefore,
      reason,
    })
  })

  it('say their egress is unknown when no better reason is given, and why one outside a VPC is not locked', () => {
    // Act
    const decision = decide([], {
      functions: [fn('in-vpc', { egressIps: 'unknown' }), fn('outside', { vpcId: undefined })],
    })

    // Assess
    expect(decision.functions).toEqual([
      {
        functionName: 'in-vpc',
        outcome: 'skipped',
        reason: 'its traffic to AWS leaves through a route whose egress address is unknown',
      },
      { functionName: 'outside', outcome: 'skipped', reason: OUTSIDE_VPC_REASON },
    ])
    expect(OUTSIDE_VPC_REASON).toMatch(/^it is not attached to a VPC, .* in-function lockdown/)
  })

  it('refuse a function in a VPC without subnet CIDRs, naming it and what to pass', () => {
    // Act
    const attempt = () => decide([], { functions: [fn('worker', { subnetCidrs: [] })] })

    // Assess
    expect(attempt).toThrowError(
      `Function worker is in VPC ${VPC} but no subnet CIDR was given: pass its subnets' CIDRs.`,
    )
  })

  it('refuse a name Lambda never gives', () => {
    // Act
    const attempt = () => decide([], { current: tombstoned('bad name!') })

    // Assess
    expect(attempt).toThrowError(
      '"bad name!" is not a Lambda function name (1 to 64 letters, digits, hyphens and underscores).',
    )
  })

  it('may call through a trusted shared endpoint of another VPC, and through no other', async () => {
    // Prepare
    const trusted = 'vpce-0aaaaaaaaaaaaaaa1'
    const decision = decide([], {
      functions: [fn('worker')],
      settings: { trustedVpcEndpoints: [trusted, trusted] },
    })
    const own = fnCredentials('worker')

    // Act
    const through = (vpce: string) =>
      verdict(rolePolicies(decision), throughEndpoint(own, { vpc: FOREIGN_VPC, privateIp: '10.0.8.5', vpce }))

    // Assess
    expect(await through(trusted)).toBe('Allowed')
    expect(await through('vpce-0bbbbbbbbbbbbbbb2')).toBe('ExplicitlyDenied')
  })

  it('never list an action twice in what they are not refused', () => {
    // Act
    const decision = decide([], {
      functions: [fn('worker')],
      exemptActions: ['logs:PutLogEvents', 's3:GetObject', 's3:GetObject'],
    })

    // Assess
    for (const statement of statementsOf(decision).flat()) {
      const actions = statement.NotAction ?? []
      expect(actions).toEqual([...new Set(actions)])
    }
  })
})

describe('statements', () => {
  it('carry unique Sids in each document, however many groups share one', () => {
    // Prepare: three instances, each with a second interface in a different VPC, give three endpoint statements.
    const fleet = [1, 2, 3].map((n) => facts(n, { otherVpcIds: [`vpc-0b1b2b3b4b5b6b7b${n}`] }))

    // Act
    const decision = decide(fleet)

    // Assess
    for (const statements of statementsOf(decision)) {
      const sids = statements.flatMap((statement) => (statement.Sid === undefined ? [] : [statement.Sid]))
      expect(sids).toEqual([...new Set(sids)])
    }
    expect(
      statementsOf(decision)
        .flat()
        .map((statement) => statement.Sid),
    ).toEqual(expect.arrayContaining(['Endpoint', 'Endpointx2', 'Endpointx3']))
  })

  it('are the same whatever order the facts come in', () => {
    // Prepare: groups of every kind: tombstones of two dates, two VPC sets, two address sets, two functions.
    const current: CurrentLock = {
      locked: new Set([idOf(7), idOf(8)]),
      tombstones: new Map([
        [idOf(9), { since: new Date(NOW.getTime() - HOUR) }],
        [idOf(10), { since: new Date(NOW.getTime() - 2 * HOUR) }],
      ]),
    }
    const instances = [
      facts(1, { otherVpcIds: [SECOND_VPC, SECOND_VPC] }),
      facts(2),
      facts(3, { publicIps: [], primaryPrivateIpv4: '10.0.0.13' }),
      facts(4, { publicIps: [], primaryPrivateIpv4: '10.0.0.14' }),
      facts(7, { state: 'stopped' }),
      facts(8, { state: 'terminated' }),
    ]
    const functions: FunctionFacts[] = ['worker-a', 'worker-b'].map((name, n) => ({
      functionName: name,
      roleName: ROLE,
      optedIn: true,
      vpcId: n === 0 ? VPC : SECOND_VPC,
      egressIps: [`198.51.100.${200 + n}`],
      subnetCidrs: [`10.0.${8 + n}.0/24`],
    }))

    // Act
    const forward = decide(instances, { current, functions })
    const backward = decide([...instances].reverse(), { current, functions: [...functions].reverse() })

    // Assess
    expect(backward).toEqual(forward)
  })

  it('for one instance match only that instance’s credentials, not another session of the role', async () => {
    // Prepare
    const decision = decide([facts(1)])

    // Act
    const session = await verdict(
      rolePolicies(decision),
      roleSessionFromPublicIp({ accountId: ACCOUNT, roleName: ROLE }, 'deploy', THIEF_IP),
    )

    // Assess
    expect(session).toBe('Allowed')
  })

  it('naming a fleet match its instances in this region only, not an instance of the same ID elsewhere', async () => {
    // Prepare: the endpoint statement names both instances; instance IDs are unique per region only.
    const decision = decide([facts(1), facts(2)])
    const endpoint = { vpc: FOREIGN_VPC, privateIp: '10.0.0.11' }

    // Act
    const elsewhere = await verdict(
      rolePolicies(decision),
      throughEndpoint(credentialsOf(1, { region: 'eu-west-1' }), endpoint),
    )
    const here = await verdict(rolePolicies(decision), throughEndpoint(credentialsOf(1), endpoint))

    // Assess
    expect([elsewhere, here]).toEqual(['Allowed', 'ExplicitlyDenied'])
  })

  it('let an instance with a second interface call through endpoints of both its VPCs, and no other', async () => {
    // Prepare
    const decision = decide([facts(1, { otherVpcIds: [SECOND_VPC, SECOND_VPC] })])
    const own = credentialsOf(1)
    const privateIp = '10.0.0.11'

    // Act
    const through = (vpc: string) => verdict(rolePolicies(decision), throughEndpoint(own, { vpc, privateIp }))

    // Assess
    expect([await through(VPC), await through(SECOND_VPC), await through(FOREIGN_VPC)]).toEqual([
      'Allowed',
      'Allowed',
      'ExplicitlyDenied',
    ])
  })

  it('list no empty set of addresses for a private fleet compared by its primary address', () => {
    // Prepare
    const fleet = [1, 2].map((n) => facts(n, { publicIps: [], primaryPrivateIpv4: `10.0.0.${n + 10}` }))

    // Act
    const decision = decide(fleet)

    // Assess
    expect(decision.action === 'put' && decision.documents.join()).not.toMatch(/\[\]/)
  })
})

describe('readLock', () => {
  it('reads a tombstone whose statement was split, with both its dates', () => {
    // Prepare
    const document = JSON.stringify({
      Statement: [
        {
          Sid: 'Tombstone1748851200Before1748851300x12',
          Condition: {
            StringEquals: {
              'ec2:SourceInstanceARN': `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${INSTANCE}`,
            },
          },
        },
      ],
    })

    // Act
    const current = readLock([document])

    // Assess
    expect(current.locked.size).toBe(0)
    expect(current.tombstones.get(INSTANCE)).toEqual({
      since: new Date(1748851200 * 1000),
      issuedBefore: new Date(1748851300 * 1000),
    })
  })
})

describe('more lock v2 edges', () => {
  const since = new Date(NOW.getTime() - HOUR)

  it('keeps the issue time of a tombstone on an instance that runs again', () => {
    // Prepare: written for an instance that stopped before it was ever locked.
    const issuedBefore = new Date(since.getTime() + 1_800_000)
    const current: CurrentLock = {
      locked: new Set(),
      tombstones: new Map([[idOf(1), { since, issuedBefore }]]),
    }

    // Act
    const decision = decide([facts(1, { launchedAt: new Date(NOW.getTime() - 600_000) })], { current })

    // Assess
    expect(decision.instances).toContainEqual(
      expect.objectContaining({ outcome: 'tombstoned', issuedBefore }),
    )
  })

  it('keeps the tombstone of a function locked again after it was deleted', () => {
    // Prepare
    const current: CurrentLock = {
      ...NO_LOCK,
      functions: {
        locked: new Set(['worker']),
        tombstones: new Map([['worker', { since, issuedBefore: since }]]),
      },
    }

    // Act
    const decision = decide([], { current, functions: [fn('worker')] })

    // Assess
    expect(decision.functions.map((outcome) => outcome.outcome)).toEqual(['locked', 'tombstoned'])
  })

  it('gives a locked function that is deleted again a new tombstone covering its newer credentials', () => {
    // Prepare
    const current: CurrentLock = {
      ...NO_LOCK,
      functions: {
        locked: new Set(['worker']),
        tombstones: new Map([['worker', { since, issuedBefore: since }]]),
      },
    }

    // Act
    const decision = decide([], { current })

    // Assess
    const now = new Date(Math.ceil(NOW.getTime() / 1000) * 1000)
    expect(decision.functions).toEqual([
      { functionName: 'worker', outcome: 'tombstoned', since: now, issuedBefore: now, reason: 'deleted' },
    ])
  })

  it('drops a function tombstone a whole retention old, saying why', () => {
    // Prepare
    const old = new Date(NOW.getTime() - 13 * HOUR)
    const current: CurrentLock = {
      ...NO_LOCK,
      functions: { locked: new Set(), tombstones: new Map([['worker', { since: old, issuedBefore: old }]]) },
    }

    // Act
    const decision = decide([], { current })

    // Assess
    expect(decision.functions).toEqual([
      { functionName: 'worker', outcome: 'expired', reason: 'its old credentials have expired' },
    ])
  })

  it('locks two functions in different VPCs each to its own VPC and its own egress', async () => {
    // Prepare
    const decision = decide([], {
      functions: [
        fn('worker-a'),
        fn('worker-b', { vpcId: SECOND_VPC, egressIps: ['198.51.100.201'], subnetCidrs: ['10.1.8.0/24'] }),
      ],
    })
    const b = fnCredentials('worker-b')

    // Act
    const results = [
      await verdict(rolePolicies(decision), throughEndpoint(b, { vpc: SECOND_VPC, privateIp: '10.1.8.5' })),
      await verdict(rolePolicies(decision), fromPublicIp(b, '198.51.100.201')),
      await verdict(rolePolicies(decision), fromPublicIp(b, '198.51.100.200')),
    ]

    // Assess
    expect(results).toEqual(['Allowed', 'Allowed', 'ExplicitlyDenied'])
  })

  it('lets an instance with interfaces in two more VPCs call through endpoints of each', async () => {
    // Prepare
    const third = 'vpc-0c1c2c3c4c5c6c7c8'
    const decision = decide([facts(1, { otherVpcIds: [SECOND_VPC, third] })])

    // Act
    const through = (vpc: string) =>
      verdict(rolePolicies(decision), throughEndpoint(credentialsOf(1), { vpc, privateIp: '10.0.0.11' }))

    // Assess
    expect([await through(SECOND_VPC), await through(third)]).toEqual(['Allowed', 'Allowed'])
  })

  it.each([
    [
      'an instance’s public address',
      () => decide([facts(1, { publicIps: ['not-an-ip'] })]),
      'Public address of',
    ],
    [
      'an instance’s primary address',
      () => decide([facts(1, { privateIps: ['10.0.0.11'], primaryPrivateIpv4: 'not-an-ip' })]),
      'Primary private address of',
    ],
    [
      'a function’s subnet',
      () => decide([], { functions: [fn('worker', { subnetCidrs: ['x'] })] }),
      'Subnet CIDR of',
    ],
    [
      'a function’s egress',
      () => decide([], { functions: [fn('worker', { egressIps: ['x'] })] }),
      'Egress address of',
    ],
  ])('names %s that is not an address', (_, attempt, what) => {
    // Assess
    expect(attempt).toThrowError(new RegExp(`^${what} `))
  })
})
