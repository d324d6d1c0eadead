/** Every setting given in context reaches the controller, the rules, the schedule, the alarms and the trail. */
import { Match, Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import { appWith, logicalIdOf, NO_BUNDLING, statementsOf } from '../support/cdk-template.js'

describe('the stack with every setting given', () => {
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
