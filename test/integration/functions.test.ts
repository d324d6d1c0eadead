/**
 * VPC Lambda functions locked by the controller (issue 13, part 1), against moto: the real handler reads the
 * functions, their tags, subnets and routes, writes the role's lock, and iam-simulate judges requests signed with
 * the functions' credentials on the role's real policies.
 */
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { describe, expect, inject, it } from 'vitest'
import { OUTSIDE_VPC_REASON } from '../../policy/lock/index.js'
import { type ControllerUnderTest, controllerUnderTest } from '../support/controller-under-test.js'
import { type AnyEventBridgeEvent, functionCall, scheduled, stateChange } from '../support/events.js'
import {
  allowFunctionBasics,
  createFunction,
  deleteFunction,
  functionCredentials,
  LAMBDA_SERVICE_IP,
  moveFunction,
  setFunctionOptIn,
  type WorldFunction,
} from '../support/functions.js'
import {
  type ApiCall,
  byLambdaService,
  type Credentials,
  fromPublicIp,
  type SimulatedRequest,
  throughEndpoint,
  type Verdict,
  verdict,
} from '../support/simulate.js'
import { READ_REPORT, rolePolicies, THIEF_IP } from '../support/story.js'
import { buildDefendersWorld, DEFENDERS, type DefendersWorld } from '../support/world.js'

const FOREIGN_VPC = 'vpc-0f0e0d0c0b0a09080'
const SECOND = 1_000

interface Scene {
  readonly controller: ControllerUnderTest
  readonly world: DefendersWorld
}

async function scene(): Promise<Scene> {
  const controller = controllerUnderTest(inject('motoEndpoint'))
  const world = await buildDefendersWorld(controller)
  await allowFunctionBasics(controller.iam, DEFENDERS)
  return { controller, world }
}

/** Delivers one event as EventBridge would, with a fresh call count; no record may fail. */
async function deliver({ controller, world }: Scene, event: AnyEventBridgeEvent): Promise<void> {
  controller.calls.reset()
  const context = {
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${world.accountId}:function:credential-lock`,
  }
  const response = await controller.handler(event, context)
  expect(response?.batchItemFailures ?? []).toEqual([])
}

async function created(at: Scene, name: string, optedIn: boolean, inVpc = true): Promise<WorldFunction> {
  const fn = await createFunction(at.controller.lambda, at.world, {
    name,
    optedIn,
    subnetIds: inVpc ? [at.world.privateSubnet.subnetId] : [],
  })
  await deliver(at, functionCall('cloudtrail-lambda-create-function', name, at.world.accountId))
  return fn
}

/** IAM's verdicts on a role as moto holds it now, one per request (READ_REPORT unless the request says). */
async function verdictsOn(
  at: Scene,
  requests: Record<string, SimulatedRequest>,
  roleName = DEFENDERS,
): Promise<Record<string, Verdict>> {
  const policies = await rolePolicies(at.controller.iam, roleName)
  const verdicts: Record<string, Verdict> = {}
  for (const [story, request] of Object.entries(requests)) verdicts[story] = await verdict(policies, request)
  return verdicts
}

const read = (credentials: Credentials, ip: string) => fromPublicIp(credentials, ip, READ_REPORT)

/** What the last decision line on a role says about one function. */
function decidedFor({ controller }: Scene, functionName: string, roleName = DEFENDERS) {
  const line = controller.decisions.filter((decision) => decision.roleName === roleName).at(-1)
  return line?.functions.find((fn) => fn.functionName === functionName)
}

const LOG_DELIVERY: readonly ApiCall[] = [
  { action: 'logs:CreateLogGroup', resource: 'arn:aws:logs:us-east-1:*:log-group:/aws/lambda/reporter' },
  { action: 'logs:CreateLogStream', resource: 'arn:aws:logs:us-east-1:*:log-group:/aws/lambda/reporter:*' },
  { action: 'logs:PutLogEvents', resource: 'arn:aws:logs:us-east-1:*:log-group:/aws/lambda/reporter:*' },
  { action: 'xray:PutTraceSegments', resource: '*' },
  {
    action: 'elasticfilesystem:ClientMount',
    resource: 'arn:aws:elasticfilesystem:us-east-1:*:file-system/fs-0123456789abcdef0',
  },
]

describe('a tagged function in a private subnet behind a NAT gateway', () => {
  it('is locked to the NAT and its VPC; Lambda keeps delivering its logs; an untagged sibling is untouched', async () => {
    // Prepare
    const at = await scene()
    const draft = await created(at, 'reporter-draft', false)

    // Act
    const reporter = await created(at, 'reporter', true)

    // Assess
    const nat = at.world.privateSubnet.natPublicIp
    expect(decidedFor(at, 'reporter')).toEqual({
      functionName: 'reporter',
      outcome: 'locked',
      vpcId: at.world.vpcId,
      publicCidrs: [`${nat}/32`],
      privateCidrs: ['10.0.2.0/24'],
    })
    const stolen = functionCredentials(at.world, reporter)
    const lambdaCalls = Object.fromEntries(
      LOG_DELIVERY.map((call) => [
        `Lambda's ${call.action}`,
        byLambdaService(stolen, LAMBDA_SERVICE_IP, call),
      ]),
    )
    expect(
      await verdictsOn(at, {
        'reporter from its NAT': read(stolen, nat),
        'reporter through an endpoint of its VPC': throughEndpoint(
          stolen,
          { vpc: at.world.vpcId, privateIp: '10.0.2.57' },
          READ_REPORT,
        ),
        'Jessica with reporter credentials': read(stolen, THIEF_IP),
        'Jessica through another VPC': throughEndpoint(
          stolen,
          { vpc: FOREIGN_VPC, privateIp: '10.0.2.57' },
          READ_REPORT,
        ),
        'Jessica with the untagged draft credentials': read(functionCredentials(at.world, draft), THIEF_IP),
        ...lambdaCalls,
      }),
    ).toEqual({
      'reporter from its NAT': 'Allowed',
      'reporter through an endpoint of its VPC': 'Allowed',
      'Jessica with reporter credentials': 'ExplicitlyDenied',
      'Jessica through another VPC': 'ExplicitlyDenied',
      'Jessica with the untagged draft credentials': 'Allowed',
      ...Object.fromEntries(Object.keys(lambdaCalls).map((story) => [story, 'Allowed'])),
    })
  })

  it('costs one function listing, one tag read, one subnet read and one route pass for its event', async () => {
    // Prepare
    const at = await scene()

    // Act
    await created(at, 'reporter', true)

    // Assess
    const counts = at.controller.calls.snapshot().byOperation
    expect({
      listFunctions: counts['Lambda:ListFunctions'],
      listTags: counts['Lambda:ListTags'],
      describeSubnets: counts['EC2:DescribeSubnets'],
      functionRouteTables: (counts['EC2:DescribeRouteTables'] ?? 0) - 1,
      writes: counts['IAM:PutRolePolicy'],
    }).toEqual({ listFunctions: 1, listTags: 1, describeSubnets: 1, functionRouteTables: 1, writes: 1 })
  })
})

