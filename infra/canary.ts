import { ArnFormat, Duration, Stack, Tags, Validations } from 'aws-cdk-lib'
import { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling'
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch'
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions'
import {
  AmazonLinuxCpuType,
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  InstanceClass,
  InstanceSize,
  InstanceType,
  type ISubnet,
  type IVpc,
  LaunchTemplate,
  MachineImage,
  SecurityGroup,
  Subnet,
  SubnetType,
  UserData,
  Vpc,
} from 'aws-cdk-lib/aws-ec2'
import { Rule, Schedule } from 'aws-cdk-lib/aws-events'
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets'
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { LogGroup, QueryDefinition, QueryString, RetentionDays } from 'aws-cdk-lib/aws-logs'
import type { ITopic } from 'aws-cdk-lib/aws-sns'
import { StringParameter } from 'aws-cdk-lib/aws-ssm'
import { Construct } from 'constructs'
import { InvalidSettingError } from '../policy/errors.js'
import { handlerFunction } from './lambda-defaults.js'

/** What a deployer chooses about the canary. */
export interface CanarySettings {
  /**
   * A subnet of yours to run the canary instance in, so that it proves that subnet's path. It needs a route to
   * AWS's public endpoints (internet or NAT gateway) and the instance gets no inbound rule.
   * @default - a VPC of its own: one public subnet, no NAT gateway
   */
  readonly subnet?: { readonly vpcId: string; readonly subnetId: string }
  /**
   * How long after a canary launch its credentials may still work from elsewhere before the time-to-lock alarm
   * fires. A whole number of minutes, between 1 and 60.
   * @default Duration.minutes(5)
   */
  readonly timeToLockLimit?: Duration
  /**
   * How long the canary Lambda's decision lines are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays
}

export interface CanaryProps extends CanarySettings {
  /** The opt-in tag of the lock: the canary instance carries it. */
  readonly lockTag: { readonly key: string; readonly value: string }
  /** Where the canary's alarms go: the lock's alarm topic. */
  readonly alarmTopic: ITopic
}

/** The SecureString the canary instance writes its own credentials into (SSM parameters are per region). */
export const CANARY_CREDENTIALS_PARAMETER = '/credential-lock/canary/credentials'
/** Which instance's first refusal the canary Lambda has measured. */
export const CANARY_MEASUREMENT_PARAMETER = '/credential-lock/canary/time-to-lock'
/** How often the instance hands its credentials over. */
const WRITE_EVERY = Duration.minutes(5)
/** Three missed writes in a row: the instance's own calls fail. */
const STALE_AFTER = Duration.minutes(15)
/** How often the thief tries: the resolution of the time-to-lock measurement. */
const TRY_EVERY = Duration.minutes(1)
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/
const METRICS_NAMESPACE = 'CredentialLock'
const SERVICE_NAME = 'credential-lock-canary'

/**
 * A running measurement of the lock in this account: a tiny opted-in instance hands its own role credentials
 * over, as a thief would, through a SecureString parameter; a Lambda outside any VPC uses them and expects an
 * explicit deny. The instance is replaced daily (its group's maximum lifetime) or on demand (terminate it), and
 * each launch measures the account's time from launch to lock.
 */
export class StolenCredentialCanary extends Construct {
  readonly instances: AutoScalingGroup
  readonly alarms: readonly Alarm[]
  /** What the canary Lambda publishes, for a dashboard: the lock held, its own calls worked, seconds to lock. */
  readonly metrics = {
    lockHolds: canaryMetric('CanaryLockHolds', 'Minimum'),
    ownCallsWork: canaryMetric('CanaryOwnCallsWork', 'Minimum'),
    timeToLock: canaryMetric('CanaryTimeToLock', 'Maximum'),
  } as const

  constructor(scope: Construct, id: string, props: CanaryProps) {
    super(scope, id)
    const timeToLockLimit = validatedTimeToLockLimit(props.timeToLockLimit ?? Duration.minutes(5))
    if (props.subnet !== undefined) checkSubnet(props.subnet)

    const stack = Stack.of(this)
    const parameterArn = (name: string) =>
      stack.formatArn({
        service: 'ssm',
        resource: 'parameter',
        resourceName: name.slice(1),
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      })
    this.instances = this.addInstance(props, parameterArn(CANARY_CREDENTIALS_PARAMETER))
    const measurement = new StringParameter(this, 'Measurement', {
      parameterName: CANARY_MEASUREMENT_PARAMETER,
      description: 'credential-lock canary: the last canary instance whose time to lock was measured',
      stringValue: '{}',
    })
    this.addThief(
      props,
      {
        credentials: parameterArn(CANARY_CREDENTIALS_PARAMETER),
        measurement: parameterArn(CANARY_MEASUREMENT_PARAMETER),
      },
      measurement,
      timeToLockLimit,
    )
    this.alarms = this.addAlarms(props.alarmTopic, timeToLockLimit)
  }

  private addInstance(props: CanaryProps, credentialsArn: string): AutoScalingGroup {
    const { vpc, subnet } = this.network(props)
    const securityGroup = new SecurityGroup(this, 'NoInbound', {
      vpc,
      description: 'credential-lock canary: no inbound rule; outbound to AWS endpoints only',
      allowAllOutbound: true,
    })
    const role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description:
        'credential-lock canary instance: one harmless call and writing its own parameter, nothing else',
    })
    role.addToPolicy(
      new PolicyStatement({ sid: 'HarmlessCall', actions: ['ec2:DescribeRegions'], resources: ['*'] }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'HandOverOwnCredentials',
        actions: ['ssm:PutParameter'],
        resources: [credentialsArn],
      }),
    )
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeRegions supports no resource-level permissions; it reads nothing of the account.',
    })

    const launchTemplate = new LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.NANO),
      machineImage: MachineImage.latestAmazonLinux2023({ cpuType: AmazonLinuxCpuType.ARM_64 }),
      role,
      securityGroup,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      userData: handOverUserData(Stack.of(this).region),
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: BlockDeviceVolume.ebs(8, { encrypted: true, volumeType: EbsDeviceVolumeType.GP3 }),
        },
      ],
    })
    const group = new AutoScalingGroup(this, 'Instance', {
      vpc,
      vpcSubnets: { subnets: [subnet] },
      launchTemplate,
      minCapacity: 1,
      maxCapacity: 1,
      // The shortest lifetime Auto Scaling allows: a fresh launch, and a fresh measurement, every day.
      maxInstanceLifetime: Duration.days(1),
    })
    Tags.of(group).add(props.lockTag.key, props.lockTag.value, { applyToLaunchedInstances: true })
    Tags.of(group).add('Name', 'credential-lock-canary', { applyToLaunchedInstances: true })
    Validations.of(group).acknowledge({
      id: 'AwsSolutions-AS3',
      reason:
        'The canary reports through its own metrics and alarms; scaling notifications would only add noise.',
    })
    return group
  }

  private network(props: CanaryProps): { vpc: IVpc; subnet: ISubnet } {
    if (props.subnet !== undefined) {
      const subnet = Subnet.fromSubnetId(this, 'GivenSubnet', props.subnet.subnetId)
      const vpc = Vpc.fromVpcAttributes(this, 'GivenVpc', {
        vpcId: props.subnet.vpcId,
        availabilityZones: [Stack.of(this).availabilityZones[0] ?? ''],
      })
      return { vpc, subnet }
    }
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 28 }],
      // Nothing uses the default security group; restricting it would deploy a custom-resource Lambda for nothing.
      restrictDefaultSecurityGroup: false,
    })
    Validations.of(vpc).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason: 'The canary VPC carries only the canary instance calling AWS; its metrics are the record.',
    })
    return { vpc, subnet: vpc.publicSubnets[0] as ISubnet }
  }

  private addThief(
    props: CanaryProps,
    parameterArns: { readonly credentials: string; readonly measurement: string },
    measurement: StringParameter,
    timeToLockLimit: Duration,
  ): void {
    const role = new Role(this, 'LambdaRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description:
        'credential-lock canary Lambda: reads the handed-over credentials and records time to lock',
    })
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadHandedOverCredentials',
        actions: ['ssm:GetParameter'],
        resources: [parameterArns.credentials],
      }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'RecordMeasurement',
        actions: ['ssm:GetParameter', 'ssm:PutParameter'],
        resources: [parameterArns.measurement],
      }),
    )
    role.addToPolicy(
      new PolicyStatement({
        sid: 'LaunchTimeAndRefusalReason',
        actions: ['ec2:DescribeInstances', 'sts:DecodeAuthorizationMessage'],
        resources: ['*'],
      }),
    )
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeInstances (the canary launch time) and sts:DecodeAuthorizationMessage (is a refusal an ' +
        'explicit deny) support no resource-level permissions.',
    })
    const logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_YEAR,
    })
    const thief = handlerFunction(this, 'Function', {
      entry: 'handlers/canary/canary.ts',
      description:
        'credential-lock canary: uses the canary instance credentials from outside and expects a deny',
      role,
      logGroup,
      timeout: Duration.seconds(30),
      environment: {
        CANARY_CREDENTIALS_PARAMETER,
        CANARY_MEASUREMENT_PARAMETER: measurement.parameterName,
        CANARY_STALE_AFTER_SECONDS: String(STALE_AFTER.toSeconds()),
        CANARY_TIME_TO_LOCK_LIMIT_SECONDS: String(timeToLockLimit.toSeconds()),
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    })
    new QueryDefinition(this, 'HistoryQuery', {
      queryDefinitionName: 'credential-lock/canary history',
      queryString: new QueryString({
        fields: [
          '@timestamp',
          'verdict',
          'instanceId',
          'lockHolds',
          'ownCallsWork',
          'timeToLockSeconds',
          'reason',
        ],
        filterStatements: ["message = 'canary decision'"],
        sort: '@timestamp desc',
        limit: 1000,
      }),
      logGroups: [logGroup],
    })
    new Rule(this, 'Schedule', {
      description: 'credential-lock: the canary tries the handed-over credentials',
      schedule: Schedule.rate(TRY_EVERY),
      targets: [new LambdaFunction(thief, { retryAttempts: 0 })],
    })
  }

  private addAlarms(topic: ITopic, timeToLockLimit: Duration): Alarm[] {
    const alarms = [
      new Alarm(this, 'LockAlarm', {
        alarmDescription:
          'credential-lock: the canary instance credentials worked from outside its network (CanaryLockHolds 0): ' +
          'read the canary decision lines, then the controller decisions for the canary role.',
        metric: this.metrics.lockHolds,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'OwnCallsAlarm', {
        alarmDescription:
          'credential-lock: the canary instance has not handed its credentials over for 15 minutes ' +
          '(CanaryOwnCallsWork 0): the lock may refuse an instance its own calls, or the canary stopped.',
        metric: this.metrics.ownCallsWork,
        threshold: 1,
        // A launch takes a minute or two before the first write.
        evaluationPeriods: 2,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        // No data is a canary that stopped measuring.
        treatMissingData: TreatMissingData.BREACHING,
      }),
      new Alarm(this, 'TimeToLockAlarm', {
        alarmDescription: `credential-lock: a canary launch took more than ${timeToLockLimit.toHumanString()} to be locked (CanaryTimeToLock).`,
        metric: this.metrics.timeToLock,
        threshold: timeToLockLimit.toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ]
    const action = new SnsAction(topic)
    for (const alarm of alarms) {
      alarm.addAlarmAction(action)
      alarm.addOkAction(action)
    }
    return alarms
  }
}

/**
 * The instance's part, with no agent to install: a systemd timer that reads the role credentials from IMDSv2
 * and writes them, with the AWS CLI Amazon Linux 2023 ships and those very credentials, into the parameter.
 */
export function handOverUserData(region: string): UserData {
  const userData = UserData.forLinux()
  userData.addCommands(
    "cat > /usr/local/bin/credential-lock-canary <<'SCRIPT'",
    '#!/bin/bash',
    'set -euo pipefail',
    'imds=http://169.254.169.254/latest',
    'token=$(curl -sf -X PUT "$imds/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    'get() { curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/$1"; }',
    'role=$(get iam/security-credentials/)',
    'value=$(printf \'{"instanceId":"%s","credentials":%s}\' "$(get instance-id)" "$(get "iam/security-credentials/$role")")',
    `aws ssm put-parameter --region ${region} --name ${CANARY_CREDENTIALS_PARAMETER} --type SecureString --overwrite --value "$value" >/dev/null`,
    'SCRIPT',
    'chmod 0700 /usr/local/bin/credential-lock-canary',
    "cat > /etc/systemd/system/credential-lock-canary.service <<'UNIT'",
    '[Service]',
    'Type=oneshot',
    'ExecStart=/usr/local/bin/credential-lock-canary',
    'UNIT',
    "cat > /etc/systemd/system/credential-lock-canary.timer <<'UNIT'",
    '[Timer]',
    'OnBootSec=5s',
    `OnUnitActiveSec=${WRITE_EVERY.toSeconds()}s`,
    '[Install]',
    'WantedBy=timers.target',
    'UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now credential-lock-canary.timer',
  )
  return userData
}

function canaryMetric(metricName: string, statistic: 'Minimum' | 'Maximum'): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period: Duration.minutes(5),
  })
}

function validatedTimeToLockLimit(limit: Duration): Duration {
  const ms = limit.toMilliseconds()
  if (ms % 60_000 !== 0 || ms < 60_000 || ms > 3_600_000) {
    throw new InvalidSettingError(
      `canaryTimeToLockLimit must be a whole number of minutes between 1 and 60, not ${limit.toHumanString()}.`,
    )
  }
  return limit
}

function checkSubnet(subnet: { readonly vpcId: string; readonly subnetId: string }): void {
  if (!VPC_ID.test(subnet.vpcId)) {
    throw new InvalidSettingError(
      `canaryVpcId "${subnet.vpcId}" is not a VPC id such as vpc-0123456789abcdef0.`,
    )
  }
  if (!SUBNET_ID.test(subnet.subnetId)) {
    throw new InvalidSettingError(
      `canarySubnetId "${subnet.subnetId}" is not a subnet id such as subnet-0123456789abcdef0.`,
    )
  }
}
