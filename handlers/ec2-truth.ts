import {
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  paginateDescribeInstances,
  paginateDescribeRouteTables,
  type RouteTable,
} from '@aws-sdk/client-ec2'
import { ACTIVE_STATES, type InstanceFacts, type InstanceState, isOptedIn } from '../policy/lock.js'
import { asPermitted } from './errors.js'

/** An instance as EC2 describes it, before its egress is looked up (only locked instances need that). */
export interface ObservedInstance extends Omit<InstanceFacts, 'natIps'> {
  readonly subnetId: string | undefined
  readonly vpcId: string | undefined
}

export interface Ec2Reading {
  readonly ec2: EC2Client
  readonly lockTag: { readonly key: string; readonly value: string }
  /** Role name by instance-profile ARN. */
  readonly profileRoles: ReadonlyMap<string, string>
  /**
   * What-if for the pre-flight plan: read every instance with a profile and treat it as opted in.
   * @default false
   */
  readonly everyInstanceOptedIn?: boolean | undefined
}

/** Every instance carrying the opt-in tag, in any state: one paginated pass for the whole account. */
export async function describeOptedIn(reading: Ec2Reading): Promise<ObservedInstance[]> {
  if (reading.everyInstanceOptedIn) {
    // DescribeInstances has no "has a profile" filter: read them all and keep those with a role.
    return (await describe(reading, [])).filter((instance) => instance.roleName !== undefined)
  }
  return describe(reading, [{ Name: `tag:${reading.lockTag.key}`, Values: [reading.lockTag.value] }])
}

/** The named instances; ones EC2 no longer knows are simply absent (a filter, unlike InstanceIds, never fails). */
export async function describeByIds(
  reading: Ec2Reading,
  instanceIds: readonly string[],
): Promise<ObservedInstance[]> {
  if (instanceIds.length === 0) return []
  return describe(reading, [{ Name: 'instance-id', Values: [...instanceIds] }])
}

async function describe(reading: Ec2Reading, filters: Filter[]): Promise<ObservedInstance[]> {
  const instances: ObservedInstance[] = []
  await asPermitted('ec2:DescribeInstances', '*', async () => {
    for await (const page of paginateDescribeInstances({ client: reading.ec2 }, { Filters: filters })) {
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) instances.push(observe(instance, reading))
      }
    }
  })
  return instances
}

function observe(instance: Instance, reading: Ec2Reading): ObservedInstance {
  const publicIps = new Set<string>()
  const privateIps = new Set<string>()
  for (const eni of instance.NetworkInterfaces ?? []) {
    addIfSet(publicIps, eni.Association?.PublicIp, eni.Association?.CarrierIp)
    for (const address of eni.PrivateIpAddresses ?? []) {
      addIfSet(privateIps, address.PrivateIpAddress)
      addIfSet(publicIps, address.Association?.PublicIp, address.Association?.CarrierIp)
    }
    for (const prefix of eni.Ipv4Prefixes ?? []) addIfSet(privateIps, prefix.Ipv4Prefix)
    // IPv6 addresses are global: the same address is the source on the public path and through an endpoint.
    const ipv6 = [
      ...(eni.Ipv6Addresses ?? []).map((address) => address.Ipv6Address),
      ...(eni.Ipv6Prefixes ?? []).map((prefix) => prefix.Ipv6Prefix),
    ]
    addIfSet(publicIps, ...ipv6)
    addIfSet(privateIps, ...ipv6)
  }
  addIfSet(publicIps, instance.PublicIpAddress, instance.Ipv6Address)
  addIfSet(privateIps, instance.PrivateIpAddress, instance.Ipv6Address)
  const instanceId = instance.InstanceId ?? ''
  return {
    instanceId,
    state: (instance.State?.Name ?? 'terminated') as InstanceState,
    roleName: roleOf(instance, reading.profileRoles),
    optedIn: reading.everyInstanceOptedIn === true || isOptedIn(instance.Tags ?? [], reading.lockTag),
    publicIps: [...publicIps],
    privateIps: [...privateIps],
    stateChangedAt: stateChangedAt(instance.StateTransitionReason),
    subnetId: instance.SubnetId,
    vpcId: instance.VpcId,
  }
}

