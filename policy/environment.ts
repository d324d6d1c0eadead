import { cidrContains, cidrsOverlap, toCidr } from './addresses.js'
import { InvalidFactsError, InvalidSettingError } from './errors.js'

/**
 * The company network every lock draws on (Bengtson's "environment description"). Checked by the same code
 * at synth (CDK props and context) and at the controller's cold start (its environment), so a bad value
 * fails where it was written, with one sentence naming the setting, the value and the expected form.
 */

/** Public CIDRs traffic leaves by, per route target the controller cannot see through (or `*` for any). */
export type KnownEgress = ReadonlyMap<string, readonly string[]>

/** The knownEgress key that covers every route target the controller cannot see through. */
export const ANY_UNSEEN_TARGET = '*'

/**
 * Route targets whose public egress the controller cannot read: transit gateway, peering connection, VPC
 * endpoint (firewall or Gateway Load Balancer), virtual private gateway, private NAT gateway, network
 * interface without a public address, local gateway. EC2 IDs carry 8 or 17 hex digits.
 */
const UNSEEN_TARGET_ID = /^(tgw|pcx|vpce|vgw|nat|eni|lgw)-([0-9a-f]{8}|[0-9a-f]{17})$/
const VPC_ENDPOINT_ID = /^vpce-([0-9a-f]{8}|[0-9a-f]{17})$/
const KNOWN_EGRESS_EXAMPLE = '{"tgw-0123456789abcdef0": ["203.0.113.0/28"]}'
const EGRESS_EXAMPLE = '"203.0.113.0/28"'

/**
 * Ranges no call to an AWS public endpoint is ever addressed to: private (RFC 1918, ULA), shared (CGNAT),
 * loopback, link-local, multicast and reserved space. A route whose destination lies wholly inside one of
 * them cannot carry such a call.
 */
const NEVER_AWS_PUBLIC = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
]

/**
 * Ranges that can never be where traffic leaves by as seen from AWS. The IPv6 block ::/8 adds IPv4-mapped
 * addresses and the NAT64 prefix 64:ff9b::/96: a destination of the instance's routes, never a source AWS sees.
 */
const NEVER_EGRESS = [...NEVER_AWS_PUBLIC, '::/8']

/** Whether a route to this destination CIDR can carry a call to an AWS public endpoint (NAT64 included). */
export function mayCarryAwsPublicTraffic(destination: string): boolean {
  return !NEVER_AWS_PUBLIC.some((range) => cidrContains(range, destination))
}

/** Whether a knownEgress entry could be keyed by this route target ID. */
export function isUnseenTargetId(targetId: string): boolean {
  return UNSEEN_TARGET_ID.test(targetId)
}

/** The public CIDRs a route target's traffic leaves by, as the operator declared them; undefined if not. */
export function declaredEgress(knownEgress: KnownEgress, targetId: string): readonly string[] | undefined {
  return knownEgress.get(targetId) ?? knownEgress.get(ANY_UNSEEN_TARGET)
}

/**
 * Reads knownEgress: a JSON object (text, or already parsed) from route target ID or `*` to a non-empty list
 * of public CIDRs. Returns them in CIDR form; an absent or blank value is an empty map.
 * @param setting the name the operator wrote it under (`knownEgress`, `KNOWN_EGRESS`), for the message.
 */
export function parseKnownEgress(setting: string, value: unknown): Map<string, string[]> {
  const parsed = typeof value === 'string' ? parseJsonObject(setting, value) : value
  if (parsed === undefined) return new Map()
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidSettingError(
      `${setting} ${JSON.stringify(parsed)} is not an object: give one such as ${KNOWN_EGRESS_EXAMPLE}.`,
    )
  }
  const egress = new Map<string, string[]>()
  for (const [targetId, cidrs] of Object.entries(parsed)) {
    if (targetId !== ANY_UNSEEN_TARGET && !isUnseenTargetId(targetId)) {
      throw new InvalidSettingError(
        `${setting} key "${targetId}" is not a route target: use "*" or the ID of a transit gateway, peering ` +
          'connection, VPC endpoint, virtual private gateway, private NAT gateway, network interface or local ' +
          'gateway, such as "tgw-0123456789abcdef0".',
      )
    }
    egress.set(targetId, publicCidrs(setting, targetId, cidrs))
  }
  return egress
}

function parseJsonObject(setting: string, text: string): unknown {
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new InvalidSettingError(
      `${setting} ${JSON.stringify(text)} is not JSON: give an object such as ${KNOWN_EGRESS_EXAMPLE}.`,
      { cause: error },
    )
  }
}

function publicCidrs(setting: string, targetId: string, cidrs: unknown): string[] {
  const entry = `${setting} "${targetId}"`
  if (!Array.isArray(cidrs) || cidrs.length === 0 || cidrs.some((cidr) => typeof cidr !== 'string')) {
    throw new InvalidSettingError(
      `${entry} is ${JSON.stringify(cidrs)}: give a non-empty list of the public CIDRs its traffic leaves by, ` +
        `such as [${EGRESS_EXAMPLE}].`,
    )
  }
  return [...new Set((cidrs as string[]).map((cidr) => publicCidr(entry, cidr)))]
}

function publicCidr(entry: string, text: string): string {
  let cidr: string
  try {
    cidr = toCidr(text, 'Egress')
  } catch (error) {
    if (!(error instanceof InvalidFactsError)) throw error
    throw new InvalidSettingError(
      `${entry} lists "${text}", which is not an IPv4 or IPv6 CIDR: give public CIDRs such as ${EGRESS_EXAMPLE}.`,
      { cause: error },
    )
  }
  if (cidr === '0.0.0.0/0' || cidr === '::/0') {
    throw new InvalidSettingError(
      `${entry} lists "${text}", which is every address and would lock nothing: give only the public CIDRs ` +
        `its traffic leaves by, such as ${EGRESS_EXAMPLE}.`,
    )
  }
  if (NEVER_EGRESS.some((range) => cidrsOverlap(range, cidr))) {
    throw new InvalidSettingError(
      `${entry} lists "${text}", which is or includes a private, shared or reserved range AWS never sees ` +
        `traffic come from: give the public CIDRs its traffic leaves by, such as ${EGRESS_EXAMPLE}.`,
    )
  }
  return cidr
}

/**
 * Reads trustedVpcEndpoints: interface endpoint IDs as comma-separated text or a list. Returns them sorted,
 * without duplicates; an absent or blank value is an empty list.
 * @param setting the name the operator wrote it under (`trustedVpcEndpoints`, `TRUSTED_VPC_ENDPOINTS`).
 */
export function parseTrustedVpcEndpoints(setting: string, value: unknown): string[] {
  if (value === undefined) return []
  const entries = typeof value === 'string' ? value.split(',').map((id) => id.trim()) : value
  if (!Array.isArray(entries)) {
    throw new InvalidSettingError(
      `${setting} ${JSON.stringify(value)} is not a list: give interface endpoint IDs separated by commas, ` +
        'such as "vpce-0123456789abcdef0,vpce-0fedcba9876543210".',
    )
  }
  const ids = new Set<string>()
  for (const id of entries) {
    if (id === '' && typeof value === 'string') continue
    if (typeof id !== 'string' || !VPC_ENDPOINT_ID.test(id)) {
      throw new InvalidSettingError(
        `${setting} entry ${JSON.stringify(id)} is not a VPC endpoint ID: give interface endpoint IDs such ` +
          'as "vpce-0123456789abcdef0".',
      )
    }
    ids.add(id)
  }
  return [...ids].sort()
}
