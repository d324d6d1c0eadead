import { describe, expect, it } from 'vitest'
import { type CanaryObservation, decideCanary } from '../../policy/canary.js'

const SETTINGS = { staleAfterMs: 15 * 60_000, timeToLockLimitMs: 5 * 60_000 }
const LAUNCHED_AT = new Date('2026-12-07T03:00:00.000Z')
const INSTANCE_ID = 'i-0123456789abcdef0'

/** An observation `sinceLaunchMs` after the launch, the parameter written a minute before. */
function observed(change: Partial<CanaryObservation> & { sinceLaunchMs?: number } = {}): CanaryObservation {
  const { sinceLaunchMs = 120_000, ...rest } = change
  const now = new Date(LAUNCHED_AT.getTime() + sinceLaunchMs)
  return {
    outcome: 'explicit-deny',
    instanceId: INSTANCE_ID,
    launchedAt: LAUNCHED_AT,
    parameterWrittenAt: new Date(now.getTime() - 60_000),
    measuredInstanceId: undefined,
    now,
    ...rest,
  }
}

describe('time to lock', () => {
  it('is the whole seconds from launch to the first refusal of an instance', () => {
    expect(decideCanary(observed({ sinceLaunchMs: 150_400 }), SETTINGS).timeToLockSeconds).toBe(150)
    expect(decideCanary(observed({ sinceLaunchMs: 150_600 }), SETTINGS).timeToLockSeconds).toBe(151)
  })

  it('is never negative when the clocks disagree', () => {
    expect(decideCanary(observed({ sinceLaunchMs: -2_000 }), SETTINGS).timeToLockSeconds).toBe(0)
  })

  it('is not measured again for the instance already measured, nor without a launch time', () => {
    expect(
      decideCanary(observed({ measuredInstanceId: INSTANCE_ID }), SETTINGS).timeToLockSeconds,
    ).toBeUndefined()
    expect(decideCanary(observed({ launchedAt: undefined }), SETTINGS)).toMatchObject({
      verdict: 'holds',
      lockHolds: 1,
      timeToLockSeconds: undefined,
    })
  })
})

describe('credentials that work from outside', () => {
  it('are the lock still arriving up to the limit after launch, and a failed lock one millisecond later', () => {
    // Act
    const atLimit = decideCanary(observed({ outcome: 'allowed', sinceLaunchMs: 300_000 }), SETTINGS)
    const past = decideCanary(observed({ outcome: 'allowed', sinceLaunchMs: 300_001 }), SETTINGS)

    // Assess
    expect(atLimit).toMatchObject({ verdict: 'locking', lockHolds: undefined, timeToLockSeconds: undefined })
    expect(atLimit.reason).toBe('The canary instance launched 300 s ago and is not locked yet.')
    expect(past).toMatchObject({ verdict: 'does-not-hold', lockHolds: 0 })
    expect(past.reason).toMatch(/longer than the time-to-lock limit/)
  })

  it('are a failed lock at once for an instance EC2 no longer knows (its tombstone should refuse them)', () => {
    expect(decideCanary(observed({ outcome: 'allowed', launchedAt: undefined }), SETTINGS)).toMatchObject({
      verdict: 'does-not-hold',
      lockHolds: 0,
    })
  })
})

describe("the instance's own calls", () => {
  it('work while the parameter is at most the stale limit old', () => {
    // Prepare
    const now = new Date('2026-12-07T04:00:00.000Z')
    const writtenAt = (ageMs: number) => new Date(now.getTime() - ageMs)

    // Act / Assess
    expect(
      decideCanary(observed({ now, parameterWrittenAt: writtenAt(900_000) }), SETTINGS).ownCallsWork,
    ).toBe(1)
    expect(
      decideCanary(observed({ now, parameterWrittenAt: writtenAt(900_001) }), SETTINGS).ownCallsWork,
    ).toBe(0)
    expect(decideCanary(observed({ parameterWrittenAt: undefined }), SETTINGS).ownCallsWork).toBe(0)
  })

  it('are still reported when nothing could be tried', () => {
    expect(decideCanary(observed({ outcome: 'untested' }), SETTINGS)).toEqual({
      verdict: 'untested',
      lockHolds: undefined,
      ownCallsWork: 1,
      timeToLockSeconds: undefined,
      reason: 'No usable canary credentials to try: the instance has not written fresh ones.',
    })
  })
})

describe('a refusal without an explicit deny', () => {
  it('proves nothing about the lock: CanaryLockHolds 0, and no time to lock', () => {
    expect(decideCanary(observed({ outcome: 'refused-otherwise' }), SETTINGS)).toMatchObject({
      verdict: 'does-not-hold',
      lockHolds: 0,
      timeToLockSeconds: undefined,
      reason: expect.stringMatching(/without an explicit deny/),
    })
  })
})
