/**
 * A local stand-in for the EC2 instance metadata service: the IMDSv2 token flow (PUT /latest/api/token with a
 * TTL, then the token on every read), IMDSv1 on or off, a metadata tree with directory listings, the instance
 * role's credentials, and IMDS's own error pages. It listens where it is told (127.0.0.1 by default; the
 * namespace test puts it on 169.254.169.254:80) and records every request it answers.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'

export interface StandInInstance {
  readonly instanceId: string
  readonly accountId: string
  readonly region: string
  readonly roleName: string
  readonly vpcId: string
  readonly privateIpv4: string
  /** Undefined: the instance has no public IPv4 (IMDS answers 404). */
  readonly publicIpv4?: string | undefined
  readonly ipv6s?: readonly string[]
  readonly mac?: string
}

export interface RawRoleCredentials {
  readonly AccessKeyId: string
  readonly SecretAccessKey: string
  readonly Token: string
  readonly Expiration: string
}

export interface ImdsStandIn {
  readonly url: string
  readonly requests: readonly {
    readonly method: string
    readonly path: string
    readonly headers: IncomingHttpHeaders
  }[]
  /** IMDSv1 (reads without a token) answered or refused with 401, as `HttpTokens: optional|required`. */
  allowV1(allowed: boolean): void
  /** The raw credentials served for the role from now on. */
  serveCredentials(credentials: RawRoleCredentials): void
  /** Every request answers this status from now on (IMDS down); undefined to recover. */
  fail(status: number | undefined): void
  close(): Promise<void>
}

export const STAND_IN_INSTANCE: StandInInstance = {
  instanceId: 'i-0123456789abcdef0',
  accountId: '123456789012',
  region: 'eu-west-1',
  roleName: 'app-role',
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  privateIpv4: '10.0.1.23',
  publicIpv4: '203.0.113.10',
  ipv6s: ['2001:db8:1234::10'],
  mac: '0a:1b:2c:3d:4e:5f',
}

const ERROR_PAGE = (status: number, reason: string) =>
  `<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html>\n<html><head><title>${status} - ${reason}</title></head>` +
  `<body><h1>${status} - ${reason}</h1></body></html>\n`

