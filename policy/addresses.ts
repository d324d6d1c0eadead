import { isIPv4, isIPv6 } from 'node:net'
import { InvalidFactsError } from './errors.js'

/**
 * Turns an address or CIDR as EC2 reports it into the CIDR form IAM's IpAddress operators take, so the same
 * facts always give the same text. Rejects anything that is not an IP: a silently skipped address would
 * become a lock that denies the instance its own path.
 */
export function toCidr(address: string, what: string): string {
  const [ip = '', prefix, ...rest] = address.trim().toLowerCase().split('/')
  const family = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0
  const maxPrefix = family === 4 ? 32 : 128
  if (family === 0 || rest.length > 0) {
    throw new InvalidFactsError(
      `${what} "${address}" is not an IPv4 or IPv6 address: fix the facts passed in.`,
    )
  }
  if (prefix === undefined) return `${ip}/${maxPrefix}`
  const bits = Number(prefix)
  if (!/^\d{1,3}$/.test(prefix) || bits > maxPrefix) {
    throw new InvalidFactsError(`${what} "${address}" has an invalid prefix length: fix the facts passed in.`)
  }
  return `${ip}/${bits}`
}

/** Sorted, de-duplicated CIDRs: the order IAM sees must not depend on the order EC2 listed them in. */
export function cidrSet(addresses: readonly string[], what: string): string[] {
  return [...new Set(addresses.map((address) => toCidr(address, what)))].sort(compareCidrs)
}

function compareCidrs(a: string, b: string): number {
  const familyA = a.includes(':') ? 6 : 4
  const familyB = b.includes(':') ? 6 : 4
  if (familyA !== familyB) return familyA - familyB
  return a < b ? -1 : a > b ? 1 : 0
}

interface ParsedCidr {
  readonly family: 4 | 6
  readonly bits: bigint
  readonly prefix: number
}

/** Whether `inner` lies wholly inside `outer` (same family). Both must be CIDRs {@link toCidr} accepts. */
export function cidrContains(outer: string, inner: string): boolean {
  const a = parseCidr(outer)
  const b = parseCidr(inner)
  if (a.family !== b.family || a.prefix > b.prefix) return false
  const shift = BigInt((a.family === 4 ? 32 : 128) - a.prefix)
  return a.bits >> shift === b.bits >> shift
}

/** Whether two CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  return cidrContains(a, b) || cidrContains(b, a)
}

function parseCidr(cidr: string): ParsedCidr {
  const [ip = '', prefix = ''] = toCidr(cidr, 'CIDR').split('/')
  if (isIPv4(ip)) return { family: 4, bits: ipv4Bits(ip), prefix: Number(prefix) }
  return { family: 6, bits: ipv6Bits(ip), prefix: Number(prefix) }
}

function ipv4Bits(ip: string): bigint {
  return ip.split('.').reduce((bits, octet) => (bits << 8n) | BigInt(octet), 0n)
}

function ipv6Bits(ip: string): bigint {
  // An embedded dotted IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
  const dotted = /\d+\.\d+\.\d+\.\d+$/.exec(ip)?.[0]
  const v4 = dotted === undefined ? 0n : ipv4Bits(dotted)
  const text =
    dotted === undefined
      ? ip
      : `${ip.slice(0, -dotted.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  const [head = '', tail] = text.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0')
  return [...headGroups, ...zeros, ...tailGroups].reduce(
    (bits, group) => (bits << 16n) | BigInt(`0x${group}`),
    0n,
  )
}
