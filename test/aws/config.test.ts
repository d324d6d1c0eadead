/** The controller's settings, read from its environment: defaults, every setting, their bounds and the error a refused one gives. */
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../handlers/aws/config.js'
import type { RoleScope } from '../../handlers/aws/role-scope.js'
import { InvalidSettingError } from '../../policy/errors.js'

describe('readConfig: safe defaults, every setting read, and each refused with one sentence', () => {
  it('works with only AWS_REGION set, with safe defaults', () => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1' })

    // Assess
    expect(config).toEqual({
      region: 'eu-west-1',
      lockTag: { key: 'credential-lock', value: 'enabled' },
      dryRun: false,
      tombstoneRetentionMs: 12 * 3_600_000,
      auditEventBus: 'default',
      refuseImdsV1: false,
      exemptActions: new Map(),
      managedPolicyQuota: 10,
      knownEgress: new Map(),
      trustedVpcEndpoints: [],
      roleScope: { kind: 'all' },
    })
  })

  it('reads every optional setting', () => {
    // Act
    const config = readConfig({
      AWS_REGION: 'eu-west-1',
      LOCK_TAG_KEY: 'security/lock',
      LOCK_TAG_VALUE: 'on',
      DRY_RUN: 'TRUE',
      TOMBSTONE_RETENTION_HOURS: '6',
      AUDIT_EVENT_BUS: 'security-audit',
      REFUSE_IMDSV1: 'true',
      EXEMPT_ACTIONS: '{"web":["s3:GetObject","s3:PutObject"]}',
      MANAGED_POLICY_QUOTA: '20',
      KNOWN_EGRESS: '{"tgw-0123456789abcdef0":["203.0.113.0/28"],"*":["198.51.100.7"]}',
      TRUSTED_VPC_ENDPOINTS: 'vpce-0123456789abcdef0,vpce-0fedcba9876543210',
      ROLE_SCOPE: 'tagged',
      ROLE_SCOPE_TAG_KEY: 'security/credential-lock',
      ROLE_SCOPE_TAG_VALUE: 'yes',
    })

    // Assess
    expect(config).toMatchObject({
      lockTag: { key: 'security/lock', value: 'on' },
      dryRun: true,
      tombstoneRetentionMs: 6 * 3_600_000,
      auditEventBus: 'security-audit',
      refuseImdsV1: true,
      exemptActions: new Map([['web', ['s3:GetObject', 's3:PutObject']]]),
      managedPolicyQuota: 20,
      knownEgress: new Map([
        ['tgw-0123456789abcdef0', ['203.0.113.0/28']],
        ['*', ['198.51.100.7/32']],
      ]),
      trustedVpcEndpoints: ['vpce-0123456789abcdef0', 'vpce-0fedcba9876543210'],
      roleScope: { kind: 'tagged', tag: { key: 'security/credential-lock', value: 'yes' } },
    })
  })

  it('defaults the tag of a tagged role scope', () => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', ROLE_SCOPE: 'tagged' })

    // Assess
    expect(config.roleScope).toEqual({
      kind: 'tagged',
      tag: { key: 'credential-lock-managed', value: 'true' },
    })
  })

  it.each([
    [{}, 'AWS_REGION is not set: set it to the region this controller guards.'],
    [{ AWS_REGION: 'eu-west-1', DRY_RUN: 'yes' }, 'DRY_RUN is "yes": set it to true or false.'],
    [
      { AWS_REGION: 'eu-west-1', TOMBSTONE_RETENTION_HOURS: '0.5' },
      'TOMBSTONE_RETENTION_HOURS is "0.5": give a number of hours from 1 to 48.',
    ],
    [
      { AWS_REGION: 'eu-west-1', LOCK_TAG_KEY: ' ' },
      'LOCK_TAG_KEY is empty: unset it to use "credential-lock" or give a value.',
    ],
    [
      { AWS_REGION: 'eu-west-1', MANAGED_POLICY_QUOTA: '21' },
      'MANAGED_POLICY_QUOTA is "21": give a whole number from 1 to 20.',
    ],
    [
      { AWS_REGION: 'eu-west-1', EXEMPT_ACTIONS: '{"web":"s3:GetObject"}' },
      'EXEMPT_ACTIONS for role web is "s3:GetObject": give a JSON object from role names to lists of actions, ' +
        'such as {"web-role":["s3:GetObject"]}.',
    ],
    [
      { AWS_REGION: 'eu-west-1', EXEMPT_ACTIONS: '{"web":["*"]}' },
      'EXEMPT_ACTIONS for role web is ["*"]: give a JSON object from role names to lists of actions, ' +
        'such as {"web-role":["s3:GetObject"]}.',
    ],
    [
      { AWS_REGION: 'eu-west-1', EXEMPT_ACTIONS: '[web]' },
      'EXEMPT_ACTIONS is not JSON: give a JSON object from role names to lists of actions, ' +
        'such as {"web-role":["s3:GetObject"]}.',
    ],
    [
      { AWS_REGION: 'eu-west-1', KNOWN_EGRESS: '{"tgw-0123456789abcdef0":["10.0.0.0/8"]}' },
      'KNOWN_EGRESS "tgw-0123456789abcdef0" lists "10.0.0.0/8", which is or includes a private, shared or ' +
        'reserved range AWS never sees traffic come from: give the public CIDRs its traffic leaves by, such as ' +
        '"203.0.113.0/28".',
    ],
    [
      { AWS_REGION: 'eu-west-1', TRUSTED_VPC_ENDPOINTS: 'vpce-123' },
      'TRUSTED_VPC_ENDPOINTS entry "vpce-123" is not a VPC endpoint ID: give interface endpoint IDs such as ' +
        '"vpce-0123456789abcdef0".',
    ],
    [{ AWS_REGION: 'eu-west-1', ROLE_SCOPE: 'some' }, 'ROLE_SCOPE is "some": set it to all or tagged.'],
  ])('refuses %j with one clear sentence', (env, message) => {
    // Act
    const read = () => readConfig(env)

    // Assess
    expect(read).toThrowError(expect.objectContaining({ name: 'ConfigError', message }))
  })
})

