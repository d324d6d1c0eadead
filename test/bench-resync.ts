/**
 * The scheduled resync of a large account against moto: `ROLES` instance roles with `PER_ROLE` opted-in workers
 * each behind one NAT gateway. The first resync locks every role; the second finds nothing to change. Figures:
 * the AWS calls and wall time of each, against the goals of one DescribeInstances pass, at most one policy read
 * per role and zero writes when nothing changed.
 */
import { performance } from 'node:perf_hooks'
import { AssociateRouteTableCommand, CreateSubnetCommand, RunInstancesCommand } from '@aws-sdk/client-ec2'
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
} from '@aws-sdk/client-iam'
import { mapLimited } from '../handlers/aws/concurrency.js'
import { summarizeCalls } from './support/controller-report.js'
import { type ControllerUnderTest, controllerUnderTest } from './support/controller-under-test.js'
import { scheduled } from './support/events.js'
import { buildDefendersWorld, type DefendersWorld, OPT_IN_TAG } from './support/world.js'

export interface ResyncRun {
  readonly label: string
  readonly seconds: number
  readonly describeInstancesPages: number
  /** GetRolePolicy and GetPolicyVersion: reads of the controller's own policies. */
  readonly policyReads: number
  readonly iamReads: number
  readonly iamWrites: number
  readonly byOperation: Readonly<Record<string, number>>
}

export interface ResyncReport {
  readonly roles: number
  readonly instances: number
  readonly setupSeconds: number
  readonly runs: readonly ResyncRun[]
}

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
})

/**
 * `roles` instance roles named fleet-000, fleet-001, ... with `perRole` opted-in workers each, behind the
 * Defenders' NAT gateway, in the controller's moto account.
 */
export async function buildLargeAccount(
  controller: ControllerUnderTest,
  roles: number,
  perRole: number,
): Promise<DefendersWorld> {
  const world = await buildDefendersWorld(controller)
  // A /20 behind the Defenders' NAT gateway: the /24 private subnet holds only about 250 instances.
  const fleetSubnet = await controller.ec2.send(
    new CreateSubnetCommand({ VpcId: world.vpcId, CidrBlock: '10.0.16.0/20' }),
  )
  const subnetId = fleetSubnet.Subnet?.SubnetId ?? ''
  await controller.ec2.send(
    new AssociateRouteTableCommand({ RouteTableId: world.privateSubnet.routeTableId, SubnetId: subnetId }),
  )
  const profiles = await mapLimited(
    Array.from({ length: roles }, (_, index) => `fleet-${String(index).padStart(3, '0')}`),
    8,
    async (name) => {
      await controller.iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }))
      const profile = await controller.iam.send(
        new CreateInstanceProfileCommand({ InstanceProfileName: name }),
      )
      await controller.iam.send(
        new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }),
      )
      return profile.InstanceProfile?.Arn ?? ''
    },
  )
  // One RunInstances per instance: moto gives the profile to the first instance of a larger call only.
  const launches = profiles.flatMap((arn) => Array.from({ length: perRole }, () => arn))
  await mapLimited(launches, 8, (arn) =>
    controller.ec2.send(
      new RunInstancesCommand({
        ImageId: world.imageId,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
        IamInstanceProfile: { Arn: arn },
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: OPT_IN_TAG.key, Value: OPT_IN_TAG.value }] },
        ],
      }),
    ),
  )
  return world
}

export async function measureResync(endpoint: string, roles: number, perRole: number): Promise<ResyncReport> {
  const started = performance.now()
  const controller = controllerUnderTest(endpoint)
  const world = await buildLargeAccount(controller, roles, perRole)
  const setupSeconds = (performance.now() - started) / 1000
  const context = { invokedFunctionArn: `arn:aws:lambda:${world.region}:${world.accountId}:function:cl` }
  const runs: ResyncRun[] = []
  for (const label of ['first resync (locks every role)', 'second resync (nothing changed)']) {
    controller.calls.reset()
    const begin = performance.now()
    await controller.handler(scheduled(), context)
    const seconds = (performance.now() - begin) / 1000
    const counts = controller.calls.snapshot()
    const summary = summarizeCalls(counts)
    const op = (name: string) => counts.byOperation[name] ?? 0
    runs.push({
      label,
      seconds,
      describeInstancesPages: op('EC2:DescribeInstances'),
      policyReads: op('IAM:GetRolePolicy') + op('IAM:GetPolicyVersion'),
      iamReads: summary.iamReads,
      iamWrites: summary.iamWrites,
      byOperation: counts.byOperation,
    })
  }
  return { roles, instances: roles * perRole + 3, setupSeconds, runs }
}

export function formatResync(report: ResyncReport): string {
  const mark = (ok: boolean) => (ok ? '✓' : '✗')
  const second = report.runs[1]
  const rolesWithInstances = report.roles + 1
  return [
    `${report.instances} instances on ${rolesWithInstances} instance roles (the Defenders' role and ${report.roles} fleet`,
    `roles), every fleet instance opted in behind one NAT gateway; setup took ${report.setupSeconds.toFixed(0)} s.`,
    '',
    '| run | wall s | DescribeInstances pages | policy reads | IAM reads | IAM writes |',
    '| :--- | ---: | ---: | ---: | ---: | ---: |',
    ...report.runs.map(
      (run) =>
        `| ${run.label} | ${run.seconds.toFixed(1)} | ${run.describeInstancesPages} | ${run.policyReads} | ` +
        `${run.iamReads} | ${run.iamWrites} |`,
    ),
    '',
    '| goal (second resync) | met |',
    '| :--- | :---: |',
    `| one DescribeInstances pass (${second?.describeInstancesPages ?? 0} pages of up to 1,000) | ${mark((second?.describeInstancesPages ?? 99) <= Math.ceil(report.instances / 1_000))} |`,
    `| at most one policy read per role (${second?.policyReads ?? 0} for ${rolesWithInstances} roles) | ${mark((second?.policyReads ?? Number.POSITIVE_INFINITY) <= rolesWithInstances)} |`,
    `| zero writes when nothing changed | ${mark(second?.iamWrites === 0)} |`,
  ].join('\n')
}
