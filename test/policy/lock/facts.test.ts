/**
 * The facts the lock is decided on (policy/lock/facts.ts): the opt-in tag read exactly, and facts that are not
 * what EC2 or Lambda would give refused with InvalidFactsError, naming the value.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError } from '../../../policy/errors.js'
import { instanceArn, isOptedIn } from '../../../policy/lock/index.js'
import { decide, WEB } from '../../support/lock-fleet.js'
import * as numbered from '../../support/lock-numbered.js'
import { ACCOUNT, REGION, SETTINGS } from '../../support/lock-scene.js'

describe('the opt-in tag, read exactly', () => {
  const tag = { key: 'credential-lock', value: 'enabled' }

  it.each([
    ['the lock tag with the lock value', [{ Key: 'credential-lock', Value: 'enabled' }], true],
    ['another tag with the lock value', [{ Key: 'Name', Value: 'enabled' }], false],
    ['the lock tag with another value', [{ Key: 'credential-lock', Value: 'disabled' }], false],
    [
      'the key and the value on different tags',
      [
        { Key: 'credential-lock', Value: 'off' },
        { Key: 'Name', Value: 'enabled' },
      ],
      false,
    ],
    ['no tags', [], false],
  ])('an instance with %s: %s', (_, tags, expected) => {
    // Act
    const optedIn = isOptedIn(tags, tag)

    // Assess
    expect(optedIn).toBe(expected)
  })
})

describe('opt-in and invalid facts', () => {
  const TAG = { key: 'credential-lock', value: 'enabled' }

  it.each([
    { tags: [{ Key: 'credential-lock', Value: 'enabled' }], optedIn: true },
    { tags: [{ Key: 'credential-lock', Value: 'Enabled' }], optedIn: false },
    { tags: [{ Key: 'team', Value: 'enabled' }], optedIn: false },
    {
      tags: [
        { Key: 'credential-lock', Value: 'no' },
        { Key: 'other', Value: 'enabled' },
      ],
      optedIn: false,
    },
    { tags: [], optedIn: false },
  ])('opts in $tags: $optedIn', ({ tags, optedIn }) => {
    expect(isOptedIn(tags, TAG)).toBe(optedIn)
  })

  it.each([
    { part: 'accountId', value: '1234-5678-9012' },
    { part: 'accountId', value: 'x123456789012' },
    { part: 'accountId', value: '123456789012x' },
    { part: 'region', value: 'us-east-1a' },
    { part: 'region', value: 'us-east-1 ' },
    { part: 'partition', value: 'aws ' },
    { part: 'partition', value: 'xaws' },
  ])('refuses an ARN $part of "$value"', ({ part, value }) => {
    // Prepare
    const scope = { ...SETTINGS, [part]: value }

    // Act / Assess
    expect(() => instanceArn(scope, WEB.facts.instanceId)).toThrow(InvalidFactsError)
  })

  it.each(['aws', 'aws-cn', 'aws-us-gov'])('accepts the partition %s', (partition) => {
    expect(instanceArn({ ...SETTINGS, partition }, 'i-01234567')).toBe(
      `arn:${partition}:ec2:${REGION}:${ACCOUNT}:instance/i-01234567`,
    )
  })

  it.each([
    {
      story: 'a bad instance ID',
      facts: { ...WEB.facts, instanceId: 'i-xyz' },
      message: /not an EC2 instance ID/,
    },
    {
      story: 'no private address',
      facts: { ...WEB.facts, privateIps: [] },
      message: /has no private address/,
    },
    {
      story: 'a bad address',
      facts: { ...WEB.facts, publicIps: ['54.0.0.999'] },
      message: /not an IPv4 or IPv6/,
    },
  ])('refuses $story', ({ facts, message }) => {
    expect(() => decide({ instances: [facts] })).toThrow(message)
  })
})

describe('addresses in the facts that are not addresses, each named', () => {
  it.each([
    [
      'an instance’s public address',
      () => numbered.decide([numbered.facts(1, { publicIps: ['not-an-ip'] })]),
      'Public address of',
    ],
    [
      'an instance’s primary address',
      () =>
        numbered.decide([numbered.facts(1, { privateIps: ['10.0.0.11'], primaryPrivateIpv4: 'not-an-ip' })]),
      'Primary private address of',
    ],
    [
      'a function’s subnet',
      () => numbered.decide([], { functions: [numbered.fn('worker', { subnetCidrs: ['x'] })] }),
      'Subnet CIDR of',
    ],
    [
      'a function’s egress',
      () => numbered.decide([], { functions: [numbered.fn('worker', { egressIps: ['x'] })] }),
      'Egress address of',
    ],
  ])('names %s that is not an address', (_, attempt, what) => {
    // Assess
    expect(attempt).toThrowError(new RegExp(`^${what} `))
  })
})
