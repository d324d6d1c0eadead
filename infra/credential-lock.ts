import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib'
import { ReadWriteType, Trail } from 'aws-cdk-lib/aws-cloudtrail'
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch'
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions'
import { EventBus, Match, Rule, Schedule } from 'aws-cdk-lib/aws-events'
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets'
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { Key } from 'aws-cdk-lib/aws-kms'
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources'
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import { LogGroup, QueryDefinition, QueryString, RetentionDays } from 'aws-cdk-lib/aws-logs'
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3'
import { Topic } from 'aws-cdk-lib/aws-sns'
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions'
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'
import { type KnownEgress, parseKnownEgress, parseTrustedVpcEndpoints } from '../policy/environment.js'
import { InvalidSettingError } from '../policy/errors.js'
import { checkTagKey, checkTagValue } from '../policy/opt-in-tag.js'
import { exemptActionsFrom, managedPolicyQuotaFrom } from '../policy/settings.js'
import { handlerFunction } from './lambda-defaults.js'
import { LockUninstall } from './lock-uninstall.js'
import { OWN_MANAGED_POLICIES_ACKNOWLEDGEMENT, ownManagedPolicyGrants } from './own-policies.js'
import { ROLE_SCOPE_KINDS, RoleScope, type RoleScopeKind } from './role-scope.js'

export interface CredentialLockProps {
  /**
   * Tag key that opts an instance in: only instances carrying it with {@link lockTagValue} are locked.
   * @default 'credential-lock'
   */
  readonly lockTagKey?: string
  /**
   * Tag value that opts an instance in (compared exactly).
   * @default 'enabled'
   */
  readonly lockTagValue?: string
  /**
   * How often every lock is recomputed from scratch, which also corrects anything a lost event left wrong.
   * A whole number of minutes, between 5 minutes and 24 hours.
   * @default Duration.hours(1)
   */
  readonly resyncPeriod?: Duration
  /**
   * How long the credentials of a stopped, terminated or moved instance stay refused everywhere. Instance
   * credentials stay valid for hours after the instance stops, so this should cover their lifetime.
   * A whole number of hours, between 1 and 48.
   * @default Duration.hours(12)
   */
  readonly tombstoneRetention?: Duration
  /**
   * Decide and log every lock but write none: for a first look at what the controller would do.
   * @default false
   */
  readonly dryRun?: boolean
  /**
   * Which roles the controller and the uninstaller may write their policy on. `all`: any role of the account
   * (the functions only ever write credential-lock-<region>, but IAM cannot hold them to that). `tagged`: IAM
   * itself allows their writes only on roles tagged {@link roleScopeTagKey}={@link roleScopeTagValue}; an
   * untagged role is logged as skipped. A production review should pick `tagged`.
   * @default 'all'
   */
  readonly roleScope?: RoleScopeKind
  /**
   * With roleScope `tagged`: the tag key a role must carry to be locked.
   * @default 'credential-lock-managed'
   */
  readonly roleScopeTagKey?: string
  /**
   * With roleScope `tagged`: the value of {@link roleScopeTagKey} (compared exactly).
   * @default 'true'
   */
  readonly roleScopeTagValue?: string
  /**
   * Address subscribed by email to the alarm topic. The topic exists either way (stack output
   * `AlarmTopicArn`): subscribe chat or paging to it instead, or as well.
   * @default - no subscription
   */
  readonly alarmEmail?: string
  /**
   * How long the controller's decisions (its audit log) are kept in CloudWatch Logs.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays
  /**
   * Create a single-region CloudTrail trail for write management events, in its own encrypted bucket, for
   * accounts that have no trail. Without any trail the Elastic IP and instance-profile events never reach
   * EventBridge; the periodic resync still corrects the locks, only later.
   * @default false
   */
  readonly createTrail?: boolean
  /**
   * Name of the event bus the controller publishes its lock decisions to.
   * @default 'default' - the account's default event bus
   */
  readonly auditEventBusName?: string
  /**
   * Refuse instance credentials that IMDSv1 delivered (`ec2:RoleDelivery` below 2.0), the usual SSRF path.
   * Instances that still use IMDSv1 lose their AWS access: require IMDSv2 on them first.
   * @default false
   */
  readonly refuseImdsV1?: boolean
  /**
   * Per role name, actions the lock does not refuse by address, for workloads that hand presigned URLs to
   * browsers (the URL is used from the browser's address). Tombstones still refuse them.
   * @default - none: every action is locked
   */
  readonly exemptActions?: Readonly<Record<string, readonly string[]>>
  /**
   * Managed policies a role may carry in all (IAM's quota per role, 10 unless the account raised it). A fleet too
   * large for the inline policy spills into managed policies the controller owns, within what the role leaves.
   * @default 10
   */
  readonly managedPolicyQuota?: number
  /**
   * Company networks: the public CIDRs traffic leaves by, per route target the controller cannot see through
   * (transit gateway `tgw-…`, peering `pcx-…`, firewall endpoint `vpce-…`, VPN `vgw-…`, private NAT `nat-…`,
   * appliance `eni-…`, local gateway `lgw-…`) or `*` for any of them. An instance whose routes lead there is
   * locked to those CIDRs instead of skipped. Public CIDRs only; never 0.0.0.0/0 or ::/0.
   * @default - none: such instances are skipped, and their decision line names the target to add
   */
  readonly knownEgress?: Readonly<Record<string, readonly string[]>>
  /**
   * Interface endpoints in another VPC (a shared-services VPC reached over a transit gateway) that opted-in
   * instances may call AWS through, from their own private addresses only.
   * @default - none: only endpoints in the instance's own VPCs are allowed
   */
  readonly trustedVpcEndpoints?: readonly string[]
}

