/**
 * The pre-flight plan against an account simulated on moto_server: the report it gives for opted-in and for
 * every instance, that it writes nothing, and the plan command run as a process, with its exit codes.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { EC2Client, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2'
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from '@aws-sdk/client-eks'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { STSClient } from '@aws-sdk/client-sts'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { type ControllerConfig, readConfig } from '../../handlers/aws/config.js'
import { type PlanReport, renderPlanJson, renderPlanText } from '../../handlers/plan/plan-report.js'
import { type PlanClients, planAccount } from '../../handlers/plan/preflight.js'
import { AwsCallCounter } from '../support/aws-call-counter.js'
import { useMotoAccount } from '../support/moto.js'
import { roleOf } from '../support/plan-facts.js'
import { subnetBehindTransitGateway } from '../support/plan-world.js'
import {
  buildDefendersWorld,
  type DefendersWorld,
  launchOnRole,
  type WorldInstance,
} from '../support/world.js'

const REGION = 'us-east-1'
const CONFIG: ControllerConfig = readConfig({ AWS_REGION: REGION })
const CLUSTER = 'avengers'
const PLAN_ENTRY = new URL('../../handlers/plan/plan.ts', import.meta.url).pathname
const run = promisify(execFile)

interface PlanWorld {
  readonly world: DefendersWorld
  /** Opted in, in a subnet whose default route leads to a transit gateway. */
  readonly trish: WorldInstance
  readonly plan: (everyInstanceOptedIn: boolean) => Promise<PlanReport>
  readonly calls: AwsCallCounter
  readonly iam: IAMClient
}

/**
 * The Defenders world plus what the plan must warn about: Trish behind a transit gateway, Matt still on
 * IMDSv1 (Luke, Danny and Trish require IMDSv2), and the EKS cluster `avengers` with a public endpoint whose
 * managed nodes use the `defenders` role. The plan's own clients are counted; the operator's are not.
 */
async function buildPlanWorld(endpoint: string): Promise<PlanWorld> {
  const clientConfig = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  }
  const clients: PlanClients = {
    ec2: new EC2Client(clientConfig),
    iam: new IAMClient(clientConfig),
    sts: new STSClient(clientConfig),
    eks: new EKSClient(clientConfig),
    lambda: new LambdaClient(clientConfig),
    events: new EventBridgeClient(clientConfig),
  }
  const operator = { ec2: new EC2Client(clientConfig), iam: new IAMClient(clientConfig) }
  const eks = new EKSClient(clientConfig)
  const accountId = useMotoAccount(clients.ec2)
  for (const client of [
    clients.iam,
    clients.sts,
    clients.eks,
    clients.lambda,
    clients.events,
    operator.ec2,
    operator.iam,
    eks,
  ]) {
    useMotoAccount(client, accountId)
  }
  const calls = new AwsCallCounter().attachTo(
    clients.ec2,
    clients.iam,
    clients.sts,
    clients.eks,
    clients.lambda,
    clients.events,
  )

  const world = await buildDefendersWorld(operator)
  const transitSubnetId = await subnetBehindTransitGateway(operator.ec2, world.vpcId)
  const trish = await launchOnRole(
    operator.ec2,
    { ...world, privateSubnet: { ...world.privateSubnet, subnetId: transitSubnetId } },
    { subnet: 'private', name: 'trish', optedIn: true },
  )
  for (const { instanceId } of [world.luke, world.danny, trish]) {
    await operator.ec2.send(
      new ModifyInstanceMetadataOptionsCommand({ InstanceId: instanceId, HttpTokens: 'required' }),
    )
  }
  await eks.send(
    new CreateClusterCommand({
      name: CLUSTER,
      roleArn: `arn:aws:iam::${accountId}:role/eks-cluster`,
      resourcesVpcConfig: { subnetIds: [world.privateSubnet.subnetId] },
    }),
  )
  await eks.send(
    new CreateNodegroupCommand({
      clusterName: CLUSTER,
      nodegroupName: 'workers',
      nodeRole: world.role.roleArn,
      subnets: [world.privateSubnet.subnetId],
    }),
  )
  const plan = (everyInstanceOptedIn: boolean) =>
    planAccount(clients, CONFIG, { everyInstanceOptedIn, now: new Date() })
  return { world, trish, plan, calls, iam: operator.iam }
}

