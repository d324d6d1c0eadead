import { describe, expect, inject, it } from 'vitest'
import type { ControllerConfig } from '../../handlers/aws/config.js'
import { describeByIds, withEgress } from '../../handlers/aws/ec2-truth.js'
import type { InstanceFacts } from '../../policy/lock/index.js'
import {
  attachInterfaceFromAnotherVpc,
  buildIpv6OnlyNetwork,
  buildSpokeNetwork,
  routeRangeThroughSecondNat,
} from '../support/company-networks.js'
import { type ControllerUnderTest, controllerUnderTest } from '../support/controller-under-test.js'
import { stateChange } from '../support/events.js'
import {
  fromPublicIp,
  type InstanceCredentials,
  type SimulatedRequest,
  throughEndpoint,
  type Verdict,
  verdict,
} from '../support/simulate.js'
import { READ_REPORT, rolePolicies } from '../support/story.js'
import {
  buildDefendersWorld,
  DEFENDERS,
  type DefendersWorld,
  launchOnRole,
  OPT_IN_TAG,
  type WorldSubnet,
} from '../support/world.js'

const COMPANY_EGRESS = '203.0.113.0/28'

interface Scene {
  readonly controller: ControllerUnderTest
  readonly world: DefendersWorld
  readonly config: Partial<ControllerConfig>
}

async function scene(config: Partial<ControllerConfig> = {}): Promise<Scene> {
  const controller = controllerUnderTest(inject('motoEndpoint'), { config })
  return { controller, world: await buildDefendersWorld(controller), config }
}

/** The same world seen by a controller with other settings (its own logs and call count). */
function withSettings(at: Scene, config: Partial<ControllerConfig>): Scene {
  const controller = controllerUnderTest(inject('motoEndpoint'), { config, accountId: at.world.accountId })
  return { ...at, controller, config }
}

async function launch(
  { controller, world }: Scene,
  name: string,
  subnet: WorldSubnet,
  ipv6Addresses?: number,
): Promise<string> {
  const launched = await launchOnRole(controller.ec2, world, { subnet, name, optedIn: true, ipv6Addresses })
  return launched.instanceId
}

