/**
 * The Lambda half of the event reader: calls that are not Lambda's or change no lock, which configuration updates
 * reach which roles, the field a malformed call names, and a failure of the reader itself, which must not pass
 * for a malformed event. Real fixtures, edited only where a test needs one field changed.
 */
import { describe, expect, it } from 'vitest'
import { readDelivered, readEvent } from '../../handlers/aws/events.js'
import { type FixtureName, loadEvent } from '../support/events.js'

const LOCK_TAG = 'credential-lock'
const FUNCTION = 'reporter'
const API_CALL = 'AWS API Call via CloudTrail'

type EditableEvent = Record<string, unknown> & { id: string; detail: Record<string, unknown> }

/** A fixture with a fresh id, as a plain record a test may edit. */
function event(name: FixtureName): EditableEvent {
  return loadEvent(name) as unknown as EditableEvent
}

/** A fixture whose CloudTrail request parameters are replaced by `requestParameters`. */
function withRequest(name: FixtureName, requestParameters: Record<string, unknown>): EditableEvent {
  const edited = event(name)
  edited.detail.requestParameters = requestParameters
  return edited
}

/** The whole trigger a call about FUNCTION becomes: nothing about instances, the function, and its reach. */
function functionTrigger(delivered: EditableEvent, reach: 'named' | 'all-roles') {
  return {
    eventId: delivered.id,
    detailType: API_CALL,
    instanceIds: [],
    networkInterfaceIds: [],
    functionNames: [FUNCTION],
    reach,
  }
}

const malformed = (message: string) => expect.objectContaining({ name: 'MalformedEventError', message })

describe('readEvent: Lambda calls that change no lock', () => {
  it.each<[string, (detail: Record<string, unknown>) => void]>([
    [
      'a CreateFunction recorded by another service',
      (detail) => {
        detail.eventSource = 'iam.amazonaws.com'
      },
    ],
    [
      'a Lambda call without an event name',
      (detail) => {
        detail.eventName = 42
      },
    ],
  ])('%s is not a Lambda API call', (_, change) => {
    // Prepare
    const delivered = event('cloudtrail-lambda-create-function')
    change(delivered.detail)

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toEqual({ eventId: delivered.id, detailType: API_CALL, ignored: 'not a Lambda API call' })
  })

  it('an UpdateFunctionCode is ignored, naming the call', () => {
    // Prepare
    const delivered = event('cloudtrail-lambda-update-function-code')

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toEqual({
      eventId: delivered.id,
      detailType: API_CALL,
      ignored: 'Lambda API call UpdateFunctionCode20150331v2 does not change a lock',
    })
  })
})

describe('readEvent: which roles a configuration update reaches', () => {
  it('a new role alone reaches every role, since the old one is not in the event', () => {
    // Prepare
    const delivered = withRequest('cloudtrail-lambda-update-function-configuration', {
      functionName: FUNCTION,
      role: 'arn:aws:iam::123456789012:role/defenders-next',
    })

    // Act
    const trigger = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(trigger).toEqual(functionTrigger(delivered, 'all-roles'))
  })

  it("a new VPC alone reaches only the function's own role", () => {
    // Prepare
    const delivered = withRequest('cloudtrail-lambda-update-function-configuration', {
      functionName: FUNCTION,
      vpcConfig: { subnetIds: ['subnet-0a1b2c3d4e5f60789'], securityGroupIds: ['sg-0123456789abcdef0'] },
    })

    // Act
    const trigger = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(trigger).toEqual(functionTrigger(delivered, 'named'))
  })

  it.each<FixtureName>(['cloudtrail-lambda-tag-resource', 'cloudtrail-lambda-untag-resource'])(
    "%s of the lock tag reaches only the function's own role",
    (name) => {
      // Prepare
      const delivered = event(name)

      // Act
      const trigger = readEvent(delivered, LOCK_TAG)

      // Assess
      expect(trigger).toEqual(functionTrigger(delivered, 'named'))
    },
  )
})

