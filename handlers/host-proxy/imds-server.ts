/**
 * The instance metadata service as every local process sees it: the role's credentials are answered with the
 * locked ones, everything else passes through to the real IMDS unchanged. The real IMDS still decides who is
 * answered at all: the caller's own request for the credentials goes to it first (token checked, IMDSv1
 * answered or refused as the instance is configured), and only its 200 is replaced.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { posix } from 'node:path'
import type { JsonLog } from '../session/log-lines.js'
import type { CredentialKeeper } from './credential-keeper.js'
import type { ImdsRequest, ImdsResponse } from './imds-client.js'
import { imdsTime, writeError, writeJson } from './replies.js'

export interface ImdsServerDeps {
  readonly forward: (request: ImdsRequest) => Promise<ImdsResponse>
  /** The instance role's locked credentials. */
  readonly keeper: CredentialKeeper
  readonly log: JsonLog
}

// Any API version (`latest` or a date), the role's document, not the listing.
const ROLE_CREDENTIALS = /^\/[^/]+\/meta-data\/iam\/security-credentials\/[^/]+\/?$/i

export function imdsHandler(deps: ImdsServerDeps) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    // IMDS refuses anything relayed (its SSRF defence against open proxies); so does its stand-in.
    if (request.headers['x-forwarded-for'] !== undefined) {
      writeError(response, 403, 'imds')
      return
    }
    try {
      const path = canonicalPath(request.url ?? '/')
      const upstream = await deps.forward({
        method: request.method ?? 'GET',
        path,
        headers: request.headers,
        body: await readBody(request),
      })
      if (upstream.status === 200 && isRoleCredentials(path, upstream.body)) {
        await answerLocked(deps.keeper, upstream, response)
      } else passThrough(upstream, response)
    } catch (cause) {
      deps.log.error('The instance metadata service could not be reached', { cause: String(cause) })
      writeError(response, 502, 'imds')
    }
  }
}

async function answerLocked(keeper: CredentialKeeper, upstream: ImdsResponse, response: ServerResponse) {
  const served = await keeper.current()
  if (served.kind === 'unlocked') return passThrough(upstream, response)
  if (served.kind === 'none') return writeError(response, 404, 'imds')
  const { credentials, lockedAt } = served
  // IMDS's own headers (server, date, content type) stay; only the body and its length change.
  writeJson(response, upstream.headers, {
    Code: 'Success',
    LastUpdated: imdsTime(lockedAt),
    Type: 'AWS-HMAC',
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    Token: credentials.sessionToken,
    Expiration: imdsTime(credentials.expiration),
  })
}

/**
 * The role's credentials document: by its path, or, whatever spelling reached it, by its body (IMDS answered
 * credentials under `iam/`). The body check is the backstop if IMDS resolves a path this proxy does not.
 */
function isRoleCredentials(path: string, body: Buffer): boolean {
  const pathOnly = path.split('?')[0] ?? ''
  if (ROLE_CREDENTIALS.test(pathOnly)) return true
  return /\/iam\//i.test(pathOnly) && body.includes('"SecretAccessKey"')
}

function passThrough(upstream: ImdsResponse, response: ServerResponse): void {
  response.writeHead(upstream.status, upstream.headers as Record<string, string | string[]>)
  response.end(upstream.body)
}

/**
 * The path as IMDS would resolve it (percent-escapes decoded, `.`/`..` and repeated slashes collapsed), and the
 * one sent on: a caller cannot reach the real credentials by spelling their path differently.
 */
export function canonicalPath(url: string): string {
  const [rawPath = '/', ...query] = url.split('?')
  let decoded: string
  try {
    decoded = decodeURIComponent(rawPath)
  } catch {
    decoded = rawPath
  }
  const trailing = decoded.endsWith('/') && decoded !== '/' ? '/' : ''
  const normalized = posix.normalize(`/${decoded}`).replace(/\/+$/, '') || '/'
  const path = normalized === '/' ? '/' : normalized + trailing
  return query.length > 0 ? `${path}?${query.join('?')}` : path
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return chunks.length > 0 ? Buffer.concat(chunks) : undefined
}
