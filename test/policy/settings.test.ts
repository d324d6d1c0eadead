/**
 * The hand-written lock settings (policy/settings.ts): EXEMPT_ACTIONS read per role, MANAGED_POLICY_QUOTA from 1
 * to 20, blank and non-object values, role names and actions IAM accepts, and one sentence for each refusal.
 */
import { describe, expect, it } from 'vitest'
import { exemptActionsFrom, managedPolicyQuotaFrom } from '../../policy/settings.js'

const EXPECTED_ACTIONS =
  'give a JSON object from role names to lists of actions, such as {"web-role":["s3:GetObject"]}.'

describe('exempt actions read per role, each malformed value refused naming it', () => {
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

describe('the managed-policy quota taken only as a whole number from 1 to 20', () => {
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
