export { AddressLookupError } from '../session/errors.js'

/** A Lambda function's credentials could not be locked to its execution environment. */
export class LockdownError extends Error {
  override readonly name = 'LockdownError'

  constructor(
    readonly failureMode: 'open' | 'closed',
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause)
    super(
      `This function's credentials could not be locked to its execution environment (${reason}); ` +
        (failureMode === 'open'
          ? 'it fails open, so it runs with its unlocked credentials until the next try.'
          : 'it fails closed, so the invocation stops: fix the cause or set CREDENTIAL_LOCK_FAILURE_MODE=open.'),
      options,
    )
  }
}
