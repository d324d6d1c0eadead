import { spawnSync } from 'node:child_process'
import { App, Duration, Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import type { RetentionDays } from 'aws-cdk-lib/aws-logs'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildApp, type CredentialLockApp } from '../infra/cdk-app.js'
import { CredentialLock, type CredentialLockProps } from '../infra/credential-lock.js'
import { sshCidrFromContext } from '../infra/demo-stack.js'
import { type RolePolicy, type SimulatedRequest, verdicts } from './support/simulate.js'

/** The ARN pattern of the managed policies the controller owns, as the template writes it. */
const OWN_POLICIES = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':iam::',
      { Ref: 'AWS::AccountId' },
      ':policy/credential-lock/',
      { Ref: 'AWS::Region' },
      '/*',
    ],
  ],
}

const SSH_CIDR = '203.0.113.10/32'
// Stacks whose functions are not bundled: their templates are the same but for the asset hash.
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] }

interface PolicyStatementJson {
  readonly Effect: 'Allow' | 'Deny'
  readonly Action: string | string[]
  readonly Resource: unknown
  readonly Sid?: string
}

function statementsOf(template: Template): PolicyStatementJson[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[],
  )
}

function logicalIdOf(template: Template, type: string, idPrefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(idPrefix))
  expect(ids).toHaveLength(1)
  return ids[0] as string
}

const ACCOUNT = '123456789012'
/** IAM actions that change a role's permissions. */
const WRITE_ON_ROLE = /^iam:(Put|Delete|Attach|Detach)Role/

/** A template value with its intrinsics replaced as CloudFormation would in account {@link ACCOUNT}. */
function deployed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deployed)
  if (typeof value !== 'object' || value === null) return value
  const object = value as Record<string, unknown>
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': 'us-east-1',
  }
  if (typeof object.Ref === 'string') return pseudo[object.Ref] ?? object.Ref
  if (Array.isArray(object['Fn::GetAtt'])) return `arn:aws:iam::${ACCOUNT}:role/${object['Fn::GetAtt'][0]}`
  const join = object['Fn::Join'] as [string, unknown[]] | undefined
  if (join) return (deployed(join[1]) as string[]).join(join[0])
  return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, deployed(inner)]))
}

/** The deployed identity policies of the controller's and the uninstall handler's roles. */
function rolePoliciesOf(template: Template): { controller: RolePolicy[]; uninstall: RolePolicy[] } {
  const policiesOf = (roleIdPrefix: string) => {
    const role = logicalIdOf(template, 'AWS::IAM::Role', roleIdPrefix)
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })
    return Object.entries(policies).map(([name, policy]) => ({
      name,
      document: deployed(policy.Properties.PolicyDocument) as object,
    }))
  }
  return {
    controller: policiesOf('CredentialLockControllerRole'),
    uninstall: policiesOf('CredentialLockUninstallHandlerRole'),
  }
}

function appWith(context: Record<string, unknown>) {
  return buildApp(new App({ context }))
}

