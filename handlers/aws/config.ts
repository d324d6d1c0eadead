import { type KnownEgress, parseKnownEgress, parseTrustedVpcEndpoints } from '../../policy/environment.js'
import { InvalidSettingError } from '../../policy/errors.js'
import { checkTagKey, checkTagValue } from '../../policy/opt-in-tag.js'
import { exemptActionsFrom, managedPolicyQuotaFrom } from '../../policy/settings.js'
import { ConfigError } from './errors.js'
import type { RoleScope } from './role-scope.js'

export interface ControllerConfig {
  readonly region: string
  /** Tag key and value that opt an instance in. */
  readonly lockTag: { readonly key: string; readonly value: string }
  /** Compute and log every decision, write nothing. */
  readonly dryRun: boolean
  readonly tombstoneRetentionMs: number
  /** EventBridge bus that receives an audit event per changed lock. */
  readonly auditEventBus: string
  /** Refuse instance credentials that IMDSv1 delivered. */
  readonly refuseImdsV1: boolean
  /** Per role, the actions its address statements do not refuse (presigned URLs handed to browsers). */
  readonly exemptActions: ReadonlyMap<string, readonly string[]>
  /** Managed policies a role may carry in all (IAM's quota, 10 unless raised): the lock uses what others leave. */
  readonly managedPolicyQuota: number
  /** Public CIDRs behind route targets the controller cannot see through (KNOWN_EGRESS, JSON). */
  readonly knownEgress: KnownEgress
  /** Interface endpoints in other VPCs an instance may call through (TRUSTED_VPC_ENDPOINTS, comma-separated). */
  readonly trustedVpcEndpoints: readonly string[]
  /**
   * What-if for the pre-flight plan: every instance with an instance profile counts as opted in.
   * @default false (only the opt-in tag counts; the deployed controller never sets it)
   */
  readonly everyInstanceOptedIn?: boolean
  /** The roles IAM lets this controller write on; a refused write outside them is a skip. */
  readonly roleScope: RoleScope
}

const HOUR_MS = 3_600_000

/** Reads the controller's settings; only AWS_REGION is required, everything else has a safe default. */
export function readConfig(env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION
  if (!region) throw new ConfigError('AWS_REGION is not set: set it to the region this controller guards.')
  return {
    region,
    lockTag: {
      key: tagSetting(env, 'LOCK_TAG_KEY', 'credential-lock', checkTagKey),
      value: tagSetting(env, 'LOCK_TAG_VALUE', 'enabled', checkTagValue),
    },
    dryRun: flag(env, 'DRY_RUN'),
    tombstoneRetentionMs: hours(env, 'TOMBSTONE_RETENTION_HOURS', 12) * HOUR_MS,
    auditEventBus: nonEmpty(env, 'AUDIT_EVENT_BUS', 'default'),
    refuseImdsV1: flag(env, 'REFUSE_IMDSV1'),
    exemptActions: setting(() =>
      env.EXEMPT_ACTIONS === undefined ? new Map() : exemptActionsFrom(env.EXEMPT_ACTIONS, 'EXEMPT_ACTIONS'),
    ),
    managedPolicyQuota: setting(() =>
      env.MANAGED_POLICY_QUOTA === undefined
        ? 10
        : managedPolicyQuotaFrom(env.MANAGED_POLICY_QUOTA, 'MANAGED_POLICY_QUOTA'),
    ),
    knownEgress: setting(() => parseKnownEgress('KNOWN_EGRESS', env.KNOWN_EGRESS)),
    trustedVpcEndpoints: setting(() =>
      parseTrustedVpcEndpoints('TRUSTED_VPC_ENDPOINTS', env.TRUSTED_VPC_ENDPOINTS),
    ),
    roleScope: readRoleScope(env),
  }
}

/** Settings checked by the same code at synth; here their error becomes a ConfigError. */
function setting<Value>(read: () => Value): Value {
  try {
    return read()
  } catch (error) {
    if (error instanceof InvalidSettingError) throw new ConfigError(error.message, { cause: error })
    throw error
  }
}

/** ROLE_SCOPE `all` (the default) or `tagged`, with ROLE_SCOPE_TAG_KEY and ROLE_SCOPE_TAG_VALUE. */
export function readRoleScope(env: Readonly<Record<string, string | undefined>>): RoleScope {
  const kind = env.ROLE_SCOPE?.trim() || 'all'
  if (kind === 'all') return { kind }
  if (kind !== 'tagged') throw new ConfigError(`ROLE_SCOPE is "${kind}": set it to all or tagged.`)
  return {
    kind,
    tag: {
      key: tagSetting(env, 'ROLE_SCOPE_TAG_KEY', 'credential-lock-managed', checkTagKey),
      value: tagSetting(env, 'ROLE_SCOPE_TAG_VALUE', 'true', checkTagValue),
    },
  }
}

function nonEmpty(env: Readonly<Record<string, string | undefined>>, name: string, fallback: string): string {
  const value = env[name]
  if (value === undefined) return fallback
  if (value.trim() === '')
    throw new ConfigError(`${name} is empty: unset it to use "${fallback}" or give a value.`)
  return value
}

/** A tag key or value, checked by the rule synth applies to the same setting: `"enabled "` fails in both. */
function tagSetting(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: string,
  check: (setting: string, text: string) => void,
): string {
  const text = nonEmpty(env, name, fallback)
  setting(() => check(name, text))
  return text
}

function flag(env: Readonly<Record<string, string | undefined>>, name: string): boolean {
  const value = env[name]?.trim().toLowerCase()
  if (value === undefined || value === '' || value === 'false') return false
  if (value === 'true') return true
  throw new ConfigError(`${name} is "${env[name]}": set it to true or false.`)
}

function hours(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  const value = env[name]
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isFinite(parsed) || parsed < 1 || parsed > 48) {
    throw new ConfigError(`${name} is "${value}": give a number of hours from 1 to 48.`)
  }
  return parsed
}
