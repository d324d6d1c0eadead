/**
 * The ARNs the lock names (policy/lock/arns.ts): an instance ARN refuses every scope part of the wrong shape
 * rather than write a statement that matches nothing.
 */
import { describe, expect, it } from 'vitest'
import { instanceArn } from '../../../policy/lock/index.js'
import { ACCOUNT, SETTINGS } from '../../support/lock-scene.js'
import { INSTANCE } from '../../support/lock-single.js'

describe('instance ARNs refuse a scope part of the wrong shape', () => {
  it.each([
    ['partition', 'xaws'],
    ['partition', 'aws1'],
    ['region', '1us-east-1'],
    ['region', 'us-east-1a'],
    ['accountId', 'x123456789012'],
    ['accountId', '1234567890123'],
  ] as const)('%s "%s"', (part, value) => {
    // Act
    const build = () => instanceArn({ ...SETTINGS, [part]: value }, INSTANCE)

    // Assess
    expect(build).toThrowError(
      expect.objectContaining({
        name: 'InvalidFactsError',
        message: `The ${part} "${value}" cannot be part of an ARN: fix the settings.`,
      }),
    )
  })

  it.each([
    ['aws-us-gov', 'us-gov-west-1'],
    ['aws', 'ap-southeast-10'],
  ])('builds the ARN every request of the instance carries in %s %s', (partition, region) => {
    // Act
    const arn = instanceArn({ ...SETTINGS, partition, region }, INSTANCE)

    // Assess
    expect(arn).toBe(`arn:${partition}:ec2:${region}:${ACCOUNT}:instance/${INSTANCE}`)
  })

  it.each([`x${INSTANCE}`, `${INSTANCE}zz`])('and an instance ID "%s" of the wrong shape', (instanceId) => {
    // Act
    const build = () => instanceArn(SETTINGS, instanceId)

    // Assess
    expect(build).toThrowError(expect.objectContaining({ name: 'InvalidFactsError' }))
  })
})
