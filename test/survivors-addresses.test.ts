/**
 * toCidr and cidrSet on the edges mutation testing found unguarded: the exact CIDR text written for an
 * address or a delegated prefix, the malformed prefixes refused, and an order that never depends on EC2's.
 */
import { describe, expect, it } from 'vitest'
import { cidrSet, toCidr } from '../policy/addresses.js'

describe('toCidr', () => {
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

describe('cidrSet', () => {
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
