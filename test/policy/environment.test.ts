/**
 * The network settings (policy/environment.ts): KNOWN_EGRESS read into public CIDRs per route target,
 * TRUSTED_VPC_ENDPOINTS into endpoint IDs, each malformed value refused in one sentence that keeps its cause, and
 * which routes may carry traffic to AWS public endpoints.
 */
import { describe, expect, it } from 'vitest'
import {
  declaredEgress,
  mayCarryAwsPublicTraffic,
  parseKnownEgress,
  parseTrustedVpcEndpoints,
} from '../../policy/environment.js'
import { InvalidFactsError } from '../../policy/errors.js'

const TGW = 'tgw-0123456789abcdef0'
const ENDPOINT = 'vpce-0123456789abcdef0'
const EXPECTED_EGRESS = 'give the public CIDRs its traffic leaves by, such as "203.0.113.0/28".'

describe('KNOWN_EGRESS read into public CIDRs per route target', () => {
  it.each([
    ['JSON text', `{"${TGW}": ["203.0.113.0/28", "2001:db8:ff::/48"], "*": ["198.51.100.7"]}`],
    ['an object', { [TGW]: ['203.0.113.0/28', '2001:db8:ff::/48'], '*': ['198.51.100.7'] }],
  ])('reads %s into CIDRs by route target', (_, value) => {
    // Act
    const egress = parseKnownEgress('knownEgress', value)

    // Assess
    expect(egress).toEqual(
      new Map([
        [TGW, ['203.0.113.0/28', '2001:db8:ff::/48']],
        ['*', ['198.51.100.7/32']],
      ]),
    )
  })

  it.each([undefined, '', '  '])('reads %j as no known egress', (value) => {
    // Act
    const egress = parseKnownEgress('KNOWN_EGRESS', value)

    // Assess
    expect(egress.size).toBe(0)
  })

  it.each([
    'pcx-0123456789abcdef0',
    'vpce-0123456789abcdef0',
    'vgw-01234567',
    'nat-0123456789abcdef0',
    'eni-0123456789abcdef0',
    'lgw-0123456789abcdef0',
  ])('accepts the route target %s', (targetId) => {
    // Act
    const egress = parseKnownEgress('knownEgress', { [targetId]: ['203.0.113.9'] })

    // Assess
    expect([...egress.keys()]).toEqual([targetId])
  })

  it.each([
    [
      '{"tgw-1": ',
      'KNOWN_EGRESS "{\\"tgw-1\\": " is not JSON: give an object such as ' +
        '{"tgw-0123456789abcdef0": ["203.0.113.0/28"]}.',
    ],
    [
      '["203.0.113.0/28"]',
      'KNOWN_EGRESS ["203.0.113.0/28"] is not an object: give one such as ' +
        '{"tgw-0123456789abcdef0": ["203.0.113.0/28"]}.',
    ],
    [
      '{"tgw-1": ["203.0.113.0/28"]}',
      'KNOWN_EGRESS key "tgw-1" is not a route target: use "*" or the ID of a transit gateway, peering ' +
        'connection, VPC endpoint, virtual private gateway, private NAT gateway, network interface or local ' +
        'gateway, such as "tgw-0123456789abcdef0".',
    ],
    [
      '{"igw-0123456789abcdef0": ["203.0.113.0/28"]}',
      'KNOWN_EGRESS key "igw-0123456789abcdef0" is not a route target: use "*" or the ID of a transit ' +
        'gateway, peering connection, VPC endpoint, virtual private gateway, private NAT gateway, network ' +
        'interface or local gateway, such as "tgw-0123456789abcdef0".',
    ],
    [
      `{"${TGW}": "203.0.113.0/28"}`,
      `KNOWN_EGRESS "${TGW}" is "203.0.113.0/28": give a non-empty list of the public CIDRs its traffic ` +
        'leaves by, such as ["203.0.113.0/28"].',
    ],
    [
      `{"${TGW}": []}`,
      `KNOWN_EGRESS "${TGW}" is []: give a non-empty list of the public CIDRs its traffic leaves by, such ` +
        'as ["203.0.113.0/28"].',
    ],
    [
      `{"${TGW}": ["203.0.113.0/33"]}`,
      `KNOWN_EGRESS "${TGW}" lists "203.0.113.0/33", which is not an IPv4 or IPv6 CIDR: give public CIDRs ` +
        'such as "203.0.113.0/28".',
    ],
    [
      `{"${TGW}": ["0.0.0.0/0"]}`,
      `KNOWN_EGRESS "${TGW}" lists "0.0.0.0/0", which is every address and would lock nothing: give only ` +
        'the public CIDRs its traffic leaves by, such as "203.0.113.0/28".',
    ],
    [
      `{"*": ["::/0"]}`,
      'KNOWN_EGRESS "*" lists "::/0", which is every address and would lock nothing: give only the public ' +
        'CIDRs its traffic leaves by, such as "203.0.113.0/28".',
    ],
    ...[
      '10.20.0.0/16',
      '172.31.0.1',
      '192.168.0.0/24',
      '100.64.1.0/24',
      '0.0.0.0/1',
      'fd00::/8',
      '64:ff9b::/96',
      '::ffff:203.0.113.1',
    ].map((cidr) => [
      `{"${TGW}": ["${cidr}"]}`,
      `KNOWN_EGRESS "${TGW}" lists "${cidr}", which is or includes a private, shared or reserved range AWS ` +
        `never sees traffic come from: ${EXPECTED_EGRESS}`,
    ]),
  ])('refuses %s with one sentence naming the setting, the value and the expected form', (value, message) => {
    // Act
    const parse = () => parseKnownEgress('KNOWN_EGRESS', value)

    // Assess
    expect(parse).toThrowError(expect.objectContaining({ name: 'InvalidSettingError', message }))
  })

  it('takes a listed target before the catch-all "*"', () => {
    // Prepare
    const egress = parseKnownEgress('knownEgress', { [TGW]: ['203.0.113.0/28'], '*': ['198.51.100.0/28'] })

    // Act
    const listed = declaredEgress(egress, TGW)
    const other = declaredEgress(egress, 'pcx-0123456789abcdef0')

    // Assess
    expect({ listed, other }).toEqual({ listed: ['203.0.113.0/28'], other: ['198.51.100.0/28'] })
  })

  it.each([
    ['5', '5'],
    ['true', 'true'],
    ['null', 'null'],
    [42, '42'],
  ])('refuses %j, which is not an object', (value, shown) => {
    // Act
    const parse = () => parseKnownEgress('KNOWN_EGRESS', value)

    // Assess
    expect(parse).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message:
          `KNOWN_EGRESS ${shown} is not an object: give one such as ` +
          '{"tgw-0123456789abcdef0": ["203.0.113.0/28"]}.',
      }),
    )
  })

  it.each(['my-tgw-0123456789abcdef0', 'tgw-0123456789abcdef0-old', 'tgw-0123456789'])(
    'refuses the key %s, which only contains a route target ID',
    (targetId) => {
      // Act
      const parse = () => parseKnownEgress('knownEgress', { [targetId]: ['203.0.113.0/28'] })

      // Assess
      expect(parse).toThrowError(
        expect.objectContaining({
          name: 'InvalidSettingError',
          message: expect.stringMatching(`^knownEgress key "${targetId}" is not a route target: `),
        }),
      )
    },
  )

  it.each([
    ['a number', ['203.0.113.0/28', 7], '["203.0.113.0/28",7]'],
    ['a nested list', [['203.0.113.0/28']], '[["203.0.113.0/28"]]'],
  ])('refuses a list with %s among the CIDRs', (_, cidrs, shown) => {
    // Act
    const parse = () => parseKnownEgress('knownEgress', { [TGW]: cidrs })

    // Assess
    expect(parse).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message:
          `knownEgress "${TGW}" is ${shown}: give a non-empty list of the public CIDRs its traffic leaves by, ` +
          'such as ["203.0.113.0/28"].',
      }),
    )
  })

  it('keeps the JSON parser’s complaint as the cause of a text that is not JSON', () => {
    // Act
    const parse = () => parseKnownEgress('KNOWN_EGRESS', `{"${TGW}": `)

    // Assess
    expect(parse).toThrowError(
      expect.objectContaining({ name: 'InvalidSettingError', cause: expect.any(SyntaxError) }),
    )
  })

  it('keeps the address check’s complaint, naming the egress, as the cause of a bad CIDR', () => {
    // Act
    const parse = () => parseKnownEgress('KNOWN_EGRESS', { [TGW]: ['203.0.113.0/33'] })

    // Assess
    expect(parse).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        cause: new InvalidFactsError(
          'Egress "203.0.113.0/33" has an invalid prefix length: fix the facts passed in.',
        ),
      }),
    )
  })
})

