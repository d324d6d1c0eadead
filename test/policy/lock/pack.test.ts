/**
 * Packing the lock into the inline policy and managed policies of its own (policy/lock/pack.ts): fleets spread
 * over both, the budget counted as IAM counts it to the last character, the instances that do not fit left
 * unprotected each saying why, and LockTooLargeError when not even the tombstones fit.
 */
import { describe, expect, it } from 'vitest'
import { LockTooLargeError } from '../../../policy/errors.js'
import {
  type CurrentLock,
  INLINE_POLICY_BUDGET,
  MANAGED_POLICY_BUDGET,
  policyChars,
  type TombstoneEntry,
} from '../../../policy/lock/index.js'
import {
  carried,
  credentials,
  decide,
  expectVerdicts,
  INLINE_ONLY,
  type Machine,
  NAT_1,
  NAT_2,
  put,
  ROOMY,
  WEB,
  worker,
} from '../../support/lock-fleet.js'
import * as numbered from '../../support/lock-numbered.js'
import { ALLOWED, APP_VPC, ATTACKER_V4, DENIED, NO_LOCK, T0 } from '../../support/lock-scene.js'
import * as single from '../../support/lock-single.js'
import { fromPublicIp, type InstanceCredentials, throughEndpoint, verdict } from '../../support/simulate.js'

describe('fleets spread over the inline and managed policies, what does not fit said unprotected', () => {
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

describe('the inline budget, counted as IAM counts it, to the last character', () => {
  it('keeps the precise form when it uses the budget to the last character', () => {
    // Prepare
    const roomy = single.decide([single.facts()])
    const chars = roomy.action === 'put' ? (roomy.chars[0] ?? Number.NaN) : Number.NaN

    // Act
    const decision = single.decide([single.facts()], NO_LOCK, {
      otherInlineChars: INLINE_POLICY_BUDGET - chars,
      managedPolicies: 0,
    })

    // Assess
    expect(decision).toMatchObject({ action: 'put', form: 'precise', chars: [chars] })
  })

  it('refuses, saying what to do, a tombstone that does not fit at all', () => {
    // Prepare
    const current: CurrentLock = { locked: new Set([single.INSTANCE]), tombstones: new Map() }

    // Act
    const decideTight = () =>
      single.decide([], current, { otherInlineChars: INLINE_POLICY_BUDGET - 10, managedPolicies: 0 })

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

describe('a budget too small for every instance', () => {
  it('never puts a document in the inline policy that is larger than the room the role leaves', () => {
    // Prepare: the role's other inline policies leave 60 characters; the lock could go to managed policies.
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 60, managedPolicies: 2 }

    // Act
    const decision = numbered.decide([numbered.facts(1)], { budget })

    // Assess
    const chars = decision.action === 'put' ? decision.chars : []
    expect(chars.every((each, index) => each <= (index === 0 ? 60 : MANAGED_POLICY_BUDGET))).toBe(true)
    expect(decision.instances).toMatchObject([{ instanceId: numbered.idOf(1), outcome: 'unprotected' }])
  })

  it('locks as many instances as fit, and says which it leaves unprotected and what to do', async () => {
    // Prepare
    const fleet = Array.from({ length: 60 }, (_, n) => numbered.facts(n))
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 1_500, managedPolicies: 0 }

    // Act
    const decision = numbered.decide(fleet, { budget })

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
    const policies = numbered.rolePolicies(decision)
    const lockedIndex = Number(locked[0]?.instanceId.slice(-4))
    const leftIndex = Number(unprotected[0]?.instanceId.slice(-4))
    expect(await verdict(policies, fromPublicIp(numbered.credentialsOf(lockedIndex), ATTACKER_V4))).toBe(
      'ExplicitlyDenied',
    )
    expect(await verdict(policies, fromPublicIp(numbered.credentialsOf(leftIndex), ATTACKER_V4))).toBe(
      'Allowed',
    )
  })

  it('names its compact statements with Sids IAM accepts', () => {
    // Prepare: a fleet that only fits in the compact form, with IMDSv1 refused.
    const fleet = Array.from({ length: 60 }, (_, n) => numbered.facts(n))
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 1_500, managedPolicies: 0 }

    // Act
    const decision = numbered.decide(fleet, { budget, settings: { refuseImdsV1: true } })

    // Assess
    expect(decision).toMatchObject({ action: 'put', form: 'compact' })
    numbered.expectSidsIamAccepts(decision)
  })

  it('keeps a tombstone when no instance fits beside it', async () => {
    // Prepare: instance 2 was locked and is gone; instance 1 runs but its statements do not fit.
    const current: CurrentLock = { locked: new Set([numbered.idOf(2)]), tombstones: new Map() }
    const budget = { otherInlineChars: INLINE_POLICY_BUDGET - 300, managedPolicies: 0 }

    // Act
    const decision = numbered.decide([numbered.facts(1)], { current, budget })

    // Assess
    expect(decision.action).toBe('put')
    expect(decision.instances).toMatchObject([
      { instanceId: numbered.idOf(1), outcome: 'unprotected' },
      { instanceId: numbered.idOf(2), outcome: 'tombstoned', reason: 'gone from EC2' },
    ])
    expect(
      await verdict(
        numbered.rolePolicies(decision),
        fromPublicIp(numbered.credentialsOf(2), numbered.publicIpOf(2)),
      ),
    ).toBe('ExplicitlyDenied')
  })

  it('removes the lock when neither an instance nor a tombstone fits, saying each instance is unprotected', () => {
    // Act
    const decision = numbered.decide([numbered.facts(1)], {
      budget: { otherInlineChars: INLINE_POLICY_BUDGET - 300, managedPolicies: 0 },
    })

    // Assess
    expect(decision).toMatchObject({ action: 'remove', instances: [{ outcome: 'unprotected' }] })
  })
})