describe('CredentialLock stack with default settings (bundled once)', () => {
  let built: CredentialLockApp
  let template: Template

  beforeAll(async () => {
    built = await appWith({ demo: 'true', sshCidr: SSH_CIDR })
    template = Template.fromStack(built.lock)
  })

  it('queues every event in one encrypted FIFO queue that redrives to a FIFO dead-letter queue after 3 receives', () => {
    // Prepare
    const deadLetterQueue = logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockDeadLetterQueue')

    // Act / Assess
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: true,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 270,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] }, maxReceiveCount: 3 },
    })
    template.hasResource('AWS::SQS::Queue', {
      Properties: { FifoQueue: true, SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 },
    })
  })

  it('keeps undeliverable events in a standard, encrypted queue (EventBridge takes no FIFO dead-letter queue)', () => {
    // Prepare / Act
    const undelivered = template.findResources('AWS::SQS::Queue', {
      Properties: {
        FifoQueue: Match.absent(),
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 1_209_600,
      },
    })

    // Assess
    expect(Object.keys(undelivered)).toHaveLength(1)
  })

  it('refuses every SQS call without TLS on all three queues', () => {
    // Prepare / Act
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'))

    // Assess
    expect(policies).toHaveLength(3)
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      )
    }
  })

  it.each([
    ['InstanceStateRule', { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] }],
    [
      'AddressAndProfileRule',
      {
        source: ['aws.ec2'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['ec2.amazonaws.com'],
          eventName: [
            'AssociateAddress',
            'DisassociateAddress',
            'AssociateIamInstanceProfile',
            'ReplaceIamInstanceProfileAssociation',
            'DisassociateIamInstanceProfile',
          ],
          errorCode: [{ exists: false }],
        },
      },
    ],
    [
      'LockTagRule',
      {
        source: ['aws.tag'],
        'detail-type': ['Tag Change on Resource'],
        detail: { service: ['ec2'], 'resource-type': ['instance'], 'changed-tag-keys': ['credential-lock'] },
      },
    ],
    [
      'FunctionRule',
      {
        source: ['aws.lambda'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['lambda.amazonaws.com'],
          eventName: [
            'CreateFunction20150331',
            'UpdateFunctionConfiguration20150331v2',
            'TagResource20170331v2',
            'UntagResource20170331v2',
            'DeleteFunction20150331',
          ],
          errorCode: [{ exists: false }],
        },
      },
    ],
  ])('%s has exactly the deployed pattern', (rule, pattern) => {
    // Prepare
    const ruleId = logicalIdOf(template, 'AWS::Events::Rule', `CredentialLock${rule}`)

    // Act
    const deployed = template.toJSON().Resources[ruleId].Properties.EventPattern

    // Assess
    expect(deployed).toEqual(pattern)
  })

  it('resyncs every hour by default', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)' })
  })

  it('sends every rule to the FIFO queue in one message group, with retries and a dead-letter queue', () => {
    // Prepare
    const queue = logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockEventQueue')
    const undelivered = logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockUndeliveredEventQueue')

    // Act
    const rules = Object.values(template.findResources('AWS::Events::Rule'))

    // Assess
    expect(rules).toHaveLength(5)
    for (const rule of rules) {
      expect(rule.Properties.Targets).toEqual([
        {
          Id: 'Target0',
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
          SqsParameters: { MessageGroupId: 'credential-lock' },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [undelivered, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        },
      ])
    }
  })

  it('lets only the rules send to the queues, and only through their own ARN', () => {
    // Prepare / Act
    const sends = Object.values(template.findResources('AWS::SQS::QueuePolicy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as Record<string, unknown>[]).filter(
        (statement) => statement.Effect === 'Allow',
      ),
    )

    // Assess: 5 rules on the FIFO queue, 5 on the undelivered-event queue
    expect(sends).toHaveLength(10)
    for (const statement of sends) {
      expect([statement.Action].flat()).toContain('sqs:SendMessage')
      expect(statement).toMatchObject({
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [expect.any(String), 'Arn'] } } },
      })
    }
  })

  it('runs the controller on the latest Node runtime, arm64, with its settings and its own log group', () => {
    // Prepare
    const logGroup = logicalIdOf(template, 'AWS::Logs::LogGroup', 'CredentialLockLogGroup')
    const deadLetterQueue = logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockDeadLetterQueue')

    // Act / Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 90,
      MemorySize: 256,
      LoggingConfig: { LogGroup: { Ref: logGroup } },
      Environment: {
        Variables: {
          LOCK_TAG_KEY: 'credential-lock',
          LOCK_TAG_VALUE: 'enabled',
          DRY_RUN: 'false',
          TOMBSTONE_RETENTION_HOURS: '12',
          AUDIT_EVENT_BUS: 'default',
          DEAD_LETTER_QUEUE_URL: { Ref: deadLetterQueue },
          POWERTOOLS_SERVICE_NAME: 'credential-lock',
          POWERTOOLS_METRICS_NAMESPACE: 'CredentialLock',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    })
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 })
  })

  it('runs every function of the stack on nodejs24.x arm64 or the provider framework runtime', () => {
    // Prepare / Act
    const functions = Object.values(template.findResources('AWS::Lambda::Function'))

    // Assess
    expect(functions.map((fn) => fn.Properties.Runtime)).toEqual(['nodejs24.x', 'nodejs24.x', 'nodejs24.x'])
  })

  it('feeds the controller batches of 10 with partial batch failures and no batching window', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
      EventSourceArn: {
        'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockEventQueue'), 'Arn'],
      },
    })
  })

  it('saves a Logs Insights query for each audit question, on the controller log group', () => {
    // Prepare
    const logGroup = logicalIdOf(template, 'AWS::Logs::LogGroup', 'CredentialLockLogGroup')

    // Act
    const queries = Object.values(template.findResources('AWS::Logs::QueryDefinition')).map(
      (query) => query.Properties,
    )

    // Assess
    expect(queries.map((query) => query.Name)).toEqual([
      'credential-lock/what did the controller do to a role (edit ROLE_NAME)',
      'credential-lock/why is an instance locked (edit INSTANCE_ID)',
      'credential-lock/what failed',
      'credential-lock/skipped events by reason',
    ])
    for (const query of queries) expect(query.LogGroupNames).toEqual([{ Ref: logGroup }])
    expect(queries[0]?.QueryString).toContain("filter roleName = 'ROLE_NAME'")
    expect(queries[1]?.QueryString).toContain('filter @message like /"instanceId":"INSTANCE_ID"/')
    expect(queries[2]?.QueryString).toContain("filter level in ['ERROR', 'WARN']")
    expect(queries[3]?.QueryString).toContain("filter message = 'event skipped'")
  })

  it('alarms on dead letters, controller errors, Failures and queue age, to a topic that exists by default', () => {
    // Prepare
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', 'CredentialLockAlarmTopic')

    // Act
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties,
    )

    // Assess
    expect(alarms.map((alarm) => [alarm.Namespace, alarm.MetricName, alarm.Threshold])).toEqual([
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 0],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 0],
      ['AWS/Lambda', 'Errors', 0],
      ['CredentialLock', 'Failures', 0],
      [undefined, undefined, 0],
      ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 900],
    ])
    expect(alarms[3]?.Dimensions).toEqual([{ Name: 'service', Value: 'credential-lock' }])
    const unprotected = alarms[4]?.Metrics as {
      Expression?: string
      MetricStat?: { Metric: { MetricName: string } }
    }[]
    expect(unprotected.find((metric) => metric.Expression)?.Expression).toBe(
      'FILL(instances, 0) + FILL(functions, 0)',
    )
    expect(unprotected.flatMap((metric) => metric.MetricStat?.Metric.MetricName ?? []).sort()).toEqual([
      'FunctionsUnprotected',
      'InstancesUnprotected',
    ])
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topic }])
      expect(alarm.OKActions).toEqual([{ Ref: topic }])
    }
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() })
    template.resourceCountIs('AWS::SNS::Subscription', 0)
    template.resourceCountIs('AWS::CloudTrail::Trail', 0)
  })

  it('names the alarm topic in the stack outputs and exports it, so email or chat can subscribe', () => {
    // Prepare
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', 'CredentialLockAlarmTopic')

    // Act
    const outputs = Object.values(template.findOutputs('*'))

    // Assess
    expect(outputs).toContainEqual(
      expect.objectContaining({
        Value: { Ref: topic },
        Export: { Name: 'CredentialLock-AlarmTopicArn' },
      }),
    )
  })

  it('grants no Allow with a wildcard action, and no iam:* anywhere', () => {
    // Prepare / Act
    const allowed = statementsOf(template)
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement) => [statement.Action].flat())

    // Assess
    expect(allowed.filter((action) => action.includes('*'))).toEqual([])
    expect(statementsOf(template).flatMap((statement) => [statement.Action].flat())).not.toContain('iam:*')
  })

  it('gives the controller exactly its read, write and publish permissions', () => {
    // Prepare
    const role = logicalIdOf(template, 'AWS::IAM::Role', 'CredentialLockControllerRole')
    const accountArn = (resource: string) => ({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, `:${resource}`],
      ],
    })

    // Act
    const policy = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })

    // Assess
    const statements = Object.values(policy)[0]?.Properties.PolicyDocument.Statement
    expect(statements).toEqual([
      {
        Sid: 'ReadInstancesAndTheirNetwork',
        Effect: 'Allow',
        Action: [
          'ec2:DescribeInstances',
          'ec2:DescribeRouteTables',
          'ec2:DescribeNatGateways',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
        ],
        Resource: '*',
      },
      { Sid: 'ListFunctions', Effect: 'Allow', Action: 'lambda:ListFunctions', Resource: '*' },
      {
        Sid: 'ReadFunctionTags',
        Effect: 'Allow',
        Action: 'lambda:ListTags',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':lambda:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':function:*',
            ],
          ],
        },
      },
      {
        Sid: 'FindInstanceProfileRoles',
        Effect: 'Allow',
        Action: 'iam:ListInstanceProfiles',
        Resource: accountArn('instance-profile/*'),
      },
      {
        Sid: 'ReadRolePolicies',
        Effect: 'Allow',
        Action: ['iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
        Resource: accountArn('role/*'),
      },
      {
        Sid: 'ReadAccountIamInBulk',
        Effect: 'Allow',
        Action: 'iam:GetAccountAuthorizationDetails',
        Resource: '*',
      },
      {
        Sid: 'WriteOwnLockPolicy',
        Effect: 'Allow',
        Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
        Resource: accountArn('role/*'),
      },
      { Sid: 'FindOwnManagedPolicies', Effect: 'Allow', Action: 'iam:ListPolicies', Resource: '*' },
      {
        Sid: 'ManageOwnManagedPolicies',
        Effect: 'Allow',
        Action: [
          'iam:CreatePolicy',
          'iam:CreatePolicyVersion',
          'iam:GetPolicyVersion',
          'iam:ListPolicyVersions',
          'iam:DeletePolicyVersion',
          'iam:DeletePolicy',
        ],
        Resource: OWN_POLICIES,
      },
      {
        Sid: 'AttachOnlyOwnManagedPolicies',
        Effect: 'Allow',
        Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
        Resource: accountArn('role/*'),
        Condition: { ArnLike: { 'iam:PolicyARN': OWN_POLICIES } },
      },
      {
        Sid: 'NeverChangeOwnRole',
        Effect: 'Deny',
        Action: ['iam:Put*', 'iam:Delete*', 'iam:Attach*', 'iam:Detach*', 'iam:Update*'],
        Resource: { 'Fn::GetAtt': [role, 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':events:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':event-bus/default',
            ],
          ],
        },
      },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::Logs::LogGroup', 'CredentialLockLogGroup'), 'Arn'],
        },
      },
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockDeadLetterQueue'), 'Arn'],
        },
      },
      {
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueUrl',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
        ],
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockEventQueue'), 'Arn'],
        },
      },
    ])
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.absent(),
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
    })
  })

  it('lets the uninstall handler only list instance profiles and functions, delete role policies and its own managed ones', () => {
    // Prepare
    const role = logicalIdOf(template, 'AWS::IAM::Role', 'CredentialLockUninstallHandlerRole')

    // Act
    const policy = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })

    // Assess
    const actions = Object.values(policy)[0]?.Properties.PolicyDocument.Statement.map(
      (statement: PolicyStatementJson) => statement.Action,
    )
    expect(actions).toEqual([
      'iam:ListInstanceProfiles',
      'lambda:ListFunctions',
      'iam:DeleteRolePolicy',
      'iam:ListPolicies',
      ['iam:ListPolicyVersions', 'iam:DeletePolicyVersion', 'iam:DeletePolicy'],
      'iam:DetachRolePolicy',
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
    ])
  })

  it('deletes the controller, its role and its rules before the uninstall runs', () => {
    // Prepare
    const uninstall = logicalIdOf(template, 'Custom::CredentialLockUninstall', 'CredentialLockUninstall')
    const controllerPieces = [
      ...Object.keys(template.findResources('AWS::Events::Rule')),
      logicalIdOf(template, 'AWS::Lambda::EventSourceMapping', 'CredentialLockController'),
      logicalIdOf(template, 'AWS::Lambda::Function', 'CredentialLockController'),
      logicalIdOf(template, 'AWS::IAM::Role', 'CredentialLockControllerRole'),
      logicalIdOf(template, 'AWS::IAM::Policy', 'CredentialLockControllerRole'),
    ]

    // Act
    const resources = template.toJSON().Resources

    // Assess
    expect(controllerPieces).toHaveLength(9)
    for (const piece of controllerPieces) expect(resources[piece].DependsOn).toContain(uninstall)
    expect(resources[uninstall].DependsOn).toBeUndefined()
  })

  it('builds the demo stack only with demo=true', () => {
    // Prepare / Act
    const demo = built.demo ? Template.fromStack(built.demo) : undefined

    // Assess
    expect(demo).toBeDefined()
    demo?.resourceCountIs('AWS::EC2::NatGateway', 1)
    demo?.resourceCountIs('AWS::EC2::Subnet', 2)
    demo?.resourceCountIs('AWS::EC2::Instance', 2)
    demo?.resourceCountIs('AWS::IAM::InstanceProfile', 1)
    demo?.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: SSH_CIDR, FromPort: 22, ToPort: 22 })],
    })
    demo?.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [
        Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([':iam::aws:policy/AmazonEC2ReadOnlyAccess'])] }),
      ],
    })
    demo?.hasResourceProperties('AWS::EC2::Instance', {
      InstanceType: 't4g.nano',
      Tags: Match.arrayWith([
        { Key: 'credential-lock', Value: 'enabled' },
        { Key: 'Name', Value: 'credential-lock-demo-luke' },
      ]),
    })
    demo?.hasResourceProperties('AWS::EC2::Instance', {
      Tags: [{ Key: 'Name', Value: 'credential-lock-demo-matt' }],
    })
  })
})

