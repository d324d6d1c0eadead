/**
 * The metadata proxy under test, in this process: the IMDS stand-in behind it, the address stand-in for its
 * look-up, an STS (moto's, or a recording fake), a clock the test moves, and the log lines it wrote.
 */
import type { AssumeRoleCommand, AssumeRoleCommandOutput } from '@aws-sdk/client-sts'
import { ImdsClient } from '../../handlers/host-proxy/imds-client.js'
import { type RunningProxy, startProxy } from '../../handlers/host-proxy/proxy.js'
import type { FailureMode, StsCalls } from '../../handlers/session/locked-session.js'
import { type AddressStandIn, startAddressStandIn } from './address-stand-in.js'
import {
  type ImdsStandIn,
  STAND_IN_INSTANCE,
  type StandInInstance,
  startImdsStandIn,
} from './imds-stand-in.js'

/** The egress address the look-up reports for the host (documentation range). */
export const HOST_EGRESS_IP = '198.51.100.23'
export const INSTANCE_ROLE_ARN = `arn:aws:iam::${STAND_IN_INSTANCE.accountId}:role/${STAND_IN_INSTANCE.roleName}`

export interface LogLine {
  readonly level: 'INFO' | 'ERROR'
  readonly message: string
  readonly [detail: string]: unknown
}

export interface Clock {
  now(): Date
  advance(ms: number): void
}

export function testClock(start = new Date('2026-06-01T12:00:00.000Z')): Clock {
  let at = start.getTime()
  return { now: () => new Date(at), advance: (ms) => (at += ms) }
}

/** An STS that answers every AssumeRole with fresh one-hour credentials and keeps what it was asked. */
export class RecordingSts implements StsCalls {
  readonly calls: AssumeRoleCommand['input'][] = []
  failing: Error | undefined

  constructor(private readonly clock: Clock) {}

  async send(command: AssumeRoleCommand): Promise<AssumeRoleCommandOutput> {
    this.calls.push(command.input)
    if (this.failing) throw this.failing
    const serial = this.calls.length
    return {
      $metadata: {},
      Credentials: {
        AccessKeyId: `ASIALOCKED${String(serial).padStart(10, '0')}`,
        SecretAccessKey: `locked-secret-${serial}`,
        SessionToken: `locked-token-${serial}`,
        Expiration: new Date(this.clock.now().getTime() + (command.input.DurationSeconds ?? 3_600) * 1_000),
      },
    }
  }
}

export interface ProxyScene {
  readonly proxy: RunningProxy
  readonly imds: ImdsStandIn
  readonly address: AddressStandIn
  readonly logs: LogLine[]
  readonly failures: FailureMode[]
  close(): Promise<void>
}

export interface SceneOptions {
  readonly sts: StsCalls
  readonly clock?: Clock
  readonly failureMode?: FailureMode
  readonly containerRoles?: ReadonlyMap<string, string>
  readonly instance?: StandInInstance
  readonly retryAfterMs?: number
  /** @default one free port on 127.0.0.1 */
  readonly listen?: readonly { readonly host: string; readonly port: number }[]
}

export async function startProxyScene(options: SceneOptions): Promise<ProxyScene> {
  const imds = await startImdsStandIn(options.instance)
  const address = await startAddressStandIn(HOST_EGRESS_IP)
  const logs: LogLine[] = []
  const failures: FailureMode[] = []
  const record = (level: LogLine['level']) => (message: string, details: Record<string, unknown>) =>
    logs.push({ level, message, ...details })
  const clock = options.clock ?? { now: () => new Date(), advance: () => undefined }
  const lookUpAddress = async () => (await (await fetch(address.url)).text()).trim()
  const proxy = await startProxy(
    {
      imds: new ImdsClient(new URL(imds.url), 2_000),
      sts: options.sts,
      lookUpAddress,
      readBootFacts: undefined,
      roleArn: undefined,
      failureMode: options.failureMode ?? 'open',
      containerRoles: options.containerRoles ?? new Map(),
      log: { info: record('INFO'), error: record('ERROR') },
      countFailure: (mode) => failures.push(mode),
      now: () => clock.now(),
      retryAfterMs: options.retryAfterMs ?? 60_000,
      renewEveryMs: 3_600_000,
    },
    options.listen ?? [{ host: '127.0.0.1', port: 0 }],
  )
  return {
    proxy,
    imds,
    address,
    logs,
    failures,
    async close() {
      await proxy.close()
      await imds.close()
      await address.close()
    },
  }
}

/** An IMDSv2 session token from `baseUrl` (the proxy or the stand-in). */
export async function imdsToken(baseUrl: string, ttlSeconds = 60): Promise<string> {
  const response = await fetch(`${baseUrl}/latest/api/token`, {
    method: 'PUT',
    headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttlSeconds) },
  })
  if (!response.ok) throw new Error(`token PUT answered ${response.status}`)
  return response.text()
}

export const CREDENTIALS_PATH = `/latest/meta-data/iam/security-credentials/${STAND_IN_INSTANCE.roleName}`
