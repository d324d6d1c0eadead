/**
 * The in-function lockdown: a Lambda function's execution-role credentials sit in its environment, where an
 * environment dump or injected code can read them, and they work from anywhere. On the first invocation this
 * re-assumes the function's own role with a session policy that refuses every call from anywhere but this
 * execution environment's address, and hands those locked credentials to the SDK; it renews them before they
 * expire. William Bengtson's "dynamically locking credentials" decorator, in TypeScript.
 *
 * Everything is injected; handlers/lockdown/lockdown-lambda.ts builds the real clients from the environment.
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import type { SourceVpcs } from '../../policy/session-lock.js'
import {
  type AwsCredentials,
  assumeLocked,
  describeError,
  type FailureMode,
  type SessionCredentials,
  type StsCalls,
} from '../session/locked-session.js'
import { LockdownError } from './errors.js'

export { addressLookup } from '../session/address-lookup.js'
export type { AwsCredentials, FailureMode, StsCalls } from '../session/locked-session.js'
export { SESSION_SECONDS } from '../session/locked-session.js'

export interface LockdownSettings {
  /**
   * What happens when the address look-up or AssumeRole fails: `open` runs the invocation with the
   * function's unlocked credentials (and logs at ERROR, counts a metric), `closed` fails the invocation.
   */
  readonly failureMode: FailureMode
  readonly sourceVpcs: SourceVpcs
  /** While failing open, how long to run on the unlocked credentials before trying to lock again. */
  readonly retryAfterMs: number
}

export interface LockdownLog {
  info(message: string, details: Record<string, unknown>): void
  error(message: string, details: Record<string, unknown>): void
}

export interface LockdownDeps {
  /** STS signing with the function's original credentials: the locked ones may not assume the role. */
  readonly sts: StsCalls
  /** The address AWS sees for this execution environment. */
  readonly lookUpAddress: () => Promise<string>
  /** The function's execution role; asked once, on the first successful lock. */
  readonly roleArn: () => Promise<string>
  /** The locked session's name (the function's name shows in CloudTrail). */
  readonly sessionName: string
  /** The credentials Lambda gave the function: restored when failing open. */
  readonly originalCredentials: AwsCredentials
  /** Where the SDK's default credential chain reads credentials: `process.env` in a function. */
  readonly environment: Record<string, string | undefined>
  readonly log: LockdownLog
  /** Counts one failure to lock (a CloudWatch metric in a function). */
  readonly countFailure: (failureMode: FailureMode) => void
  readonly now: () => Date
  readonly settings: LockdownSettings
}

/** The longest a Lambda invocation can run: by default locked credentials must outlast it. */
export const LAMBDA_MAX_TIMEOUT_MS = 900_000
/** The SDK asks its credentials provider again when this little is left (the SDK v3's own window). */
const SDK_REFRESH_WINDOW_MS = 300_000
/** Renew a little before the SDK would ask, so env-var clients re-read fresh credentials, never stale ones. */
const RENEW_MARGIN_MS = SDK_REFRESH_WINDOW_MS + 60_000

/** The context Lambda passes a handler, as far as the lockdown reads it. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number
}

/** A Middy middleware: Middy calls `before` ahead of the handler with `{ event, context, ... }`. */
export interface LockdownMiddleware {
  readonly before: (request: { readonly context: InvocationContext }) => Promise<void>
}

export class Lockdown {
  #locked: SessionCredentials | undefined
  #failedOpenAt: Date | undefined
  #roleArn: string | undefined
  #pending: Promise<void> | undefined

  constructor(private readonly deps: LockdownDeps) {}