describe('CredentialLock stack with every setting given', () => {
  let template: Template

  beforeAll(async () => {
    const built = await appWith({
      ...NO_BUNDLING,
      lockTagKey: 'team:lock',
      lockTagValue: 'on',
      resyncPeriod: '15m',
      tombstoneRetention: '24h',
      dryRun: 'true',
      alarmEmail: 'secops@example.com',
      logRetention: '90',
      createTrail: 'true',
      auditEventBusName: 'security-audit',
      knownEgress: '{"tgw-0123456789abcdef0": ["203.0.113.0/28"], "*": ["198.51.100.7"]}',
      trustedVpcEndpoints: 'vpce-0fedcba9876543210, vpce-0123456789abcdef0',
    })
    template = Template.fromStack(built.lock)
  })

  it('passes the settings to the controller, the tag rule and the schedule', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          LOCK_TAG_KEY: 'team:lock',
          LOCK_TAG_VALUE: 'on',
          DRY_RUN: 'true',
          TOMBSTONE_RETENTION_HOURS: '24',
          AUDIT_EVENT_BUS: 'security-audit',
          KNOWN_EGRESS: '{"tgw-0123456789abcdef0":["203.0.113.0/28"],"*":["198.51.100.7/32"]}',
          TRUSTED_VPC_ENDPOINTS: 'vpce-0123456789abcdef0,vpce-0fedcba9876543210',
        }),
      },
    })
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: Match.objectLike({ 'changed-tag-keys': ['team:lock'] }) }),
    })
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' })
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 })
  })

  it('publishes audit events only to the named bus', () => {
    const allowed = statementsOf(template).filter((statement) => statement.Action === 'events:PutEvents')
    expect(JSON.stringify(allowed.map((statement) => statement.Resource))).toContain(
      ':event-bus/security-audit',
    )
    expect(allowed).toHaveLength(1)
  })

  it('mails every alarm through a KMS-encrypted, TLS-only topic', () => {
    // Prepare
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', 'CredentialLockAlarmTopic')

    // Act
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))

    // Assess
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() })
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'secops@example.com',
    })
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    })
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      },
    })
    expect(alarms).toHaveLength(6)
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }])
  })

  it('creates a single-region, write-management-events trail in an encrypted, private, TLS-only bucket', () => {
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: false,
      IncludeGlobalServiceEvents: false,
      EnableLogFileValidation: true,
      EventSelectors: [{ ReadWriteType: 'WriteOnly', IncludeManagementEvents: true }],
    })
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    })
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    })
  })
})

