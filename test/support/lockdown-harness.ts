/**
 * The in-function lockdown without moto: a Lockdown over a fake STS that records the session policy it is given
 * and issues numbered keys, an injected clock and an injected address look-up, for the unit tests in
 * test/lockdown/. test/integration/lockdown.test.ts runs the same story against moto.
 */
import type { AssumeRoleCommand, AssumeRoleCommandInput, AssumeRoleCommandOutput } from '@aws-sdk/client-sts'
import { AddressLookupError } from '../../handlers/lockdown/errors.js'
import { type AwsCredentials, type FailureMode, Lockdown } from '../../handlers/lockdown/lockdown.js'
import type { SourceVpcs } from '../../policy/session-lock.js'
import { ENVIRONMENT_IP, ORDERS_ROLE_ARN, ORDERS_SESSION } from './lambda-session.js'
import { HOUR, MINUTE, SECOND } from './lock-scene.js'
import type { ApiCall } from './simulate.js'

export const ORIGINAL: AwsCredentials = {
  accessKeyId: 'ASIAORIGINAL',
  secretAccessKey: 'original-secret',
  sessionToken: 'lambda-token',
}
export const T0 = new Date('2026-11-26T06:00:00.000Z')
export const RETRY_AFTER_MS = MINUTE
/** How long before the SDK's own refresh window (5 minutes) the lockdown renews: one minute. */
export const RENEW_MARGIN_MS = 6 * MINUTE
/** The SDK v3 asks its credentials provider again this long before the expiration it was given. */
export const SDK_REFRESH_WINDOW_MS = 5 * MINUTE
export const SHORT_INVOCATION_MS = 30 * SECOND
export const ASSUME_OWN_ROLE: ApiCall = { action: 'sts:AssumeRole', resource: ORDERS_ROLE_ARN }

export interface LoggedLine {
  readonly message: string
  readonly details: Record<string, unknown>
}

export interface Options {
  readonly failureMode?: FailureMode
  readonly sourceVpcs?: SourceVpcs
  readonly originalCredentials?: AwsCredentials
  /** The look-up; by default it answers {@link ENVIRONMENT_IP}. */
  readonly lookUpAddress?: (clock: Clock) => Promise<string>
  /** What AssumeRole answers; by default fresh credentials for an hour from the clock's time. */
  readonly assumeRole?: (clock: Clock) => Promise<AssumeRoleCommandOutput>
}

export interface Clock {
  now(): Date
  advance(ms: number): void
}

export function clockAt(start: Date): Clock {
  let now = start.getTime()
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms
    },
  }
}

let issued = 0

/** Credentials as STS issues them: new keys each time, valid for an hour from the clock's time. */
async function freshSession(clock: Clock): Promise<AssumeRoleCommandOutput> {
  issued += 1
  return {
    $metadata: {},
    Credentials: {
      AccessKeyId: `ASIALOCKED${issued}`,
      SecretAccessKey: `locked-secret-${issued}`,
      SessionToken: `locked-token-${issued}`,
      Expiration: new Date(clock.now().getTime() + HOUR),
    },
  }
}

export function harness(options: Options = {}) {
  const clock = clockAt(T0)
  const originalCredentials = options.originalCredentials ?? ORIGINAL
  const environment: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: originalCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: originalCredentials.secretAccessKey,
    ...(originalCredentials.sessionToken !== undefined && {
      AWS_SESSION_TOKEN: originalCredentials.sessionToken,
    }),
  }
  const assumeRoles: AssumeRoleCommandInput[] = []
  const infos: LoggedLine[] = []
  const errors: LoggedLine[] = []
  const failures: FailureMode[] = []
  const counts = { lookups: 0, roleLookups: 0 }
  const lockdown = new Lockdown({
    sts: {
      send: (command: AssumeRoleCommand) => {
        assumeRoles.push(command.input)
        return (options.assumeRole ?? freshSession)(clock)
      },
    },
    lookUpAddress: () => {
      counts.lookups += 1
      return options.lookUpAddress?.(clock) ?? Promise.resolve(ENVIRONMENT_IP)
    },
    roleArn: async () => {
      counts.roleLookups += 1
      return ORDERS_ROLE_ARN
    },
    sessionName: ORDERS_SESSION.sessionName,
    originalCredentials,
    environment,
    log: {
      info: (message, details) => infos.push({ message, details }),
      error: (message, details) => errors.push({ message, details }),
    },
    countFailure: (mode) => failures.push(mode),
    now: clock.now,
    settings: {
      failureMode: options.failureMode ?? 'open',
      sourceVpcs: options.sourceVpcs ?? [],
      retryAfterMs: RETRY_AFTER_MS,
    },
  })
  return { lockdown, environment, assumeRoles, infos, errors, failures, counts, clock }
}

export type Harness = ReturnType<typeof harness>

/** What a handler sees: the credentials in its environment, as the SDK's default chain reads them. */
export function credentialsIn(environment: Record<string, string | undefined>) {
  return {
    accessKeyId: environment.AWS_ACCESS_KEY_ID,
    secretAccessKey: environment.AWS_SECRET_ACCESS_KEY,
    sessionToken: environment.AWS_SESSION_TOKEN,
    expiration: environment.AWS_CREDENTIAL_EXPIRATION,
  }
}

export const lockedNumber = (n: number, expiration: Date) => ({
  accessKeyId: `ASIALOCKED${n}`,
  secretAccessKey: `locked-secret-${n}`,
  sessionToken: `locked-token-${n}`,
  expiration: expiration.toISOString(),
})

export const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs })

/** Moves the clock to `leftMs` before the current lock's expiration. */
export function moveTo(h: Harness, leftMs: number): void {
  const expiration = Date.parse(h.environment.AWS_CREDENTIAL_EXPIRATION ?? '')
  h.clock.advance(expiration - leftMs - h.clock.now().getTime())
}

export const unreachable = () =>
  new AddressLookupError('https://checkip.amazonaws.com', 'could not be reached within 3000 ms', {
    cause: new TypeError('fetch failed'),
  })

/** Numbers the keys STS issues from 1 again: each test reads which session it holds by its number. */
export function restartKeyNumbering(): void {
  issued = 0
}
