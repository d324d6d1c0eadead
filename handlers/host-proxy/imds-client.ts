/**
 * The real instance metadata service, as the proxy itself reads it (IMDSv2, a token of its own) and as it
 * passes other callers' requests through (their method, path, headers and body, unchanged).
 */
import { request } from 'node:http'
import type { SessionCredentials } from '../session/locked-session.js'
import { ImdsError } from './errors.js'

/** One HTTP exchange with IMDS, as raw as the proxy passes it on. */
export interface ImdsRequest {
  readonly method: string
  /** Path and query. */
  readonly path: string
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>
  readonly body?: Buffer | undefined
}

export interface ImdsResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>
  readonly body: Buffer
}

/** The instance role's own credentials, as IMDS serves them. */
export interface RawCredentials extends SessionCredentials {
  readonly roleName: string
}

const TOKEN_PATH = '/latest/api/token'
const TOKEN_TTL_SECONDS = 21_600
/** Renew the proxy's own token well before IMDS forgets it. */
const TOKEN_RENEW_MS = (TOKEN_TTL_SECONDS - 600) * 1_000
// Connection-level headers belong to one hop (RFC 9110 section 7.6.1); the rest passes through as it came.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
])

export class ImdsClient {
  #token: { readonly value: string; readonly renewAt: number } | undefined

  constructor(
    private readonly baseUrl: URL,
    private readonly timeoutMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Sends a caller's request on to IMDS and returns its answer, hop-by-hop headers left out both ways. */
  async forward(incoming: ImdsRequest): Promise<ImdsResponse> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        new URL(incoming.path, this.baseUrl),
        { method: incoming.method, headers: withoutHopByHop(incoming.headers), timeout: this.timeoutMs },
        (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('error', reject)
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 502,
              headers: withoutHopByHop(response.headers),
              body: Buffer.concat(chunks),
            }),
          )
        },
      )
      outgoing.on('timeout', () =>
        outgoing.destroy(new ImdsError(`did not answer within ${this.timeoutMs} ms`)),
      )
      outgoing.on('error', reject)
      outgoing.end(incoming.body)
    })
  }

  /** A metadata value (`meta-data/` relative path); undefined where IMDS has none (404). */
  async metadata(path: string): Promise<string | undefined> {
    const response = await this.#get(`/latest/meta-data/${path}`)
    if (response.status === 404) return undefined
    if (response.status !== 200) throw new ImdsError(`answered HTTP ${response.status} for meta-data/${path}`)
    return response.body.toString('utf8')
  }

  /** The instance role's name and credentials: what the proxy signs AssumeRole with. */
  async rawCredentials(): Promise<RawCredentials> {
    const roleName = (await this.metadata('iam/security-credentials/'))?.split('\n')[0]?.trim()
    if (!roleName) throw new ImdsError('lists no instance role: attach an instance profile to this instance')
    const text = await this.metadata(`iam/security-credentials/${roleName}`)
    const document = JSON.parse(text ?? '{}') as Record<string, string | undefined>
    const { AccessKeyId, SecretAccessKey, Token, Expiration } = document
    if (document.Code !== 'Success' || !AccessKeyId || !SecretAccessKey || !Token || !Expiration) {
      throw new ImdsError(`served no usable credentials for role ${roleName} (Code ${document.Code})`)
    }
    return {
      roleName,
      accessKeyId: AccessKeyId,
      secretAccessKey: SecretAccessKey,
      sessionToken: Token,
      expiration: new Date(Expiration),
    }
  }

  async #get(path: string): Promise<ImdsResponse> {
    const response = await this.forward({
      method: 'GET',
      path,
      headers: { 'x-aws-ec2-metadata-token': await this.#tokenValue() },
    })
    if (response.status !== 401) return response
    // IMDS forgot the token (restarted, or its TTL passed while the host slept): one fresh try.
    this.#token = undefined
    return this.forward({
      method: 'GET',
      path,
      headers: { 'x-aws-ec2-metadata-token': await this.#tokenValue() },
    })
  }

  async #tokenValue(): Promise<string> {
    const now = this.now().getTime()
    if (this.#token !== undefined && now < this.#token.renewAt) return this.#token.value
    const response = await this.forward({
      method: 'PUT',
      path: TOKEN_PATH,
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) },
    })
    if (response.status !== 200) throw new ImdsError(`refused a session token (HTTP ${response.status})`)
    this.#token = { value: response.body.toString('utf8'), renewAt: now + TOKEN_RENEW_MS }
    return this.#token.value
  }
}

function withoutHopByHop(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue
    kept[name] = typeof value === 'string' ? value : [...value]
  }
  return kept
}
