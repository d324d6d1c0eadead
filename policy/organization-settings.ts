/**
 * The `organization` setting: where the StackSet rolls credential-lock out, how carefully, and which account
 * receives every member's audit events. Pure: checked at synth before anything is deployed.
 */

import { InvalidSettingError } from './errors.js'

export type CallAs = 'SELF' | 'DELEGATED_ADMIN'
export type RegionConcurrency = 'SEQUENTIAL' | 'PARALLEL'

export interface OrganizationSettings {
  /** The organisation (`o-…`) the central bus and the asset buckets admit, through `aws:PrincipalOrgID`. */
  readonly organizationId: string
  /** The OUs (or the root `r-…`) the StackSet deploys to, and to whose new accounts it deploys automatically. */
  readonly organizationalUnitIds: readonly string[]
  /** The regions of every member account, in the order the StackSet deploys them. */
  readonly regions: readonly string[]
  /** The account whose central bus receives every member's audit events. */
  readonly securityAccountId: string
  /** The region of the central bus. Default: the first of {@link regions}. */
  readonly securityRegion: string
  /** SELF from the management account, DELEGATED_ADMIN from a delegated StackSets administrator. Default SELF. */
  readonly callAs: CallAs
  /** Accounts per region that may fail before the StackSet stops the rollout. Default 0: stop at the first. */
  readonly failureTolerancePercentage: number
  /** Accounts per region deployed at once. Default 10. */
  readonly maxConcurrentPercentage: number
  /** Regions one after another (default SEQUENTIAL) or all at once (PARALLEL). */
  readonly regionConcurrency: RegionConcurrency
  /** Turn the central bus's findings into Security Hub findings. Default false. */
  readonly securityHub: boolean
}

const EXAMPLE =
  'such as {"organizationId":"o-a1b2c3d4e5","organizationalUnitIds":["ou-ab12-cd34ef56"],' +
  '"regions":["eu-central-1"],"securityAccountId":"111122223333"}'
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/
const UNIT_ID = /^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/
const ACCOUNT_ID = /^\d{12}$/
const KNOWN_KEYS = [
  'organizationId',
  'organizationalUnitIds',
  'regions',
  'securityAccountId',
  'securityRegion',
  'callAs',
  'failureTolerancePercentage',
  'maxConcurrentPercentage',
  'regionConcurrency',
  'securityHub',
]

/** Reads the `organization` setting, given as its JSON text (`-c`) or the parsed object (cdk.json). */
export function organizationFrom(value: unknown, setting: string): OrganizationSettings {
  const fields = objectOf(value, setting)
  const unknown = Object.keys(fields).find((key) => !KNOWN_KEYS.includes(key))
  if (unknown !== undefined) {
    throw new InvalidSettingError(
      `${setting} has no field "${unknown}": use ${KNOWN_KEYS.join(', ')}, ${EXAMPLE}.`,
    )
  }
  const regions = listOf(fields, 'regions', REGION, setting, 'region names such as "eu-central-1"')
  return {
    organizationId: textOf(
      fields,
      'organizationId',
      ORGANIZATION_ID,
      setting,
      'the o-… ID of the organisation',
    ),
    organizationalUnitIds: listOf(
      fields,
      'organizationalUnitIds',
      UNIT_ID,
      setting,
      'OU IDs such as "ou-ab12-cd34ef56" or the root "r-ab12"',
    ),
    regions,
    securityAccountId: textOf(fields, 'securityAccountId', ACCOUNT_ID, setting, 'a 12-digit account ID'),
    securityRegion:
      fields.securityRegion === undefined
        ? (regions[0] as string)
        : textOf(fields, 'securityRegion', REGION, setting, 'a region name such as "eu-central-1"'),
    callAs: choiceOf(fields, 'callAs', ['SELF', 'DELEGATED_ADMIN'] as const, 'SELF', setting),
    failureTolerancePercentage: percentageOf(fields, 'failureTolerancePercentage', 0, 0, setting),
    maxConcurrentPercentage: percentageOf(fields, 'maxConcurrentPercentage', 10, 1, setting),
    regionConcurrency: choiceOf(
      fields,
      'regionConcurrency',
      ['SEQUENTIAL', 'PARALLEL'] as const,
      'SEQUENTIAL',
      setting,
    ),
    securityHub: booleanOf(fields, 'securityHub', setting),
  }
}

type Fields = Readonly<Record<string, unknown>>

function objectOf(value: unknown, setting: string): Fields {
  let parsed = value
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value)
    } catch {
      throw new InvalidSettingError(`${setting} is not JSON: give an object ${EXAMPLE}.`)
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidSettingError(`${setting} is ${JSON.stringify(parsed)}: give an object ${EXAMPLE}.`)
  }
  return parsed as Fields
}

function textOf(fields: Fields, key: string, pattern: RegExp, setting: string, expected: string): string {
  const value = fields[key]
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidSettingError(
      `${setting}.${key} is ${JSON.stringify(value) ?? 'missing'}: give ${expected}, ${EXAMPLE}.`,
    )
  }
  return value
}

function listOf(fields: Fields, key: string, pattern: RegExp, setting: string, expected: string): string[] {
  const value = fields[key]
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((item) => typeof item === 'string' && pattern.test(item)) &&
    new Set(value).size === value.length
  if (!valid) {
    throw new InvalidSettingError(
      `${setting}.${key} is ${JSON.stringify(value) ?? 'missing'}: give a list of distinct ${expected}, ${EXAMPLE}.`,
    )
  }
  return value as string[]
}

function choiceOf<Choice extends string>(
  fields: Fields,
  key: string,
  choices: readonly Choice[],
  fallback: Choice,
  setting: string,
): Choice {
  const value = fields[key] ?? fallback
  if (!choices.includes(value as Choice)) {
    throw new InvalidSettingError(
      `${setting}.${key} is ${JSON.stringify(value)}: give ${choices.join(' or ')}, such as "${fallback}".`,
    )
  }
  return value as Choice
}

function percentageOf(fields: Fields, key: string, fallback: number, least: number, setting: string): number {
  const value = fields[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < least || value > 100) {
    throw new InvalidSettingError(
      `${setting}.${key} is ${JSON.stringify(value)}: give a whole percentage from ${least} to 100, such as ${fallback}.`,
    )
  }
  return value
}

function booleanOf(fields: Fields, key: string, setting: string): boolean {
  const value = fields[key] ?? false
  if (typeof value !== 'boolean') {
    throw new InvalidSettingError(`${setting}.${key} is ${JSON.stringify(value)}: give true or false.`)
  }
  return value
}