/** The one message group of the FIFO queue: every event is processed in order, one batch at a time. */
export const MESSAGE_GROUP_ID = 'credential-lock'
/** The SQS FIFO maximum; events that arrive together are coalesced into one reconcile. */
const BATCH_SIZE = 10
const CONTROLLER_TIMEOUT = Duration.seconds(90)
/**
 * A failed record comes back only when its visibility timeout ends, and with one FIFO group it holds up every
 * later event until then: three times the function timeout (Lambda needs at least one), three receives, so a
 * record that keeps failing reaches the dead-letter queue within about 15 minutes. Failures no retry can cure
 * are moved there at once by the controller itself.
 */
const VISIBILITY_TIMEOUT = Duration.seconds(CONTROLLER_TIMEOUT.toSeconds() * 3)
const MAX_RECEIVES = 3
const QUEUE_AGE_ALARM = Duration.minutes(15)
const METRICS_NAMESPACE = 'CredentialLock'
const SERVICE_NAME = 'credential-lock'

// AWS tag rules: letters, digits, spaces and _ . : / = + - @ (keys up to 128 characters, values up to 256).
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const EVENT_BUS_NAME = /^[A-Za-z0-9._\-/]{1,256}$/

/** The API calls that move an Elastic IP or change which role an instance's credentials carry. */
const ADDRESS_AND_PROFILE_CALLS = [
  'AssociateAddress',
  'DisassociateAddress',
  'AssociateIamInstanceProfile',
  'ReplaceIamInstanceProfileAssociation',
  'DisassociateIamInstanceProfile',
]

/**
 * The Lambda calls that create a function, move it to another role or VPC, change its tags or delete it, as
 * CloudTrail names them (with their API version).
 */
const FUNCTION_CALLS = [
  'CreateFunction20150331',
  'UpdateFunctionConfiguration20150331v2',
  'TagResource20170331v2',
  'UntagResource20170331v2',
  'DeleteFunction20150331',
]

