/**
 * The hand-written settings (exempt actions, managed-policy quota, known egress, trusted endpoints) and the
 * address arithmetic under them, on the edges mutation testing found unguarded: blank and non-object values,
 * the bounds, anchored patterns, the cause kept on a refusal, IPv4-mapped and full-length IPv6 addresses.
 */
import { describe, expect, it } from 'vitest'
import { cidrContains, cidrsOverlap } from '../policy/addresses.js'
import { parseKnownEgress, parseTrustedVpcEndpoints } from '../policy/environment.js'
import { InvalidFactsError } from '../policy/errors.js'
import { sessionLockPolicy } from '../policy/session-lock.js'
import { exemptActionsFrom, managedPolicyQuotaFrom } from '../policy/settings.js'

const EXPECTED_ACTIONS =
  'give a JSON object from role names to lists of actions, such as {"web-role":["s3:GetObject"]}.'
const TGW = 'tgw-0123456789abcdef0'
const ENDPOINT = 'vpce-0123456789abcdef0'

describe('exemptActionsFrom', () => {
  it.each([
    ['JSON text', '{"web-role":["s3:PutObject","s3:GetObject","s3:PutObject"]}'],
    ['an object', { 'web-role': ['s3:PutObject', 's3:GetObject', 's3:PutObject'] }],
  ])('reads %s into sorted actions without duplicates, per role', (_, value) => {
    // Act
    const exempt = exemptActionsFrom(value, 'exemptActions')

    // Assess
    expect(exempt).toEqual(new Map([['web-role', ['s3:GetObject', 's3:PutObject']]]))
  })

  it('accepts role names IAM accepts and actions with wildcards', () => {
    // Prepare
    const roleName = `${'r'.repeat(57)}+=,.@_-`

    // Act
    const exempt = exemptActionsFrom({ [roleName]: ['s3:Get*', 'execute-api:Invoke?'] }, 'exemptActions')

    // Assess
    expect(exempt).toEqual(new Map([[roleName, ['execute-api:Invoke?', 's3:Get*']]]))
  })

  it.each(['', '   '])('reads the blank text %j as no exempt actions', (value) => {
    // Act
    const exempt = exemptActionsFrom(value, 'EXEMPT_ACTIONS')

    // Assess
    expect(exempt.size).toBe(0)
  })

  it.each([
    ['5', '5'],
    ['true', 'true'],
    ['null', 'null'],
    ['["s3:GetObject"]', '["s3:GetObject"]'],
    [7, '7'],
  ])('refuses %j, which is not an object, with one sentence', (value, shown) => {
    // Act
    const read = () => exemptActionsFrom(value, 'EXEMPT_ACTIONS')

    // Assess
    expect(read).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message: `EXEMPT_ACTIONS is ${shown}: ${EXPECTED_ACTIONS}`,
      }),
    )
  })

  it.each([
    ['no actions', { 'web-role': [] }, 'web-role', '[]'],
    [
      'one valid action among invalid ones',
      { 'web-role': ['s3:GetObject', '*'] },
      'web-role',
      '["s3:GetObject","*"]',
    ],
    ['an action nested in a list', { 'web-role': [['s3:GetObject']] }, 'web-role', '[["s3:GetObject"]]'],
    ['an action with a capital service', { 'web-role': ['S3:GetObject'] }, 'web-role', '["S3:GetObject"]'],
    ['an action with a space in it', { 'web-role': ['s3:Get Object'] }, 'web-role', '["s3:Get Object"]'],
    ['a role name with a space', { 'web role': ['s3:GetObject'] }, 'web role', '["s3:GetObject"]'],
    [
      'a role name of 65 characters',
      { ['r'.repeat(65)]: ['s3:GetObject'] },
      'r'.repeat(65),
      '["s3:GetObject"]',
    ],
  ])('refuses %s, naming the role', (_, value, roleName, shown) => {
    // Act
    const read = () => exemptActionsFrom(value, 'exemptActions')

    // Assess
    expect(read).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message: `exemptActions for role ${roleName} is ${shown}: ${EXPECTED_ACTIONS}`,
      }),
    )
  })
})

describe('managedPolicyQuotaFrom', () => {
  it.each([
    ['1', 1],
    [' 20 ', 20],
    [1, 1],
    [20, 20],
  ])('accepts %j as the quota %i', (value, expected) => {
    // Act
    const quota = managedPolicyQuotaFrom(value, 'managedPolicyQuota')

    // Assess
    expect(quota).toBe(expected)
  })

  it.each([
    ['0', '0'],
    [0, '0'],
    ['21', '21'],
    ['2.5', '2.5'],
    [2.5, '2.5'],
    ['ten', 'ten'],
    [true, 'true'],
    [[5], '5'],
    [null, 'null'],
  ])('refuses %j with one sentence', (value, shown) => {
    // Act
    const read = () => managedPolicyQuotaFrom(value, 'MANAGED_POLICY_QUOTA')

    // Assess
    expect(read).toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message: `MANAGED_POLICY_QUOTA is "${shown}": give a whole number from 1 to 20.`,
      }),
    )
  })
})

describe('SessionPolicyTooLargeError', () => {
  it('names itself and tells what to shorten', () => {
    // Prepare
    const roleArn = 'arn:aws:iam::123456789012:role/orders-fn'
    const sourceVpcs = Array.from({ length: 80 }, (_, index) => `vpc-${index.toString(16).padStart(17, '0')}`)

    // Act
    const build = () => sessionLockPolicy({ roleArn, address: '198.51.100.23', sourceVpcs })

    // Assess
    expect(build).toThrowError(
      expect.objectContaining({
        name: 'SessionPolicyTooLargeError',
        message: expect.stringMatching(
          /^The session policy locking role arn:aws:iam::123456789012:role\/orders-fn needs \d+ characters, over STS's 2048: list fewer source VPCs or give the role a shorter path\.$/,
        ),
      }),
    )
  })
})

describe('parseKnownEgress', () => {
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

describe('parseTrustedVpcEndpoints', () => {
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

describe('cidrContains and cidrsOverlap', () => {
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
