/**
 * What the lock makes of an instance's state and addresses (policy/lock/judge-instances.ts): a launching
 * instance is locked, one with neither public address nor NAT is locked to its own private path, and each
 * outcome gives its reason.
 */
import { describe, expect, it } from 'vitest'
import type { CurrentLock } from '../../../policy/lock/index.js'
import * as numbered from '../../support/lock-numbered.js'
import { APP_VPC, ATTACKER_V4, HOUR, NO_LOCK, T0 } from '../../support/lock-scene.js'
import {
  credentials,
  decide,
  facts,
  INSTANCE,
  OWN_IP,
  PRIVATE_IP,
  rolePolicies,
} from '../../support/lock-single.js'
import { fromPublicIp, throughEndpoint, verdict } from '../../support/simulate.js'

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
    expect(await verdict(policies, fromPublicIp(credentials, ATTACKER_V4))).toBe('ExplicitlyDenied')
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
    expect(
      await verdict(policies, throughEndpoint(credentials, { vpc: APP_VPC, privateIp: PRIVATE_IP })),
    ).toBe('Allowed')
    expect(await verdict(policies, fromPublicIp(credentials, OWN_IP))).toBe('ExplicitlyDenied')
    // An empty list names no address: IAM would read it as "deny everywhere" on that path, and it costs budget.
    expect(decision.action === 'put' && decision.documents.join()).not.toMatch(/\[\]/)
  })
})

describe('the reason each instance outcome gives', () => {
  it('says its egress is unknown when EC2 gave no better reason', () => {
    // Act
    const decision = numbered.decide([numbered.facts(1, { egressIps: 'unknown' })])

    // Assess
    expect(decision.instances).toEqual([
      {
        instanceId: numbered.idOf(1),
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
    const current: CurrentLock = { locked: new Set([numbered.idOf(1)]), tombstones: new Map() }

    // Act
    const decision = numbered.decide([numbered.facts(1, change)], { current })

    // Assess
    expect(decision.instances).toMatchObject([
      { instanceId: numbered.idOf(1), outcome: 'tombstoned', reason },
    ])
  })

  it.each([
    ['its state', [numbered.facts(1, { state: 'stopped' })], 'stopped'],
    ['that it is gone', [], 'gone from EC2'],
  ])('keeps an existing tombstone giving %s', (_, instances, reason) => {
    // Prepare
    const since = new Date(T0.getTime() - HOUR)
    const current: CurrentLock = { locked: new Set(), tombstones: new Map([[numbered.idOf(1), { since }]]) }

    // Act
    const decision = numbered.decide(instances, { current })

    // Assess
    expect(decision.instances).toEqual([
      { instanceId: numbered.idOf(1), outcome: 'tombstoned', since, issuedBefore: undefined, reason },
    ])
  })
})
