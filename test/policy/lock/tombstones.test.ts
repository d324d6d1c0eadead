/**
 * Tombstones (policy/lock/tombstones.ts, judge-instances.ts): a stopped, moved, terminated or vanished
 * instance's old credentials stay refused while its fresh ones work once it runs again, across re-decisions,
 * until the retention has passed; proven with IAM verdicts on credentials dated by aws:TokenIssueTime.
 */
import { describe, expect, it } from 'vitest'
import type { CurrentLock, InstanceFacts } from '../../../policy/lock/index.js'
import {
  BYSTANDER,
  bystander,
  carried,
  decide,
  expectVerdicts,
  issued,
  LIVE,
  NAT_1,
  outcomesOf,
  type PutDecision,
  put,
  SERVICE_IP,
  WEB,
  WORKER,
  web,
  worker,
  workerCredentials,
} from '../../support/lock-fleet.js'
import {
  ALLOWED,
  APP_VPC,
  ATTACKER_V4,
  at,
  DENIED,
  HOUR,
  MINUTE,
  NO_LOCK,
  RETENTION,
  SECOND,
} from '../../support/lock-scene.js'
import {
  fromPublicIp,
  type SimulatedRequest,
  throughEndpoint,
  viaAwsService,
  withContext,
} from '../../support/simulate.js'

describe('tombstones refuse only credentials issued before the stop, until the retention has passed', () => {
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

describe('a tombstone for an instance stopped before it was ever locked refuses only credentials issued before the decision', () => {
  it('refuses credentials issued before the decision, and lets those of a restart a minute later work from its own address', async () => {
    // Prepare: web opted in and stopped half an hour ago; the controller never locked it (no lock on the role).
    const stopped: InstanceFacts = {
      ...WEB.facts,
      state: 'stopped',
      publicIps: [],
      stateChangedAt: at(-30 * MINUTE),
    }

    // Act
    const decision = put(decide({ instances: [stopped] }))

    // Assess: the role carries only the tombstone until the controller sees the restart.
    expect(outcomesOf(decision, WEB.facts.instanceId).map((each) => each.outcome)).toEqual(['tombstoned'])
    await expectVerdicts(decision, [
      {
        story: 'credentials issued a second before the decision, from its own address',
        request: withContext(fromPublicIp(web, '198.51.100.10'), issued(at(-SECOND))),
        expected: DENIED,
      },
      {
        story: 'credentials issued before the stop, from outside',
        request: withContext(fromPublicIp(web, ATTACKER_V4), issued(at(-HOUR))),
        expected: DENIED,
      },
      {
        story: 'fresh credentials of a restart a minute later, from its own address',
        request: withContext(fromPublicIp(web, '198.51.100.10'), issued(at(MINUTE))),
        expected: ALLOWED,
      },
      {
        story:
          'fresh credentials of a restart a minute later, through an endpoint of its VPC from its own address',
        request: withContext(
          throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.10' }),
          issued(at(MINUTE)),
        ),
        expected: ALLOWED,
      },
    ])
  })
})
