/** The facts handed to the policy engine cannot describe a real instance (bad IP, bad ARN part, ...). */
export class InvalidFactsError extends Error {
  override readonly name = 'InvalidFactsError'
}

/**
 * Even the compact lock does not fit the role's inline-policy budget. Writing a trimmed lock could deny a
 * running opted-in instance its own path, so the engine refuses instead.
 */
export class LockTooLargeError extends Error {
  override readonly name = 'LockTooLargeError'

  constructor(
    readonly roleName: string,
    readonly lockChars: number,
    readonly otherInlineChars: number,
    readonly limitChars: number,
  ) {
    super(
      `The credential-lock policy for role ${roleName} needs ${lockChars} characters, but the role's other ` +
        `inline policies already use ${otherInlineChars} of IAM's ${limitChars}-character budget: move fewer ` +
        'opted-in instances onto this role or shrink its other inline policies.',
    )
  }
}

/** A setting (a construct prop, a context key or the controller's environment) is unusable; the message names it and the fix. */
export class InvalidSettingError extends Error {
  override readonly name = 'InvalidSettingError'
}

/**
 * The session policy that locks a Lambda function's credentials is longer than STS accepts. Sending it would
 * fail every AssumeRole; trimming it could drop the statement that keeps the lock on.
 */
export class SessionPolicyTooLargeError extends Error {
  override readonly name = 'SessionPolicyTooLargeError'

  constructor(
    readonly roleArn: string,
    readonly chars: number,
    readonly limitChars: number,
  ) {
    super(
      `The session policy locking role ${roleArn} needs ${chars} characters, over STS's ${limitChars}: ` +
        'list fewer source VPCs or give the role a shorter path.',
    )
  }
}
