/**
 * Where this host is, as AWS will see it: Bengtson's boot sequence. The instance's public IPv4 and the IPv6
 * addresses of every interface (IMDS), the egress address (the address look-up: a NAT gateway's, when there is
 * one), the VPC of every interface (IMDS), and optionally the boot provider's view.
 */
import type { SessionLockFacts } from '../../policy/session-lock.js'
import { ImdsError } from './errors.js'

/** What the boot provider (handlers/boot-provider/) answers. */
export interface BootFacts {
  /** The caller's address as AWS saw it. */
  readonly sourceIp: string
  readonly vpcIds: readonly string[]
  readonly vpcEndpointIds: readonly string[]
  readonly elasticIps: readonly string[]
}

/** The metadata reads the facts need. */
export interface MetadataReader {
  metadata(path: string): Promise<string | undefined>
}

export interface HostFactsDeps {
  readonly imds: MetadataReader
  readonly lookUpAddress: () => Promise<string>
  /** The boot provider's answer; undefined when none is configured. */
  readonly readBootFacts: (() => Promise<BootFacts>) | undefined
}

export interface HostIdentity {
  readonly instanceId: string
  /** `arn:<partition>:iam::<account>:role/<name>`; a role with a path needs CREDENTIAL_LOCK_ROLE_ARN. */
  readonly roleArn: string
}

/** The instance ID and its role's ARN, from the instance profile IMDS names. */
export async function readHostIdentity(
  imds: MetadataReader,
  roleArnOverride?: string,
): Promise<HostIdentity> {
  const instanceId = await required(imds, 'instance-id')
  if (roleArnOverride) return { instanceId, roleArn: roleArnOverride }
  const info = JSON.parse(await required(imds, 'iam/info')) as { InstanceProfileArn?: string }
  const profile = /^arn:([\w-]+):iam::(\d{12}):instance-profile\//.exec(info.InstanceProfileArn ?? '')
  const roleName = (await required(imds, 'iam/security-credentials/')).split('\n')[0]?.trim()
  if (!profile || !roleName) {
    throw new ImdsError(`names no instance profile and role (iam/info: ${info.InstanceProfileArn})`)
  }
  return { instanceId, roleArn: `arn:${profile[1]}:iam::${profile[2]}:role/${roleName}` }
}

/** The session-lock facts for `roleArn` on this host, read afresh (addresses change when an EIP moves). */
export async function readHostFacts(deps: HostFactsDeps, roleArn: string): Promise<SessionLockFacts> {
  const { imds } = deps
  const [egress, publicIpv4, interfaces, boot] = await Promise.all([
    deps.lookUpAddress(),
    imds.metadata('public-ipv4'),
    readInterfaces(imds),
    deps.readBootFacts?.(),
  ])
  const otherAddresses = [
    ...(publicIpv4 ? [publicIpv4.trim()] : []),
    ...interfaces.flatMap((networkInterface) => networkInterface.ipv6s),
    ...(boot ? [boot.sourceIp, ...boot.elasticIps] : []),
  ]
  return {
    roleArn,
    address: egress,
    otherAddresses,
    // Only the host's own VPCs: the account's other VPCs are where a thief inside the account would stand.
    sourceVpcs: [...new Set(interfaces.map((networkInterface) => networkInterface.vpcId))],
    sourceVpces: boot?.vpcEndpointIds ?? [],
  }
}

interface NetworkInterfaceFacts {
  readonly vpcId: string
  readonly ipv6s: readonly string[]
}

async function readInterfaces(imds: MetadataReader): Promise<NetworkInterfaceFacts[]> {
  const macs = lines(await required(imds, 'network/interfaces/macs/'))
  return Promise.all(
    macs.map(async (entry) => {
      const mac = entry.replace(/\/$/, '')
      const [vpcId, ipv6s] = await Promise.all([
        required(imds, `network/interfaces/macs/${mac}/vpc-id`),
        imds.metadata(`network/interfaces/macs/${mac}/ipv6s`),
      ])
      return { vpcId: vpcId.trim(), ipv6s: lines(ipv6s ?? '') }
    }),
  )
}

async function required(imds: MetadataReader, path: string): Promise<string> {
  const value = await imds.metadata(path)
  if (value === undefined) throw new ImdsError(`has no meta-data/${path}`)
  return value
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
}
