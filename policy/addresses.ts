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
