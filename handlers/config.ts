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
      key: nonEmpty(env, 'LOCK_TAG_KEY', 'credential-lock'),
      value: nonEmpty(env, 'LOCK_TAG_VALUE', 'enabled'),
    },
    dryRun: flag(env, 'DRY_RUN'),
    tombstoneRetentionMs: hours(env, 'TOMBSTONE_RETENTION_HOURS', 12) * HOUR_MS,
    auditEventBus: nonEmpty(env, 'AUDIT_EVENT_BUS', 'default'),
    roleScope: readRoleScope(env),
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
      key: nonEmpty(env, 'ROLE_SCOPE_TAG_KEY', 'credential-lock-managed'),
      value: nonEmpty(env, 'ROLE_SCOPE_TAG_VALUE', 'true'),
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