/** Every setting, defaults applied and checked. */
interface LockSettings {
  readonly lockTagKey: string
  readonly lockTagValue: string
  readonly resyncPeriod: Duration
  readonly tombstoneRetention: Duration
  readonly dryRun: boolean
  readonly alarmEmail: string | undefined
  readonly logRetention: RetentionDays
  readonly createTrail: boolean
  readonly auditEventBusName: string
  readonly refuseImdsV1: boolean
  readonly exemptActions: ReadonlyMap<string, readonly string[]>
  readonly managedPolicyQuota: number
  readonly knownEgress: KnownEgress
  readonly trustedVpcEndpoints: readonly string[]
  readonly roleScope: RoleScope
}

/**
 * Keeps stolen EC2 instance-role credentials useless outside where the instance is: EC2, CloudTrail and tag
 * events (and a periodic resync) reach a controller that writes one deny policy per opted-in role.
 */
export class CredentialLock extends Construct {
  /** The FIFO queue every event goes through. */
  readonly queue: Queue
  /** The controller that writes the locks. */
  readonly controller: NodejsFunction
  /** The controller's log: its decisions are the audit trail of every lock. */
  readonly logGroup: LogGroup
  /** Every alarm; each notifies {@link alarmTopic} when it fires and when it clears. */
  readonly alarms: readonly Alarm[]
  /** The KMS-encrypted topic every alarm notifies; exported and named in the stack outputs. */
  readonly alarmTopic: Topic
  /** The opt-in tag, defaults applied. */
  readonly lockTag: { readonly key: string; readonly value: string }
  /** The roles the controller and the uninstaller may write on. */
  readonly roleScope: RoleScope

