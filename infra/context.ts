import { Duration } from 'aws-cdk-lib'
import type { RetentionDays } from 'aws-cdk-lib/aws-logs'
import type { Node } from 'constructs'
import { parseKnownEgress, parseTrustedVpcEndpoints } from '../policy/environment.js'
import type { CredentialLockProps } from './credential-lock.js'

const UNITS = { m: Duration.minutes, h: Duration.hours, d: Duration.days } as const

/**
 * The CredentialLock props given as CDK context (`-c name=value` or cdk.json), one key per prop of the same
 * name. Durations are written as a number and a unit (`30m`, `1h`, `2d`), logRetention as days (`365`),
 * booleans as `true` or `false`. Values are checked by the construct itself.
 */
export function lockPropsFromContext(node: Node): CredentialLockProps {
  const text = (key: string) => {
    const value = node.tryGetContext(key)
    return value === undefined ? undefined : String(value)
  }
  const duration = (key: string) => {
    const value = text(key)
    if (value === undefined) return undefined
    const match = /^(\d+)([mhd])$/.exec(value)
    if (!match)
      throw new Error(`Context ${key} "${value}" must be a number and a unit m, h or d, such as 30m or 12h.`)
    return UNITS[match[2] as keyof typeof UNITS](Number(match[1]))
  }
  const logRetention = text('logRetention')
  if (logRetention !== undefined && !/^\d+$/.test(logRetention)) {
    throw new Error(`Context logRetention "${logRetention}" must be a number of days, such as 365.`)
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
    ...networkSettings(node),
  }
}

/** knownEgress as JSON text (`-c`) or an object (cdk.json); trustedVpcEndpoints as a comma list or an array. */
function networkSettings(node: Node): Pick<CredentialLockProps, 'knownEgress' | 'trustedVpcEndpoints'> {
  const knownEgress = node.tryGetContext('knownEgress')
  const trustedVpcEndpoints = node.tryGetContext('trustedVpcEndpoints')
  return {
    knownEgress:
      knownEgress === undefined
        ? undefined
        : Object.fromEntries(parseKnownEgress('knownEgress', knownEgress)),
    trustedVpcEndpoints:
      trustedVpcEndpoints === undefined
        ? undefined
        : parseTrustedVpcEndpoints('trustedVpcEndpoints', trustedVpcEndpoints),
  }
}

/** A boolean context value; `-c key=true` arrives as a string, cdk.json may hold a real boolean. */
export function flag(node: Node, key: string): boolean | undefined {
  const value = node.tryGetContext(key)
  if (value === undefined) return undefined
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  throw new Error(`Context ${key} "${String(value)}" must be true or false.`)
}
