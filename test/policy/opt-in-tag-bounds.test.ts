import { describe, expect, it } from 'vitest'
import { checkTagKey, checkTagValue } from '../../policy/opt-in-tag.js'

describe('the tag rule shared by synth, the controller and the plan', () => {
  it.each([
    ['a value of 256 characters', () => checkTagValue('LOCK_TAG_VALUE', 'v'.repeat(256))],
    ['a key of 128 characters', () => checkTagKey('LOCK_TAG_KEY', 'k'.repeat(128))],
    ['inner spaces and every allowed sign', () => checkTagValue('LOCK_TAG_VALUE', 'on duty_.:/=+-@ 2')],
  ])('accepts %s', (_, check) => {
    // Act and Assess
    expect(check).not.toThrow()
  })

  it.each([
    ['an empty value', () => checkTagValue('LOCK_TAG_VALUE', ''), 'LOCK_TAG_VALUE "" must be 1 to 256'],
    [
      'a value of 257 characters',
      () => checkTagValue('LOCK_TAG_VALUE', 'v'.repeat(257)),
      `LOCK_TAG_VALUE "${'v'.repeat(257)}" must be 1 to 256`,
    ],
    [
      'a key of 129 characters',
      () => checkTagKey('LOCK_TAG_KEY', 'k'.repeat(129)),
      `LOCK_TAG_KEY "${'k'.repeat(129)}" must be 1 to 128`,
    ],
    [
      'a sign AWS refuses',
      () => checkTagKey('LOCK_TAG_KEY', 'lock#1'),
      'LOCK_TAG_KEY "lock#1" must be 1 to 128',
    ],
    [
      'a reserved key in any case',
      () => checkTagKey('LOCK_TAG_KEY', 'AWS:lock'),
      'must not start with "aws:"',
    ],
  ])('refuses %s, naming the setting', (_, check, sentence) => {
    // Act and Assess
    expect(check).toThrowError(
      expect.objectContaining({ name: 'InvalidSettingError', message: expect.stringContaining(sentence) }),
    )
  })
})
