/**
 * The container credentials endpoint: what a container gets with AWS_CONTAINER_CREDENTIALS_FULL_URI and
 * AWS_CONTAINER_AUTHORIZATION_TOKEN. Each token maps to one role; its credentials are locked to this host by
 * the same session policy. A missing token gets 401, a wrong one 403, and neither ever gets credentials.
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CredentialKeeper } from './credential-keeper.js'
import { writeError, writeJson } from './replies.js'

export interface ContainerServerDeps {
  /** Authorization token → container role ARN. */
  readonly roles: ReadonlyMap<string, string>
  /** The keeper of one container role's locked credentials. */
  readonly keeperFor: (roleArn: string) => CredentialKeeper
}

type RoleHandler = (roleArn: string, request: IncomingMessage, response: ServerResponse) => Promise<void>

export function containerHandler(deps: ContainerServerDeps) {
  return withAuthorizationCheck(deps.roles, async (roleArn, request, response) => {
    if (request.method !== 'GET') return writeError(response, 405, 'json', 'Only GET is answered.')
    const served = await deps.keeperFor(roleArn).current()
    if (served.kind !== 'locked') {
      // Failing open has nothing unlocked to hand a container: its role was never assumed without the lock.
      return writeError(response, 500, 'json', 'The container role could not be locked to this host.')
    }
    const { credentials } = served
    writeJson(
      response,
      {},
      {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        Token: credentials.sessionToken,
        Expiration: credentials.expiration.toISOString(),
        RoleArn: roleArn,
      },
    )
  })
}

/** The token check as one wrapper, before any handler runs: aws-vault's withAuthorizationCheck. */
function withAuthorizationCheck(roles: ReadonlyMap<string, string>, next: RoleHandler) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const presented = request.headers.authorization
    if (!presented) return writeError(response, 401, 'json', 'Missing Authorization token.')
    const roleArn = roleForToken(roles, presented)
    if (roleArn === undefined) return writeError(response, 403, 'json', 'Invalid Authorization token.')
    return next(roleArn, request, response)
  }
}

/** Compares every configured token in constant time, so timing does not reveal how much of one matched. */
function roleForToken(roles: ReadonlyMap<string, string>, presented: string): string | undefined {
  const given = Buffer.from(presented)
  let found: string | undefined
  for (const [token, roleArn] of roles) {
    const expected = Buffer.from(token)
    if (expected.length === given.length && timingSafeEqual(expected, given)) found = roleArn
  }
  return found
}
