import { App } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { beforeAll, describe, expect, it } from 'vitest'
import { CANARY_CREDENTIALS_PARAMETER, CANARY_MEASUREMENT_PARAMETER } from '../../infra/canary.js'
import { buildApp, type CredentialLockApp } from '../../infra/cdk-app.js'
import { ACCOUNT, rolePoliciesNamed } from '../support/cdk-template.js'
import { type ApiCall, type RolePolicy, type Verdict, verdict } from '../support/simulate.js'

const REGION = 'us-east-1'
const PARAMETER_ARN = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`
// Functions are not bundled: the template is the same but for the asset hash.
const CANARY_ON = { 'aws:cdk:bundling-stacks': [], canary: 'true' }

function appWith(context: Record<string, unknown>): Promise<CredentialLockApp> {
  return buildApp(new App({ context }))
}

function verdictOf(policies: RolePolicy[], roleName: string, call: ApiCall): Promise<Verdict> {
  return verdict(policies, {
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/session`,
    accountId: ACCOUNT,
    call,
    context: {},
  })
}

describe('the canary is off by default', () => {
  it('adds nothing to the stack without canary=true', async () => {
    // Act
    const template = Template.fromStack((await appWith({ 'aws:cdk:bundling-stacks': [] })).lock)

    // Assess
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 0)
    template.resourceCountIs('AWS::SSM::Parameter', 0)
  })

  it.each([
    [{ canaryVpcId: 'vpc-0123456789abcdef0' }, /applies only with canary=true/],
    [{ canary: 'true', canaryVpcId: 'vpc-0123456789abcdef0' }, /canaryVpcId and canarySubnetId go together/],
    [{ canary: 'true', canaryVpcId: 'vpc-1', canarySubnetId: 'subnet-0123456789abcdef0' }, /is not a VPC id/],
    [{ canary: 'true', canaryTimeToLockLimit: '2h' }, /between 1 and 60/],
    [{ canary: 'yes' }, /must be true or false/],
    [{ canaryy: 'true' }, /did you mean "canary"/],
  ])('refuses the settings %j at synth', async (context, message) => {
    // Act / Assess
    await expect(appWith({ 'aws:cdk:bundling-stacks': [], ...context })).rejects.toThrow(message)
  })
})

describe('the canary instance (canary=true)', () => {
  let template: Template

  beforeAll(async () => {
    template = Template.fromStack((await appWith(CANARY_ON)).lock)
  })

  it('is one opted-in t4g.nano that requires IMDSv2, replaced every day by its group', () => {
    // Act / Assess
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 't4g.nano',
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      }),
    })
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '1',
      MaxSize: '1',
      MaxInstanceLifetime: 86_400,
      Tags: Match.arrayWith([{ Key: 'credential-lock', Value: 'enabled', PropagateAtLaunch: true }]),
    })
  })

  it('has no inbound rule, in a public subnet of a VPC of its own', () => {
    // Act
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup'))

    // Assess
    expect(groups).toHaveLength(1)
    expect(groups[0]?.Properties.SecurityGroupIngress).toBeUndefined()
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0)
    template.resourceCountIs('AWS::EC2::NatGateway', 0)
    template.hasResourceProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true })
  })

  it('hands over its credentials every 5 minutes with the CLI, reading them from IMDSv2', () => {
    // Prepare
    const [launchTemplate] = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))

    // Act
    const userData = JSON.stringify(launchTemplate?.Properties.LaunchTemplateData.UserData)

    // Assess
    expect(userData).toContain('X-aws-ec2-metadata-token-ttl-seconds')
    expect(userData).toContain(`--name ${CANARY_CREDENTIALS_PARAMETER} --type SecureString --overwrite`)
    expect(userData).toContain('OnUnitActiveSec=300s')
  })

  it('may make only the harmless call and write its own parameter', async () => {
    // Prepare
    const policies = rolePoliciesNamed(template, 'CanaryInstanceRole')
    const ask = (call: ApiCall) => verdictOf(policies, 'canary-instance', call)

    // Act
    const answers = await Promise.all([
      ask({ action: 'ec2:DescribeRegions', resource: '*' }),
      ask({ action: 'ssm:PutParameter', resource: PARAMETER_ARN(CANARY_CREDENTIALS_PARAMETER) }),
      ask({ action: 'ssm:PutParameter', resource: PARAMETER_ARN('/app/database-password') }),
      ask({ action: 'ssm:GetParameter', resource: PARAMETER_ARN(CANARY_CREDENTIALS_PARAMETER) }),
      ask({ action: 'ec2:DescribeInstances', resource: '*' }),
      ask({ action: 's3:GetObject', resource: 'arn:aws:s3:::example-app-data/report.csv' }),
    ])

    // Assess
    expect(answers).toEqual([
      'Allowed',
      'Allowed',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
    ])
  })
})

