/** Node's codes for a connection that never reached an answer: DNS, refused, reset, unroutable or timed out. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

/** An AWS endpoint did not answer at all: the network, a proxy, AWS_ENDPOINT_URL or the region is wrong. */
export class EndpointUnreachableError extends Error {
  override readonly name = 'EndpointUnreachableError'
}

/** Where the calls went: what the sentence tells the user to check. */
export interface CallTarget {
  readonly region: string
  /** AWS_ENDPOINT_URL, which sends every client elsewhere (e.g. to moto). */
  readonly endpointUrl: string | undefined
}

interface NodeNetworkError {
  readonly code?: unknown
  readonly syscall?: unknown
  readonly hostname?: unknown
  readonly address?: unknown
  readonly port?: unknown
}

/**
 * A connection failure turned into one sentence naming the endpoint and what to check; any other error is
 * returned as it is. The SDK passes Node's own error through (`connect ECONNREFUSED 127.0.0.1:5999`), or its
 * TimeoutError when a socket stays silent.
 */
export function explainUnreachable(error: unknown, target: CallTarget): unknown {
  if (!(error instanceof Error)) return error
  const { code, syscall, hostname, address, port } = error as NodeNetworkError
  const refusedBy = typeof code === 'string' && UNREACHABLE_CODES.has(code)
  if (!refusedBy && error.name !== 'TimeoutError') return error
  const host = typeof hostname === 'string' ? hostname : typeof address === 'string' ? address : undefined
  const endpoint =
    host === undefined ? (target.endpointUrl ?? 'its endpoint') : port ? `${host}:${port}` : host
  const what = refusedBy
    ? [syscall, code].filter((part) => typeof part === 'string').join(' ')
    : error.message
  const endpointUrl = target.endpointUrl === undefined ? 'not set' : `now ${target.endpointUrl}`
  return new EndpointUnreachableError(
    `Could not reach AWS at ${endpoint} (${what}): check the network and any proxy, AWS_ENDPOINT_URL ` +
      `(${endpointUrl}) and the region (${target.region}).`,
    { cause: error },
  )
}