  /**
   * Makes sure the environment holds locked credentials that stay valid for `validForMs` more (the
   * invocation's remaining time), locking or renewing them if not. Concurrent callers share one renewal.
   * Throws {@link LockdownError} only when failing closed.
   */
  async ensureLocked(validForMs: number = LAMBDA_MAX_TIMEOUT_MS): Promise<void> {
    if (!this.#needsLock(validForMs)) return
    this.#pending ??= this.#lock().finally(() => {
      this.#pending = undefined
    })
    await this.#pending
  }

  /**
   * A credentials provider for SDK clients (`new S3Client({ credentials: lockdown.credentials })`),
   * including clients created and used before the first invocation, which cached the original credentials.
   * The SDK asks again shortly before the expiration given here.
   */
  readonly credentials = async (): Promise<AwsCredentials> => {
    await this.ensureLocked(0)
    return this.#locked ?? this.#originalUntilRetry()
  }

  /** Wraps an async handler: credentials are locked before it runs. */
  wrap<Event, Result, Context extends InvocationContext>(
    handler: (event: Event, context: Context) => Promise<Result>,
  ): (event: Event, context: Context) => Promise<Result> {
    return async (event, context) => {
      await this.ensureLocked(remainingTime(context))
      return handler(event, context)
    }
  }

  /** The same as a Middy middleware: `middy(handler).use(lockdown.middleware())`. */
  middleware(): LockdownMiddleware {
    return { before: (request) => this.ensureLocked(remainingTime(request.context)) }
  }

  #needsLock(validForMs: number): boolean {
    const now = this.deps.now().getTime()
    if (this.#locked !== undefined) {
      return this.#locked.expiration.getTime() - now < validForMs + RENEW_MARGIN_MS
    }
    if (this.#failedOpenAt !== undefined) {
      return now - this.#failedOpenAt.getTime() >= this.deps.settings.retryAfterMs
    }
    return true
  }

  async #lock(): Promise<void> {
    const { deps } = this
    const started = deps.now()
    try {
      const [address, roleArn] = await Promise.all([deps.lookUpAddress(), this.#resolveRoleArn()])
      const locked = await assumeLocked(deps.sts, {
        facts: { roleArn, address, sourceVpcs: deps.settings.sourceVpcs },
        sessionName: deps.sessionName,
      })
      this.#locked = locked
      this.#failedOpenAt = undefined
      writeCredentials(deps.environment, locked)
      deps.log.info('Credentials locked to this execution environment', {
        address,
        roleArn,
        expiration: locked.expiration.toISOString(),
        lockMs: deps.now().getTime() - started.getTime(),
      })
    } catch (cause) {
      this.#fail(cause)
    }
  }

  #fail(cause: unknown): void {
    const { deps } = this
    const { failureMode } = deps.settings
    const error = new LockdownError(failureMode, { cause })
    deps.countFailure(failureMode)
    deps.log.error(error.message, { failureMode, cause: describeError(cause) })
    this.#locked = undefined
    if (failureMode === 'closed') throw error
    // Locked credentials about to expire would fail every call: the original ones keep the function working.
    this.#failedOpenAt = deps.now()
    writeCredentials(deps.environment, this.#originalUntilRetry())
  }

  async #resolveRoleArn(): Promise<string> {
    this.#roleArn ??= await this.deps.roleArn()
    return this.#roleArn
  }

  /** The original credentials, with an expiration that makes SDK clients ask again when a retry is due. */
  #originalUntilRetry(): AwsCredentials {
    const failedAt = this.#failedOpenAt ?? this.deps.now()
    const retryAt = failedAt.getTime() + this.deps.settings.retryAfterMs
    return { ...this.deps.originalCredentials, expiration: new Date(retryAt + SDK_REFRESH_WINDOW_MS) }
  }
}

function remainingTime(context: InvocationContext | undefined): number {
  return context?.getRemainingTimeInMillis?.() ?? LAMBDA_MAX_TIMEOUT_MS
}

/**
 * Writes credentials where the SDK's default chain reads them, all at once (no await in between, so no
 * invocation sees half a credential). The expiration makes clients that cached them ask again in time.
 */
function writeCredentials(
  environment: Record<string, string | undefined>,
  credentials: AwsCredentials,
): void {
  environment.AWS_ACCESS_KEY_ID = credentials.accessKeyId
  environment.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey
  setOrDelete(environment, 'AWS_SESSION_TOKEN', credentials.sessionToken)
  setOrDelete(environment, 'AWS_CREDENTIAL_EXPIRATION', credentials.expiration?.toISOString())
}

function setOrDelete(
  environment: Record<string, string | undefined>,
  name: string,
  value: string | undefined,
) {
  if (value === undefined) delete environment[name]
  else environment[name] = value
}

/**
 * The execution role from the function's own session (`sts:GetCallerIdentity` needs no permission). An
 * assumed-role ARN does not carry the role's path: a role with a path must be given by its ARN instead.
 */
export function callerRoleArn(sts: {
  send(command: GetCallerIdentityCommand): Promise<{ Arn?: string | undefined }>
}): () => Promise<string> {
  return async () => {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}))
    const match = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\//.exec(Arn ?? '')
    if (!match) throw new Error(`The function's own identity ${Arn} is not a role session.`)
    const [, partition, account, roleName] = match
    return `arn:${partition}:iam::${account}:role/${roleName}`
  }
}