describe('CredentialLock stack with roleScope tagged', () => {
  const SCOPE_TAG = { key: 'security/credential-lock', value: 'managed' }
  let built: CredentialLockApp
  let template: Template

  beforeAll(async () => {
    built = await appWith({
      ...NO_BUNDLING,
      roleScope: 'tagged',
      roleScopeTagKey: SCOPE_TAG.key,
      roleScopeTagValue: SCOPE_TAG.value,
      demo: 'true',
      sshCidr: SSH_CIDR,
    })
    template = Template.fromStack(built.lock)
  })

  it('lets IAM allow every role write of the controller and the uninstaller only on roles with the tag', () => {
    // Prepare
    const writes = statementsOf(template).filter(
      (statement) =>
        statement.Effect === 'Allow' &&
        [statement.Action].flat().some((action) => WRITE_ON_ROLE.test(action)),
    )

    // Act
    const conditions = writes.map((statement) => (statement as { Condition?: unknown }).Condition)

    // Assess
    expect(writes.map((statement) => statement.Sid).sort()).toEqual([
      'AttachOnlyOwnManagedPolicies',
      'AttachOnlyOwnManagedPolicies',
      'DeleteOwnLockPolicy',
      'WriteOwnLockPolicy',
    ])
    for (const condition of conditions) {
      expect(condition).toMatchObject({
        StringEquals: { 'aws:ResourceTag/security/credential-lock': 'managed' },
      })
    }
  })

  it('tells both functions the scope, so a refused write is a skip and not a failure', () => {
    // Prepare
    const scopeVariables = {
      ROLE_SCOPE: 'tagged',
      ROLE_SCOPE_TAG_KEY: SCOPE_TAG.key,
      ROLE_SCOPE_TAG_VALUE: SCOPE_TAG.value,
    }

    // Act
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike(scopeVariables) } },
    })

    // Assess
    expect(Object.keys(functions).sort()).toEqual([
      expect.stringMatching(/^CredentialLockController/),
      expect.stringMatching(/^CredentialLockUninstallHandler/),
    ])
  })

  it('gives IAM the verdicts: Allowed on a tagged role, refused on any other, for each write', async () => {
    // Prepare
    const policies = rolePoliciesOf(template)
    const call = (action: string, tags: Record<string, string>): SimulatedRequest => ({
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/controller/credential-lock`,
      accountId: ACCOUNT,
      call: { action, resource: `arn:aws:iam::${ACCOUNT}:role/web` },
      context: Object.fromEntries(
        Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]),
      ),
    })
    const requests = ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'].flatMap((action) => [
      call(action, { [SCOPE_TAG.key]: SCOPE_TAG.value }),
      call(action, { [SCOPE_TAG.key]: 'no' }),
      call(action, { team: 'web' }),
    ])

    // Act
    const controller = await verdicts(policies.controller, requests)
    const uninstall = await verdicts(policies.uninstall, requests.slice(3))

    // Assess
    expect(controller).toEqual([
      'Allowed',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
      'Allowed',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
    ])
    expect(uninstall).toEqual(['Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied'])
  })

  it('tags the demo role so the demo is locked in this scope', () => {
    Template.fromStack(built.demo as Stack).hasResourceProperties('AWS::IAM::Role', {
      Tags: Match.arrayWith([{ Key: SCOPE_TAG.key, Value: SCOPE_TAG.value }]),
    })
  })
})

describe('settings that are refused at synth', () => {
  it.each<[string, CredentialLockProps, string]>([
    [
      'a resync under 5 minutes',
      { resyncPeriod: Duration.minutes(4) },
      'resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not 4 minutes.',
    ],
    [
      'a resync over 24 hours',
      { resyncPeriod: Duration.hours(25) },
      'resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not 1 day 1 hour.',
    ],
    [
      'a resync in seconds',
      { resyncPeriod: Duration.seconds(330) },
      'resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not 5 minutes 30 seconds.',
    ],
    [
      'a tombstone retention under 1 hour',
      { tombstoneRetention: Duration.minutes(30) },
      'tombstoneRetention must be a whole number of hours between 1 and 48, not 30 minutes.',
    ],
    [
      'a tombstone retention over 48 hours',
      { tombstoneRetention: Duration.hours(49) },
      'tombstoneRetention must be a whole number of hours between 1 and 48, not 2 days 1 hour.',
    ],
    [
      'an empty tag key',
      { lockTagKey: '' },
      'lockTagKey "" must be 1 to 128 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.',
    ],
    [
      'a tag key with characters AWS refuses',
      { lockTagKey: 'lock*' },
      'lockTagKey "lock*" must be 1 to 128 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.',
    ],
    [
      'a tag key AWS reserves',
      { lockTagKey: 'aws:lock' },
      'lockTagKey "aws:lock" must not start with "aws:", which AWS reserves.',
    ],
    [
      'a blank tag value',
      { lockTagValue: ' ' },
      'lockTagValue " " must be 1 to 256 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.',
    ],
    ['an email without a domain', { alarmEmail: 'secops@' }, 'alarmEmail "secops@" is not an email address.'],
    [
      'a log retention CloudWatch does not offer',
      { logRetention: 42 as RetentionDays },
      'logRetention 42 is not a number of days CloudWatch Logs accepts.',
    ],
    [
      'an invalid bus name',
      { auditEventBusName: 'my bus' },
      'auditEventBusName "my bus" is not a valid event bus name.',
    ],
    ['an unknown role scope', { roleScope: 'some' as 'all' }, 'roleScope "some" must be all or tagged.'],
    [
      'a role scope tag with the scope all',
      { roleScopeTagKey: 'team' },
      'roleScopeTagKey and roleScopeTagValue apply only with roleScope tagged: set roleScope to tagged or remove them.',
    ],
    [
      'a role scope tag key AWS reserves',
      { roleScope: 'tagged', roleScopeTagKey: 'aws:team' },
      'roleScopeTagKey "aws:team" must not start with "aws:", which AWS reserves.',
    ],
  ])('refuses %s', (_case, props, message) => {
    // Prepare
    const stack = new Stack()

    // Act
    const create = () => new CredentialLock(stack, 'Lock', props)

    // Assess
    expect(create).toThrowError(expect.objectContaining({ name: 'InvalidSettingError', message }))
  })

  it.each([
    ['dry_run', 'dryRun'],
    ['DryRun', 'dryRun'],
    ['dry-run', 'dryRun'],
    ['dryRn', 'dryRun'],
    ['alarm_email', 'alarmEmail'],
    ['rolescope', 'roleScope'],
    ['ssh_cidr', 'sshCidr'],
    ['tombstoneRetension', 'tombstoneRetention'],
  ])('refuses the misspelled context key %s and suggests %s', async (misspelled, known) => {
    // Act
    const building = appWith({ ...NO_BUNDLING, [misspelled]: 'true' })

    // Assess
    await expect(building).rejects.toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message: `Context key "${misspelled}" is not a credential-lock setting: did you mean "${known}"?`,
      }),
    )
  })

  it('refuses an unknown context key far from every setting, listing the settings', async () => {
    await expect(appWith({ ...NO_BUNDLING, colour: 'blue' })).rejects.toThrow(
      /^Context key "colour" is not a credential-lock setting: use one of lockTagKey, .*, sshCidr\.$/,
    )
  })

  it("accepts the CDK's own context keys and the settings other work will read", async () => {
    // Prepare
    const context = {
      ...NO_BUNDLING,
      '@aws-cdk/aws-iam:minimizePolicies': true,
      'aws:cdk:enable-path-metadata': true,
      'acknowledged-issue-numbers': [34892],
      'availability-zones:account=123456789012:region=us-east-1': ['us-east-1a'],
      'cdk-notices': false,
      knownEgress: '{"*":["198.51.100.0/28"]}',
      trustedVpcEndpoints: 'vpce-0123456789abcdef0',
      refuseImdsV1: 'true',
      exemptActions: '{"web":["s3:GetObject"]}',
      managedPolicyQuota: '10',
    }

    // Act
    const building = appWith(context)

    // Assess
    await expect(building).resolves.toBeDefined()
  })

  it('prints a settings error as its one sentence, without a stack trace, and exits 1', () => {
    // Act: the CDK CLI hands the context to the app in CDK_CONTEXT_JSON
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ dry_run: 'true' }) },
      encoding: 'utf8',
    })

    // Assess
    expect(run.stderr).toBe(
      'Context key "dry_run" is not a credential-lock setting: did you mean "dryRun"?\n',
    )
    expect(run.status).toBe(1)
  })

  it.each<[string, CredentialLockProps, string]>([
    [
      'egress that is every address',
      { knownEgress: { 'tgw-0123456789abcdef0': ['0.0.0.0/0'] } },
      'knownEgress "tgw-0123456789abcdef0" lists "0.0.0.0/0", which is every address and would lock nothing: ' +
        'give only the public CIDRs its traffic leaves by, such as "203.0.113.0/28".',
    ],
    [
      'a private range as egress',
      { knownEgress: { '*': ['10.0.0.0/8'] } },
      'knownEgress "*" lists "10.0.0.0/8", which is or includes a private, shared or reserved range AWS never ' +
        'sees traffic come from: give the public CIDRs its traffic leaves by, such as "203.0.113.0/28".',
    ],
    [
      'a VPC ID as a trusted endpoint',
      { trustedVpcEndpoints: ['vpc-0123456789abcdef0'] },
      'trustedVpcEndpoints entry "vpc-0123456789abcdef0" is not a VPC endpoint ID: give interface endpoint IDs ' +
        'such as "vpce-0123456789abcdef0".',
    ],
  ])('refuses %s, naming the setting, the value and the expected form', (_case, props, message) => {
    // Prepare
    const stack = new Stack()

    // Act
    const create = () => new CredentialLock(stack, 'Lock', props)

    // Assess
    expect(create).toThrowError(expect.objectContaining({ name: 'InvalidSettingError', message }))
  })

  it('refuses knownEgress context that is not JSON', async () => {
    await expect(
      appWith({ ...NO_BUNDLING, knownEgress: 'tgw-0123456789abcdef0=203.0.113.0/28' }),
    ).rejects.toThrow(
      'knownEgress "tgw-0123456789abcdef0=203.0.113.0/28" is not JSON: give an object such as ' +
        '{"tgw-0123456789abcdef0": ["203.0.113.0/28"]}.',
    )
  })

  it('refuses a context duration without a unit', async () => {
    await expect(appWith({ ...NO_BUNDLING, resyncPeriod: '60' })).rejects.toThrow(
      'Context resyncPeriod "60" must be a number and a unit m, h or d, such as 30m or 12h.',
    )
  })

  it('refuses an SSH CIDR wider than a /24 for the demo', async () => {
    await expect(appWith({ ...NO_BUNDLING, demo: 'true', sshCidr: '0.0.0.0/0' })).rejects.toThrow(
      'sshCidr "0.0.0.0/0" opens SSH to too many addresses: use a /24 or narrower.',
    )
  })

  it('tells the deployer to pass sshCidr when checkip cannot be reached', async () => {
    // Prepare
    const app = new App()

    // Act
    const lookup = sshCidrFromContext(app.node, () => Promise.reject(new Error('getaddrinfo ENOTFOUND')))

    // Assess
    await expect(lookup).rejects.toThrow(
      'Cannot find your public IP for the demo SSH rule: pass -c sshCidr=x.x.x.x/32.',
    )
  })

  it('takes company networks from cdk.json as an object and a list, and sets nothing when they are absent', async () => {
    // Prepare / Act
    const given = Template.fromStack(
      (
        await appWith({
          ...NO_BUNDLING,
          knownEgress: { 'pcx-0123456789abcdef0': ['2001:db8:ff::/48'] },
          trustedVpcEndpoints: ['vpce-0123456789abcdef0'],
        })
      ).lock,
    )
    const absent = Template.fromStack((await appWith(NO_BUNDLING)).lock)

    // Assess
    given.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          KNOWN_EGRESS: '{"pcx-0123456789abcdef0":["2001:db8:ff::/48"]}',
          TRUSTED_VPC_ENDPOINTS: 'vpce-0123456789abcdef0',
        }),
      },
    })
    absent.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ KNOWN_EGRESS: Match.absent(), TRUSTED_VPC_ENDPOINTS: Match.absent() }),
      },
    })
  })

  it('builds no demo stack without demo=true', async () => {
    // Prepare / Act
    const built = await appWith(NO_BUNDLING)

    // Assess
    expect(built.demo).toBeUndefined()
    expect(built.lock.node.root.node.children.map((child) => child.node.id)).toEqual(['CredentialLock'])
  })
})
