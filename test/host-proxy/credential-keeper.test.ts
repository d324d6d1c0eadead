/**
 * Renewal and failure of the proxy's locked credentials, on a clock the test moves: never served with less
 * than 15 minutes left, renewed in the background from 30 minutes left, and on failure open or closed.
 */
import { describe, expect, it } from 'vitest'
import {
  CredentialKeeper,
  MIN_SERVED_MS,
  RENEW_BELOW_MS,
} from '../../handlers/host-proxy/credential-keeper.js'
import type { FailureMode, SessionCredentials } from '../../handlers/session/locked-session.js'
import { type Clock, type LogLine, testClock } from '../support/host-proxy-harness.js'

const HOUR_MS = 3_600_000

interface KeeperScene {
  readonly keeper: CredentialKeeper
  readonly clock: Clock
  readonly logs: LogLine[]
  readonly failures: FailureMode[]
  /** How many times the keeper asked for a lock. */
  locks(): number
  /** Make the next locks fail (true) or succeed. */
  breakLocking(broken: boolean): void
}

function keeperScene(failureMode: FailureMode): KeeperScene {
  const clock = testClock()
  const logs: LogLine[] = []
  const failures: FailureMode[] = []
  let locks = 0
  let broken = false
  const keeper = new CredentialKeeper({
    lock: async (): Promise<SessionCredentials> => {
      locks += 1
      if (broken) throw new Error('STS is unreachable')
      return {
        accessKeyId: `ASIA${locks}`,
        secretAccessKey: 'secret',
        sessionToken: 'token',
        expiration: new Date(clock.now().getTime() + HOUR_MS),
      }
    },
    what: 'role arn:aws:iam::123456789012:role/app-role',
    failureMode,
    retryAfterMs: 60_000,
    log: {
      info: (message, details) => logs.push({ level: 'INFO', message, ...details }),
      error: (message, details) => logs.push({ level: 'ERROR', message, ...details }),
    },
    countFailure: (mode) => failures.push(mode),
    now: () => clock.now(),
  })
  return {
    keeper,
    clock,
    logs,
    failures,
    locks: () => locks,
    breakLocking: (next) => {
      broken = next
    },
  }
}

async function servedKey(keeper: CredentialKeeper): Promise<string> {
  const served = await keeper.current()
  return served.kind === 'locked' ? served.credentials.accessKeyId : served.kind
}

