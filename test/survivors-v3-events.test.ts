/**
 * The Lambda half of the event reader on the edges the third mutation pass found unguarded: calls that are not
 * Lambda's or change no lock, which configuration updates reach which roles, the field a malformed call names,
 * and a failure of the reader itself, which must not pass for a malformed event. Real fixtures, edited only
 * where a test needs one field changed.
 */
import { describe, expect, it } from 'vitest'
import { readDelivered, readEvent } from '../handlers/events.js'
import { type FixtureName, loadEvent } from './support/events.js'

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
    expect(trigger).toEqual({
      eventId: delivered.id,
      detailType: API_CALL,
      instanceIds: [],
      networkInterfaceIds: [],
      functionNames: [FUNCTION],
      reach: 'all-roles',
    })
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
    expect(trigger).toEqual({
      eventId: delivered.id,
      detailType: API_CALL,
      instanceIds: [],
      networkInterfaceIds: [],
      functionNames: [FUNCTION],
      reach: 'named',
    })
  })

  it.each<FixtureName>(['cloudtrail-lambda-tag-resource', 'cloudtrail-lambda-untag-resource'])(
    "%s of the lock tag reaches only the function's own role",
    (name) => {
      // Prepare
      const delivered = event(name)

      // Act
      const trigger = readEvent(delivered, LOCK_TAG)

      // Assess
      expect(trigger).toEqual({
        eventId: delivered.id,
        detailType: API_CALL,
        instanceIds: [],
        networkInterfaceIds: [],
        functionNames: [FUNCTION],
        reach: 'named',
      })
    },
  )
})

describe('readEvent: a Lambda call that names no function says which field', () => {
  it('a TagResource of the lock tag on an event source mapping names requestParameters.resource', () => {
    // Prepare
    const mapping =
      'arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE'
    const delivered = withRequest('cloudtrail-lambda-tag-resource', {
      resource: mapping,
      tags: { [LOCK_TAG]: 'enabled' },
    })

    // Act
    const read = () => readEvent(delivered, LOCK_TAG)

    // Assess
    expect(read).toThrowError(
      malformed(`requestParameters.resource is "${mapping}", not a Lambda function name or ARN.`),
    )
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
