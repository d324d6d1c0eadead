import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { CloudFormationCustomResourceEvent, SQSEvent } from 'aws-lambda'
import type { InstanceState } from '../../policy/lock/index.js'

const FIXTURES = new URL('../fixtures/events/', import.meta.url)

// The ids the fixtures were written with; the factories swap them for the caller's.
const FIXTURE_INSTANCE_ID = 'i-0abcd1234ef567890'
const FIXTURE_ENI_ID = 'eni-0123456789abcdef0'
const FIXTURE_ALLOCATION_ID = 'eipalloc-0a1b2c3d4e5f60789'
const FIXTURE_PROFILE_ARN = 'arn:aws:iam::123456789012:instance-profile/defenders'
const FIXTURE_ASSOCIATION_IDS = {
  byInstance: 'eipassoc-0f1e2d3c4b5a69788',
  byEni: 'eipassoc-0f1e2d3c4b5a69789',
}
const FIXTURE_PROFILE_ASSOCIATION_IDS = ['iip-assoc-0750e3af14e2b40ad', 'iip-assoc-08049da59357d598c']
const FIXTURE_ACCOUNT_ID = '123456789012'
const FIXTURE_FUNCTION_NAME = 'reporter'
const FIXTURE_NEW_ROLE_NAME = 'defenders-next'

export type FixtureName =
  | `ec2-state-change-${InstanceState}`
  | 'cloudtrail-associate-address-by-instance'
  | 'cloudtrail-associate-address-by-eni'
  | 'cloudtrail-associate-address-failed'
  | 'cloudtrail-disassociate-address'
  | 'cloudtrail-associate-iam-instance-profile'
  | 'cloudtrail-replace-iam-instance-profile-association'
  | 'cloudtrail-disassociate-iam-instance-profile'
  | 'cloudtrail-ec2-describe-instances'
  | 'cloudtrail-s3-put-object'
  | 'tag-change-ec2-instance'
  | 'tag-change-ec2-instance-opt-out'
  | 'tag-change-s3-bucket'
  | 'scheduled-event'
  | FunctionFixtureName
  | 'cloudtrail-lambda-untag-other-key'
  | 'cloudtrail-lambda-update-function-environment'
  | 'cloudtrail-lambda-update-function-code'
  | 'cloudtrail-lambda-delete-function-failed'

/** The Lambda calls that change a function's lock. */
export type FunctionFixtureName =
  | 'cloudtrail-lambda-create-function'
  | 'cloudtrail-lambda-update-function-configuration'
  | 'cloudtrail-lambda-tag-resource'
  | 'cloudtrail-lambda-untag-resource'
  | 'cloudtrail-lambda-delete-function'

/**
 * The envelope EventBridge delivers. A type alias, not an interface, so an event is assignable to
 * `Record<string, unknown>`; it is also assignable to `EventBridgeEvent` from aws-lambda.
 */
export type EventBridgeEvent<DetailType extends string, Detail> = {
  version: string
  id: string
  'detail-type': DetailType
  source: string
  account: string
  time: string
  region: string
  resources: string[]
  detail: Detail
}

export type StateChangeEvent = EventBridgeEvent<
  'EC2 Instance State-change Notification',
  { 'instance-id': string; state: InstanceState }
>

/** The CloudTrail record EventBridge puts in `detail` (fields this project reads, plus the rest loosely). */
export interface CloudTrailDetail<Request, Response> {
  readonly eventVersion: string
  readonly userIdentity: { readonly type: string; readonly arn?: string; readonly [field: string]: unknown }
  readonly eventTime: string
  readonly eventSource: string
  readonly eventName: string
  readonly awsRegion: string
  readonly sourceIPAddress: string
  readonly userAgent: string
  readonly errorCode?: string
  readonly errorMessage?: string
  readonly requestParameters: Request
  readonly responseElements: Response | null
  readonly requestID: string
  readonly eventID: string
  readonly readOnly: boolean
  readonly eventType: string
  readonly managementEvent: boolean
  readonly recipientAccountId: string
  readonly eventCategory: string
}

export type CloudTrailEvent<
  Request = Record<string, unknown>,
  Response = Record<string, unknown>,
> = EventBridgeEvent<'AWS API Call via CloudTrail', CloudTrailDetail<Request, Response>>

export type AddressTarget = { readonly instanceId: string } | { readonly networkInterfaceId: string }

export type AssociateAddressEvent = CloudTrailEvent<
  AddressTarget & { readonly allocationId: string },
  { readonly requestId: string; readonly _return: boolean; readonly associationId: string }
>

