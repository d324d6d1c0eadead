/**
 * The address arithmetic under every lock (policy/addresses.ts): the exact CIDR text IAM reads for an address or
 * a delegated prefix, the malformed prefixes refused, an order that never depends on EC2's, and containment and
 * overlap of IPv4-mapped and full-length IPv6 addresses.
 */
import { describe, expect, it } from 'vitest'
import { cidrContains, cidrSet, cidrsOverlap, toCidr } from '../../policy/addresses.js'
import { InvalidFactsError } from '../../policy/errors.js'

describe('addresses written as the CIDR text IAM reads', () => {
  it.each([
    ['a delegated IPv4 prefix', '10.0.1.16/28', '10.0.1.16/28'],
    ['a prefix length with a leading zero', '10.0.1.16/028', '10.0.1.16/28'],
    ['a delegated IPv6 prefix', '2001:db8:0:1::/80', '2001:db8:0:1::/80'],
    ['an IPv6 address in capitals with spaces around it', ' 2001:DB8::AB ', '2001:db8::ab/128'],
    ['an IPv4 address', '54.0.0.1', '54.0.0.1/32'],
  ])('writes %s as IAM reads it', (_, address, expected) => {
    // Act
    const cidr = toCidr(address, 'Address')

    // Assess
    expect(cidr).toBe(expected)
  })

  it.each([
    ['two prefix lengths', '10.0.1.16/28/4', /is not an IPv4 or IPv6 address/],
    ['a prefix length with a letter before it', '10.0.1.16/x28', /has an invalid prefix length/],
    ['a prefix length with a letter after it', '10.0.1.16/28x', /has an invalid prefix length/],
  ])('refuses an address with %s, naming it', (_, address, message) => {
    // Act
    const convert = () => toCidr(address, 'Private address of i-0a1b2c3d4e5f60001')

    // Assess
    expect(convert).toThrowError(
      expect.objectContaining({
        name: 'InvalidFactsError',
        message: expect.stringMatching(message),
      }),
    )
    expect(convert).toThrowError(`Private address of i-0a1b2c3d4e5f60001 "${address}"`)
  })
})

describe('address sets in an order that never depends on EC2’s', () => {
  const expected = ['10.0.0.1/32', '54.0.0.10/32', '54.0.0.9/32', '2001:db8::1/128', '2001:db8::2/128']

  it.each([
    ['sorted', ['10.0.0.1', '54.0.0.10', '54.0.0.9', '2001:db8::1', '2001:db8::2']],
    ['reversed', ['2001:db8::2', '2001:db8::1', '54.0.0.9', '54.0.0.10', '10.0.0.1']],
    ['shuffled, IPv6 first', ['2001:db8::1', '54.0.0.9', '2001:db8::2', '10.0.0.1', '54.0.0.10']],
    ['with duplicates', ['54.0.0.9', '54.0.0.9/32', '2001:db8::2', '10.0.0.1', '2001:DB8::1', '54.0.0.10']],
  ])('gives IPv4 before IPv6, each in text order, whatever the input order (%s)', (_, addresses) => {
    // Act
    const cidrs = cidrSet(addresses, 'Public address')

    // Assess
    expect(cidrs).toEqual(expected)
  })
})

describe('containment and overlap of IPv4-mapped and IPv6 ranges', () => {
  it.each([
    ['an IPv4-mapped address in its hex range', '::ffff:cb71:6400/120', '::ffff:203.113.100.254', true],
    ['an IPv4-mapped address outside a hex range', '::ffff:cb71:6500/120', '::ffff:203.113.100.254', false],
    ['a hex-form address in a dotted range', '::ffff:203.113.100.0/120', '::ffff:cb71:64fe', true],
    ['an address one past a single address', '2001:db8::/128', '2001:db8::1', false],
    ['an address in the same /127', '2001:db8::/127', '2001:db8::1', true],
    ['a full eight-group address', '2001:db8::/64', '2001:db8:0:0:1:2:3:4', true],
    ['a full eight-group address elsewhere', '2001:db8::/64', '2001:db8:0:1:0:0:0:4', false],
  ])('reads %s', (_, outer, inner, expected) => {
    // Act
    const contains = cidrContains(outer, inner)

    // Assess
    expect(contains).toBe(expected)
  })

  it('finds no overlap between neighbouring single IPv6 addresses', () => {
    // Act
    const overlap = cidrsOverlap('2001:db8::1/128', '2001:db8::2/128')

    // Assess
    expect(overlap).toBe(false)
  })

  it('refuses a range that is not a CIDR, naming it', () => {
    // Act
    const contains = () => cidrContains('10.0.0.0/8', 'pl-0123456789abcdef0')

    // Assess
    expect(contains).toThrowError(
      new InvalidFactsError(
        'CIDR "pl-0123456789abcdef0" is not an IPv4 or IPv6 address: fix the facts passed in.',
      ),
    )
  })
})
