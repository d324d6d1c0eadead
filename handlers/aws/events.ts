import { MalformedEventError } from './errors.js'

/**
 * What an event asks the controller to look at. Events are only hints: the controller never trusts their
 * state and re-reads EC2, so a duplicate or late event cannot change a correct lock.
 */
export interface Trigger {
  readonly eventId: string
  readonly detailType: string
  /** Instances named by the event. */
  readonly instanceIds: readonly string[]
  /** Network interfaces named by the event (an Elastic IP associated by ENI). */
  readonly networkInterfaceIds: readonly string[]
  /** Lambda functions named by the event, by function name. */
  readonly functionNames: readonly string[]
  /**
   * `named`: only the roles of the named instances and functions. `locked-roles`: also every role with an
   * opted-in instance, because an address moved away from an instance the event does not name. `all-roles`:
   * every instance and function role, for drift repair, tombstone expiry and role changes whose old role the
   * event omits.
   */
  readonly reach: 'named' | 'locked-roles' | 'all-roles'
}

/** An event the controller deliberately ignores, with the reason logged for auditors. */
export interface Ignored {
  readonly eventId: string
  readonly detailType: string
  readonly ignored: string
  /** The event could not be read at all (not JSON, not an EventBridge event): worth a warning. */
  readonly malformed?: true
}

