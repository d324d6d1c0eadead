/**
 * Which instances a tombstone is written for, and which credentials it covers (policy/lock/judge-instances.ts,
 * tombstones.ts): an opted-in instance stopped before it was ever locked, a lock holding only tombstones (this
 * region's instance, not another region's of the same ID), and tombstones from before they carried an issue
 * time.
 */
import { describe, expect, it } from 'vitest'
import type { CurrentLock } from '../../../policy/lock/index.js'
import * as numbered from '../../support/lock-numbered.js'
import { ATTACKER_V4, HOUR, T0 } from '../../support/lock-scene.js'
import { credentials, decide, facts, INSTANCE, OWN_IP, rolePolicies } from '../../support/lock-single.js'
import { fromPublicIp, verdict } from '../../support/simulate.js'

describe('an instance that stopped before the controller ever locked it', () => {
  const stoppedAt = (ago: number) =>
    facts({ state: 'stopped', publicIps: [], stateChangedAt: new Date(T0.getTime() - ago) })

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
    ['it stopped a whole retention ago', { stateChangedAt: new Date(T0.getTime() - 12 * HOUR) }],
    ['EC2 does not say when it stopped', { stateChangedAt: undefined }],
  ])('is left alone when %s', async (_, change) => {
    // Prepare
    const stopped = { ...stoppedAt(HOUR), ...change }

    // Act
    const decision = decide([stopped])

    // Assess
    expect(decision.action).toBe('remove')
    expect(await verdict(rolePolicies(decision), fromPublicIp(credentials, ATTACKER_V4))).toBe('Allowed')
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
      tombstones: new Map([[INSTANCE, { since: new Date(T0.getTime() - 13 * HOUR) }]]),
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

describe('a tombstone written before tombstones carried an issue time, on an instance that runs again', () => {
  const since = new Date(T0.getTime() - HOUR)
  const current: CurrentLock = { locked: new Set(), tombstones: new Map([[numbered.idOf(1), { since }]]) }

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
    const decision = numbered.decide([numbered.facts(1, { launchedAt })], { current })

    // Assess
    expect(decision.instances).toContainEqual({
      instanceId: numbered.idOf(1),
      outcome: 'tombstoned',
      since,
      issuedBefore,
      reason: 'credentials from before it last stopped or moved',
    })
    const fresh = numbered.credentialsOf(1, { issuedAt: issuedBefore })
    expect(await verdict(numbered.rolePolicies(decision), fromPublicIp(fresh, numbered.publicIpOf(1)))).toBe(
      'Allowed',
    )
  })

  it('keeps the issue time of a tombstone on an instance that runs again', () => {
    // Prepare: written for an instance that stopped before it was ever locked.
    const issuedBefore = new Date(since.getTime() + 1_800_000)
    const current: CurrentLock = {
      locked: new Set(),
      tombstones: new Map([[numbered.idOf(1), { since, issuedBefore }]]),
    }

    // Act
    const decision = numbered.decide([numbered.facts(1, { launchedAt: new Date(T0.getTime() - 600_000) })], {
      current,
    })

    // Assess
    expect(decision.instances).toContainEqual(
      expect.objectContaining({ outcome: 'tombstoned', issuedBefore }),
    )
  })
})