export type DisassociateAddressEvent = CloudTrailEvent<
  { readonly associationId: string },
  { readonly requestId: string; readonly _return: boolean }
>

export type IamProfileAssociationKind = 'associate' | 'replace' | 'disassociate'

export interface IamInstanceProfileAssociation {
  readonly associationId: string
  readonly iamInstanceProfile: { readonly arn: string; readonly id: string }
  readonly instanceId: string
  readonly state: 'associating' | 'associated' | 'disassociating' | 'disassociated'
}

/**
 * CloudTrail wraps these newer EC2 calls: `requestParameters.<Action>Request` (capitalised members) and
 * `responseElements.<Action>Response`. Only the response names the instance for replace and disassociate.
 */
export type IamProfileAssociationEvent = CloudTrailEvent<
  Record<
    string,
    {
      readonly InstanceId?: string
      readonly AssociationId?: string
      readonly IamInstanceProfile?: { Arn: string }
    }
  >,
  Record<
    string,
    { readonly requestId: string; readonly iamInstanceProfileAssociation: IamInstanceProfileAssociation }
  >
>

export type TagChangeEvent = EventBridgeEvent<
  'Tag Change on Resource',
  {
    'changed-tag-keys': string[]
    service: string
    'resource-type': string
    version: number
    tags: Record<string, string>
  }
>

export type ScheduledEvent = EventBridgeEvent<'Scheduled Event', Record<string, never>>

export type AnyEventBridgeEvent = EventBridgeEvent<string, unknown>

const IAM_PROFILE_FIXTURES: Record<IamProfileAssociationKind, FixtureName> = {
  associate: 'cloudtrail-associate-iam-instance-profile',
  replace: 'cloudtrail-replace-iam-instance-profile-association',
  disassociate: 'cloudtrail-disassociate-iam-instance-profile',
}

/**
 * A fixture as EventBridge would deliver it now: a deep copy with each `replacements` key swapped for its
 * value wherever it occurs, a fresh `id` and `time` (and CloudTrail `eventID` / `eventTime`).
 */
export function loadEvent<Event extends AnyEventBridgeEvent = AnyEventBridgeEvent>(
  name: FixtureName,
  replacements: Readonly<Record<string, string>> = {},
): Event {
  let text = readFixture(`${name}.json`)
  for (const [fixtureValue, value] of Object.entries(replacements))
    text = text.replaceAll(fixtureValue, value)
  const event = JSON.parse(text) as Event & { detail: { eventTime?: string; eventID?: string } }
  const time = awsTimestamp(new Date())
  event.id = randomUUID()
  event.time = time
  if (event.detail.eventTime !== undefined) event.detail.eventTime = time
  if (event.detail.eventID !== undefined) event.detail.eventID = randomUUID()
  return event
}

export function stateChange(instanceId: string, state: InstanceState): StateChangeEvent {
  return loadEvent(`ec2-state-change-${state}`, { [FIXTURE_INSTANCE_ID]: instanceId })
}

/** A successful AssociateAddress naming the instance or the network interface, as the caller chose. */
export function associateAddress(
  target: AddressTarget,
  allocationId: string,
  associationId = awsId('eipassoc'),
): AssociateAddressEvent {
  const byInstance = 'instanceId' in target
  return loadEvent(
    byInstance ? 'cloudtrail-associate-address-by-instance' : 'cloudtrail-associate-address-by-eni',
    {
      [byInstance ? FIXTURE_INSTANCE_ID : FIXTURE_ENI_ID]: byInstance
        ? target.instanceId
        : target.networkInterfaceId,
      [FIXTURE_ALLOCATION_ID]: allocationId,
      [FIXTURE_ASSOCIATION_IDS.byInstance]: associationId,
      [FIXTURE_ASSOCIATION_IDS.byEni]: associationId,
    },
  )
}

export function disassociateAddress(associationId: string): DisassociateAddressEvent {
  return loadEvent('cloudtrail-disassociate-address', { [FIXTURE_ASSOCIATION_IDS.byInstance]: associationId })
}

/** Associate, replace or disassociate an instance profile; association ids are fresh for each event. */
export function iamProfileAssociation(
  kind: IamProfileAssociationKind,
  instanceId: string,
  profileArn: string,
): IamProfileAssociationEvent {
  return loadEvent(IAM_PROFILE_FIXTURES[kind], {
    [FIXTURE_INSTANCE_ID]: instanceId,
    [FIXTURE_PROFILE_ARN]: profileArn,
    ...Object.fromEntries(
      FIXTURE_PROFILE_ASSOCIATION_IDS.map((fixtureId) => [fixtureId, awsId('iip-assoc')]),
    ),
  })
}