  constructor(scope: Construct, id: string, props: CredentialLockProps = {}) {
    super(scope, id)
    const settings = validatedSettings(props)
    this.lockTag = { key: settings.lockTagKey, value: settings.lockTagValue }
    this.roleScope = settings.roleScope

    const uninstall = new LockUninstall(this, 'Uninstall', {
      logRetention: settings.logRetention,
      roleScope: settings.roleScope,
    })

    const deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    })
    this.queue = new Queue(this, 'EventQueue', {
      fifo: true,
      contentBasedDeduplication: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: VISIBILITY_TIMEOUT,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVES },
    })
    // EventBridge accepts only a standard queue as a target dead-letter queue.
    const undeliveredEvents = new Queue(this, 'UndeliveredEventQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    })
    Validations.of(undeliveredEvents).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge rule targets.',
    })

    const rules = this.addRules(settings, undeliveredEvents)

    this.logGroup = new LogGroup(this, 'LogGroup', { retention: settings.logRetention })
    const controllerRole = this.addControllerRole(settings)
    this.controller = this.addController(settings, controllerRole, deadLetterQueue)
    this.addAuditQueries()

    // Deleted before the uninstall runs, so nothing can write a lock after it removed them all.
    for (const piece of [...rules, controllerRole, this.controller]) piece.node.addDependency(uninstall)

    this.alarmTopic = this.addAlarmTopic(settings.alarmEmail)
    this.alarms = this.addAlarms(deadLetterQueue, undeliveredEvents)

    if (settings.createTrail) this.addTrail()
  }

  private addRules(settings: LockSettings, undeliveredEvents: Queue): Rule[] {
    const target = new SqsQueue(this.queue, {
      messageGroupId: MESSAGE_GROUP_ID,
      deadLetterQueue: undeliveredEvents,
      // EventBridge's maximum: a queue that is briefly unavailable loses nothing.
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    })
    const rule = (id: string, description: string, props: Partial<ConstructorParameters<typeof Rule>[2]>) =>
      new Rule(this, id, { description: `credential-lock: ${description}`, targets: [target], ...props })

    return [
      rule('InstanceStateRule', 'an instance started, stopped or terminated', {
        eventPattern: { source: ['aws.ec2'], detailType: ['EC2 Instance State-change Notification'] },
      }),
      rule('AddressAndProfileRule', 'an Elastic IP or instance profile moved', {
        eventPattern: {
          source: ['aws.ec2'],
          detailType: ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['ec2.amazonaws.com'],
            eventName: ADDRESS_AND_PROFILE_CALLS,
            // A failed call changed nothing.
            errorCode: Match.doesNotExist(),
          },
        },
      }),
      rule('LockTagRule', 'the lock tag of an instance changed', {
        eventPattern: {
          source: ['aws.tag'],
          detailType: ['Tag Change on Resource'],
          detail: {
            service: ['ec2'],
            'resource-type': ['instance'],
            'changed-tag-keys': [settings.lockTagKey],
          },
        },
      }),
      // Tag changes on functions come as API calls: the controller ignores those of other keys at no AWS cost.
      rule('FunctionRule', 'a Lambda function was created, reconfigured, tagged, untagged or deleted', {
        eventPattern: {
          source: ['aws.lambda'],
          detailType: ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['lambda.amazonaws.com'],
            eventName: FUNCTION_CALLS,
            errorCode: Match.doesNotExist(),
          },
        },
      }),
      rule('ResyncSchedule', 'periodic resync of every lock', {
        schedule: Schedule.rate(settings.resyncPeriod),
      }),
    ]
  }

  private addControllerRole(settings: LockSettings): Role {
    const stack = Stack.of(this)
    const auditBus = EventBus.fromEventBusName(this, 'AuditBus', settings.auditEventBusName)
    const role = new Role(this, 'ControllerRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'credential-lock controller: writes its own deny policy on instance-profile roles',
    })
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadInstancesAndTheirNetwork',
        actions: [
          'ec2:DescribeInstances',
          'ec2:DescribeRouteTables',
          'ec2:DescribeNatGateways',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
        ],
        resources: ['*'],
      }),
    )
    role.addToPolicy(
      new PolicyStatement({ sid: 'ListFunctions', actions: ['lambda:ListFunctions'], resources: ['*'] }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadFunctionTags',
        actions: ['lambda:ListTags'],
        resources: [
          stack.formatArn({
            service: 'lambda',
            resource: 'function',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'FindInstanceProfileRoles',
        actions: ['iam:ListInstanceProfiles'],
        resources: [
          stack.formatArn({ service: 'iam', region: '', resource: 'instance-profile', resourceName: '*' }),
        ],
      }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadRolePolicies',
        // The other inline and attached policies are only counted against the budget, never changed.
        actions: ['iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
        resources: [stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' })],
      }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadAccountIamInBulk',
        // Read-only, and supports no resource-level permissions: one read per resync instead of one per role.
        actions: ['iam:GetAccountAuthorizationDetails'],
        resources: ['*'],
      }),
    )
    role.addToPolicy(
      settings.roleScope.allowOnRoles(this, 'WriteOwnLockPolicy', [
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
      ]),
    )
    for (const statement of ownManagedPolicyGrants(this, settings.roleScope)) role.addToPolicy(statement)
    role.addToPolicy(
      new PolicyStatement({
        sid: 'NeverChangeOwnRole',
        effect: Effect.DENY,
        actions: ['iam:Put*', 'iam:Delete*', 'iam:Attach*', 'iam:Detach*', 'iam:Update*'],
        resources: [role.roleArn],
      }),
    )
    auditBus.grantPutEventsTo(role)
    this.logGroup.grantWrite(role)
    Validations.of(role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ec2:DescribeInstances, DescribeRouteTables, DescribeNatGateways, DescribeNetworkInterfaces, ' +
          'DescribeSubnets, lambda:ListFunctions, iam:ListPolicies and iam:GetAccountAuthorizationDetails support ' +
          'no resource-level permissions. GetAccountAuthorizationDetails only reads: the controller already reads ' +
          "any role's policies (GetRolePolicy on role/*), and it cannot change any of them through this grant.",
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:*]',
        reason:
          'The controller reads the tags (only lambda:ListTags) of any function, to know which ones are opted in.',
      },
      OWN_MANAGED_POLICIES_ACKNOWLEDGEMENT,
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:instance-profile/*]',
        reason: 'The controller must list every instance profile to know which roles instances use.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]',
        reason:
          'The controller reads its own policy on any instance-profile role. Writes: ' +
          `${settings.roleScope.reviewReason} An explicit Deny stops it from changing its own role.`,
      },
    )
    return role
  }

  private addController(settings: LockSettings, role: Role, deadLetterQueue: Queue): NodejsFunction {
    const controller = handlerFunction(this, 'Controller', {
      entry: 'handlers/controller/reconcile.ts',
      description: 'credential-lock controller: reconciles the deny policy of every opted-in instance role',
      role,
      logGroup: this.logGroup,
      timeout: CONTROLLER_TIMEOUT,
      environment: {
        LOCK_TAG_KEY: settings.lockTagKey,
        LOCK_TAG_VALUE: settings.lockTagValue,
        DRY_RUN: String(settings.dryRun),
        TOMBSTONE_RETENTION_HOURS: String(settings.tombstoneRetention.toHours()),
        AUDIT_EVENT_BUS: settings.auditEventBusName,
        REFUSE_IMDSV1: String(settings.refuseImdsV1),
        EXEMPT_ACTIONS: JSON.stringify(Object.fromEntries(settings.exemptActions)),
        MANAGED_POLICY_QUOTA: String(settings.managedPolicyQuota),
        ...settings.roleScope.environment,
        DEAD_LETTER_QUEUE_URL: deadLetterQueue.queueUrl,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...networkEnvironment(settings),
      },
    })
    deadLetterQueue.grantSendMessages(controller)
    // No batching window: SQS FIFO event sources do not support one; the batch of 10 coalesces instead.
    controller.addEventSource(
      new SqsEventSource(this.queue, { batchSize: BATCH_SIZE, reportBatchItemFailures: true }),
    )
    return controller
  }

  private addAuditQueries(): void {
    const queries: Record<string, { name: string; query: QueryString }> = {
      RoleQuery: {
        name: 'credential-lock/what did the controller do to a role (edit ROLE_NAME)',
        query: new QueryString({
          fields: ['@timestamp', 'action', 'form', 'policyChars', 'dryRun', 'reason', '@message'],
          filterStatements: ["message = 'lock decision'", "roleName = 'ROLE_NAME'"],
          sort: '@timestamp desc',
          limit: 100,
        }),
      },
      InstanceQuery: {
        name: 'credential-lock/why is an instance locked (edit INSTANCE_ID)',
        query: new QueryString({
          fields: ['@timestamp', 'roleName', 'action', 'form', 'dryRun', 'reason', '@message'],
          filterStatements: ["message = 'lock decision'", '@message like /"instanceId":"INSTANCE_ID"/'],
          sort: '@timestamp desc',
          limit: 100,
        }),
      },
      FailureQuery: {
        name: 'credential-lock/what failed',
        query: new QueryString({
          fields: ['@timestamp', 'level', 'message', 'roleName', 'error.name', 'error.message'],
          filterStatements: ["level in ['ERROR', 'WARN']"],
          sort: '@timestamp desc',
          limit: 100,
        }),
      },
      SkippedEventQuery: {
        name: 'credential-lock/skipped events by reason',
        query: new QueryString({
          filterStatements: ["message = 'event skipped'"],
          statsStatements: ['count(*) as events, latest(eventId) as lastEventId by reason, detailType'],
        }),
      },
    }
    for (const [id, { name, query }] of Object.entries(queries)) {
      new QueryDefinition(this, id, {
        queryDefinitionName: name,
        queryString: query,
        logGroups: [this.logGroup],
      })
    }
  }

  private addAlarmTopic(email: string | undefined): Topic {
    // CloudWatch alarms can publish only to a topic whose key lets CloudWatch use it: the AWS managed key cannot.
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'credential-lock: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    })
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*')
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: 'credential-lock alarms',
      masterKey: key,
      enforceSSL: true,
    })
    if (email !== undefined) topic.addSubscription(new EmailSubscription(email))
    const stack = Stack.of(this)
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'credential-lock: subscribe email, chat or paging to this topic to hear every alarm',
      value: topic.topicArn,
      exportName: `${stack.stackName}-AlarmTopicArn`,
    })
    return topic
  }

  private addAlarms(deadLetterQueue: Queue, undeliveredEvents: Queue): Alarm[] {
    const aboveZero = (id: string, description: string, metric: IMetric) =>
      this.alarm(id, description, metric, 0, TreatMissingData.NOT_BREACHING)
    const alarms = [
      aboveZero(
        'DeadLetterAlarm',
        `Events the controller failed ${MAX_RECEIVES} times are in the dead-letter queue: read "what failed", then redrive.`,
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      ),
      aboveZero(
        'UndeliveredEventAlarm',
        'EventBridge could not deliver events to the queue for 24 hours: they wait in the undelivered queue.',
        undeliveredEvents.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      ),
      aboveZero(
        'ControllerErrorAlarm',
        'The controller failed a whole invocation (crash or timeout): read "what failed".',
        this.controller.metricErrors({ period: Duration.minutes(5) }),
      ),
      aboveZero(
        'LockFailureAlarm',
        'The controller could not reconcile a role or record (metric Failures): read "what failed".',
        controllerMetric('Failures'),
      ),
      aboveZero(
        'UnprotectedInstanceAlarm',
        'An opted-in instance or function could not be locked (metrics InstancesUnprotected, FunctionsUnprotected): ' +
          'read its decision line.',
        new MathExpression({
          expression: 'FILL(instances, 0) + FILL(functions, 0)',
          usingMetrics: {
            instances: controllerMetric('InstancesUnprotected'),
            functions: controllerMetric('FunctionsUnprotected'),
          },
          label: 'opted-in workloads left unprotected',
          period: Duration.minutes(5),
        }),
      ),
      this.alarm(
        'QueueAgeAlarm',
        'Events have waited more than 15 minutes: the controller is stuck or failing, so locks are stale.',
        this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
        QUEUE_AGE_ALARM.toSeconds(),
        TreatMissingData.NOT_BREACHING,
      ),
    ]
    const action = new SnsAction(this.alarmTopic)
    for (const alarm of alarms) {
      alarm.addAlarmAction(action)
      alarm.addOkAction(action)
    }
    return alarms
  }

  private alarm(
    id: string,
    description: string,
    metric: IMetric,
    threshold: number,
    treatMissingData: TreatMissingData,
  ): Alarm {
    return new Alarm(this, id, {
      alarmDescription: `credential-lock: ${description}`,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData,
    })
  }

  private addTrail(): void {
    const bucket = new Bucket(this, 'TrailBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    })
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The trail bucket is written only by CloudTrail; an access-log bucket would double the footprint.',
    })
    new Trail(this, 'Trail', {
      bucket,
      isMultiRegionTrail: false,
      includeGlobalServiceEvents: false,
      // The calls the rules listen to are all writes.
      managementEvents: ReadWriteType.WRITE_ONLY,
      enableFileValidation: true,
    })
  }
}

function validatedSettings(props: CredentialLockProps): LockSettings {
  const settings: Omit<LockSettings, 'roleScope'> = {
    lockTagKey: props.lockTagKey ?? 'credential-lock',
    lockTagValue: props.lockTagValue ?? 'enabled',
    resyncPeriod: props.resyncPeriod ?? Duration.hours(1),
    tombstoneRetention: props.tombstoneRetention ?? Duration.hours(12),
    dryRun: props.dryRun ?? false,
    alarmEmail: props.alarmEmail,
    logRetention: props.logRetention ?? RetentionDays.ONE_YEAR,
    createTrail: props.createTrail ?? false,
    auditEventBusName: props.auditEventBusName ?? 'default',
    refuseImdsV1: props.refuseImdsV1 ?? false,
    exemptActions: exemptActionsFrom(props.exemptActions ?? {}, 'exemptActions'),
    managedPolicyQuota: managedPolicyQuotaFrom(props.managedPolicyQuota ?? 10, 'managedPolicyQuota'),
    knownEgress: parseKnownEgress('knownEgress', props.knownEgress),
    trustedVpcEndpoints: parseTrustedVpcEndpoints('trustedVpcEndpoints', props.trustedVpcEndpoints),
  }
  checkTagKey('lockTagKey', settings.lockTagKey)
  checkTagValue('lockTagValue', settings.lockTagValue)
  const resyncMs = settings.resyncPeriod.toMilliseconds()
  if (resyncMs % 60_000 !== 0 || resyncMs < 5 * 60_000 || resyncMs > 24 * 3_600_000) {
    throw new InvalidSettingError(
      `resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not ${settings.resyncPeriod.toHumanString()}.`,
    )
  }
  const retentionMs = settings.tombstoneRetention.toMilliseconds()
  if (retentionMs % 3_600_000 !== 0 || retentionMs < 3_600_000 || retentionMs > 48 * 3_600_000) {
    throw new InvalidSettingError(
      `tombstoneRetention must be a whole number of hours between 1 and 48, not ${settings.tombstoneRetention.toHumanString()}.`,
    )
  }
  if (settings.alarmEmail !== undefined && !EMAIL.test(settings.alarmEmail)) {
    throw new InvalidSettingError(`alarmEmail "${settings.alarmEmail}" is not an email address.`)
  }
  if (!Object.values(RetentionDays).includes(settings.logRetention)) {
    throw new InvalidSettingError(
      `logRetention ${settings.logRetention} is not a number of days CloudWatch Logs accepts.`,
    )
  }
  if (!EVENT_BUS_NAME.test(settings.auditEventBusName)) {
    throw new InvalidSettingError(
      `auditEventBusName "${settings.auditEventBusName}" is not a valid event bus name.`,
    )
  }
  return { ...settings, roleScope: validatedRoleScope(props) }
}

function validatedRoleScope(props: CredentialLockProps): RoleScope {
  const kind = props.roleScope ?? 'all'
  if (!ROLE_SCOPE_KINDS.includes(kind)) {
    throw new InvalidSettingError(`roleScope "${kind}" must be ${ROLE_SCOPE_KINDS.join(' or ')}.`)
  }
  const tag = {
    key: props.roleScopeTagKey ?? 'credential-lock-managed',
    value: props.roleScopeTagValue ?? 'true',
  }
  if (kind === 'all') {
    if (props.roleScopeTagKey !== undefined || props.roleScopeTagValue !== undefined) {
      throw new InvalidSettingError(
        'roleScopeTagKey and roleScopeTagValue apply only with roleScope tagged: set roleScope to tagged or remove them.',
      )
    }
    return RoleScope.all()
  }
  checkTagKey('roleScopeTagKey', tag.key)
  checkTagValue('roleScopeTagValue', tag.value)
  return RoleScope.tagged(tag)
}

/** The company-network settings in the form the controller reads them at cold start; absent when unset. */
function networkEnvironment(settings: LockSettings): Record<string, string> {
  const environment: Record<string, string> = {}
  if (settings.knownEgress.size > 0) {
    environment.KNOWN_EGRESS = JSON.stringify(Object.fromEntries(settings.knownEgress))
  }
  if (settings.trustedVpcEndpoints.length > 0) {
    environment.TRUSTED_VPC_ENDPOINTS = settings.trustedVpcEndpoints.join(',')
  }
  return environment
}

/** A count the controller publishes (Powertools EMF), summed over five minutes. */
export function controllerMetric(metricName: string): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic: 'Sum',
    period: Duration.minutes(5),
  })
}