describe('the pre-flight plan against moto', () => {
  let planWorld: PlanWorld
  let optedIn: PlanReport
  let everyInstance: PlanReport

  beforeAll(async () => {
    planWorld = await buildPlanWorld(inject('motoEndpoint'))
    optedIn = await planWorld.plan(false)
    everyInstance = await planWorld.plan(true)
  })

  it('locks the opted-in instances in the precise form, within the budget', () => {
    // Prepare
    const { world } = planWorld

    // Act
    const role = roleOf(optedIn, world.role.roleName)

    // Assess
    expect(role).toMatchObject({ action: 'put', form: 'precise', budgetChars: 10_240, error: null })
    expect(role.policyChars).toBeGreaterThan(0)
    expect(role.policyChars + role.otherInlineChars).toBeLessThanOrEqual(role.budgetChars)
    expect(role.otherInlineChars).toBeGreaterThan(0)
    expect(role.locked.map((i) => i.instanceId).sort()).toEqual(
      [world.luke.instanceId, world.danny.instanceId].sort(),
    )
    const danny = role.locked.find((i) => i.instanceId === world.danny.instanceId)
    expect(danny?.publicCidrs).toEqual([`${world.privateSubnet.natPublicIp}/32`])
  })

  it('names every running instance it leaves unprotected, with the reason', () => {
    // Prepare
    const { world, trish } = planWorld

    // Act
    const role = roleOf(optedIn, world.role.roleName)

    // Assess
    expect(role.unprotected).toEqual(
      expect.arrayContaining([
        { instanceId: world.matt.instanceId, reason: 'not opted in' },
        { instanceId: trish.instanceId, reason: expect.stringContaining('transit gateway') },
      ]),
    )
    expect(role.unprotected).toHaveLength(2)
  })

  it('sees the hidden default route, IMDSv1 and the public EKS endpoint, each with why it matters', () => {
    // Prepare
    const { world, trish } = planWorld

    // Act
    const risks = roleOf(optedIn, world.role.roleName).risks

    // Assess
    expect(risks).toEqual([
      expect.objectContaining({ kind: 'hidden-egress', instanceIds: [trish.instanceId] }),
      expect.objectContaining({ kind: 'imds-v1', instanceIds: [world.matt.instanceId] }),
      expect.objectContaining({
        kind: 'public-eks-endpoint',
        finding: expect.stringContaining(`${CLUSTER} uses this role for its nodes`),
      }),
    ])
    for (const risk of risks) expect(risk.why).toMatch(/^[A-Z].*: .*\.$/)
    expect(risks[2]?.why).toContain('sts:GetCallerIdentity')
  })

  it('with --all, locks every instance with a profile as if it had opted in', () => {
    // Prepare
    const { world, trish } = planWorld

    // Act
    const role = roleOf(everyInstance, world.role.roleName)

    // Assess
    expect(everyInstance.everyInstanceOptedIn).toBe(true)
    expect(role.locked.map((i) => i.instanceId).sort()).toEqual(
      [world.luke.instanceId, world.matt.instanceId, world.danny.instanceId].sort(),
    )
    expect(role.unprotected).toEqual([{ instanceId: trish.instanceId, reason: expect.any(String) }])
    expect(role.policyChars).toBeGreaterThan(roleOf(optedIn, world.role.roleName).policyChars)
  })

  it('writes nothing: zero write calls, and the role keeps only its own policy', async () => {
    // Prepare
    const { calls, iam, world } = planWorld

    // Act
    const counts = calls.snapshot()
    const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: world.role.roleName }))

    // Assess
    expect(counts.writes).toBe(0)
    expect(counts.reads).toBeGreaterThan(0)
    expect(counts.byOperation['STS:GetCallerIdentity']).toBe(2)
    expect(policies.PolicyNames).toEqual(['defenders-app'])
  })

  it('gives the same report as JSON, and as a table a person reads', () => {
    // Prepare
    const { world } = planWorld

    // Act
    const json = JSON.parse(renderPlanJson(optedIn))
    const text = renderPlanText(optedIn)

    // Assess
    expect(json).toEqual(JSON.parse(JSON.stringify(optedIn)))
    expect(Object.keys(json)).toEqual([
      'accountId',
      'region',
      'lockTag',
      'everyInstanceOptedIn',
      'dryRun',
      'roles',
      'summary',
    ])
    expect(Object.keys(json.roles[0])).toEqual([
      'roleName',
      'action',
      'form',
      'policyChars',
      'otherInlineChars',
      'budgetChars',
      'locked',
      'tombstoned',
      'unprotected',
      'risks',
      'error',
    ])
    expect(json.summary).toEqual({
      roles: 1,
      rolesToChange: 1,
      rolesFailed: 0,
      instancesLocked: 2,
      instancesUnprotected: 2,
      risks: 3,
    })
    expect(text).toContain(`${world.role.roleName}: would write the precise lock, `)
    expect(text).toMatch(new RegExp(`^ {2}unprotected +${world.matt.instanceId} {2}not opted in$`, 'm'))
    expect(text).toContain('1 role to change, 2 instances locked, 2 unprotected, 3 risks.')
  })
})

describe('the plan command', () => {
  const cli = (args: readonly string[], env: Readonly<Record<string, string | undefined>>) =>
    run(process.execPath, ['--import', 'tsx', PLAN_ENTRY, ...args], {
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', ...env },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    )

  it('prints the JSON report and exits 0', async () => {
    // Act: moto's default account, which no other test uses.
    const { code, stdout } = await cli(['--json'], { AWS_ENDPOINT_URL: inject('motoEndpoint') })

    // Assess
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ accountId: '123456789012', region: REGION, dryRun: true })
  })

  it.each([
    [
      'no region',
      ['--json'],
      { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
      'AWS_REGION is not set',
    ],
    [
      'no credentials',
      [],
      { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: 'credential-lock-none' },
      'No AWS credentials were found',
    ],
    ['an unknown option', ['--dry'], {}, 'Unknown option --dry'],
  ])('with %s, exits 1 with one sentence', async (_, args, env, sentence) => {
    // Act
    const { code, stdout, stderr } = await cli(args, env)

    // Assess
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(sentence)])
  })
})
