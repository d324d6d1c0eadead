import { Duration } from 'aws-cdk-lib'
import type { RetentionDays } from 'aws-cdk-lib/aws-logs'
import type { Node } from 'constructs'
import { parseKnownEgress, parseTrustedVpcEndpoints } from '../policy/environment.js'
import { InvalidSettingError } from '../policy/errors.js'
import {
  exemptActionsFrom,
  managedPolicyQuotaFrom,
  type OrganizationSettings,
  organizationFrom,
} from '../policy/settings.js'
import type { CanarySettings } from './canary.js'
import type { CredentialLockProps } from './credential-lock.js'
import type { RoleScopeKind } from './role-scope.js'

const UNITS = { m: Duration.minutes, h: Duration.hours, d: Duration.days } as const

/** Every CredentialLock prop, each read from the context key of the same name. */
const LOCK_KEYS = [
  'lockTagKey',
  'lockTagValue',
  'resyncPeriod',
  'tombstoneRetention',
  'dryRun',
  'alarmEmail',
  'logRetention',
  'createTrail',
  'auditEventBusName',
  'roleScope',
  'roleScopeTagKey',
  'roleScopeTagValue',
] as const satisfies readonly (keyof CredentialLockProps)[]

/** The stolen-credential canary's settings: off unless `canary=true`. */
const CANARY_KEYS = ['canary', 'canaryVpcId', 'canarySubnetId', 'canaryTimeToLockLimit'] as const

/** Every context key the app reads: the lock's props, its structured settings, the canary's and the demo's. */
export const CONTEXT_KEYS: readonly string[] = [
  ...LOCK_KEYS,
  'knownEgress',
  'trustedVpcEndpoints',
  'refuseImdsV1',
  'exemptActions',
  'managedPolicyQuota',
  'organization',
  'bootProvider',
  ...CANARY_KEYS,
  'demo',
  'sshCidr',
]

/**
 * Keys the CDK itself puts in the context: feature flags (`@aws-cdk/...`), the CLI's switches
 * (`aws:cdk:...`, `cdk-...`), acknowledged notices, and cached look-ups (`availability-zones:account=...`),
 * whose keys always hold a colon.
 */
function isCdkKey(key: string): boolean {
  return (
    key.startsWith('@aws-cdk') ||
    key.startsWith('aws:cdk:') ||
    key.startsWith('cdk-') ||
    key === 'acknowledged-issue-numbers' ||
    key.includes(':')
  )
}

/** How far a misspelling may be from a known key to be suggested: two typing slips. */
const MAX_SUGGESTION_DISTANCE = 2

/**
 * Refuses every context key that is neither the app's nor the CDK's, so a misspelled setting
 * (`-c dry_run=true`) fails the synth instead of being silently ignored.
 */
export function checkContextKeys(node: Node): void {
  for (const key of Object.keys(node.getAllContext())) {
    if (CONTEXT_KEYS.includes(key) || isCdkKey(key)) continue
    const suggestion = closestKnownKey(key)
    throw new InvalidSettingError(
      suggestion === undefined
        ? `Context key "${key}" is not a credential-lock setting: use one of ${CONTEXT_KEYS.join(', ')}.`
        : `Context key "${key}" is not a credential-lock setting: did you mean "${suggestion}"?`,
    )
  }
}

function closestKnownKey(key: string): string | undefined {
  const normalized = normalize(key)
  const sameWord = CONTEXT_KEYS.find((known) => normalize(known) === normalized)
  if (sameWord !== undefined) return sameWord
  let best: { key: string; distance: number } | undefined
  for (const known of CONTEXT_KEYS) {
    const distance = editDistance(normalized, normalize(known))
    if (distance <= MAX_SUGGESTION_DISTANCE && (best === undefined || distance < best.distance)) {
      best = { key: known, distance }
    }
  }
  return best?.key
}

