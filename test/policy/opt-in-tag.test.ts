import { Stack } from 'aws-cdk-lib'
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../handlers/aws/config.js'
import { CredentialLock } from '../../infra/credential-lock.js'
import { isOptedIn } from '../../policy/lock/index.js'
import { optInNearMiss } from '../../policy/opt-in-tag.js'

const LOCK_TAG = { key: 'credential-lock', value: 'enabled' } as const

describe('a tag that nearly opts an instance in', () => {
  it.each([
    [
      'the value in another case',
      'credential-lock',
      'Enabled',
      'tag credential-lock=Enabled; the lock tag value is "enabled"',
    ],
    [
      'the value with a trailing space',
      'credential-lock',
      'enabled ',
      'tag credential-lock="enabled "; the lock tag value is "enabled"',
    ],
    [
      'the key in another case',
      'Credential-Lock',
      'enabled',
      'tag Credential-Lock=enabled; the lock tag key is "credential-lock"',
    ],
    [
      'both',
      ' Credential-Lock',
      'ENABLED',
      'tag " Credential-Lock"=ENABLED; the lock tag is "credential-lock"="enabled"',
    ],
  ])('is named with what was found and what is expected: %s', (_, Key, Value, hint) => {
    // Prepare
    const tags = [
      { Key: 'Name', Value: 'web-1' },
      { Key, Value },
    ]

    // Act
    const found = optInNearMiss(tags, LOCK_TAG)

    // Assess
    expect(found).toBe(hint)
    expect(isOptedIn(tags, LOCK_TAG)).toBe(false)
  })

  it.each([
    [
      'the exact tag, beside a near miss',
      [
        { Key: 'credential-lock', Value: 'enabled' },
        { Key: 'Credential-Lock', Value: 'Enabled' },
      ],
    ],
    ['no tag at all', []],
    ['another value', [{ Key: 'credential-lock', Value: 'disabled' }]],
    ['a tag without a value', [{ Key: 'credential-lock' }]],
  ])('is not claimed for %s', (_, tags) => {
    // Act
    const found = optInNearMiss(tags, LOCK_TAG)

    // Assess
    expect(found).toBeUndefined()
  })
})

describe('one rule for the lock tag at synth and in the plan and controller', () => {
  it.each([
    ['a trailing space', 'Enabled '],
    ['a leading space', ' enabled'],
    ['a character AWS refuses in tags', 'en*abled'],
  ])('refuses a lock tag value with %s in both, with the same sentence', (_, value) => {
    // Prepare
    const synth = () => new CredentialLock(new Stack(), 'Lock', { lockTagValue: value })
    const plan = () => readConfig({ AWS_REGION: 'eu-west-1', LOCK_TAG_VALUE: value })
    const rule = `"${value}" must be 1 to 256 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.`

    // Act and Assess
    expect(synth).toThrowError(
      expect.objectContaining({ name: 'InvalidSettingError', message: `lockTagValue ${rule}` }),
    )
    expect(plan).toThrowError(
      expect.objectContaining({ name: 'ConfigError', message: `LOCK_TAG_VALUE ${rule}` }),
    )
  })

  it('refuses a reserved lock tag key in the plan and controller as synth does', () => {
    // Act
    const plan = () => readConfig({ AWS_REGION: 'eu-west-1', LOCK_TAG_KEY: 'aws:lock' })

    // Assess
    expect(plan).toThrowError('LOCK_TAG_KEY "aws:lock" must not start with "aws:", which AWS reserves.')
  })

  it('accepts the values synth accepts', () => {
    // Act
    const config = readConfig({
      AWS_REGION: 'eu-west-1',
      LOCK_TAG_KEY: 'team:lock',
      LOCK_TAG_VALUE: 'on duty',
    })

    // Assess
    expect(config.lockTag).toEqual({ key: 'team:lock', value: 'on duty' })
  })
})
