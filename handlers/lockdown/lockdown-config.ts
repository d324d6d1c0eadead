import type { SourceVpcs } from '../../policy/session-lock.js'
import { ConfigError } from '../aws/errors.js'
import { checkedAddressUrl } from '../session/address-lookup.js'
import type { AwsCredentials, FailureMode } from './lockdown.js'

export interface LockdownConfig {
  readonly region: string
  /** The credentials Lambda put in the environment, read before the lockdown replaces them. */
  readonly originalCredentials: AwsCredentials
  readonly functionName: string
  /** The execution role's ARN; undefined to derive it from the function's own session (no role path). */
  readonly roleArn: string | undefined
  readonly failureMode: FailureMode
  readonly sourceVpcs: SourceVpcs
  readonly addressUrl: string
}

export { DEFAULT_ADDRESS_URL } from '../session/address-lookup.js'

/**
 * Reads the lockdown's settings from a Lambda function's environment. Lambda sets the credentials, region and
 * function name; infra/self-assume.ts sets the CREDENTIAL_LOCK_* variables, which all have safe defaults.
 */
export function readLockdownConfig(env: Readonly<Record<string, string | undefined>>): LockdownConfig {
  const accessKeyId = env.AWS_ACCESS_KEY_ID
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError(
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: the lockdown runs only where Lambda provides the ' +
        "execution role's credentials.",
    )
  }
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION
  if (!region) throw new ConfigError('AWS_REGION is not set: set it to the region the function runs in.')
  return {
    region,
    originalCredentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN },
    // Session names allow at most 64 characters; Lambda function names fit.
    functionName: (env.AWS_LAMBDA_FUNCTION_NAME ?? 'lambda-function').slice(0, 64),
    roleArn: env.CREDENTIAL_LOCK_ROLE_ARN || undefined,
    failureMode: failureMode(env.CREDENTIAL_LOCK_FAILURE_MODE),
    sourceVpcs: sourceVpcs(env.CREDENTIAL_LOCK_SOURCE_VPCS),
    addressUrl: checkedAddressUrl(env.CREDENTIAL_LOCK_ADDRESS_URL, 'CREDENTIAL_LOCK_ADDRESS_URL'),
  }
}

function failureMode(value: string | undefined): FailureMode {
  const mode = value?.trim().toLowerCase() || 'open'
  if (mode === 'open' || mode === 'closed') return mode
  throw new ConfigError(`CREDENTIAL_LOCK_FAILURE_MODE is "${value}": set it to open or closed.`)
}

/** Unset: any VPC endpoint; `none`: no endpoint (a function outside a VPC); else comma-separated VPC IDs. */
function sourceVpcs(value: string | undefined): SourceVpcs {
  const trimmed = value?.trim()
  if (!trimmed) return 'any'
  if (trimmed.toLowerCase() === 'none') return []
  return trimmed.split(',').map((vpc) => vpc.trim())
}
