import { isIPv4 } from 'node:net'
import {
  DescribeNatGatewaysCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  type Filter,
  type Instance,
  paginateDescribeInstances,
  paginateDescribeRouteTables,
  type Route,
  type RouteTable,
} from '@aws-sdk/client-ec2'
import {
  declaredEgress,
  isUnseenTargetId,
  type KnownEgress,
  mayCarryAwsPublicTraffic,
} from '../../policy/environment.js'
import { ACTIVE_STATES, type InstanceFacts, type InstanceState, isOptedIn } from '../../policy/lock/index.js'
import { optInNearMiss } from '../../policy/opt-in-tag.js'
import { asPermitted } from './errors.js'

/** An instance as EC2 describes it, before its egress is looked up (only locked instances need that). */
export interface ObservedInstance extends Omit<InstanceFacts, 'egressIps' | 'egressUnknownReason'> {
  /** Its attached network interfaces: the route tables of their subnets decide where its calls leave by. */
  readonly interfaces: readonly ObservedInterface[]
}

export interface ObservedInterface {
  readonly subnetId: string
  readonly vpcId: string
  /** It has a private IPv4 address: the subnet's IPv4 routes carry its calls. */
  readonly ipv4: boolean
  /** It has an IPv6 address or prefix: the subnet's IPv6 routes (NAT64 included) carry its calls. */
  readonly ipv6: boolean
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
    // EC2's largest page: a resync of thousands of instances is a handful of calls.
    const pages = paginateDescribeInstances({ client: reading.ec2, pageSize: 1_000 }, { Filters: filters })
    for await (const page of pages) {
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
  const interfaces: ObservedInterface[] = []
  for (const eni of instance.NetworkInterfaces ?? []) {
    addIfSet(publicIps, eni.Association?.PublicIp, eni.Association?.CarrierIp)
    const ipv4 = new Set<string>()
    for (const address of eni.PrivateIpAddresses ?? []) {
      addIfSet(ipv4, address.PrivateIpAddress)
      addIfSet(publicIps, address.Association?.PublicIp, address.Association?.CarrierIp)
    }
    for (const prefix of eni.Ipv4Prefixes ?? []) addIfSet(ipv4, prefix.Ipv4Prefix)
    // IPv6 addresses are global: the same address is the source on the public path and through an endpoint.
    const ipv6 = new Set<string>()
    addIfSet(ipv6, ...(eni.Ipv6Addresses ?? []).map((address) => address.Ipv6Address))
    addIfSet(ipv6, ...(eni.Ipv6Prefixes ?? []).map((prefix) => prefix.Ipv6Prefix))
    addIfSet(publicIps, ...ipv6)
    addIfSet(privateIps, ...ipv4, ...ipv6)
    const subnetId = eni.SubnetId ?? instance.SubnetId
    const vpcId = eni.VpcId ?? instance.VpcId
    if (subnetId && vpcId) {
      // moto gives an IPv6-only instance an IPv6 "private IP"; AWS gives it none: test the family, not presence.
      const hasIpv4 = [...ipv4].some((address) => isIPv4(address.split('/')[0] ?? ''))
      interfaces.push({ subnetId, vpcId, ipv4: hasIpv4, ipv6: ipv6.size > 0 })
    }
  }
  addIfSet(publicIps, instance.PublicIpAddress, instance.Ipv6Address)
  addIfSet(privateIps, instance.PrivateIpAddress, instance.Ipv6Address)
  if (interfaces.length === 0 && instance.SubnetId && instance.VpcId) {
    // Interfaces not described: every route of its subnet may carry its calls.
    interfaces.push({ subnetId: instance.SubnetId, vpcId: instance.VpcId, ipv4: true, ipv6: true })
  }
  const instanceId = instance.InstanceId ?? ''
  return {
    instanceId,
    state: (instance.State?.Name ?? 'terminated') as InstanceState,
    roleName: roleOf(instance, reading.profileRoles),
    optedIn: reading.everyInstanceOptedIn === true || isOptedIn(instance.Tags ?? [], reading.lockTag),
    optInNearMiss: optInNearMiss(instance.Tags ?? [], reading.lockTag),
    publicIps: [...publicIps],
    privateIps: [...privateIps],
    stateChangedAt: stateChangedAt(instance.StateTransitionReason),
    primaryPrivateIpv4: isIPv4(instance.PrivateIpAddress ?? '') ? instance.PrivateIpAddress : undefined,
    otherVpcIds: [...new Set(interfaces.map((eni) => eni.vpcId))].filter((vpcId) => vpcId !== instance.VpcId),
    launchedAt: instance.LaunchTime,
    interfaces,
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

/** Where an instance's calls to AWS's public endpoints leave by, besides its own public addresses. */
export type Egress =
  | { readonly egressIps: readonly string[] }
  | { readonly egressIps: 'unknown'; readonly egressUnknownReason: string }

/**
 * Where each opted-in running instance reaches AWS's public endpoints from, besides its own addresses: the
 * public addresses behind every route of its interfaces' subnets that can carry such calls. Even an instance
 * with a public address of its own is looked up, because a subnet can route it through a NAT gateway, and a
 * lock that guessed would lock it out. Instances `concerns` rules out cost nothing; the rest cost one
 * DescribeRouteTables pass, then at most one NAT gateway and two network-interface look-ups, for all of them.
 */
export async function withEgress(
  ec2: EC2Client,
  instances: readonly ObservedInstance[],
  concerns: (instance: ObservedInstance) => boolean,
  knownEgress: KnownEgress,
): Promise<InstanceFacts[]> {
  const needing = instances.filter(
    (instance) =>
      instance.optedIn &&
      ACTIVE_STATES.has(instance.state) &&
      instance.interfaces.length > 0 &&
      concerns(instance),
  )
  const egress = await egressByWorkload(
    ec2,
    needing.map((instance) => ({ key: instance.instanceId, interfaces: instance.interfaces })),
    knownEgress,
  )
  return instances.map(({ interfaces, ...facts }) => ({
    ...facts,
    ...(egress.get(facts.instanceId) ?? { egressIps: [] }),
  }))
}

/** Where a route that can carry calls to AWS's public endpoints sends them. */
export type EgressTarget =
  /** Internet, egress-only internet or carrier gateway: calls leave from the instance's own public address. */
  | { readonly kind: 'own-address' }
  | { readonly kind: 'nat-gateway'; readonly id: string }
  /** A NAT instance, by its network interface or instance ID. */
  | { readonly kind: 'nat-instance'; readonly id: string }
  /** Transit gateway, peering, VPN, firewall endpoint, ...: the controller cannot see where calls leave. */
  | { readonly kind: 'unseen'; readonly id: string; readonly what: string }

export interface EgressRoute {
  /** Destination CIDR, or the prefix-list ID of a prefix-list route. */
  readonly destination: string
  /** Which of an interface's address families the route carries. */
  readonly family: 4 | 6 | 'both'
  readonly target: EgressTarget
}

/**
 * The routes of one table that can carry calls to AWS's public endpoints. Every such route counts, not only
 * the default route, because a more specific public route (to another NAT gateway, say) wins for its range,
 * and which AWS ranges a workload calls is unknowable. Left out, as they cannot carry such calls:
 * - blackhole routes (the traffic is dropped) and `local` routes (the VPC's own ranges);
 * - a prefix-list route to a `vpce-` target: a gateway endpoint (S3, DynamoDB), which is the endpoint path
 *   the lock's private addresses already cover;
 * - destinations wholly inside private, shared, link-local, multicast or reserved space (routes to other
 *   VPCs and to the company network), see {@link mayCarryAwsPublicTraffic}. The NAT64 prefix 64:ff9b::/96
 *   does carry them: it is how IPv6-only subnets reach IPv4-only endpoints.
 * Any other prefix-list route counts, for both families: its entries are not read, so it may hold public
 * ranges. More routes can only add egress or make it unknown, never take an address away.
 */
export function egressRoutes(table: RouteTable | undefined): EgressRoute[] {
  const routes: EgressRoute[] = []
  for (const route of table?.Routes ?? []) {
    if (route.State === 'blackhole' || route.GatewayId === 'local') continue
    const destination =
      route.DestinationCidrBlock ?? route.DestinationIpv6CidrBlock ?? route.DestinationPrefixListId
    if (destination === undefined) continue
    if (route.DestinationPrefixListId && route.GatewayId?.startsWith('vpce-')) continue
    if (!route.DestinationPrefixListId && !mayCarryAwsPublicTraffic(destination)) continue
    const family = route.DestinationCidrBlock ? 4 : route.DestinationIpv6CidrBlock ? 6 : 'both'
    routes.push({ destination, family, target: routeTarget(route) })
  }
  return routes
}

function routeTarget(route: Route): EgressTarget {
  if (route.NatGatewayId) return { kind: 'nat-gateway', id: route.NatGatewayId }
  // EC2 names both the instance and its interface for a route to an instance: the interface is exact.
  if (route.NetworkInterfaceId) return { kind: 'nat-instance', id: route.NetworkInterfaceId }
  if (route.InstanceId) return { kind: 'nat-instance', id: route.InstanceId }
  if (route.GatewayId?.startsWith('igw-') || route.EgressOnlyInternetGatewayId || route.CarrierGatewayId) {
    return { kind: 'own-address' }
  }
  if (route.TransitGatewayId) return { kind: 'unseen', id: route.TransitGatewayId, what: 'transit gateway' }
  if (route.VpcPeeringConnectionId) {
    return { kind: 'unseen', id: route.VpcPeeringConnectionId, what: 'peering connection' }
  }
  if (route.LocalGatewayId) return { kind: 'unseen', id: route.LocalGatewayId, what: 'local gateway' }
  if (route.CoreNetworkArn) return { kind: 'unseen', id: route.CoreNetworkArn, what: 'core network' }
  const gateway = route.GatewayId ?? 'unnamed'
  if (gateway.startsWith('vgw-')) return { kind: 'unseen', id: gateway, what: 'virtual private gateway' }
  if (gateway.startsWith('vpce-')) return { kind: 'unseen', id: gateway, what: 'VPC endpoint' }
  return { kind: 'unseen', id: gateway, what: 'gateway' }
}

/** Anything that sends from network interfaces in subnets: an instance, a VPC Lambda function. */
export interface Workload {
  readonly key: string
  readonly interfaces: readonly ObservedInterface[]
}

/**
 * Where each workload's calls to AWS's public endpoints leave by, by key: one DescribeRouteTables pass, then
 * at most one NAT gateway and two network-interface look-ups, for all of them; no call for none.
 */
export async function egressByWorkload(
  ec2: EC2Client,
  workloads: readonly Workload[],
  knownEgress: KnownEgress,
): Promise<Map<string, Egress>> {
  if (workloads.length === 0) return new Map()
  const vpcIds = [...new Set(workloads.flatMap((workload) => workload.interfaces.map((eni) => eni.vpcId)))]
  const routeTables: RouteTable[] = []
  await asPermitted('ec2:DescribeRouteTables', '*', async () => {
    const input = { Filters: [{ Name: 'vpc-id', Values: vpcIds }] }
    for await (const page of paginateDescribeRouteTables({ client: ec2 }, input)) {
      routeTables.push(...(page.RouteTables ?? []))
    }
  })
  const routesByWorkload = new Map(
    workloads.map((workload) => [workload.key, workloadRoutes(routeTables, workload)]),
  )
  const targets = [...routesByWorkload.values()].flat().map((route) => route.target)
  const idsOf = (kind: EgressTarget['kind'], prefix = '') => [
    ...new Set(
      targets.flatMap((t) => (t.kind === kind && 'id' in t && t.id.startsWith(prefix) ? [t.id] : [])),
    ),
  ]
  const [natAddresses, eniAddresses] = await Promise.all([
    natGatewayAddresses(ec2, idsOf('nat-gateway')),
    interfaceAddresses(ec2, idsOf('nat-instance', 'eni-'), idsOf('nat-instance', 'i-')),
  ])
  const seen = new Map([...natAddresses, ...eniAddresses])
  return new Map(
    [...routesByWorkload].map(([key, routes]) => [key, resolveEgress(routes, seen, knownEgress)]),
  )
}

/** The egress routes of every interface's subnet, in the families that interface sends. */
function workloadRoutes(routeTables: readonly RouteTable[], workload: Workload): EgressRoute[] {
  const routes = new Map<string, EgressRoute>()
  for (const eni of workload.interfaces) {
    const table =
      routeTables.find((candidate) => candidate.Associations?.some((a) => a.SubnetId === eni.subnetId)) ??
      routeTables.find(
        (candidate) => candidate.VpcId === eni.vpcId && candidate.Associations?.some((a) => a.Main),
      )
    for (const route of egressRoutes(table)) {
      const carried = route.family === 'both' || (route.family === 4 ? eni.ipv4 : eni.ipv6)
      const key = `${route.destination} ${'id' in route.target ? route.target.id : route.target.kind}`
      if (carried && !routes.has(key)) routes.set(key, route)
    }
  }
  return [...routes.values()]
}

/**
 * Adds up what every route leads to. A NAT gateway or NAT instance without a public address, and every
 * target the controller cannot see through, take their egress from knownEgress; one that has none there
 * makes the whole instance unknown, because a lock missing one egress would refuse the instance's own calls.
 */
function resolveEgress(
  routes: readonly EgressRoute[],
  seen: ReadonlyMap<string, readonly string[]>,
  knownEgress: KnownEgress,
): Egress {
  const egressIps = new Set<string>()
  const unknown: { readonly destination: string; readonly id: string; readonly what: string }[] = []
  for (const { destination, target } of routes) {
    if (target.kind === 'own-address') continue
    const found = seen.get(target.id) ?? declaredEgress(knownEgress, target.id)
    if (found) for (const ip of found) egressIps.add(ip)
    else if (target.kind === 'unseen') unknown.push({ destination, ...target })
    else {
      const what =
        target.kind === 'nat-gateway'
          ? 'NAT gateway without a public address'
          : 'NAT instance without a public address'
      unknown.push({ destination, id: target.id, what })
    }
  }
  if (unknown.length === 0) return { egressIps: [...egressIps] }
  return { egressIps: 'unknown', egressUnknownReason: unknownEgressReason(unknown) }
}

function unknownEgressReason(
  unknown: readonly { readonly destination: string; readonly id: string; readonly what: string }[],
): string {
  const routes = unknown.map(({ destination, id, what }) => `${destination} to ${what} ${id}`)
  const keys = [...new Set(unknown.map(({ id }) => (isUnseenTargetId(id) ? `"${id}"` : '"*"')))]
  const orAny = keys.includes('"*"') ? '' : ' (or "*")'
  const plural = routes.length > 1
  return (
    `its route${plural ? 's' : ''} ${inWords(routes)} lead${plural ? '' : 's'} where the controller cannot see ` +
    `the public egress: add ${inWords(keys)}${orAny} to the knownEgress setting with the public CIDRs that ` +
    'traffic leaves by.'
  )
}

function inWords(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
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
