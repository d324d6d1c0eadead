/**
 * The in-function lockdown (handlers/lockdown/lockdown.ts) when locking fails: failing open (the default) runs the
 * handler on the original credentials and retries later, failing closed stops the invocation; read from the
 * environment the handler sees, its logs and its failure count.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { LockdownError } from '../../handlers/lockdown/errors.js'
import { LAMBDA_MAX_TIMEOUT_MS } from '../../handlers/lockdown/lockdown.js'
import { ENVIRONMENT_IP } from '../support/lambda-session.js'
import { MINUTE } from '../support/lock-scene.js'
import {
  context,
  credentialsIn,
  harness,
  moveTo,
  ORIGINAL,
  RETRY_AFTER_MS,
  restartKeyNumbering,
  SDK_REFRESH_WINDOW_MS,
  SHORT_INVOCATION_MS,
  T0,
  unreachable,
} from '../support/lockdown-harness.js'

beforeEach(restartKeyNumbering)

describe('failing open (the default)', () => {
  it('runs the handler on the original credentials, logs at ERROR why and counts a failure', async () => {
    // Prepare
    const h = harness({ lookUpAddress: async () => Promise.reject(unreachable()) })
    const handler = h.lockdown.wrap(async () => credentialsIn(h.environment))

    // Act
    const seen = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess: clients that cached them ask again (5 minutes early) when the retry is due.
    expect(seen).toEqual({
      ...ORIGINAL,
      expiration: new Date(T0.getTime() + RETRY_AFTER_MS + SDK_REFRESH_WINDOW_MS).toISOString(),
    })
    expect(h.failures).toEqual(['open'])
    expect(h.errors).toEqual([
      {
        message:
          "This function's credentials could not be locked to its execution environment (The address look-up at " +
          'https://checkip.amazonaws.com could not be reached within 3000 ms: check that the function can reach ' +
          'it.); it fails open, so it runs with its unlocked credentials until the next try.',
        details: {
          failureMode: 'open',
          cause: {
            name: 'AddressLookupError',
            message:
              'The address look-up at https://checkip.amazonaws.com could not be reached within 3000 ms: check ' +
              'that the function can reach it.',
            cause: { name: 'TypeError', message: 'fetch failed' },
          },
        },
      },
    ])
    expect(h.infos).toEqual([])
  })

  it('tries again only once the retry delay has passed, and then locks', async () => {
    // Prepare
    let lookUpFails = true
    const h = harness({
      lookUpAddress: async () => (lookUpFails ? Promise.reject(unreachable()) : ENVIRONMENT_IP),
    })
    const handler = h.lockdown.wrap(async () => h.environment.AWS_ACCESS_KEY_ID)
    await handler({}, context(SHORT_INVOCATION_MS))
    lookUpFails = false

    // Act
    h.clock.advance(RETRY_AFTER_MS - 1)
    const beforeRetry = await handler({}, context(SHORT_INVOCATION_MS))
    h.clock.advance(1)
    const atRetry = await handler({}, context(SHORT_INVOCATION_MS))

    // Assess
    expect([beforeRetry, atRetry]).toEqual([ORIGINAL.accessKeyId, 'ASIALOCKED1'])
    expect(h.counts.lookups).toBe(2)
    expect(h.failures).toEqual(['open'])
  })

  it('tells SDK clients to ask again when the retry is due, however late they ask', async () => {
    // Prepare
    const h = harness({ lookUpAddress: async () => Promise.reject('checkip unreachable') })
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)

    // Act
    h.clock.advance(RETRY_AFTER_MS / 2)
    const provided = await h.lockdown.credentials()

    // Assess
    expect(provided).toEqual({
      ...ORIGINAL,
      expiration: new Date(T0.getTime() + RETRY_AFTER_MS + SDK_REFRESH_WINDOW_MS),
    })
    expect(h.errors.map((line) => line.details.cause)).toEqual([{ message: 'checkip unreachable' }])
    expect(h.errors[0]?.message).toMatch(/execution environment \(checkip unreachable\); it fails open/)
  })

  it('puts the original credentials back when a renewal fails, rather than let the locked ones expire', async () => {
    // Prepare: original credentials without a session token (long-term keys), a lock, and a look-up that breaks.
    const longTerm = { accessKeyId: 'AKIAORIGINAL', secretAccessKey: 'original-secret' }
    let lookUpFails = false
    const h = harness({
      originalCredentials: longTerm,
      lookUpAddress: async () => (lookUpFails ? Promise.reject(unreachable()) : ENVIRONMENT_IP),
    })
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    lookUpFails = true

    // Act
    moveTo(h, 2 * MINUTE)
    const failedAt = h.clock.now().getTime()
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    h.clock.advance(RETRY_AFTER_MS - 1)
    const provided = await h.lockdown.credentials()

    // Assess: no locked session token is left beside the original keys; no retry before the delay.
    const retryDue = new Date(failedAt + RETRY_AFTER_MS + SDK_REFRESH_WINDOW_MS)
    expect(provided).toEqual({ ...longTerm, expiration: retryDue })
    expect(h.environment).toStrictEqual({
      AWS_ACCESS_KEY_ID: longTerm.accessKeyId,
      AWS_SECRET_ACCESS_KEY: longTerm.secretAccessKey,
      AWS_CREDENTIAL_EXPIRATION: retryDue.toISOString(),
    })
    expect(h.counts.lookups).toBe(2)
    expect(h.failures).toEqual(['open'])
  })
})

describe('failing closed', () => {
  it('stops the invocation before the handler runs, naming the cause, and leaves the environment alone', async () => {
    // Prepare
    const failure = unreachable()
    const h = harness({ failureMode: 'closed', lookUpAddress: async () => Promise.reject(failure) })
    let handlerRan = false
    const handler = h.lockdown.wrap(async () => {
      handlerRan = true
    })

    // Act
    const error = await handler({}, context(SHORT_INVOCATION_MS)).catch((thrown: unknown) => thrown)

    // Assess
    expect(error).toBeInstanceOf(LockdownError)
    // The name is what Lambda's error report and a log query show.
    expect(error).toMatchObject({
      name: 'LockdownError',
      failureMode: 'closed',
      cause: failure,
      message:
        "This function's credentials could not be locked to its execution environment (The address look-up at " +
        'https://checkip.amazonaws.com could not be reached within 3000 ms: check that the function can reach ' +
        'it.); it fails closed, so the invocation stops: fix the cause or set CREDENTIAL_LOCK_FAILURE_MODE=open.',
    })
    expect(handlerRan).toBe(false)
    expect(h.environment).toStrictEqual({
      AWS_ACCESS_KEY_ID: ORIGINAL.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ORIGINAL.secretAccessKey,
      AWS_SESSION_TOKEN: ORIGINAL.sessionToken,
    })
    expect(h.failures).toEqual(['closed'])
    expect(h.errors.map((line) => line.details.failureMode)).toEqual(['closed'])
  })

  it('tries again on every invocation, with no retry delay', async () => {
    // Prepare
    const h = harness({
      failureMode: 'closed',
      assumeRole: async () => Promise.reject(new Error('AccessDenied')),
    })
    const handler = h.lockdown.wrap(async () => 'ran')

    // Act
    const first = await handler({}, context(SHORT_INVOCATION_MS)).catch(() => 'stopped')
    const second = await handler({}, context(SHORT_INVOCATION_MS)).catch(() => 'stopped')

    // Assess
    expect([first, second]).toEqual(['stopped', 'stopped'])
    expect(h.assumeRoles).toHaveLength(2)
    expect(h.failures).toEqual(['closed', 'closed'])
  })

  it('after a failed renewal, locks anew rather than hand out the credentials it could not renew', async () => {
    // Prepare: a lock with 10 minutes left, too little for a 15-minute invocation; the renewal fails once.
    let lookUpFails = false
    const h = harness({
      failureMode: 'closed',
      lookUpAddress: async () => (lookUpFails ? Promise.reject(unreachable()) : ENVIRONMENT_IP),
    })
    await h.lockdown.ensureLocked(SHORT_INVOCATION_MS)
    moveTo(h, 10 * MINUTE)
    lookUpFails = true
    await expect(h.lockdown.ensureLocked(LAMBDA_MAX_TIMEOUT_MS)).rejects.toThrow(LockdownError)
    lookUpFails = false

    // Act
    const provided = await h.lockdown.credentials()

    // Assess
    expect(provided.accessKeyId).toBe('ASIALOCKED2')
  })
})
