/**
 * Keeps one role's locked credentials fresh: locks on first use, renews well before expiry, and on failure
 * does what the failure mode says. Shared by the IMDS answer (the instance role) and the container endpoint
 * (one keeper per container role).
 */
import { describeError, type FailureMode, type SessionCredentials } from '../session/locked-session.js'
import type { JsonLog } from '../session/log-lines.js'
import { HostLockError } from './errors.js'

/** Never hand out credentials with less left than this: the SDKs ask again only about 5 minutes before. */
export const MIN_SERVED_MS = 15 * 60_000
/** Renew once this little is left: half the hour STS gives, so a failed renewal has 15 minutes of retries. */
export const RENEW_BELOW_MS = 30 * 60_000

/** What a caller gets: locked credentials, the unlocked ones (failing open), or none (failing closed). */
export type Served =
  | { readonly kind: 'locked'; readonly credentials: SessionCredentials; readonly lockedAt: Date }
  | { readonly kind: 'unlocked' }
  | { readonly kind: 'none' }

export interface KeeperDeps {
  /** Looks up the facts and calls AssumeRole with the locking session policy. */
  readonly lock: () => Promise<SessionCredentials>
  /** Names the credentials in logs and errors: `role app-role`. */
  readonly what: string
  readonly failureMode: FailureMode
  /** After a failure, how long to wait before the next try. */
  readonly retryAfterMs: number
  readonly log: JsonLog
  /** Counts one failure to lock (a metric). */
  readonly countFailure: (failureMode: FailureMode) => void
  readonly now: () => Date
}

export class CredentialKeeper {
  #locked: { readonly credentials: SessionCredentials; readonly lockedAt: Date } | undefined
  #failedAt: Date | undefined
  #pending: Promise<void> | undefined

  constructor(private readonly deps: KeeperDeps) {}

  /** What to serve now. Waits for a renewal only when the held credentials are too short-lived to serve. */
  async current(): Promise<Served> {
    if (this.#usableMs() < MIN_SERVED_MS) {
      if (this.#retryDue()) await this.renew()
    } else if (this.#usableMs() < RENEW_BELOW_MS && this.#retryDue()) {
      // Still good for a while: renew in the background, answer now.
      void this.renew()
    }
    if (this.#locked !== undefined && this.#usableMs() >= MIN_SERVED_MS)
      return { kind: 'locked', ...this.#locked }
    return this.deps.failureMode === 'open' ? { kind: 'unlocked' } : { kind: 'none' }
  }

  /** Renews now if due (the proxy's timer calls this); concurrent callers share one renewal. */
  async renewIfDue(): Promise<void> {
    if (this.#usableMs() < RENEW_BELOW_MS && this.#retryDue()) await this.renew()
  }

  renew(): Promise<void> {
    this.#pending ??= this.#lock().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #lock(): Promise<void> {
    const { deps } = this
    const started = deps.now()
    try {
      const credentials = await deps.lock()
      const renewing = this.#locked !== undefined
      this.#locked = { credentials, lockedAt: deps.now() }
      this.#failedAt = undefined
      deps.log.info(renewing ? 'Locked credentials renewed' : 'Credentials locked to this host', {
        what: deps.what,
        accessKeyId: credentials.accessKeyId,
        expiration: credentials.expiration.toISOString(),
        lockMs: deps.now().getTime() - started.getTime(),
      })
    } catch (cause) {
      this.#failedAt = deps.now()
      const error = new HostLockError(deps.failureMode, deps.what, { cause })
      deps.countFailure(deps.failureMode)
      deps.log.error(error.message, {
        what: deps.what,
        failureMode: deps.failureMode,
        // Credentials that still have long enough left are served until they do not.
        stillServingLockedUntil: this.#locked?.credentials.expiration.toISOString(),
        cause: describeError(cause),
      })
    }
  }

  #usableMs(): number {
    if (this.#locked === undefined) return Number.NEGATIVE_INFINITY
    return this.#locked.credentials.expiration.getTime() - this.deps.now().getTime()
  }

  #retryDue(): boolean {
    if (this.#failedAt === undefined) return true
    return this.deps.now().getTime() - this.#failedAt.getTime() >= this.deps.retryAfterMs
  }
}
