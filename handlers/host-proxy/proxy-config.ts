/** The proxy's settings, from its command line and environment; every bad value is one clear sentence. */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import { ConfigError } from '../aws/errors.js'
import { checkedAddressUrl, isLoopbackHost } from '../session/address-lookup.js'
import type { FailureMode } from '../session/locked-session.js'

export const USAGE =
  'usage: credential-lock-metadata-proxy --listen 127.0.0.1:PORT [--listen [::1]:PORT] [--imds URL] [--address-url URL] ' +
  '[--boot-url URL] [--failure open|closed] [--containers FILE]'

export const DEFAULT_IMDS_URL = 'http://169.254.169.254'
/** Where containers ask for their credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI = http://LISTEN + this). */
export const CONTAINER_PATH = '/credential-lock/container-credentials'

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export interface ProxyConfig {
  /** Where to serve; more than one `--listen` for IPv4 and IPv6 loopback alike. */
  readonly listen: readonly ListenAddress[]
  readonly imdsUrl: URL
  readonly addressUrl: string
  readonly bootUrl: URL | undefined
  readonly failureMode: FailureMode
  /** Authorization token → container role ARN; empty when no --containers file is given. */
  readonly containerRoles: ReadonlyMap<string, string>
  /** The instance role's ARN when it has a path (IMDS names only the role's name). */
  readonly roleArn: string | undefined
  /** From the environment; undefined to ask IMDS. */
  readonly region: string | undefined
}

export function readProxyConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ProxyConfig {
  let values: Record<string, string | undefined> & { listen?: string[] }
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        listen: { type: 'string', multiple: true },
        imds: { type: 'string' },
        'address-url': { type: 'string' },
        'boot-url': { type: 'string' },
        failure: { type: 'string' },
        containers: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values as typeof values
  } catch (cause) {
    throw new ConfigError(`${(cause as Error).message}. ${USAGE}`, { cause })
  }
  return {
    listen: (values.listen ?? ['']).map(listenAddress),
    imdsUrl: httpUrl(values.imds ?? DEFAULT_IMDS_URL, '--imds'),
    addressUrl: checkedAddressUrl(values['address-url'], '--address-url'),
    bootUrl: values['boot-url'] === undefined ? undefined : bootUrl(values['boot-url']),
    failureMode: failureMode(values.failure),
    containerRoles: values.containers === undefined ? new Map() : containerRoles(values.containers, readFile),
    roleArn: env.CREDENTIAL_LOCK_ROLE_ARN || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
  }
}

function listenAddress(value: string): ListenAddress {
  const match = /^(.+):(\d{1,5})$/.exec(value ?? '')
  const host = match?.[1]?.replace(/^\[(.*)\]$/, '$1') ?? ''
  const port = Number(match?.[2])
  if (!match || isIP(host) === 0 || port > 65_535) {
    throw new ConfigError(
      `--listen is "${value ?? ''}": give the address and port to serve on, as 127.0.0.1:9911.`,
    )
  }
  return { host, port }
}

function httpUrl(value: string, option: string): URL {
  try {
    const url = new URL(value)
    if (url.protocol === 'http:' || url.protocol === 'https:') return url
  } catch {
    // Reported below.
  }
  throw new ConfigError(`${option} is "${value}": give an http:// or https:// URL.`)
}

/** Its answer widens the lock, so only HTTPS (or loopback, for a stand-in) is trusted to give it. */
function bootUrl(value: string): URL {
  const url = httpUrl(value, '--boot-url')
  if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigError(`--boot-url is "${value}": give the boot provider's https:// function URL.`)
  }
  return url
}

function failureMode(value: string | undefined): FailureMode {
  const mode = value?.trim().toLowerCase() || 'open'
  if (mode === 'open' || mode === 'closed') return mode
  throw new ConfigError(`--failure is "${value}": give open or closed.`)
}

const ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,576}$/

/** A JSON object `{ "<token>": "<role ARN>" }`; tokens shorter than 16 characters are guessable. */
function containerRoles(path: string, readFile: (path: string) => string): Map<string, string> {
  let document: unknown
  try {
    document = JSON.parse(readFile(path))
  } catch (cause) {
    throw new ConfigError(
      `--containers file ${path} could not be read as JSON: give a {"token": "role ARN"} map.`,
      {
        cause,
      },
    )
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ConfigError(`--containers file ${path} is not a JSON object: give a {"token": "role ARN"} map.`)
  }
  const roles = new Map<string, string>()
  for (const [token, roleArn] of Object.entries(document)) {
    if (token.length < 16) {
      throw new ConfigError(
        `--containers file ${path} has a token shorter than 16 characters: use long random tokens.`,
      )
    }
    if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
      throw new ConfigError(`--containers file ${path} maps a token to "${String(roleArn)}", not a role ARN.`)
    }
    roles.set(token, roleArn)
  }
  return roles
}
