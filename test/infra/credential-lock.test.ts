import { Match, Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CredentialLockApp } from '../../infra/cdk-app.js'
import { appWith, logicalIdOf, SSH_CIDR } from '../support/cdk-template.js'

describe('the stack with default settings: queues, rules, the controller, alarms and the uninstall order', () => {
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