/** Case, `_`, `-` and `.` do not tell settings apart: `dry_run`, `DryRun` and `dry-run` all mean dryRun. */
function normalize(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, '')
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (const [i, charA] of [...a].entries()) {
    const current = [i + 1]
    for (const [j, charB] of [...b].entries()) {
      current.push(
        Math.min(
          (previous[j + 1] ?? 0) + 1,
          (current[j] ?? 0) + 1,
          (previous[j] ?? 0) + (charA === charB ? 0 : 1),
        ),
      )
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/**
 * The CredentialLock props given as CDK context (`-c name=value` or cdk.json), one key per prop of the same
 * name. Durations are written as a number and a unit (`30m`, `1h`, `2d`), logRetention as days (`365`),
 * booleans as `true` or `false`. Keys are checked first; values are checked by the construct itself.
 */
export function lockPropsFromContext(node: Node): CredentialLockProps {
  checkContextKeys(node)
  const text = (key: string) => {
    const value = node.tryGetContext(key)
    return value === undefined ? undefined : String(value)
  }
  const duration = (key: string) => durationFromContext(node, key)
  const logRetention = text('logRetention')
  if (logRetention !== undefined && !/^\d+$/.test(logRetention)) {
    throw new InvalidSettingError(
      `Context logRetention "${logRetention}" must be a number of days, such as 365.`,
    )
  }
  return {
    lockTagKey: text('lockTagKey'),
    lockTagValue: text('lockTagValue'),
    resyncPeriod: duration('resyncPeriod'),
    tombstoneRetention: duration('tombstoneRetention'),
    dryRun: flag(node, 'dryRun'),
    alarmEmail: text('alarmEmail'),
    logRetention: logRetention === undefined ? undefined : (Number(logRetention) as RetentionDays),
    createTrail: flag(node, 'createTrail'),
    auditEventBusName: text('auditEventBusName'),
    // The construct refuses any other value with the list of valid ones.
    roleScope: text('roleScope') as RoleScopeKind | undefined,
    roleScopeTagKey: text('roleScopeTagKey'),
    roleScopeTagValue: text('roleScopeTagValue'),
    refuseImdsV1: flag(node, 'refuseImdsV1'),
    ...structuredSettings(node),
  }
}

/**
 * The settings written as JSON or lists: `-c` gives text, cdk.json may give the value itself; each is checked by
 * the same pure code the controller uses at cold start.
 */
function structuredSettings(
  node: Node,
): Pick<CredentialLockProps, 'exemptActions' | 'managedPolicyQuota' | 'knownEgress' | 'trustedVpcEndpoints'> {
  const read = <Value>(key: string, parse: (value: unknown) => Value): Value | undefined => {
    const value = node.tryGetContext(key)
    return value === undefined ? undefined : parse(value)
  }
  return {
    exemptActions: read('exemptActions', (value) =>
      Object.fromEntries(exemptActionsFrom(value, 'exemptActions')),
    ),
    managedPolicyQuota: read('managedPolicyQuota', (value) =>
      managedPolicyQuotaFrom(value, 'managedPolicyQuota'),
    ),
    knownEgress: read('knownEgress', (value) => Object.fromEntries(parseKnownEgress('knownEgress', value))),
    trustedVpcEndpoints: read('trustedVpcEndpoints', (value) =>
      parseTrustedVpcEndpoints('trustedVpcEndpoints', value),
    ),
  }
}

/** A duration written as a number and a unit (`30m`, `1h`, `2d`). */
function durationFromContext(node: Node, key: string): Duration | undefined {
  const value = node.tryGetContext(key)
  if (value === undefined) return undefined
  const match = /^(\d+)([mhd])$/.exec(String(value))
  if (!match)
    throw new InvalidSettingError(
      `Context ${key} "${String(value)}" must be a number and a unit m, h or d, such as 30m or 12h.`,
    )
  return UNITS[match[2] as keyof typeof UNITS](Number(match[1]))
}

/**
 * The canary's settings (`-c canary=true`, optionally `canaryVpcId` with `canarySubnetId`, `canaryTimeToLockLimit`),
 * or undefined when it is off. Its other settings without `canary=true` are refused: they would do nothing.
 */
export function canaryFromContext(node: Node): CanarySettings | undefined {
  const given = (key: string) => {
    const value = node.tryGetContext(key)
    return value === undefined ? undefined : String(value)
  }
  const vpcId = given('canaryVpcId')
  const subnetId = given('canarySubnetId')
  if (!flag(node, 'canary')) {
    const stray = CANARY_KEYS.find((key) => key !== 'canary' && given(key) !== undefined)
    if (stray !== undefined)
      throw new InvalidSettingError(
        `Context ${stray} applies only with canary=true: add -c canary=true or remove it.`,
      )
    return undefined
  }
  if ((vpcId === undefined) !== (subnetId === undefined)) {
    throw new InvalidSettingError(
      'Context canaryVpcId and canarySubnetId go together: give both, or neither for a VPC of its own.',
    )
  }
  return {
    subnet: vpcId === undefined || subnetId === undefined ? undefined : { vpcId, subnetId },
    timeToLockLimit: durationFromContext(node, 'canaryTimeToLockLimit'),
  }
}

/** A boolean context value; `-c key=true` arrives as a string, cdk.json may hold a real boolean. */
export function flag(node: Node, key: string): boolean | undefined {
  const value = node.tryGetContext(key)
  if (value === undefined) return undefined
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  throw new InvalidSettingError(`Context ${key} "${String(value)}" must be true or false.`)
}

/** The `organization` setting (JSON text with `-c`, an object in cdk.json), or undefined for one account. */
export function organizationFromContext(node: Node): OrganizationSettings | undefined {
  const value = node.tryGetContext('organization')
  return value === undefined ? undefined : organizationFrom(value, 'organization')
}