/** Delivers the `running` state change of one instance, as EventBridge would, with a fresh call count. */
async function deliverRunning({ controller, world }: Scene, instanceId: string): Promise<void> {
  controller.calls.reset()
  const context = {
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${world.accountId}:function:credential-lock`,
  }
  const response = await controller.handler(stateChange(instanceId, 'running'), context)
  expect(response?.batchItemFailures ?? []).toEqual([])
}

/** The facts the controller reads for one instance, through the same code and the same settings. */
async function factsOf({ controller, world, config }: Scene, instanceId: string): Promise<InstanceFacts> {
  const reading = {
    ec2: controller.ec2,
    lockTag: OPT_IN_TAG,
    profileRoles: new Map([[world.instanceProfile.arn, DEFENDERS]]),
  }
  const observed = await describeByIds(reading, [instanceId])
  const [facts] = await withEgress(controller.ec2, observed, () => true, config.knownEgress ?? new Map())
  if (facts === undefined) throw new Error(`EC2 does not know ${instanceId}`)
  return facts
}

/** What the last decision line on the Defenders' role says about one instance. */
function decidedFor({ controller }: Scene, instanceId: string) {
  const line = controller.decisions.filter((decision) => decision.roleName === DEFENDERS).at(-1)
  return line?.instances.find((instance) => instance.instanceId === instanceId)
}

const THIEF_IP = '198.18.0.66'

/** The credentials an instance's role session carries, wherever they are used from. */
function credentialsOf(
  at: Scene,
  instanceId: string,
  vpcId: string,
  privateIpv4: string | undefined,
): InstanceCredentials {
  return {
    accountId: at.world.accountId,
    region: 'us-east-1',
    roleName: DEFENDERS,
    instanceId,
    vpcId,
    privateIpv4,
  }
}

/** IAM's verdicts on the Defenders' role as moto holds it now, one per request. */
async function verdictsOn(
  at: Scene,
  requests: Record<string, SimulatedRequest>,
): Promise<Record<string, Verdict>> {
  const policies = await rolePolicies(at.controller.iam, DEFENDERS)
  const verdicts: Record<string, Verdict> = {}
  for (const [story, request] of Object.entries(requests)) {
    verdicts[story] = await verdict(policies, { ...request, call: READ_REPORT })
  }
  return verdicts
}

/** Look-ups of the truth stay inside the budget: one route-table pass and one NAT look-up per event. */
function expectRouteLookupBudget({ controller }: Scene): void {
  const counts = controller.calls.snapshot().byOperation
  expect({
    routeTables: counts['EC2:DescribeRouteTables'],
    natGateways: counts['EC2:DescribeNatGateways'],
  }).toEqual({ routeTables: 1, natGateways: 1 })
}

describe('a spoke VPC whose default route is a transit gateway', () => {
  it('is skipped, with a reason naming the transit gateway and knownEgress; with it, locked to those CIDRs', async () => {
    // Prepare
    const at = await scene()
    const spoke = await buildSpokeNetwork(at.controller.ec2)
    const claire = await launch(at, 'claire', { subnetId: spoke.spokeSubnetId })
    const configured = withSettings(at, {
      knownEgress: new Map([[spoke.transitGatewayId, [COMPANY_EGRESS]]]),
      trustedVpcEndpoints: [spoke.sharedEndpointId],
    })

    // Act
    await deliverRunning(at, claire)
    await deliverRunning(configured, claire)

    // Assess
    const reason =
      `its route 0.0.0.0/0 to transit gateway ${spoke.transitGatewayId} leads where the controller cannot see ` +
      `the public egress: add "${spoke.transitGatewayId}" (or "*") to the knownEgress setting with the public ` +
      'CIDRs that traffic leaves by.'
    expect(await factsOf(at, claire)).toMatchObject({ egressIps: 'unknown', egressUnknownReason: reason })
    expect(decidedFor(at, claire)).toEqual({ instanceId: claire, outcome: 'skipped', reason })
    const facts = await factsOf(configured, claire)
    expect(facts).toMatchObject({ publicIps: [], egressIps: [COMPANY_EGRESS], otherVpcIds: [] })
    expect(facts.primaryPrivateIpv4).toMatch(/^10\.20\.1\.\d+$/)
    expect(decidedFor(configured, claire)).toEqual({
      instanceId: claire,
      outcome: 'locked',
      publicCidrs: [COMPANY_EGRESS],
      privateCidrs: [`${facts.primaryPrivateIpv4}/32`],
      onlyPrimary: true,
      otherVpcIds: [],
    })
    expect(decidedFor(configured, at.world.luke.instanceId)).toMatchObject({ outcome: 'locked' })
    expectRouteLookupBudget(configured)
    const credentials = credentialsOf(at, claire, spoke.spokeVpcId, facts.primaryPrivateIpv4)
    const shared = (privateIp: string, vpce = spoke.sharedEndpointId) =>
      throughEndpoint(credentials, { vpc: spoke.sharedVpcId, privateIp, vpce })
    expect(
      await verdictsOn(configured, {
        'from the company egress': fromPublicIp(credentials, '203.0.113.5'),
        'through the trusted shared endpoint from its own address': shared(facts.primaryPrivateIpv4 ?? ''),
        'through the trusted shared endpoint from another address': shared('10.20.1.99'),
        'through another endpoint in the shared VPC': shared(
          facts.primaryPrivateIpv4 ?? '',
          'vpce-0fedcba987654321f',
        ),
        'from outside': fromPublicIp(credentials, THIEF_IP),
      }),
    ).toEqual({
      'from the company egress': 'Allowed',
      'through the trusted shared endpoint from its own address': 'Allowed',
      'through the trusted shared endpoint from another address': 'ExplicitlyDenied',
      'through another endpoint in the shared VPC': 'ExplicitlyDenied',
      'from outside': 'ExplicitlyDenied',
    })
  })
})

describe('an IPv6-only subnet: ::/0 to an egress-only gateway, 64:ff9b::/96 (NAT64) to a NAT gateway', () => {
  it("locks the instance to its own IPv6 and the NAT's public IPv4", async () => {
    // Prepare
    const at = await scene()
    const network = await buildIpv6OnlyNetwork(at.controller.ec2)
    const colleen = await launch(at, 'colleen', { subnetId: network.subnetId }, 1)

    // Act
    await deliverRunning(at, colleen)

    // Assess
    const facts = await factsOf(at, colleen)
    const [ownIpv6] = facts.publicIps
    expect(facts).toMatchObject({
      egressIps: [network.natPublicIp],
      publicIps: [expect.stringMatching(/^2400:6500:/)],
      primaryPrivateIpv4: undefined,
    })
    expect(decidedFor(at, colleen)).toEqual({
      instanceId: colleen,
      outcome: 'locked',
      publicCidrs: [`${network.natPublicIp}/32`, `${ownIpv6}/128`],
      privateCidrs: expect.arrayContaining([`${ownIpv6}/128`]),
      onlyPrimary: false,
      otherVpcIds: [],
    })
    expectRouteLookupBudget(at)
    const credentials = credentialsOf(at, colleen, network.vpcId, undefined)
    expect(
      await verdictsOn(at, {
        'from its own IPv6': fromPublicIp(credentials, ownIpv6 ?? ''),
        'through NAT64': fromPublicIp(credentials, network.natPublicIp),
        'from outside (IPv6)': fromPublicIp(credentials, '2001:db8::66'),
        'from outside (IPv4)': fromPublicIp(credentials, THIEF_IP),
      }),
    ).toEqual({
      'from its own IPv6': 'Allowed',
      'through NAT64': 'Allowed',
      'from outside (IPv6)': 'ExplicitlyDenied',
      'from outside (IPv4)': 'ExplicitlyDenied',
    })
  })
})

describe('a more specific public route to a second NAT gateway', () => {
  it("adds that NAT's address to the default route's", async () => {
    // Prepare
    const at = await scene()
    const second = await routeRangeThroughSecondNat(at.controller.ec2, at.world, '3.5.0.0/16')
    const danny = at.world.danny.instanceId

    // Act
    await deliverRunning(at, danny)

    // Assess
    const natIps = [at.world.privateSubnet.natPublicIp, second.natPublicIp]
    expect((await factsOf(at, danny)).egressIps).toEqual(natIps)
    expect(decidedFor(at, danny)).toMatchObject({
      outcome: 'locked',
      publicCidrs: natIps.map((ip) => `${ip}/32`).sort(),
    })
    expectRouteLookupBudget(at)
  })
})

describe('an instance with a network interface in a second VPC', () => {
  it("names that VPC in otherVpcIds and allows that interface's private address", async () => {
    // Prepare
    const at = await scene()
    const misty = await launch(at, 'misty', 'public')
    const foreign = await attachInterfaceFromAnotherVpc(at.controller.ec2, misty)

    // Act
    await deliverRunning(at, misty)

    // Assess
    const facts = await factsOf(at, misty)
    expect(facts).toMatchObject({
      otherVpcIds: [foreign.vpcId],
      primaryPrivateIpv4: expect.stringMatching(/^10\.0\.1\.\d+$/),
      egressIps: [],
    })
    expect(decidedFor(at, misty)).toMatchObject({
      outcome: 'locked',
      privateCidrs: [`${facts.primaryPrivateIpv4}/32`, `${foreign.privateIp}/32`].sort(),
    })
    const credentials = credentialsOf(at, misty, at.world.vpcId, facts.primaryPrivateIpv4)
    const inSecondVpc = (privateIp: string) => throughEndpoint(credentials, { vpc: foreign.vpcId, privateIp })
    expect(
      await verdictsOn(at, {
        "through the second VPC's endpoint from that interface": inSecondVpc(foreign.privateIp),
        "through the second VPC's endpoint from another address": inSecondVpc('10.50.1.99'),
        'through a third VPC': throughEndpoint(credentials, {
          vpc: 'vpc-0f1f2f3f4f5f6f7f8',
          privateIp: foreign.privateIp,
        }),
      }),
    ).toEqual({
      "through the second VPC's endpoint from that interface": 'Allowed',
      "through the second VPC's endpoint from another address": 'ExplicitlyDenied',
      'through a third VPC': 'ExplicitlyDenied',
    })
  })
})