describe('readEvent: a Lambda call that names no function says which field', () => {
  it('a TagResource of the lock tag on something that is no Lambda ARN names requestParameters.resource', () => {
    // Prepare
    const bucket = 'arn:aws:s3:::reports'
    const delivered = withRequest('cloudtrail-lambda-tag-resource', {
      resource: bucket,
      tags: { [LOCK_TAG]: 'enabled' },
    })

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(
      malformed(`requestParameters.resource is "${bucket}", not a Lambda function name or ARN.`),
    )
  })

  it.each([
    ['event-source-mapping', 'a1b2c3d4-5678-90ab-cdef-11111EXAMPLE'],
    ['code-signing-config', 'csc-0a1b2c3d4e5f60001'],
  ])(
    'a TagResource of the lock tag on a Lambda %s is ignored quietly, naming what was tagged',
    (kind, id) => {
      // Prepare
      const delivered = withRequest('cloudtrail-lambda-tag-resource', {
        resource: `arn:aws:lambda:us-east-1:123456789012:${kind}:${id}`,
        tags: { [LOCK_TAG]: 'enabled' },
      })

      // Act
      const result = readEvent(delivered, LOCK_TAG)

      // Assess
      expect(result).toEqual({
        eventId: delivered.id,
        detailType: API_CALL,
        ignored: `TagResource20170331v2 tagged a Lambda ${kind}, not a function`,
      })
    },
  )

  it('an UntagResource of a function ARN is still read as that function', () => {
    // Prepare
    const delivered = withRequest('cloudtrail-lambda-untag-resource', {
      resource: `arn:aws:lambda:us-east-1:123456789012:function:${FUNCTION}`,
      tagKeys: [LOCK_TAG],
    })

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toMatchObject({ functionNames: [FUNCTION], reach: 'named' })
  })

  it('a Lambda call named like an inherited object property changes no lock', () => {
    // Prepare
    const delivered = event('cloudtrail-lambda-create-function')
    delivered.detail.eventName = 'constructor'

    // Act
    const result = readEvent(delivered, LOCK_TAG)

    // Assess
    expect(result).toMatchObject({ ignored: 'Lambda API call constructor does not change a lock' })
  })

  it.each([
    ['no function name', {}, 'undefined'],
    ['a number for the function name', { functionName: 42 }, '42'],
    ['the name inside a list', { functionName: [FUNCTION] }, `["${FUNCTION}"]`],
  ])('a DeleteFunction with %s is malformed, never read as a function', (_, requestParameters, shown) => {
    // Prepare
    const delivered = withRequest('cloudtrail-lambda-delete-function', requestParameters)

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(
      malformed(`requestParameters.functionName is ${shown}, not a Lambda function name or ARN.`),
    )
  })
})

describe('readDelivered: only a malformed event is skipped', () => {
  it('a failure of the reader itself is thrown, so the record is retried, not dropped as malformed', () => {
    // Prepare: an event whose detail cannot even be read, as a bug in the reader would fail.
    const delivered = event('ec2-state-change-running')
    const failure = new TypeError('the detail could not be read')
    Object.defineProperty(delivered, 'detail', {
      get: () => {
        throw failure
      },
    })

    // Act
    const read = () => readDelivered(delivered, LOCK_TAG, 'record-1')

    // Assess
    expect(read).toThrowError(failure)
  })

  it('a malformed event is skipped with its own id and type, and marked malformed', () => {
    // Prepare
    const delivered = withRequest('cloudtrail-lambda-delete-function', {})

    // Act
    const result = readDelivered(delivered, LOCK_TAG, 'record-1')

    // Assess
    expect(result).toEqual({
      eventId: delivered.id,
      detailType: API_CALL,
      ignored: 'requestParameters.functionName is undefined, not a Lambda function name or ARN.',
      malformed: true,
    })
  })
})
