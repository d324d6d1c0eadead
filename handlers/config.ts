import { ConfigError } from './errors.js'

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
    refuseImdsV1: flag(env, 'REFUSE_IMDSV1'),
    exemptActions: exemptActions(env, 'EXEMPT_ACTIONS'),
    managedPolicyQuota: wholeNumber(env, 'MANAGED_POLICY_QUOTA', 10, { min: 1, max: 20 }),
  }
}

function wholeNumber(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  range: { readonly min: number; readonly max: number },
): number {
  const value = env[name]
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < range.min || parsed > range.max) {
    throw new ConfigError(`${name} is "${value}": give a whole number from ${range.min} to ${range.max}.`)
  }
  return parsed
}

/** IAM action names: `service:Action`, wildcards allowed after the colon. */
const ACTION = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/

function exemptActions(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): ReadonlyMap<string, readonly string[]> {
  const value = env[name]
  if (value === undefined || value.trim() === '') return new Map()
  const expected = `give a JSON object from role names to lists of actions, such as {"web-role":["s3:GetObject"]}`
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw new ConfigError(`${name} is not JSON: ${expected}.`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${name} is ${JSON.stringify(parsed)}: ${expected}.`)
  }
  return new Map(
    Object.entries(parsed).map(([roleName, actions]) => {
      const valid =
        Array.isArray(actions) && actions.length > 0 && actions.every((a) => ACTION.test(String(a)))
      if (!valid || actions.includes('*')) {
        throw new ConfigError(`${name} for role ${roleName} is ${JSON.stringify(actions)}: ${expected}.`)
      }
      return [roleName, actions as string[]]
    }),
  )
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