/** Lets a background renewal started by `current()` finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('renewal before expiry', () => {
  it('locks once on first use and serves the same credentials while more than 30 minutes are left', async () => {
    // Prepare
    const scene = keeperScene('closed')

    // Act
    const first = await servedKey(scene.keeper)
    scene.clock.advance(HOUR_MS - RENEW_BELOW_MS - 1)
    const later = await servedKey(scene.keeper)

    // Assess
    expect([first, later, scene.locks()]).toEqual(['ASIA1', 'ASIA1', 1])
    expect(scene.logs).toEqual([
      {
        level: 'INFO',
        message: 'Credentials locked to this host',
        what: 'role arn:aws:iam::123456789012:role/app-role',
        accessKeyId: 'ASIA1',
        expiration: '2026-06-01T13:00:00.000Z',
        lockMs: 0,
      },
    ])
  })

  it('renews in the background once less than 30 minutes are left, still answering with the held ones', async () => {
    // Prepare
    const scene = keeperScene('closed')
    await scene.keeper.current()
    scene.clock.advance(HOUR_MS - RENEW_BELOW_MS + 1)

    // Act
    const during = await servedKey(scene.keeper)
    await settle()
    const after = await servedKey(scene.keeper)

    // Assess
    expect([during, after]).toEqual(['ASIA1', 'ASIA2'])
    expect(scene.logs.at(-1)).toMatchObject({ level: 'INFO', message: 'Locked credentials renewed' })
  })

  it('never serves credentials with less than 15 minutes left: it waits for the renewal instead', async () => {
    // Prepare
    const scene = keeperScene('closed')
    await scene.keeper.current()
    scene.clock.advance(HOUR_MS - MIN_SERVED_MS + 1)

    // Act
    const served = await scene.keeper.current()

    // Assess
    expect(served.kind === 'locked' && served.credentials.accessKeyId).toBe('ASIA2')
    expect(
      served.kind === 'locked' && served.credentials.expiration.getTime() - scene.clock.now().getTime(),
    ).toBe(HOUR_MS)
  })

  it('serves credentials with exactly 15 minutes left, and waits for fresh ones a millisecond later', async () => {
    // Prepare: the hour STS gives, written out, so the 15 minutes are the issue's, not a constant's
    const scene = keeperScene('closed')
    await scene.keeper.current()
    scene.breakLocking(true)

    // Act
    scene.clock.advance(45 * 60_000)
    const atFifteenMinutes = await servedKey(scene.keeper)
    await settle()
    scene.clock.advance(1)
    const justUnder = await servedKey(scene.keeper)

    // Assess
    expect([atFifteenMinutes, justUnder]).toEqual(['ASIA1', 'none'])
  })

  it('does not renew with exactly 30 minutes left, and does a millisecond later', async () => {
    // Prepare
    const scene = keeperScene('closed')
    await scene.keeper.current()

    // Act
    scene.clock.advance(30 * 60_000)
    await scene.keeper.current()
    await scene.keeper.renewIfDue()
    await settle()
    const atThirtyMinutes = scene.locks()
    scene.clock.advance(1)
    await scene.keeper.renewIfDue()

    // Assess
    expect([atThirtyMinutes, scene.locks()]).toEqual([1, 2])
  })

  it('renews on the timer without a request, and only when due', async () => {
    // Prepare
    const scene = keeperScene('closed')
    await scene.keeper.current()

    // Act
    await scene.keeper.renewIfDue()
    const notDue = scene.locks()
    scene.clock.advance(HOUR_MS - RENEW_BELOW_MS + 1)
    await scene.keeper.renewIfDue()

    // Assess
    expect([notDue, scene.locks()]).toEqual([1, 2])
  })

  it('shares one renewal between concurrent callers', async () => {
    // Prepare
    const scene = keeperScene('closed')

    // Act
    const keys = await Promise.all([1, 2, 3, 4].map(() => servedKey(scene.keeper)))

    // Assess
    expect([keys, scene.locks()]).toEqual([['ASIA1', 'ASIA1', 'ASIA1', 'ASIA1'], 1])
  })
})

describe('failing to lock', () => {
  it('fails open: the caller gets the unlocked credentials, an ERROR line and a metric', async () => {
    // Prepare
    const scene = keeperScene('open')
    scene.breakLocking(true)

    // Act
    const served = await scene.keeper.current()

    // Assess
    expect(served).toEqual({ kind: 'unlocked' })
    expect(scene.failures).toEqual(['open'])
    expect(scene.logs).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        failureMode: 'open',
        message: expect.stringContaining('failing open'),
        cause: { name: 'Error', message: 'STS is unreachable' },
      }),
    ])
  })

  it('fails closed: the caller gets nothing', async () => {
    // Prepare
    const scene = keeperScene('closed')
    scene.breakLocking(true)

    // Act
    const served = await scene.keeper.current()

    // Assess
    expect(served).toEqual({ kind: 'none' })
    expect(scene.failures).toEqual(['closed'])
  })

  it('keeps serving held locked credentials while they have 15 minutes left, then falls to the failure mode', async () => {
    // Prepare
    const scene = keeperScene('closed')
    await scene.keeper.current()
    scene.breakLocking(true)
    scene.clock.advance(HOUR_MS - RENEW_BELOW_MS + 1)

    // Act
    const whileHeld = await servedKey(scene.keeper)
    await settle()
    scene.clock.advance(RENEW_BELOW_MS - MIN_SERVED_MS)
    const afterwards = await servedKey(scene.keeper)

    // Assess
    expect([whileHeld, afterwards]).toEqual(['ASIA1', 'none'])
  })

  it('tries again only after the retry delay, and locks once the cause is gone', async () => {
    // Prepare
    const scene = keeperScene('open')
    scene.breakLocking(true)
    await scene.keeper.current()
    scene.breakLocking(false)

    // Act
    const beforeDelay = await servedKey(scene.keeper)
    scene.clock.advance(60_000)
    const afterDelay = await servedKey(scene.keeper)

    // Assess
    expect([beforeDelay, afterDelay, scene.locks()]).toEqual(['unlocked', 'ASIA2', 2])
  })
})