export interface EventBridgeEnvelope {
  readonly id: string
  readonly 'detail-type': string
  readonly source: string
  readonly resources?: readonly string[]
  readonly detail: Readonly<Record<string, unknown>>
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
/** A function name, alone or at the end of a full or partial ARN, with an optional version or alias. */
const FUNCTION_REFERENCE =
  /^(?:(?:arn:[a-z-]+:lambda:[a-z0-9-]+:)?\d{12}:function:)?([A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9$_-]+)?$/
/**
 * The Lambda calls that change whether or how a function is locked, as CloudTrail names them (with their API
 * version). A deletion does not name the role the function had: it reaches every role.
 */
const FUNCTION_CALLS: ReadonlyMap<string, Trigger['reach']> = new Map([
  ['CreateFunction20150331', 'named'],
  ['UpdateFunctionConfiguration20150331v2', 'named'],
  ['TagResource20170331v2', 'named'],
  ['UntagResource20170331v2', 'named'],
  ['DeleteFunction20150331', 'all-roles'],
])
/** Lambda tags other resources too (event source mappings, code signing configs): their tags lock nothing. */
const OTHER_LAMBDA_RESOURCE = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:(?!function:)([a-z-]+):/
const UPDATE_CONFIGURATION = 'UpdateFunctionConfiguration20150331v2'
const ENI_ID = /^eni-[0-9a-f]{8,17}$/
const PROFILE_CALLS = new Set([
  'AssociateIamInstanceProfile',
  'ReplaceIamInstanceProfileAssociation',
  'DisassociateIamInstanceProfile',
])

/**
 * Reads one delivered event; anything that is not a usable EventBridge event comes back as a malformed
 * {@link Ignored}, keeping its id and detail-type when it has them, so it is logged and never retried.
 */
export function readDelivered(raw: unknown, lockTagKey: string, recordId: string): Trigger | Ignored {
  try {
    return readEvent(raw, lockTagKey)
  } catch (error) {
    if (!(error instanceof MalformedEventError)) throw error
    return {
      eventId: fieldOf(raw, 'id') ?? recordId,
      detailType: fieldOf(raw, 'detail-type') ?? 'unknown',
      ignored: error.message,
      malformed: true,
    }
  }
}

/** A top-level string field of an event, also from a body that is not valid JSON (a truncated event). */
function fieldOf(raw: unknown, field: 'id' | 'detail-type'): string | undefined {
  if (typeof raw === 'string') {
    return new RegExp(`"${field}"\\s*:\\s*"([^"\\\\]*)"`).exec(raw)?.[1]
  }
  const value = record(raw)[field]
  return typeof value === 'string' ? value : undefined
}

/** Reads one EventBridge event; throws {@link MalformedEventError} for anything that is not one. */
export function readEvent(raw: unknown, lockTagKey: string): Trigger | Ignored {
  const event = asEnvelope(raw)
  const base = { eventId: event.id, detailType: event['detail-type'] }
  switch (`${event.source} ${event['detail-type']}`) {
    case 'aws.ec2 EC2 Instance State-change Notification':
      return named(base, [instanceIdOf(event.detail['instance-id'], 'detail.instance-id')])
    case 'aws.ec2 AWS API Call via CloudTrail':
      return readApiCall(base, event.detail)
    case 'aws.lambda AWS API Call via CloudTrail':
      return readFunctionCall(base, event.detail, lockTagKey)
    case 'aws.tag Tag Change on Resource':
      return readTagChange(base, event, lockTagKey)
    case 'aws.events Scheduled Event':
      return { ...base, instanceIds: [], networkInterfaceIds: [], functionNames: [], reach: 'all-roles' }
    default:
      return {
        ...base,
        ignored: `events from ${event.source} of type "${event['detail-type']}" are not handled`,
      }
  }
}

type Base = Pick<Trigger, 'eventId' | 'detailType'>

function named(base: Base, instanceIds: readonly string[]): Trigger {
  return { ...base, instanceIds, networkInterfaceIds: [], functionNames: [], reach: 'named' }
}

function readFunctionCall(
  base: Base,
  detail: Readonly<Record<string, unknown>>,
  lockTagKey: string,
): Trigger | Ignored {
  const eventName = detail.eventName
  if (detail.eventSource !== 'lambda.amazonaws.com' || typeof eventName !== 'string') {
    return { ...base, ignored: 'not a Lambda API call' }
  }
  const reach = FUNCTION_CALLS.get(eventName)
  if (reach === undefined) return { ...base, ignored: `Lambda API call ${eventName} does not change a lock` }
  if (detail.errorCode !== undefined) {
    return { ...base, ignored: `${eventName} failed with ${String(detail.errorCode)}, so nothing changed` }
  }
  const request = record(detail.requestParameters)
  if (eventName.startsWith('TagResource') || eventName.startsWith('UntagResource')) {
    const keys = eventName.startsWith('Tag') ? Object.keys(record(request.tags)) : request.tagKeys
    if (!Array.isArray(keys) || !keys.includes(lockTagKey)) {
      return { ...base, ignored: `the tag ${lockTagKey} did not change` }
    }
    const otherResource = typeof request.resource === 'string' && OTHER_LAMBDA_RESOURCE.exec(request.resource)
    if (otherResource)
      return { ...base, ignored: `${eventName} tagged a Lambda ${otherResource[1]}, not a function` }
    return {
      ...named(base, []),
      functionNames: [functionNameOf(request.resource, 'requestParameters.resource')],
      reach,
    }
  }
  if (eventName === UPDATE_CONFIGURATION && request.role === undefined && request.vpcConfig === undefined) {
    return { ...base, ignored: `${eventName} changed neither the function's role nor its VPC` }
  }
  const functionName = functionNameOf(request.functionName, 'requestParameters.functionName')
  // A new role: the role the function had is not in the event, and its old credentials need a tombstone.
  const moved = eventName === UPDATE_CONFIGURATION && request.role !== undefined
  return { ...named(base, []), functionNames: [functionName], reach: moved ? 'all-roles' : reach }
}

function readApiCall(base: Base, detail: Readonly<Record<string, unknown>>): Trigger | Ignored {
  const eventName = detail.eventName
  if (detail.eventSource !== 'ec2.amazonaws.com' || typeof eventName !== 'string') {
    return { ...base, ignored: 'not an EC2 API call' }
  }
  if (detail.errorCode !== undefined) {
    return { ...base, ignored: `${eventName} failed with ${String(detail.errorCode)}, so nothing changed` }
  }
  const request = record(detail.requestParameters)
  if (eventName === 'AssociateAddress') {
    // The address may have moved away from another instance, which the event does not name.
    const instanceId = request.instanceId
    const eniId = request.networkInterfaceId
    if (instanceId !== undefined) {
      return {
        ...named(base, [instanceIdOf(instanceId, 'requestParameters.instanceId')]),
        reach: 'locked-roles',
      }
    }
    if (typeof eniId === 'string' && ENI_ID.test(eniId)) {
      return { ...named(base, []), networkInterfaceIds: [eniId], reach: 'locked-roles' }
    }
    throw new MalformedEventError('AssociateAddress names neither an instanceId nor a networkInterfaceId.')
  }
  if (eventName === 'DisassociateAddress') {
    // Only the association is named: every lock that may list the address is checked.
    return { ...named(base, []), reach: 'locked-roles' }
  }
  if (PROFILE_CALLS.has(eventName)) {
    // The role the instance used before is not in the event, and its old credentials need a tombstone.
    const instanceIds = [...new Set(findInstanceIds(detail.requestParameters, detail.responseElements))]
    return { ...named(base, instanceIds), reach: 'all-roles' }
  }
  return { ...base, ignored: `EC2 API call ${eventName} does not change a lock` }
}

function readTagChange(base: Base, event: EventBridgeEnvelope, lockTagKey: string): Trigger | Ignored {
  const { service, 'resource-type': resourceType, 'changed-tag-keys': changed } = event.detail
  if (service !== 'ec2' || resourceType !== 'instance') {
    return { ...base, ignored: `tag changes on ${String(service)} ${String(resourceType)} are not handled` }
  }
  if (!Array.isArray(changed) || !changed.includes(lockTagKey)) {
    return { ...base, ignored: `the tag ${lockTagKey} did not change` }
  }
  const resources: unknown = event.resources
  if (!Array.isArray(resources) || resources.length === 0) {
    throw new MalformedEventError('Tag Change on Resource event names no resource.')
  }
  return named(
    base,
    resources.map((arn) => instanceIdOf(typeof arn === 'string' ? arn.split('/').pop() : arn, 'resources')),
  )
}

function asEnvelope(raw: unknown): EventBridgeEnvelope {
  const event = record(raw)
  for (const field of ['id', 'detail-type', 'source'] as const) {
    if (typeof event[field] !== 'string') {
      throw new MalformedEventError(`The event has no "${field}": it is not an EventBridge event.`)
    }
  }
  if (typeof event.detail !== 'object' || event.detail === null) {
    throw new MalformedEventError('The event has no "detail" object: it is not an EventBridge event.')
  }
  return event as unknown as EventBridgeEnvelope
}

function instanceIdOf(value: unknown, where: string): string {
  if (typeof value === 'string' && INSTANCE_ID.test(value)) return value
  throw new MalformedEventError(`${where} is ${JSON.stringify(value)}, not an EC2 instance ID.`)
}

function functionNameOf(value: unknown, where: string): string {
  const name = typeof value === 'string' ? FUNCTION_REFERENCE.exec(value)?.[1] : undefined
  if (name !== undefined) return name
  throw new MalformedEventError(`${where} is ${JSON.stringify(value)}, not a Lambda function name or ARN.`)
}

function record(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
}

/** CloudTrail nests these calls' parameters differently by API version, so look for any instance ID field. */
function findInstanceIds(...values: unknown[]): string[] {
  return values.flatMap((value) => {
    if (Array.isArray(value)) return findInstanceIds(...value)
    if (typeof value !== 'object' || value === null) return []
    return Object.entries(value).flatMap(([key, inner]) =>
      /^instanceId$/i.test(key) && typeof inner === 'string' && INSTANCE_ID.test(inner)
        ? [inner]
        : findInstanceIds(inner),
    )
  })
}
