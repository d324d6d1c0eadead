/**
 * What the boot provider answers a metadata proxy at start: the caller's address as AWS saw it, and the
 * account's VPCs, VPC endpoints and Elastic IPs of the region, read at most once a minute.
 */
import type { AccountNetwork } from '../aws/account-network.js'

export interface BootAnswer extends AccountNetwork {
  readonly sourceIp: string
}

/** A function URL event, as far as the answer reads it. */
export interface FunctionUrlRequest {
  readonly requestContext: { readonly http: { readonly method: string; readonly sourceIp: string } }
}

export interface FunctionUrlResponse {
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export const CACHE_MS = 60_000

export interface BootAnswerDeps {
  readonly readNetwork: () => Promise<AccountNetwork>
  readonly now: () => Date
}

/** The handler logic; the read is shared by concurrent requests and kept for {@link CACHE_MS}. */
export function bootAnswerer(
  deps: BootAnswerDeps,
): (request: FunctionUrlRequest) => Promise<FunctionUrlResponse> {
  let cached: { readonly network: Promise<AccountNetwork>; readonly readAt: number } | undefined
  const network = () => {
    const now = deps.now().getTime()
    if (cached === undefined || now - cached.readAt >= CACHE_MS) {
      const read = deps.readNetwork()
      // A failed read is not kept: the next request tries again.
      read.catch(() => {
        cached = undefined
      })
      cached = { network: read, readAt: now }
    }
    return cached.network
  }
  return async (request) => {
    const { method, sourceIp } = request.requestContext.http
    if (method !== 'GET') return json(405, { message: 'Only GET is answered.' })
    const answer: BootAnswer = { sourceIp, ...(await network()) }
    return json(200, answer)
  }
}

function json(statusCode: number, body: object): FunctionUrlResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
}
