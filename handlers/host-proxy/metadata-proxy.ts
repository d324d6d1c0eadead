/**
 * credential-lock-metadata-proxy: the only module that reads the command line and the environment and builds
 * the real clients. STS is reached through the SDK's default chain for region and endpoint (AWS_REGION,
 * AWS_ENDPOINT_URL), signed with the instance role's raw credentials read from the real IMDS.
 */
import { hostname } from 'node:os'
import { STSClient } from '@aws-sdk/client-sts'
import { addressLookup } from '../session/address-lookup.js'
import type { AwsCredentials } from '../session/locked-session.js'
import { consoleJsonLog, writeFailureMetric } from '../session/log-lines.js'
import { bootProviderReader } from './boot-provider-client.js'
import { ImdsClient } from './imds-client.js'
import { startProxy } from './proxy.js'
import { readProxyConfig } from './proxy-config.js'

const IMDS_TIMEOUT_MS = 2_000
const LOOKUP_TIMEOUT_MS = 3_000
const RETRY_AFTER_MS = 60_000
const RENEW_EVERY_MS = 60_000
/** Read the raw credentials again this long before IMDS's own expiry. */
const RAW_RENEW_MS = 5 * 60_000

async function main(): Promise<void> {
  const config = readProxyConfig(process.argv.slice(2), process.env)
  const imds = new ImdsClient(config.imdsUrl, IMDS_TIMEOUT_MS)
  const credentials = cachedRawCredentials(imds)
  const region = config.region ?? (await imds.metadata('placement/region'))?.trim()
  const proxy = await startProxy(
    {
      imds,
      sts: new STSClient({ region, credentials }),
      lookUpAddress: addressLookup(config.addressUrl, LOOKUP_TIMEOUT_MS, 'this host'),
      readBootFacts:
        config.bootUrl === undefined
          ? undefined
          : bootProviderReader({
              url: config.bootUrl,
              region: region ?? '',
              credentials,
              timeoutMs: LOOKUP_TIMEOUT_MS,
            }),
      roleArn: config.roleArn,
      failureMode: config.failureMode,
      containerRoles: config.containerRoles,
      log: consoleJsonLog,
      countFailure: (failureMode) =>
        writeFailureMetric('HostProxyLockFailed', ['Host', hostname()], failureMode),
      now: () => new Date(),
      retryAfterMs: RETRY_AFTER_MS,
      renewEveryMs: RENEW_EVERY_MS,
    },
    config.listen,
  )
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void proxy.close().then(() => process.exit(0)))
  }
}

/** The instance role's raw credentials, read again shortly before IMDS rotates them. */
function cachedRawCredentials(imds: ImdsClient): () => Promise<AwsCredentials> {
  let held: AwsCredentials | undefined
  return async () => {
    const expiration = held?.expiration?.getTime() ?? 0
    if (held === undefined || expiration - Date.now() < RAW_RENEW_MS) held = await imds.rawCredentials()
    return held
  }
}

main().catch((error: unknown) => {
  consoleJsonLog.error('Metadata proxy did not start', {
    error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
  })
  process.exit(1)
})
