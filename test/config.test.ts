import { describe, expect, it } from 'vitest'
import { readConfig } from '../handlers/config.js'

describe('readConfig', () => {
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
    [{ AWS_REGION: 'eu-west-1', ROLE_SCOPE: 'some' }, 'ROLE_SCOPE is "some": set it to all or tagged.'],
  ])('refuses %j with one clear sentence', (env, message) => {
    // Act
    const read = () => readConfig(env)

    // Assess
    expect(read).toThrowError(expect.objectContaining({ name: 'ConfigError', message }))
  })
})