describe('an instance and a function on one role', () => {
  it('locks both, each to its own paths, neither locking out the other', async () => {
    // Prepare: Luke (own public IP) and Danny (behind the NAT) are locked on the role already.
    const at = await scene()
    await deliver(at, scheduled())

    // Act
    const reporter = await created(at, 'reporter', true)

    // Assess
    const nat = at.world.privateSubnet.natPublicIp
    const luke = {
      accountId: at.world.accountId,
      region: at.world.region,
      roleName: DEFENDERS,
      instanceId: at.world.luke.instanceId,
      vpcId: at.world.vpcId,
      privateIpv4: at.world.luke.privateIp,
    }
    const lukeIp = at.world.luke.publicIp ?? ''
    const stolen = functionCredentials(at.world, reporter)
    expect(
      await verdictsOn(at, {
        'Luke from his own address': read(luke, lukeIp),
        'reporter from its NAT': read(stolen, nat),
        "Luke's credentials from reporter's NAT": read(luke, nat),
        "reporter's credentials from Luke's address": read(stolen, lukeIp),
        'Jessica with reporter credentials': read(stolen, THIEF_IP),
        "Jessica with Luke's credentials": read(luke, THIEF_IP),
      }),
    ).toEqual({
      'Luke from his own address': 'Allowed',
      'reporter from its NAT': 'Allowed',
      "Luke's credentials from reporter's NAT": 'ExplicitlyDenied',
      "reporter's credentials from Luke's address": 'ExplicitlyDenied',
      'Jessica with reporter credentials': 'ExplicitlyDenied',
      "Jessica with Luke's credentials": 'ExplicitlyDenied',
    })
    const line = at.controller.decisions.at(-1)
    expect(line?.instances.map((i) => i.outcome)).toEqual(['locked', 'locked'])
  })
})

describe('events that do not name the function', () => {
  it("keep its lock: an instance's state change on its role, and the resync", async () => {
    // Prepare
    const at = await scene()
    await created(at, 'reporter', true)

    // Act
    await deliver(at, stateChange(at.world.danny.instanceId, 'running'))
    const afterStateChange = decidedFor(at, 'reporter')?.outcome
    await deliver(at, scheduled())

    // Assess
    expect({ afterStateChange, afterResync: decidedFor(at, 'reporter')?.outcome }).toEqual({
      afterStateChange: 'locked',
      afterResync: 'locked',
    })
  })

  it('the resync finds a function tagged before the controller saw any event of it', async () => {
    // Prepare
    const at = await scene()
    await createFunction(at.controller.lambda, at.world, {
      name: 'reporter',
      optedIn: true,
      subnetIds: [at.world.privateSubnet.subnetId],
    })

    // Act
    await deliver(at, scheduled())

    // Assess
    expect(decidedFor(at, 'reporter')?.outcome).toBe('locked')
  })
})

