/** An event the controller cannot use; it is logged and skipped, never retried. */
export class MalformedEventError extends Error {
  override readonly name = 'MalformedEventError'
}

/** The controller's own role lacks a permission it needs; retrying will not help until it is granted. */
export class MissingPermissionError extends Error {
  override readonly name = 'MissingPermissionError'

  constructor(
    readonly action: string,
    readonly resource: string,
    options: { cause: unknown },
  ) {
    super(
      `The controller is not allowed to call ${action} on ${resource}: grant it in the controller's role ` +
        '(infra/credential-lock.ts lists every action it needs).',
      options,
    )
  }
}

/** A setting in the controller's environment is unusable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/**
 * Errors that retrying the same event cannot cure: a missing permission, a lock too large for the role,
 * facts EC2 should never produce. They go straight to the dead-letter queue instead of blocking the FIFO
 * group for every later event while SQS redelivers them.
 */
export function isPermanent(error: unknown): boolean {
  return error instanceof Error && PERMANENT.has(error.name)
}

const PERMANENT = new Set(['MissingPermissionError', 'LockTooLargeError', 'InvalidFactsError', 'ConfigError'])

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])

/** Runs one AWS call, turning a permission refusal into an error that names the missing permission. */
export async function asPermitted<T>(action: string, resource: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (error instanceof Error && ACCESS_DENIED.has(error.name)) {
      throw new MissingPermissionError(action, resource, { cause: error })
    }
    throw error
  }
}