describe('the canary Lambda (canary=true)', () => {
  let template: Template

  beforeAll(async () => {
    template = Template.fromStack((await appWith(CANARY_ON)).lock)
  })

  it('runs outside any VPC every minute', () => {
    // Act / Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('canary'),
      VpcConfig: Match.absent(),
      Environment: {
        Variables: Match.objectLike({
          CANARY_STALE_AFTER_SECONDS: '900',
          CANARY_TIME_TO_LOCK_LIMIT_SECONDS: '300',
        }),
      },
    })
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' })
  })

  it('reads the handed-over credentials but cannot write them, and records only its own measurement', async () => {
    // Prepare
    const policies = rolePoliciesNamed(template, 'CanaryLambdaRole')
    const ask = (call: ApiCall) => verdictOf(policies, 'canary-lambda', call)

    // Act
    const answers = await Promise.all([
      ask({ action: 'ssm:GetParameter', resource: PARAMETER_ARN(CANARY_CREDENTIALS_PARAMETER) }),
      ask({ action: 'ssm:PutParameter', resource: PARAMETER_ARN(CANARY_CREDENTIALS_PARAMETER) }),
      ask({ action: 'ssm:PutParameter', resource: PARAMETER_ARN(CANARY_MEASUREMENT_PARAMETER) }),
      ask({ action: 'ssm:GetParameter', resource: PARAMETER_ARN('/app/database-password') }),
      ask({
        action: 'ec2:TerminateInstances',
        resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`,
      }),
    ])

    // Assess
    expect(answers).toEqual([
      'Allowed',
      'ImplicitlyDenied',
      'Allowed',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
    ])
  })

  it('alarms on the alarm topic when the lock does not hold, own calls fail, or locking takes over 5 minutes', () => {
    // Prepare
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0]
    const alarm = (metricName: string, statistic: string, comparison: string, threshold: number) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'CredentialLock',
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: 'credential-lock-canary' }],
        Statistic: statistic,
        ComparisonOperator: comparison,
        Threshold: threshold,
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
      })

    // Act / Assess
    alarm('CanaryLockHolds', 'Minimum', 'LessThanThreshold', 1)
    alarm('CanaryOwnCallsWork', 'Minimum', 'LessThanThreshold', 1)
    alarm('CanaryTimeToLock', 'Maximum', 'GreaterThanThreshold', 300)
  })

  it('takes the time-to-lock limit from the setting', async () => {
    // Act
    const template = Template.fromStack((await appWith({ ...CANARY_ON, canaryTimeToLockLimit: '10m' })).lock)

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CanaryTimeToLock',
      Threshold: 600,
    })
  })
})

describe('the canary in a subnet the deployer names', () => {
  it('launches into that subnet and creates no VPC', async () => {
    // Act
    const template = Template.fromStack(
      (
        await appWith({
          ...CANARY_ON,
          canaryVpcId: 'vpc-0123456789abcdef0',
          canarySubnetId: 'subnet-0123456789abcdef0',
        })
      ).lock,
    )

    // Assess
    template.resourceCountIs('AWS::EC2::VPC', 0)
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      VPCZoneIdentifier: ['subnet-0123456789abcdef0'],
    })
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123456789abcdef0' })
  })
})

describe('cdk-nag on the stack with the canary', () => {
  it.each([
    ['a VPC of its own', {}],
    ['a named subnet', { canaryVpcId: 'vpc-0123456789abcdef0', canarySubnetId: 'subnet-0123456789abcdef0' }],
  ])('leaves no unacknowledged finding with %s', async (_, context) => {
    // Prepare
    const app = new App({ context: { ...CANARY_ON, ...context } })
    await buildApp(app)

    // Act
    const violations = new AwsSolutionsChecks(app).validateScope(app).violations

    // Assess
    expect(violations.map((violation) => violation.ruleName)).toEqual([])
  })
})