describe('readConfig: the bounds of the tombstone retention and the values that mean no dry run', () => {
  it.each([
    ['1', 1],
    ['48', 48],
  ])('accepts a tombstone retention of %s hours', (value, hours) => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', TOMBSTONE_RETENTION_HOURS: value })

    // Assess
    expect(config.tombstoneRetentionMs).toBe(hours * 3_600_000)
  })

  it.each(['49', '0'])('refuses a tombstone retention of %s hours', (value) => {
    // Act
    const read = () => readConfig({ AWS_REGION: 'eu-west-1', TOMBSTONE_RETENTION_HOURS: value })

    // Assess
    expect(read).toThrowError(`TOMBSTONE_RETENTION_HOURS is "${value}": give a number of hours from 1 to 48.`)
  })

  it.each(['', ' ', 'false', 'FALSE'])('reads dry-run "%s" as off', (value) => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', DRY_RUN: value })

    // Assess
    expect(config.dryRun).toBe(false)
  })
})

describe('readConfig: the error behind a refused setting', () => {
  it('a setting the shared checks refuse becomes a ConfigError that keeps their error as its cause', () => {
    // Act
    const read = () => readConfig({ AWS_REGION: 'eu-west-1', MANAGED_POLICY_QUOTA: 'many' })

    // Assess
    expect(read).toThrowError(
      expect.objectContaining({
        name: 'ConfigError',
        message: 'MANAGED_POLICY_QUOTA is "many": give a whole number from 1 to 20.',
        cause: expect.any(InvalidSettingError),
      }),
    )
  })

  it('a failure that is not a refused setting is thrown as it is, not passed off as a configuration mistake', () => {
    // Prepare: an environment whose KNOWN_EGRESS cannot be read at all.
    const failure = new TypeError('the environment could not be read')
    const env = { AWS_REGION: 'eu-west-1' }
    Object.defineProperty(env, 'KNOWN_EGRESS', {
      enumerable: true,
      get: () => {
        throw failure
      },
    })

    // Act
    const read = () => readConfig(env)

    // Assess
    expect(read).toThrowError(failure)
  })
})

describe('readRoleScope through readConfig: ROLE_SCOPE is read trimmed', () => {
  it.each<[string, RoleScope]>([
    [' tagged ', { kind: 'tagged', tag: { key: 'credential-lock-managed', value: 'true' } }],
    ['  ', { kind: 'all' }],
    [' all', { kind: 'all' }],
  ])('ROLE_SCOPE %j is read as its trimmed value', (roleScope, expected) => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', ROLE_SCOPE: roleScope })

    // Assess
    expect(config.roleScope).toEqual(expected)
  })
})
