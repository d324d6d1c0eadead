/**
 * The lockdown as a function uses it: the only module that reads the environment and builds the STS client.
 *
 *   export const handler = withLockdown(async (event) => { ... })        // a plain wrapper
 *   export const handler = middy(app).use(lockdownMiddleware())            // Middy
 *   const s3 = new S3Client({ credentials: lockdown().credentials })       // a client created earlier
 */
import { STSClient } from '@aws-sdk/client-sts'
import { consoleJsonLog, writeFailureMetric } from '../session/log-lines.js'
import {
  addressLookup,
  callerRoleArn,
  type InvocationContext,
  Lockdown,
  type LockdownMiddleware,
} from './lockdown.js'
import { readLockdownConfig } from './lockdown-config.js'

const ADDRESS_TIMEOUT_MS = 3_000
const RETRY_AFTER_MS = 60_000

let shared: Lockdown | undefined

/** The function's one lockdown, built from its environment on first use (before any credential is replaced). */
export function lockdown(): Lockdown {
  shared ??= lockdownFromEnvironment(process.env)
  return shared
}

/** Wraps an async Lambda handler so it runs with locked credentials. */
export function withLockdown<Event, Result, Context extends InvocationContext>(
  handler: (event: Event, context: Context) => Promise<Result>,
): (event: Event, context: Context) => Promise<Result> {
  return lockdown().wrap(handler)
}

/** The Middy middleware: `middy(handler).use(lockdownMiddleware())`. */
export function lockdownMiddleware(): LockdownMiddleware {
  return lockdown().middleware()
}

/** A lockdown wired to the real STS, the configured address look-up, stdout logs and an EMF metric. */
export function lockdownFromEnvironment(env: Record<string, string | undefined>): Lockdown {
  const config = readLockdownConfig(env)
  // Static original credentials: the default chain would read the locked ones back from the environment.
  const sts = new STSClient({ region: config.region, credentials: { ...config.originalCredentials } })
  return new Lockdown({
    sts,
    lookUpAddress: addressLookup(config.addressUrl, ADDRESS_TIMEOUT_MS),
    roleArn: config.roleArn === undefined ? callerRoleArn(sts) : async () => config.roleArn as string,
    sessionName: config.functionName,
    originalCredentials: config.originalCredentials,
    environment: env,
    log: consoleJsonLog,
    countFailure: (failureMode) =>
      writeFailureMetric('LockdownFailed', ['FunctionName', config.functionName], failureMode),
    now: () => new Date(),
    settings: {
      failureMode: config.failureMode,
      sourceVpcs: config.sourceVpcs,
      retryAfterMs: RETRY_AFTER_MS,
    },
  })
}
