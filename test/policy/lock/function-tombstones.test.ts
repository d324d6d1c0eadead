/**
 * Tombstones of deleted and moved functions (policy/lock/judge-functions.ts, tombstones.ts), proven with IAM
 * verdicts: credentials issued before the delete stay refused, even from its NAT; a function created again under
 * the same name works; the tombstone is kept, renewed and dropped after the retention.
 */
import { describe, expect, it } from 'vitest'
import { type CurrentLock, type FunctionFacts, functionArn } from '../../../policy/lock/index.js'
import {
  carried,
  credentialsOf,
  decide,
  expectVerdicts,
  LAMBDA_CALLS,
  LAMBDA_SERVICE_IP,
  NAT,
  OTHER_ROLE,
  REPORTER,
  REPORTER_DRAFT,
} from '../../support/lock-functions.js'
import * as numbered from '../../support/lock-numbered.js'
import {
  ACCOUNT,
  ALLOWED,
  ATTACKER_V4,
  at,
  DENIED,
  HOUR,
  NO_LOCK,
  REGION,
  RETENTION,
  SECOND,
  SETTINGS,
  T0,
} from '../../support/lock-scene.js'
import { type ApiCall, byLambdaService, fromPublicIp } from '../../support/simulate.js'

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
        request: fromPublicIp(credentialsOf(REPORTER_DRAFT, T0), ATTACKER_V4),
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
        request: fromPublicIp(credentialsOf(REPORTER, recreatedAt), ATTACKER_V4),
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
      {
        story: 'new-role credentials stolen',
        request: fromPublicIp(onNewRole, ATTACKER_V4),
        expected: DENIED,
      },
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

describe('a function’s tombstone kept, renewed and dropped across deletes', () => {
  const since = new Date(T0.getTime() - HOUR)

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
    const decision = numbered.decide([], { current, functions: [numbered.fn('worker')] })

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
    const decision = numbered.decide([], { current })

    // Assess
    const now = new Date(Math.ceil(T0.getTime() / 1000) * 1000)
    expect(decision.functions).toEqual([
      { functionName: 'worker', outcome: 'tombstoned', since: now, issuedBefore: now, reason: 'deleted' },
    ])
  })

  it('drops a function tombstone a whole retention old, saying why', () => {
    // Prepare
    const old = new Date(T0.getTime() - 13 * HOUR)
    const current: CurrentLock = {
      ...NO_LOCK,
      functions: { locked: new Set(), tombstones: new Map([['worker', { since: old, issuedBefore: old }]]) },
    }

    // Act
    const decision = numbered.decide([], { current })

    // Assess
    expect(decision.functions).toEqual([
      { functionName: 'worker', outcome: 'expired', reason: 'its old credentials have expired' },
    ])
  })
})