function addIfSet(into: Set<string>, ...values: (string | undefined)[]): void {
  for (const value of values) if (value) into.add(value)
}

/** The role an instance's profile grants. A profile unknown to IAM's listing is an error, not "no role". */
function roleOf(instance: Instance, profileRoles: ReadonlyMap<string, string>): string | undefined {
  const profileArn = instance.IamInstanceProfile?.Arn
  if (profileArn === undefined) return undefined
  const roleName = profileRoles.get(profileArn)
  if (roleName === undefined) {
    throw new Error(
      `Instance ${instance.InstanceId} uses instance profile ${profileArn}, which IAM did not list: ` +
        'it was probably created a moment ago; the event will be retried.',
    )
  }
  return roleName
}

/** EC2 writes e.g. "User initiated (2026-11-25 18:00:00 GMT)" when an instance stops (moto writes UTC). */
function stateChangedAt(reason: string | undefined): Date | undefined {
  const stamp = /\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)/.exec(reason ?? '')
  return stamp ? new Date(`${stamp[1]}T${stamp[2]}Z`) : undefined
}

/** The instances the named network interfaces are attached to. */
export async function instancesOfInterfaces(
  ec2: EC2Client,
  interfaceIds: readonly string[],
): Promise<string[]> {
  if (interfaceIds.length === 0) return []
  const output = await asPermitted('ec2:DescribeNetworkInterfaces', '*', () =>
    ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'network-interface-id', Values: [...interfaceIds] }],
      }),
    ),
  )
  return (output.NetworkInterfaces ?? []).flatMap((eni) =>
    eni.Attachment?.InstanceId ? [eni.Attachment.InstanceId] : [],
  )
}

/**
 * Where each opted-in running instance reaches AWS's public endpoints from, besides its own addresses: the
 * public addresses behind its subnet's default route. Even an instance with a public address of its own is
 * looked up, because a subnet can route it through a NAT gateway, and a lock that guessed would lock it out.
 * Instances `concerns` rules out cost nothing.
 */
export async function withEgress(
  ec2: EC2Client,
  instances: readonly ObservedInstance[],
  concerns: (instance: ObservedInstance) => boolean,
): Promise<InstanceFacts[]> {
  const needing = instances.filter(
    (instance) =>
      instance.optedIn &&
      ACTIVE_STATES.has(instance.state) &&
      instance.subnetId &&
      instance.vpcId &&
      concerns(instance),
  )
  const egressBySubnet = needing.length === 0 ? new Map() : await subnetEgress(ec2, needing)
  return instances.map(({ subnetId, vpcId, ...facts }) => ({
    ...facts,
    natIps: (subnetId && egressBySubnet.get(subnetId)) ?? [],
  }))
}

type DefaultRouteTarget =
  | { nat: string }
  | { eni: string }
  | { instance: string }
  | 'internet'
  | 'none'
  | 'unknown'

async function subnetEgress(
  ec2: EC2Client,
  instances: readonly ObservedInstance[],
): Promise<Map<string, readonly string[] | 'unknown'>> {
  const vpcIds = [...new Set(instances.map((instance) => instance.vpcId as string))]
  const routeTables: RouteTable[] = []
  await asPermitted('ec2:DescribeRouteTables', '*', async () => {
    const input = { Filters: [{ Name: 'vpc-id', Values: vpcIds }] }
    for await (const page of paginateDescribeRouteTables({ client: ec2 }, input)) {
      routeTables.push(...(page.RouteTables ?? []))
    }
  })
  const targets = new Map(
    instances.map((instance) => [
      instance.subnetId as string,
      defaultRouteTarget(routeTables, instance.subnetId as string, instance.vpcId as string),
    ]),
  )
  const natAddresses = await natGatewayAddresses(ec2, targetIds(targets, 'nat'))
  const eniAddresses = await interfaceAddresses(
    ec2,
    targetIds(targets, 'eni'),
    targetIds(targets, 'instance'),
  )
  const egress = new Map<string, readonly string[] | 'unknown'>()
  for (const [subnetId, target] of targets) {
    if (target === 'unknown') egress.set(subnetId, 'unknown')
    else if (target === 'internet' || target === 'none') egress.set(subnetId, [])
    else if ('nat' in target) egress.set(subnetId, natAddresses.get(target.nat) ?? 'unknown')
    else egress.set(subnetId, eniAddresses.get('eni' in target ? target.eni : target.instance) ?? 'unknown')
  }
  return egress
}

