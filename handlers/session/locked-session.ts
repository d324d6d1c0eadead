/**
 * Re-assuming a role under the session policy of policy/session-lock.ts: what the in-function lockdown and the
 * host proxy both do to turn a role's credentials into credentials that work only where they were issued.
 */
import { AssumeRoleCommand, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts'
import { type SessionLockFacts, sessionLockPolicy } from '../../policy/session-lock.js'

/**
 * What a program does when it cannot lock: `open` hands out the unlocked credentials (and logs at ERROR, counts
 * a metric), `closed` hands out none.
 */
export type FailureMode = 'open' | 'closed'

/** The shape the AWS SDK v3 takes as `credentials` (or a provider's result). */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
  readonly expiration?: Date | undefined
}

/** Credentials from STS: always temporary. */
export interface SessionCredentials extends AwsCredentials {
  readonly sessionToken: string
  readonly expiration: Date
}

/** Only the call made here, so a client built with any credentials provider fits. */
export interface StsCalls {
  send(command: AssumeRoleCommand): Promise<AssumeRoleCommandOutput>
}

/** Role chaining caps the session at one hour. */
export const SESSION_SECONDS = 3_600

export interface LockedSessionRequest {
  readonly facts: SessionLockFacts
  /** Shows in CloudTrail: the function's name, the instance's ID. */
  readonly sessionName: string
}

/** AssumeRole on `facts.roleArn` with the locking session policy, signed by whatever `sts` was built with. */
export async function assumeLocked(
  sts: StsCalls,
  request: LockedSessionRequest,
): Promise<SessionCredentials> {
  const response = await sts.send(
    new AssumeRoleCommand({
      RoleArn: request.facts.roleArn,
      RoleSessionName: request.sessionName,
      Policy: sessionLockPolicy(request.facts),
      DurationSeconds: SESSION_SECONDS,
    }),
  )
  return sessionCredentials(response)
}

/** The credentials of an AssumeRole answer; throws when STS left a part out. */
export function sessionCredentials(response: AssumeRoleCommandOutput): SessionCredentials {
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration } = response.Credentials ?? {}
  if (!AccessKeyId || !SecretAccessKey || !SessionToken || !Expiration) {
    throw new Error('AssumeRole answered without complete credentials.')
  }
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    sessionToken: SessionToken,
    expiration: Expiration,
  }
}

/** An error and its causes as plain JSON, for one log line. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) }
  return {
    name: error.name,
    message: error.message,
    ...(error.cause !== undefined && { cause: describeError(error.cause) }),
  }
}