/** `tags` is the instance's full tag set after the change; `changedKeys` includes deleted keys. */
export function tagChange(
  instanceId: string,
  tags: Readonly<Record<string, string>>,
  changedKeys: readonly string[],
): TagChangeEvent {
  const event = loadEvent<TagChangeEvent>('tag-change-ec2-instance', { [FIXTURE_INSTANCE_ID]: instanceId })
  event.detail.tags = { ...tags }
  event.detail['changed-tag-keys'] = [...changedKeys]
  return event
}

/**
 * A successful Lambda call on `functionName` in `accountId`, as CloudTrail records it; an update-configuration
 * event moves the function to `newRoleName`.
 */
export function functionCall(
  name: FunctionFixtureName,
  functionName: string,
  accountId: string,
  newRoleName = FIXTURE_NEW_ROLE_NAME,
): AnyEventBridgeEvent {
  // Quoted, or with the ARN's colon, so a name like "reporter" does not also rewrite "/aws/lambda/reporter".
  return loadEvent(name, {
    [`"${FIXTURE_FUNCTION_NAME}"`]: `"${functionName}"`,
    [`:function:${FIXTURE_FUNCTION_NAME}"`]: `:function:${functionName}"`,
    [`role/${FIXTURE_NEW_ROLE_NAME}"`]: `role/${newRoleName}"`,
    [FIXTURE_ACCOUNT_ID]: accountId,
  })
}

export function scheduled(): ScheduledEvent {
  return loadEvent('scheduled-event')
}

export interface SqsBatchOptions {
  readonly queueArn: string
  /** FIFO queues only; EventBridge sends the rule target's configured group id. */
  readonly messageGroupId?: string
}

/**
 * The event Lambda receives from an SQS event source mapping, one record per EventBridge event. FIFO
 * attributes (group, sequence number, deduplication id = event id) appear only when the queue is FIFO.
 */
export function sqsBatch(events: readonly AnyEventBridgeEvent[], options: SqsBatchOptions): SQSEvent {
  const template = (JSON.parse(readFixture('sqs-batch-of-eventbridge-events.json')) as SQSEvent).Records[0]
  if (template === undefined) throw new Error('The SQS fixture has no record')
  const fifo = options.queueArn.endsWith('.fifo')
  const region = options.queueArn.split(':')[3] ?? template.awsRegion
  const sentAt = Date.now()
  return {
    Records: events.map((event, index) => {
      const body = JSON.stringify(event)
      const { SequenceNumber, MessageGroupId, MessageDeduplicationId, ...standard } = template.attributes
      const attributes = {
        ...standard,
        SentTimestamp: String(sentAt + index),
        ApproximateFirstReceiveTimestamp: String(sentAt + index + 10),
      }
      return {
        ...template,
        messageId: randomUUID(),
        receiptHandle: randomBytes(96).toString('base64'),
        body,
        md5OfBody: createHash('md5').update(body).digest('hex'),
        attributes: fifo
          ? {
              ...attributes,
              SequenceNumber: (BigInt(SequenceNumber ?? '0') + BigInt(sentAt + index)).toString(),
              MessageGroupId: options.messageGroupId ?? MessageGroupId,
              MessageDeduplicationId: event.id,
            }
          : attributes,
        eventSourceARN: options.queueArn,
        awsRegion: region,
      }
    }),
  }
}

function readFixture(file: string): string {
  return readFileSync(new URL(file, FIXTURES), 'utf8')
}

/** EventBridge and CloudTrail timestamps carry whole seconds. */
function awsTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** An EC2-style id: prefix, dash, 17 lower-case hex digits. */
function awsId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`
}

/** What CloudFormation sends the uninstall custom resource of the deployed stack. */
export function customResourceEvent(
  requestType: 'Create' | 'Update' | 'Delete',
): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-3:123456789012:function:provider',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: 'arn:aws:cloudformation:eu-west-3:123456789012:stack/CredentialLock/1',
    RequestId: 'request-1',
    LogicalResourceId: 'Uninstall',
    ResourceType: 'Custom::CredentialLockUninstall',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-3:123456789012:function:provider' },
  }
  if (requestType === 'Create') return { ...common, RequestType: 'Create' }
  const existing = { ...common, PhysicalResourceId: 'credential-lock-eu-west-3' }
  if (requestType === 'Update')
    return { ...existing, RequestType: 'Update', OldResourceProperties: common.ResourceProperties }
  return { ...existing, RequestType: 'Delete' }
}
