/**
 * The lockdown as a function ships it: handlers/lockdown/lockdown-lambda.ts bundled alone with esbuild, then loaded in
 * a fresh Node process that plays one cold start (the bundle reads the environment Lambda would give it).
 */
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { lambdaBuildOptions } from './handler-bundle.js'

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ENTRY = 'handlers/lockdown/lockdown-lambda.ts'

export interface LockdownBundle {
  readonly file: string
  readonly bytes: number
}

/**
 * Bundles the lockdown the way the stack bundles handlers (node24, CommonJS, minified), with the AWS SDK left
 * to the Lambda runtime (`external`) or bundled in.
 */
export async function bundleLockdown(outdir: string, sdk: 'external' | 'bundled'): Promise<LockdownBundle> {
  const file = join(outdir, `lockdown-sdk-${sdk}.js`)
  await build({ ...lambdaBuildOptions(ENTRY, file), external: sdk === 'external' ? ['@aws-sdk/*'] : [] })
  return { file, bytes: statSync(file).size }
}

export interface ColdStartProbe {
  /** Requiring the bundle (and, when external, the runtime's @aws-sdk/client-sts). */
  readonly loadMs: number
  /** The first wrapped invocation until the handler runs: address look-up and AssumeRole. */
  readonly firstLockMs: number
  /** A later invocation until the handler runs: the lock is reused. */
  readonly warmLockMs: number
  /** Who a client created at module load, before the lock, is when the handler uses it. */
  readonly callerArn: string
  /** The access key a child process of the handler inherits. */
  readonly childAccessKeyId: string
  readonly originalAccessKeyId: string
}

export interface ProbeEnvironment {
  readonly motoEndpoint: string
  readonly addressUrl: string
  readonly roleArn: string
  readonly functionName: string
}

const PROBE = `
const started = performance.now()
const { withLockdown } = require(process.env.PROBE_BUNDLE)
const loaded = performance.now()
const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts')
const early = new STSClient({})
let entered = 0
const handler = withLockdown(async () => {
  entered = performance.now()
  const { Arn } = await early.send(new GetCallerIdentityCommand({}))
  return Arn
})
const context = { getRemainingTimeInMillis: () => 30000 }
;(async () => {
  const first = performance.now()
  const callerArn = await handler({}, context)
  const firstLockMs = entered - first
  const warm = performance.now()
  await handler({}, context)
  const warmLockMs = entered - warm
  const childAccessKeyId = require('node:child_process')
    .execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.AWS_ACCESS_KEY_ID)'], { encoding: 'utf8' })
  process.stdout.write(JSON.stringify({
    loadMs: loaded - started, firstLockMs, warmLockMs, callerArn, childAccessKeyId,
    originalAccessKeyId: process.env.PROBE_ORIGINAL_KEY,
  }))
})().catch((error) => { console.error(error); process.exit(1) })
`

const ORIGINAL_ACCESS_KEY = 'AKIAORIGINALEXAMPLE'

/** One cold start in a fresh process; the stand-in and moto must keep answering meanwhile (async spawn). */
export async function probeColdStart(bundle: LockdownBundle, env: ProbeEnvironment): Promise<ColdStartProbe> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', PROBE], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH,
      NODE_PATH: join(REPOSITORY_ROOT, 'node_modules'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: ORIGINAL_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: 'original-secret',
      AWS_SESSION_TOKEN: 'original-token',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: env.motoEndpoint,
      AWS_LAMBDA_FUNCTION_NAME: env.functionName,
      CREDENTIAL_LOCK_ADDRESS_URL: env.addressUrl,
      CREDENTIAL_LOCK_ROLE_ARN: env.roleArn,
      CREDENTIAL_LOCK_SOURCE_VPCS: 'none',
      CREDENTIAL_LOCK_FAILURE_MODE: 'closed',
      PROBE_BUNDLE: bundle.file,
      PROBE_ORIGINAL_KEY: ORIGINAL_ACCESS_KEY,
    },
    encoding: 'utf8',
  })
  // The lockdown's own log lines come first; the probe's result is the last line.
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ColdStartProbe
}
