import { Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib'
import {
  AmazonLinuxCpuType,
  BlockDeviceVolume,
  Instance,
  InstanceClass,
  InstanceSize,
  InstanceType,
  MachineImage,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2'
import { InstanceProfile, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import type { Construct, Node } from 'constructs'
import { InvalidSettingError } from '../policy/errors.js'

export interface DemoStackProps extends StackProps {
  /** The only address allowed to SSH in, usually the deployer's own (`x.x.x.x/32`). */
  readonly sshCidr: string
  /** The opt-in tag Luke carries; the same as the lock's. */
  readonly lockTag: { readonly key: string; readonly value: string }
  /**
   * The tag that puts a role in the lock's scope (roleScope `tagged`); the demo role carries it.
   * @default - none: the lock writes on every role
   */
  readonly roleScopeTag?: { readonly key: string; readonly value: string } | undefined
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/
const CHECKIP_TIMEOUT_MS = 3_000

/**
 * The defenders' demo: two instances sharing one role, Luke opted in and Matt not, so a credential stolen from
 * each shows the difference. A private subnet behind a NAT gateway is there to launch into and see the NAT's
 * address in a lock. Demo only: not for production accounts.
 */
export class DemoStack extends Stack {
  constructor(scope: Construct, id: string, props: DemoStackProps) {
    super(scope, id, {
      description: 'credential-lock demo: Luke (locked) and Matt (not) share one instance role',
      ...props,
    })
    checkSshCidr(props.sshCidr)

    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'Private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
    })
    const ssh = new SecurityGroup(this, 'SshFromDeployer', {
      vpc,
      description: 'credential-lock demo: SSH from the deployer only',
    })
    ssh.addIngressRule(Peer.ipv4(props.sshCidr), Port.tcp(22), 'SSH from the deployer')

    const role = new Role(this, 'InstanceRole', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'credential-lock demo: the role whose credentials Luke and Matt both carry',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonEC2ReadOnlyAccess')],
    })
    if (props.roleScopeTag) Tags.of(role).add(props.roleScopeTag.key, props.roleScopeTag.value)
    const instanceProfile = new InstanceProfile(this, 'InstanceProfile', { role })

    const instance = (name: string) =>
      new Instance(this, name, {
        instanceName: `credential-lock-demo-${name.toLowerCase()}`,
        vpc,
        vpcSubnets: { subnetType: SubnetType.PUBLIC },
        instanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.NANO),
        machineImage: MachineImage.latestAmazonLinux2023({ cpuType: AmazonLinuxCpuType.ARM_64 }),
        securityGroup: ssh,
        instanceProfile,
        requireImdsv2: true,
        blockDevices: [{ deviceName: '/dev/xvda', volume: BlockDeviceVolume.ebs(8, { encrypted: true }) }],
      })
    const luke = instance('Luke')
    Tags.of(luke).add(props.lockTag.key, props.lockTag.value)

    Validations.of(vpc).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason: 'Demo VPC for a short exercise: flow logs add cost and teach nothing here.',
    })
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEC2ReadOnlyAccess]',
      reason:
        'The demo shows where a stolen read-only credential still works; the AWS policy is the honest example.',
    })
    for (const demoInstance of [instance('Matt'), luke]) {
      Validations.of(demoInstance).acknowledge(
        {
          id: 'AwsSolutions-EC28',
          reason: 'Demo instance: detailed monitoring adds cost and teaches nothing here.',
        },
        { id: 'AwsSolutions-EC29', reason: 'Demo instance: it is meant to be destroyed with the stack.' },
      )
    }
  }
}

/** The demo's SSH source: context `sshCidr`, else the deployer's public address as AWS sees it. */
export async function sshCidrFromContext(
  node: Node,
  lookUpPublicIp: () => Promise<string> = checkMyIp,
): Promise<string> {
  const given = node.tryGetContext('sshCidr')
  if (given !== undefined) return String(given)
  try {
    return `${(await lookUpPublicIp()).trim()}/32`
  } catch (error) {
    throw new InvalidSettingError(
      'Cannot find your public IP for the demo SSH rule: pass -c sshCidr=x.x.x.x/32.',
      {
        cause: error,
      },
    )
  }
}

async function checkMyIp(): Promise<string> {
  const response = await fetch('https://checkip.amazonaws.com', {
    signal: AbortSignal.timeout(CHECKIP_TIMEOUT_MS),
  })
  if (!response.ok) throw new Error(`checkip.amazonaws.com answered ${response.status}`)
  return response.text()
}

function checkSshCidr(cidr: string): void {
  const [a, b, c, d, prefix] = (IPV4_CIDR.exec(cidr)?.slice(1) ?? []).map(Number)
  const octetsValid = [a, b, c, d].every((octet) => octet !== undefined && octet <= 255)
  if (!octetsValid || prefix === undefined || prefix > 32) {
    throw new InvalidSettingError(`sshCidr "${cidr}" must be an IPv4 CIDR such as 203.0.113.10/32.`)
  }
  if (prefix < 24)
    throw new InvalidSettingError(`sshCidr "${cidr}" opens SSH to too many addresses: use a /24 or narrower.`)
}
