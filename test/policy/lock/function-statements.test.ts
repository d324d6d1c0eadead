/**
 * Function statements among the others (policy/lock/judge-functions.ts, statements.ts): documents shared with
 * instance statements under Sids IAM accepts, functions judged in name order, the reason each outcome gives, the
 * facts refused, and each function locked to its own VPC and egress.
 */
import { describe, expect, it } from 'vitest'
import { type CurrentLock, INLINE_POLICY_BUDGET, OUTSIDE_VPC_REASON } from '../../../policy/lock/index.js'
import {
  decide,
  expectSidsIamAccepts,
  facts,
  fn,
  fnCredentials,
  idOf,
  rolePolicies,
  SECOND_VPC,
  statementsOf,
} from '../../support/lock-numbered.js'
import { APP_VPC, FOREIGN_VPC, HOUR, NO_LOCK, T0 } from '../../support/lock-scene.js'
import { fromPublicIp, throughEndpoint, verdict } from '../../support/simulate.js'

describe('functions beside other statements: Sids, name order, reasons and refusals', () => {
  const since = new Date(T0.getTime() - HOUR)
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
      `Function worker is in VPC ${APP_VPC} but no subnet CIDR was given: pass its subnets' CIDRs.`,
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
})