describe('a tagged function outside any VPC', () => {
  it('is skipped with its reason, which points to the in-function lockdown, and refused nothing', async () => {
    // Prepare
    const at = await scene()

    // Act
    const webhook = await created(at, 'webhook', true, false)

    // Assess
    expect(decidedFor(at, 'webhook')).toEqual({
      functionName: 'webhook',
      outcome: 'skipped',
      reason: OUTSIDE_VPC_REASON,
    })
    expect(
      await verdictsOn(at, { anywhere: read(functionCredentials(at.world, webhook), THIEF_IP) }),
    ).toEqual({
      anywhere: 'Allowed',
    })
  })
})

describe('a locked function deleted, created again, moved, untagged', () => {
  it('deleted: its old credentials are refused even from the NAT; created again: its new ones work', async () => {
    // Prepare
    const at = await scene()
    const reporter = await created(at, 'reporter', true)
    const nat = at.world.privateSubnet.natPublicIp
    const oldCredentials = functionCredentials(at.world, reporter, new Date(Date.now() - 60 * SECOND))

    // Act
    await deleteFunction(at.controller.lambda, reporter)
    await deliver(at, functionCall('cloudtrail-lambda-delete-function', 'reporter', at.world.accountId))
    const afterDeletion = await verdictsOn(at, { 'old from the NAT': read(oldCredentials, nat) })
    at.controller.advanceClock(5 * SECOND)
    const again = await created(at, 'reporter', true)
    const fresh = functionCredentials(at.world, again, new Date(Date.now() + 5 * SECOND))

    // Assess
    expect(afterDeletion).toEqual({ 'old from the NAT': 'ExplicitlyDenied' })
    expect(
      await verdictsOn(at, {
        'new from the NAT': read(fresh, nat),
        'new stolen': read(fresh, THIEF_IP),
        'old from the NAT': read(oldCredentials, nat),
      }),
    ).toEqual({
      'new from the NAT': 'Allowed',
      'new stolen': 'ExplicitlyDenied',
      'old from the NAT': 'ExplicitlyDenied',
    })
    expect(at.controller.decisions.at(-1)?.functions.map((fn) => fn.outcome)).toEqual([
      'locked',
      'tombstoned',
    ])
  })

  it('moved to another role: a tombstone on the old role, a lock on the new one', async () => {
    // Prepare
    const at = await scene()
    const reporter = await created(at, 'reporter', true)
    const next = await at.controller.iam.send(
      new CreateRoleCommand({ RoleName: 'defenders-next', AssumeRolePolicyDocument: '{}' }),
    )
    await allowFunctionBasics(at.controller.iam, 'defenders-next')
    await at.controller.iam.send(
      new PutRolePolicyCommand({
        RoleName: 'defenders-next',
        PolicyName: 'read-reports',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: READ_REPORT.action, Resource: READ_REPORT.resource }],
        }),
      }),
    )
    const nat = at.world.privateSubnet.natPublicIp

    // Act
    await moveFunction(at.controller.lambda, reporter, next.Role?.Arn ?? '')
    await deliver(
      at,
      functionCall('cloudtrail-lambda-update-function-configuration', 'reporter', at.world.accountId),
    )

    // Assess
    expect(decidedFor(at, 'reporter')).toMatchObject({
      outcome: 'tombstoned',
      reason: 'moved to another role',
    })
    expect(decidedFor(at, 'reporter', 'defenders-next')).toMatchObject({ outcome: 'locked' })
    const onOldRole = functionCredentials(at.world, reporter, new Date(Date.now() - 60 * SECOND))
    const onNewRole = functionCredentials(
      at.world,
      reporter,
      new Date(Date.now() + 5 * SECOND),
      'defenders-next',
    )
    expect(await verdictsOn(at, { 'old role from the NAT': read(onOldRole, nat) })).toEqual({
      'old role from the NAT': 'ExplicitlyDenied',
    })
    expect(
      await verdictsOn(
        at,
        { 'new role from the NAT': read(onNewRole, nat), 'new role stolen': read(onNewRole, THIEF_IP) },
        'defenders-next',
      ),
    ).toEqual({ 'new role from the NAT': 'Allowed', 'new role stolen': 'ExplicitlyDenied' })
  })

  it('untagged: the lock is lifted', async () => {
    // Prepare
    const at = await scene()
    const reporter = await created(at, 'reporter', true)

    // Act
    await setFunctionOptIn(at.controller.lambda, reporter, false)
    await deliver(at, functionCall('cloudtrail-lambda-untag-resource', 'reporter', at.world.accountId))

    // Assess
    expect(decidedFor(at, 'reporter')).toEqual({
      functionName: 'reporter',
      outcome: 'released',
      reason: 'not opted in',
    })
    expect(
      await verdictsOn(at, { anywhere: read(functionCredentials(at.world, reporter), THIEF_IP) }),
    ).toEqual({
      anywhere: 'Allowed',
    })
  })
})
