/**
 * readEvent, the event reader, on the real fixtures (test/fixtures/events/), edited only where a test needs a
 * broken field: the whole trigger each event kind gives and which roles it reaches, the calls it ignores and why,
 * what an envelope must hold, and which look-alike IDs and fields are refused as malformed. The Lambda calls'
 * edges are in events-lambda.test.ts.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readEvent } from '../../handlers/aws/events.js'
import { type FixtureName, loadEvent } from '../support/events.js'

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/events/${name}.json`, import.meta.url), 'utf8'))

const LOCK_TAG = 'credential-lock'
const INSTANCE = 'i-0abcd1234ef567890'
const ENI = 'eni-0123456789abcdef0'

describe('readEvent: what each delivered event names, which roles it reaches, and what it ignores', () => {
  it.each(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'])(
    'a %s state change names its instance and reaches only its role',
    (state) => {
      // Prepare
      const event = fixture(`ec2-state-change-${state}`)

      // Act
      const trigger = readEvent(event, LOCK_TAG)

      // Assess: the state itself is not trusted, only the instance it names.
      expect(trigger).toMatchObject({ instanceIds: [INSTANCE], reach: 'named', eventId: event.id })
    },
  )

  it.each([
    ['cloudtrail-associate-address-by-instance', { instanceIds: [INSTANCE], reach: 'locked-roles' }],
    [
      'cloudtrail-associate-address-by-eni',
      { networkInterfaceIds: ['eni-0123456789abcdef0'], reach: 'locked-roles' },
    ],
    ['cloudtrail-disassociate-address', { instanceIds: [], reach: 'locked-roles' }],
    ['cloudtrail-associate-iam-instance-profile', { instanceIds: [INSTANCE], reach: 'all-roles' }],
    ['cloudtrail-replace-iam-instance-profile-association', { instanceIds: [INSTANCE], reach: 'all-roles' }],
    ['cloudtrail-disassociate-iam-instance-profile', { instanceIds: [INSTANCE], reach: 'all-roles' }],
    ['tag-change-ec2-instance', { instanceIds: [INSTANCE], reach: 'named' }],
    ['tag-change-ec2-instance-opt-out', { instanceIds: [INSTANCE], reach: 'named' }],
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

/** A fixture with a fresh id, as a plain record a test may break. */
function event(name: FixtureName): Record<string, unknown> & { detail: Record<string, unknown> } {
  return loadEvent(name) as unknown as Record<string, unknown> & { detail: Record<string, unknown> }
}

function apiCall(
  name: FixtureName,
  change: (detail: Record<string, unknown>) => void,
): Record<string, unknown> & { detail: Record<string, unknown> } {
  const edited = event(name)
  change(edited.detail)
  return edited
}

const malformed = (message: string | RegExp) =>
  expect.objectContaining({
    name: 'MalformedEventError',
    message: typeof message === 'string' ? message : expect.stringMatching(message),
  })

describe('readEvent: the whole trigger of each event kind', () => {
  it.each<[FixtureName, Record<string, unknown>]>([
    [
      'ec2-state-change-pending',
      {
        detailType: 'EC2 Instance State-change Notification',
        instanceIds: [INSTANCE],
        networkInterfaceIds: [],
        functionNames: [],
        reach: 'named',
      },
    ],
    [
      'scheduled-event',
      {
        detailType: 'Scheduled Event',
        instanceIds: [],
        networkInterfaceIds: [],
        functionNames: [],
        reach: 'all-roles',
      },
    ],
    [
      'cloudtrail-associate-address-by-eni',
      {
        detailType: 'AWS API Call via CloudTrail',
        instanceIds: [],
        networkInterfaceIds: [ENI],
        functionNames: [],
        reach: 'locked-roles',
      },
    ],
    [
      'cloudtrail-disassociate-address',
      {
        detailType: 'AWS API Call via CloudTrail',
        instanceIds: [],
        networkInterfaceIds: [],
        functionNames: [],
        reach: 'locked-roles',
      },
    ],
    [
      'cloudtrail-disassociate-iam-instance-profile',
      {
        detailType: 'AWS API Call via CloudTrail',
        instanceIds: [INSTANCE],
        networkInterfaceIds: [],
        functionNames: [],
        reach: 'all-roles',
      },
    ],
  ])('%s gives exactly this trigger', (name, expected) => {
    // Prepare
    const delivered = event(name)

    // Act
    const trigger = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(trigger).toEqual({ eventId: delivered.id, ...expected })
  })

  it('an event of an unhandled source names its source and type in the reason', () => {
    // Prepare
    const delivered = event('cloudtrail-s3-put-object')

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toEqual({
      eventId: delivered.id,
      detailType: 'AWS API Call via CloudTrail',
      ignored: 'events from aws.s3 of type "AWS API Call via CloudTrail" are not handled',
    })
  })
})

describe('readEvent: API calls it must not act on', () => {
  it.each<[string, (detail: Record<string, unknown>) => void]>([
    [
      'an AssociateAddress recorded by another service',
      (detail) => {
        detail.eventSource = 'iam.amazonaws.com'
      },
    ],
    [
      'an EC2 call without an event name',
      (detail) => {
        detail.eventName = 42
      },
    ],
  ])('%s is not an EC2 API call', (_, change) => {
    // Prepare
    const delivered = apiCall('cloudtrail-associate-address-by-instance', change)

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toMatchObject({ ignored: 'not an EC2 API call' })
  })

  it.each([
    ['another service', 's3', 'instance'],
    ['another EC2 resource type', 'ec2', 'volume'],
  ])('a tag change on %s is ignored', (_, service, resourceType) => {
    // Prepare
    const delivered = event('tag-change-ec2-instance')
    delivered.detail.service = service
    delivered.detail['resource-type'] = resourceType

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toMatchObject({ ignored: `tag changes on ${service} ${resourceType} are not handled` })
  })
})