function defaultRouteTarget(
  routeTables: readonly RouteTable[],
  subnetId: string,
  vpcId: string,
): DefaultRouteTarget {
  const table =
    routeTables.find((candidate) => candidate.Associations?.some((a) => a.SubnetId === subnetId)) ??
    routeTables.find((candidate) => candidate.VpcId === vpcId && candidate.Associations?.some((a) => a.Main))
  const route = table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole')
  if (route === undefined) return 'none'
  if (route.NatGatewayId) return { nat: route.NatGatewayId }
  if (route.NetworkInterfaceId) return { eni: route.NetworkInterfaceId }
  if (route.InstanceId) return { instance: route.InstanceId }
  // Through an internet gateway an instance leaves from its own public address, already in its facts.
  if (route.GatewayId?.startsWith('igw-')) return 'internet'
  return 'unknown'
}

function targetIds(
  targets: ReadonlyMap<string, DefaultRouteTarget>,
  kind: 'nat' | 'eni' | 'instance',
): string[] {
  const ids = [...targets.values()].flatMap((target) =>
    typeof target === 'object' && kind in target ? [(target as Record<string, string>)[kind] as string] : [],
  )
  return [...new Set(ids)]
}

async function natGatewayAddresses(
  ec2: EC2Client,
  natIds: readonly string[],
): Promise<Map<string, string[]>> {
  if (natIds.length === 0) return new Map()
  const output = await asPermitted('ec2:DescribeNatGateways', '*', () =>
    ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [...natIds] })),
  )
  const addresses = new Map<string, string[]>()
  for (const nat of output.NatGateways ?? []) {
    const publicIps = (nat.NatGatewayAddresses ?? []).flatMap((address) =>
      address.PublicIp ? [address.PublicIp] : [],
    )
    // A private NAT gateway has no public address: its traffic leaves through something the controller cannot see.
    if (nat.NatGatewayId && publicIps.length > 0) addresses.set(nat.NatGatewayId, publicIps)
  }
  return addresses
}

/** Public addresses of NAT instances, keyed by both their interface ID and their instance ID. */
async function interfaceAddresses(
  ec2: EC2Client,
  interfaceIds: readonly string[],
  instanceIds: readonly string[],
): Promise<Map<string, string[]>> {
  const filters: Filter[] = []
  if (interfaceIds.length > 0) filters.push({ Name: 'network-interface-id', Values: [...interfaceIds] })
  if (instanceIds.length > 0) filters.push({ Name: 'attachment.instance-id', Values: [...instanceIds] })
  const addresses = new Map<string, string[]>()
  for (const filter of filters) {
    const output = await asPermitted('ec2:DescribeNetworkInterfaces', '*', () =>
      ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [filter] })),
    )
    for (const eni of output.NetworkInterfaces ?? []) {
      const publicIps = (eni.PrivateIpAddresses ?? []).flatMap((a) =>
        a.Association?.PublicIp ? [a.Association.PublicIp] : [],
      )
      if (publicIps.length === 0) continue
      for (const key of [eni.NetworkInterfaceId, eni.Attachment?.InstanceId]) {
        if (key) addresses.set(key, [...(addresses.get(key) ?? []), ...publicIps])
      }
    }
  }
  return addresses
}