describe('TRUSTED_VPC_ENDPOINTS read into sorted endpoint IDs', () => {
  it.each([
    ['comma-separated text', ' vpce-0fedcba9876543210, vpce-0123456789abcdef0,,vpce-0123456789abcdef0 '],
    ['a list', ['vpce-0fedcba9876543210', 'vpce-0123456789abcdef0']],
  ])('reads %s, sorted and without duplicates', (_, value) => {
    // Act
    const ids = parseTrustedVpcEndpoints('trustedVpcEndpoints', value)

    // Assess
    expect(ids).toEqual(['vpce-0123456789abcdef0', 'vpce-0fedcba9876543210'])
  })

  it.each([undefined, ''])('reads %j as none', (value) => {
    // Act
    const ids = parseTrustedVpcEndpoints('TRUSTED_VPC_ENDPOINTS', value)

    // Assess
    expect(ids).toEqual([])
  })

  it.each([
    [
      'vpce-0123456789abcdef0;vpce-0fedcba9876543210',
      'TRUSTED_VPC_ENDPOINTS entry "vpce-0123456789abcdef0;vpce-0fedcba9876543210" is not a VPC endpoint ID: ' +
        'give interface endpoint IDs such as "vpce-0123456789abcdef0".',
    ],
    [
      'vpc-0123456789abcdef0',
      'TRUSTED_VPC_ENDPOINTS entry "vpc-0123456789abcdef0" is not a VPC endpoint ID: give interface endpoint ' +
        'IDs such as "vpce-0123456789abcdef0".',
    ],
    [
      ['vpce-0123456789abcdef0', 7],
      'TRUSTED_VPC_ENDPOINTS entry 7 is not a VPC endpoint ID: give interface endpoint IDs such as ' +
        '"vpce-0123456789abcdef0".',
    ],
    [
      { id: 'vpce-0123456789abcdef0' },
      'TRUSTED_VPC_ENDPOINTS {"id":"vpce-0123456789abcdef0"} is not a list: give interface endpoint IDs ' +
        'separated by commas, such as "vpce-0123456789abcdef0,vpce-0fedcba9876543210".',
    ],
  ])('refuses %j with one sentence', (value, message) => {
    // Act
    const parse = () => parseTrustedVpcEndpoints('TRUSTED_VPC_ENDPOINTS', value)

    // Assess
    expect(parse).toThrowError(expect.objectContaining({ name: 'InvalidSettingError', message }))
  })

  it('accepts an endpoint ID of the older 8-digit form', () => {
    // Act
    const ids = parseTrustedVpcEndpoints('trustedVpcEndpoints', `${ENDPOINT},vpce-01234567`)

    // Assess
    expect(ids).toEqual(['vpce-01234567', ENDPOINT])
  })

  it.each([
    ['an empty entry in a list', [ENDPOINT, ''], '""'],
    ['an ID nested in a list', [[ENDPOINT]], `["${ENDPOINT}"]`],
    ['an ID with one digit', 'vpce-0', '"vpce-0"'],
    ['an ID with non-hex digits', 'vpce-0123456g', '"vpce-0123456g"'],
  ])('refuses %s', (_, value, shown) => {
    // Act
    const parse = () => parseTrustedVpcEndpoints('TRUSTED_VPC_ENDPOINTS', value)

    // Assess
    expect(parse).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message:
          `TRUSTED_VPC_ENDPOINTS entry ${shown} is not a VPC endpoint ID: give interface endpoint IDs such as ` +
          '"vpce-0123456789abcdef0".',
      }),
    )
  })
})

describe('which destinations may carry traffic to AWS public endpoints', () => {
  it.each([
    ['0.0.0.0/0', true],
    ['::/0', true],
    ['64:ff9b::/96', true],
    ['52.94.0.0/16', true],
    ['2600:1f00::/24', true],
    ['10.0.0.0/8', false],
    ['10.1.0.0/16', false],
    ['172.20.0.0/16', false],
    ['192.168.0.0/16', false],
    ['100.64.0.0/10', false],
    ['169.254.169.254/32', false],
    ['fd12:3456::/32', false],
    ['fe80::/64', false],
    ['fd00::10.1.2.3/128', false],
    ['172.0.0.0/8', true],
  ])('%s: %s', (destination, expected) => {
    // Act
    const carries = mayCarryAwsPublicTraffic(destination)

    // Assess
    expect(carries).toBe(expected)
  })
})