describe('readEvent: malformed events are named as such, never half-read', () => {
  it.each(['id', 'detail-type', 'source'])(
    'an envelope without a string "%s" is not an EventBridge event',
    (field) => {
      // Prepare
      const delivered = event('ec2-state-change-running')
      delivered[field] = 7

      // Act
      const read = () => readEvent(delivered, LOCK_TAG)

      // Assess
      expect(read).toThrowError(malformed(`The event has no "${field}": it is not an EventBridge event.`))
    },
  )

  it.each([
    ['null', () => null],
    ['a detail of null', () => ({ ...event('ec2-state-change-running'), detail: null })],
  ])('%s is not an EventBridge event', (_, build) => {
    // Prepare
    const delivered = build()

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(malformed(/not an EventBridge event/))
  })

  it.each([
    ['a prefix before the ID', `x${INSTANCE}`],
    ['a suffix after the ID', `${INSTANCE}zz`],
    ['the ID in an array', [INSTANCE]],
  ])('a state change naming its instance with %s is malformed and says where', (_, instanceId) => {
    // Prepare
    const delivered = event('ec2-state-change-running')
    delivered.detail['instance-id'] = instanceId

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(
      malformed(`detail.instance-id is ${JSON.stringify(instanceId)}, not an EC2 instance ID.`),
    )
  })

  it('an AssociateAddress with a broken instance ID says which field', () => {
    // Prepare
    const delivered = apiCall('cloudtrail-associate-address-by-instance', (detail) => {
      detail.requestParameters = { instanceId: 'i-nothex', allocationId: 'eipalloc-0a1b2c3d4e5f60789' }
    })

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(malformed(/^requestParameters\.instanceId is "i-nothex"/))
  })

  it.each([
    ['a prefix before the ID', `x${ENI}`],
    ['a suffix after the ID', `${ENI}zz`],
    ['the ID in an array', [ENI]],
    ['no interface at all', undefined],
  ])('an AssociateAddress naming its interface with %s is malformed', (_, networkInterfaceId) => {
    // Prepare
    const delivered = apiCall('cloudtrail-associate-address-by-eni', (detail) => {
      detail.requestParameters = { networkInterfaceId, allocationId: 'eipalloc-0a1b2c3d4e5f60789' }
    })

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(
      malformed('AssociateAddress names neither an instanceId nor a networkInterfaceId.'),
    )
  })

  it.each([
    ['no resources field', undefined],
    ['an empty resources list', []],
  ])('a tag change of the lock tag with %s is malformed', (_, resources) => {
    // Prepare
    const delivered = event('tag-change-ec2-instance')
    delivered.resources = resources

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(malformed('Tag Change on Resource event names no resource.'))
  })

  it('a tag change naming a resource that is not an instance says where', () => {
    // Prepare
    const delivered = event('tag-change-ec2-instance')
    delivered.resources = ['arn:aws:ec2:us-east-1:123456789012:volume/vol-1']

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(malformed(/^resources is "vol-1"/))
  })
})

describe('readEvent: which fields of a profile call name an instance', () => {
  it('reads the instance from the request when CloudTrail records no response', () => {
    // Prepare
    const delivered = apiCall('cloudtrail-associate-iam-instance-profile', (detail) => {
      detail.requestParameters = { AssociateIamInstanceProfileRequest: { InstanceId: INSTANCE } }
      detail.responseElements = null
    })

    // Act
    const trigger = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(trigger).toMatchObject({ instanceIds: [INSTANCE], reach: 'all-roles' })
  })

  it('takes only fields named instanceId that hold one instance ID', () => {
    // Prepare: look-alike fields, an ID under another name, and IDs in a list, none of which is the instance.
    const other = 'i-0123456789abcdef0'
    const delivered = apiCall('cloudtrail-replace-iam-instance-profile-association', (detail) => {
      detail.requestParameters = {
        ReplaceIamInstanceProfileAssociationRequest: {
          previousInstanceId: other,
          instanceIdBefore: other,
          sourceInstance: other,
          InstanceId: [other],
        },
      }
    })

    // Act
    const trigger = readEvent(delivered, LOCK_TAG)

    // Assess: only the response's instanceId is the instance.
    expect(trigger).toMatchObject({ instanceIds: [INSTANCE] })
  })
})

describe('readEvent: a tag change whose resources are not a list of ARNs', () => {
  it.each([
    [
      'one ARN instead of a list',
      'arn:aws:ec2:us-east-1:123456789012:instance/i-0abcd1234ef567890',
      /names no resource/,
    ],
    ['an object', { length: 1 }, /names no resource/],
    ['a number in the list', [42], /^resources is 42, not an EC2 instance ID\.$/],
  ])('is malformed, not a crash of the whole batch, with %s', (_, resources, message) => {
    // Prepare
    const delivered = event('tag-change-ec2-instance')
    delivered.resources = resources

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(malformed(message))
  })
})
