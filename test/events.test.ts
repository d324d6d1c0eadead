import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readEvent } from '../handlers/aws/events.js'

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./fixtures/events/${name}.json`, import.meta.url), 'utf8'))

const LOCK_TAG = 'credential-lock'
const FIXTURE_INSTANCE = 'i-0abcd1234ef567890'

describe('readEvent on the JSON AWS delivers', () => {
  it.each(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'])(
    'a %s state change names its instance and reaches only its role',
    (state) => {
      // Prepare
      const event = fixture(`ec2-state-change-${state}`)

      // Act
      const trigger = readEvent(event, LOCK_TAG)

      // Assess: the state itself is not trusted, only the instance it names.
      expect(trigger).toMatchObject({ instanceIds: [FIXTURE_INSTANCE], reach: 'named', eventId: event.id })
    },
  )

  it.each([
    ['cloudtrail-associate-address-by-instance', { instanceIds: [FIXTURE_INSTANCE], reach: 'locked-roles' }],
    [
      'cloudtrail-associate-address-by-eni',
      { networkInterfaceIds: ['eni-0123456789abcdef0'], reach: 'locked-roles' },
    ],
    ['cloudtrail-disassociate-address', { instanceIds: [], reach: 'locked-roles' }],
    ['cloudtrail-associate-iam-instance-profile', { instanceIds: [FIXTURE_INSTANCE], reach: 'all-roles' }],
    [
      'cloudtrail-replace-iam-instance-profile-association',
      { instanceIds: [FIXTURE_INSTANCE], reach: 'all-roles' },
    ],
    ['cloudtrail-disassociate-iam-instance-profile', { instanceIds: [FIXTURE_INSTANCE], reach: 'all-roles' }],
    ['tag-change-ec2-instance', { instanceIds: [FIXTURE_INSTANCE], reach: 'named' }],
    ['tag-change-ec2-instance-opt-out', { instanceIds: [FIXTURE_INSTANCE], reach: 'named' }],
    ['scheduled-event', { instanceIds: [], reach: 'all-roles' }],
    ['cloudtrail-lambda-create-function', { instanceIds: [], functionNames: ['reporter'], reach: 'named' }],
    ['cloudtrail-lambda-tag-resource', { functionNames: ['reporter'], reach: 'named' }],
    ['cloudtrail-lambda-untag-resource', { functionNames: ['reporter'], reach: 'named' }],
    // A new role: the old one is not named, and the function's old credentials on it need a tombstone.
    ['cloudtrail-lambda-update-function-configuration', { functionNames: ['reporter'], reach: 'all-roles' }],
    ['cloudtrail-lambda-delete-function', { functionNames: ['reporter'], reach: 'all-roles' }],
  ])('%s becomes a trigger', (name, expected) => {
    // Prepare
    const event = fixture(name)

    // Act
    const trigger = readEvent(event, LOCK_TAG)

    // Assess
    expect(trigger).toMatchObject(expected)
  })

  it.each([
    ['cloudtrail-associate-address-failed', /failed with/],
    ['cloudtrail-ec2-describe-instances', /does not change a lock/],
    ['cloudtrail-s3-put-object', /not an EC2 API call|not handled/],
    ['tag-change-s3-bucket', /not handled/],
    ['cloudtrail-lambda-untag-other-key', /the tag credential-lock did not change/],
    ['cloudtrail-lambda-update-function-environment', /changed neither the function's role nor its VPC/],
    ['cloudtrail-lambda-delete-function-failed', /failed with ResourceNotFoundException/],
  ])('%s is ignored with a reason', (name, reason) => {
    // Prepare
    const event = fixture(name)

    // Act
    const result = readEvent(event, LOCK_TAG)

    // Assess
    expect(result).toMatchObject({ ignored: expect.stringMatching(reason) })
  })

  it.each([
    'reporter',
    'arn:aws:lambda:us-east-1:123456789012:function:reporter',
    'arn:aws:lambda:us-east-1:123456789012:function:reporter:live',
    '123456789012:function:reporter',
  ])('a deletion naming the function as %s names the function', (reference) => {
    // Prepare
    const event = fixture('cloudtrail-lambda-delete-function')
    ;(event.detail as { requestParameters: unknown }).requestParameters = { functionName: reference }

    // Act
    const trigger = readEvent(event, LOCK_TAG)

    // Assess
    expect(trigger).toMatchObject({ functionNames: ['reporter'] })
  })

  it('a tag change that did not touch the lock tag is ignored', () => {
    // Prepare
    const event = fixture('tag-change-ec2-instance')
    ;(event.detail as Record<string, unknown>)['changed-tag-keys'] = ['Name']

    // Act
    const result = readEvent(event, LOCK_TAG)

    // Assess
    expect(result).toMatchObject({ ignored: 'the tag credential-lock did not change' })
  })

  // Events are built inside the test: a fixture that fails to load must fail a test, not the file's import.
  it.each<[string, () => unknown, RegExp]>([
    ['a string', () => 'not json at all', /not an EventBridge event/],
    [
      'an event without detail',
      () => ({ id: 'x', 'detail-type': 'Scheduled Event', source: 'aws.events' }),
      /no "detail"/,
    ],
    [
      'a state change with a forged instance id',
      () => ({
        ...fixture('ec2-state-change-running'),
        detail: { 'instance-id': 'i-../../etc', state: 'running' },
      }),
      /not an EC2 instance ID/,
    ],
    [
      'a deletion naming no function',
      () => {
        const event = fixture('cloudtrail-lambda-delete-function')
        ;(event.detail as { requestParameters: unknown }).requestParameters = { functionName: 'a/../b' }
        return event
      },
      /not a Lambda function name or ARN/,
    ],
  ])('%s is malformed and named as such', (_, buildEvent, message) => {
    // Prepare
    const event = buildEvent()

    // Act
    const read = () => readEvent(event, LOCK_TAG)

    // Assess
    expect(read).toThrowError(
      expect.objectContaining({ name: 'MalformedEventError', message: expect.stringMatching(message) }),
    )
  })
})