export async function startImdsStandIn(
  instance: StandInInstance = STAND_IN_INSTANCE,
  listen: { readonly host: string; readonly port: number } = { host: '127.0.0.1', port: 0 },
): Promise<ImdsStandIn> {
  const tokens = new Map<string, number>()
  const requests: { method: string; path: string; headers: IncomingHttpHeaders }[] = []
  let v1Allowed = false
  let failing: number | undefined
  let credentials: RawRoleCredentials = {
    AccessKeyId: 'ASIARAWINSTANCEROLE1',
    SecretAccessKey: 'raw-secret',
    Token: 'raw-session-token',
    Expiration: new Date(Date.now() + 6 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  }
  const tree = (): Record<string, string> => metadataTree(instance, credentials)

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/'
    requests.push({ method: request.method ?? '', path, headers: request.headers })
    const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, {
        server: 'EC2ws',
        'content-type': status === 200 ? 'text/plain' : 'text/html',
        'content-length': String(Buffer.byteLength(body)),
        ...headers,
      })
      response.end(body)
    }
    const refuse = (status: number, reason: string) => reply(status, ERROR_PAGE(status, reason))
    if (failing !== undefined) return refuse(failing, 'Failing')
    if (request.headers['x-forwarded-for'] !== undefined) return refuse(403, 'Forbidden')
    if (path === '/latest/api/token') {
      if (request.method !== 'PUT') return refuse(405, 'Method Not Allowed')
      const ttl = Number(request.headers['x-aws-ec2-metadata-token-ttl-seconds'])
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return refuse(400, 'Bad Request')
      const token = randomBytes(24).toString('base64')
      tokens.set(token, Date.now() + ttl * 1_000)
      return reply(200, token, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) })
    }
    const token = request.headers['x-aws-ec2-metadata-token']
    if (token !== undefined) {
      const expiry = tokens.get(String(token))
      if (expiry === undefined || expiry < Date.now()) return refuse(401, 'Unauthorized')
    } else if (!v1Allowed) {
      return refuse(401, 'Unauthorized')
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(405, 'Method Not Allowed')
    // Lenient as a real IMDS may be: any dated API version, and a trailing slash on a leaf.
    const latest = path.replace(/^\/\d{4}-\d\d-\d\d\//, '/latest/')
    const body = tree()[latest] ?? tree()[latest.replace(/\/$/, '')]
    if (body === undefined) return refuse(404, 'Not Found')
    const isJson =
      path.includes('/security-credentials/') || path.endsWith('/document') || path.endsWith('iam/info')
    reply(200, body, isJson ? { 'content-type': 'text/plain' } : {})
  })
  server.listen(listen.port, listen.host)
  await once(server, 'listening')
  const bound = server.address()
  if (bound === null || typeof bound === 'string') throw new Error('The IMDS stand-in has no port')
  return {
    url: `http://${listen.host}:${bound.port}`,
    requests,
    allowV1: (allowed) => {
      v1Allowed = allowed
    },
    serveCredentials: (next) => {
      credentials = next
    },
    fail: (status) => {
      failing = status
    },
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

/** Every leaf's path → its body, plus each directory's listing (children, directories with a trailing slash). */
function metadataTree(instance: StandInInstance, credentials: RawRoleCredentials): Record<string, string> {
  const mac = instance.mac ?? '0a:1b:2c:3d:4e:5f'
  const leaves: Record<string, string> = {
    'meta-data/ami-id': 'ami-0abcdef1234567890',
    'meta-data/hostname': `ip-${instance.privateIpv4.replaceAll('.', '-')}.${instance.region}.compute.internal`,
    'meta-data/instance-id': instance.instanceId,
    'meta-data/instance-type': 't3.micro',
    'meta-data/local-ipv4': instance.privateIpv4,
    'meta-data/mac': mac,
    'meta-data/placement/availability-zone': `${instance.region}a`,
    'meta-data/placement/region': instance.region,
    'meta-data/iam/info': JSON.stringify(
      {
        Code: 'Success',
        LastUpdated: '2026-01-01T00:00:00Z',
        InstanceProfileArn: `arn:aws:iam::${instance.accountId}:instance-profile/${instance.roleName}-profile`,
        InstanceProfileId: 'AIPAEXAMPLEPROFILE01',
      },
      null,
      2,
    ),
    [`meta-data/iam/security-credentials/${instance.roleName}`]: JSON.stringify(
      { Code: 'Success', LastUpdated: '2026-01-01T00:00:00Z', Type: 'AWS-HMAC', ...credentials },
      null,
      2,
    ),
    [`meta-data/network/interfaces/macs/${mac}/vpc-id`]: instance.vpcId,
    [`meta-data/network/interfaces/macs/${mac}/local-ipv4s`]: instance.privateIpv4,
    [`meta-data/network/interfaces/macs/${mac}/subnet-id`]: 'subnet-0a1b2c3d4e5f60718',
    'dynamic/instance-identity/document': JSON.stringify(
      { accountId: instance.accountId, instanceId: instance.instanceId, region: instance.region },
      null,
      2,
    ),
    'user-data': '#!/bin/bash\necho hello\n',
  }
  if (instance.publicIpv4 !== undefined) leaves['meta-data/public-ipv4'] = instance.publicIpv4
  if (instance.ipv6s?.length)
    leaves[`meta-data/network/interfaces/macs/${mac}/ipv6s`] = instance.ipv6s.join('\n')
  const tree: Record<string, Set<string>> = {}
  for (const path of Object.keys(leaves)) {
    const parts = path.split('/')
    for (let depth = 0; depth < parts.length; depth += 1) {
      const directory = `/latest/${parts.slice(0, depth).join('/')}${depth > 0 ? '/' : ''}`
      const child = parts[depth] + (depth < parts.length - 1 ? '/' : '')
      tree[directory] ??= new Set()
      tree[directory].add(child)
    }
  }
  return {
    ...Object.fromEntries(Object.entries(tree).map(([path, children]) => [path, [...children].join('\n')])),
    ...Object.fromEntries(Object.entries(leaves).map(([path, body]) => [`/latest/${path}`, body])),
  }
}
