/**
 * Reads the boot provider (handlers/boot-provider/, a Lambda function URL with AWS_IAM auth), signed with
 * SigV4 by the instance role's raw credentials: the locked ones are what is being built.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto'
import { SignatureV4 } from '@smithy/signature-v4'
import type { AwsCredentials } from '../session/locked-session.js'
import { BootProviderError } from './errors.js'
import type { BootFacts } from './host-facts.js'

export interface BootProviderSettings {
  readonly url: URL
  readonly region: string
  readonly credentials: () => Promise<AwsCredentials>
  readonly timeoutMs: number
}

export function bootProviderReader(settings: BootProviderSettings): () => Promise<BootFacts> {
  const signer = new SignatureV4({
    service: 'lambda',
    region: settings.region,
    credentials: settings.credentials,
    sha256: NodeSha256,
  })
  const { url } = settings
  return async () => {
    const signed = await signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host },
    })
    let response: Response
    try {
      response = await fetch(url, {
        headers: signed.headers as Record<string, string>,
        signal: AbortSignal.timeout(settings.timeoutMs),
      })
    } catch (cause) {
      throw new BootProviderError(url.href, `could not be reached within ${settings.timeoutMs} ms`, { cause })
    }
    if (!response.ok) throw new BootProviderError(url.href, `answered HTTP ${response.status}`)
    return parseBootFacts(url.href, await response.json())
  }
}

function parseBootFacts(url: string, body: unknown): BootFacts {
  const answer = (body ?? {}) as Record<string, unknown>
  const strings = (name: string): string[] => {
    const value = answer[name] ?? []
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw new BootProviderError(url, `answered ${name} that is not a list of strings`)
    }
    return value
  }
  if (typeof answer.sourceIp !== 'string') throw new BootProviderError(url, 'answered without sourceIp')
  return {
    sourceIp: answer.sourceIp,
    vpcIds: strings('vpcIds'),
    vpcEndpointIds: strings('vpcEndpointIds'),
    elasticIps: strings('elasticIps'),
  }
}

type SourceData = string | ArrayBuffer | ArrayBufferView

function bytes(data: SourceData): string | Buffer {
  if (typeof data === 'string') return data
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return Buffer.from(data)
}

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape SignatureV4 takes. */
class NodeSha256 {
  readonly #hash: Hash | Hmac

  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }

  update(data: SourceData): void {
    this.#hash.update(bytes(data))
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest())
  }
}
