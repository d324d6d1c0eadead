/**
 * Big accounts, little churn (issue 21): the scheduled resync's IAM calls before and after the bulk read, on the
 * large account of bench-resync.ts with every lock inline and then with 50 roles spilled into managed parts; and
 * the IAM writes one launch or one termination costs in a fleet on one role, by fleet size, before and after
 * stable parts. Figures for docs/scale.md; printed, never asserted.
 */
import { DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { mapLimited } from '../handlers/aws/concurrency.js'
import { lockPolicyName } from '../policy/lock/index.js'
import { buildLargeAccount } from './bench-resync.js'
import { summarizeCalls } from './support/controller-report.js'
import { type ControllerUnderTest, controllerUnderTest } from './support/controller-under-test.js'
import { scheduled } from './support/events.js'
import { decideFleet, documentsOf, evenFleet, worker, writesBetween } from './support/fleet-churn.js'

/** A large policy of a role's own: what is left of its inline budget holds only part of its lock. */
const BULKY_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: `Bulk${'x'.repeat(9_300)}`, Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }],
})
const IAM_CALLS_GOAL = 10

export interface ResyncCost {
  readonly label: string
  /** Role by role, no cache: the controller before the bulk read. */
  readonly before: number
  readonly after: number
  readonly describeInstances: number
  readonly iamWrites: number
}

export interface ScaleResyncReport {
  readonly instances: number
  readonly roles: number
  readonly runs: readonly ResyncCost[]
}

export async function measureScaleResync(
  endpoint: string,
  roles: number,
  perRole: number,
  spilled: number,
): Promise<ScaleResyncReport> {
  const controller = controllerUnderTest(endpoint)
  const legacy = controllerUnderTest(endpoint, { accountId: controller.accountId, roleByRole: true })
  const world = await buildLargeAccount(controller, roles, perRole)
  const context = { invokedFunctionArn: `arn:aws:lambda:${world.region}:${world.accountId}:function:cl` }
  const resync = async (which: ControllerUnderTest) => {
    which.calls.reset()
    await which.handler(scheduled(), context)
    const counts = which.calls.snapshot()
    return { ...summarizeCalls(counts), describeInstances: counts.byOperation['EC2:DescribeInstances'] ?? 0 }
  }
  const unchanged = async (label: string): Promise<ResyncCost> => {
    const before = await resync(legacy)
    const after = await resync(controller)
    return {
      label,
      before: before.iamReads + before.iamWrites,
      after: after.iamReads + after.iamWrites,
      describeInstances: after.describeInstances,
      iamWrites: before.iamWrites + after.iamWrites,
    }
  }
  await resync(controller)
  const inline = await unchanged(`every lock inline`)
  const names = Array.from({ length: spilled }, (_, index) => `fleet-${String(index).padStart(3, '0')}`)
  // Roles whose own inline policies leave little room: as if they had it before the controller first locked them.
  await mapLimited(names, 8, async (name) => {
    const lock = { RoleName: name, PolicyName: lockPolicyName(world.region) }
    await controller.iam.send(new DeleteRolePolicyCommand(lock))
    await controller.iam.send(
      new PutRolePolicyCommand({ RoleName: name, PolicyName: 'bulky', PolicyDocument: BULKY_POLICY }),
    )
  })
  await resync(controller)
  const parts = await unchanged(`${spilled} roles spilled into managed parts`)
  return { instances: roles * perRole + 3, roles: roles + 1, runs: [inline, parts] }
}

export function formatScaleResync(report: ScaleResyncReport): string {
  const mark = (ok: boolean) => (ok ? '✓' : '✗')
  return [
    `Scheduled resync of ${report.instances.toLocaleString('en-US')} instances on ${report.roles} roles when nothing ` +
      'changed: IAM calls role by role (before) and with the bulk read (after).',
    '',
    '| resync, nothing changed | IAM calls before | IAM calls after | DescribeInstances | IAM writes | ≤ 10 IAM calls |',
    '| :--- | ---: | ---: | ---: | ---: | :---: |',
    ...report.runs.map(
      (run) =>
        `| ${run.label} | ${run.before} | ${run.after} | ${run.describeInstances} | ${run.iamWrites} | ` +
        `${mark(run.after <= IAM_CALLS_GOAL && run.iamWrites === 0)} |`,
    ),
  ].join('\n')
}

export interface FleetChangeCost {
  readonly size: number
  readonly documents: number
  readonly launch: { readonly before: number; readonly after: number }
  readonly termination: { readonly before: number; readonly after: number }
}

/**
 * IAM writes for one launch and one termination in the middle of a fleet behind one NAT gateway, packed afresh
 * by sorted ID (before) and keeping every worker's document (after). Counted from the documents as the controller
 * writes them (see writesBetween), so sizes beyond what moto launches in a bench run are measured too.
 */
export function measureFleetChanges(sizes: readonly number[]): FleetChangeCost[] {
  return sizes.map((size) => {
    const fleet = evenFleet(size)
    const locked = documentsOf(decideFleet(fleet, []))
    const launched = [...fleet, worker(size | 1)]
    const middle = fleet[Math.floor(size / 2)]
    const terminated = fleet.map((each) =>
      each === middle ? { ...each, state: 'terminated' as const } : each,
    )
    const cost = (instances: typeof fleet) => {
      const before = documentsOf(decideFleet(instances, locked, { keepPlacement: false }))
      const after = documentsOf(decideFleet(instances, locked))
      return { before: writesBetween(locked, before), after: writesBetween(locked, after) }
    }
    return { size, documents: locked.length, launch: cost(launched), termination: cost(terminated) }
  })
}

export function formatFleetChanges(costs: readonly FleetChangeCost[]): string {
  const mark = (ok: boolean) => (ok ? '✓' : '✗')
  return [
    'IAM write calls for one change in a fleet on one role behind one NAT gateway (the inline policy and managed',
    'parts): packed afresh by sorted ID (before), every worker keeping its document (after).',
    '',
    '| fleet | documents | launch before | launch after | termination before | termination after | ≤ 4 writes |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | :---: |',
    ...costs.map(
      (cost) =>
        `| ${cost.size.toLocaleString('en-US')} | ${cost.documents} | ${cost.launch.before} | ${cost.launch.after} | ` +
        `${cost.termination.before} | ${cost.termination.after} | ` +
        `${mark(cost.launch.after <= 4 && cost.termination.after <= 4)} |`,
    ),
  ].join('\n')
}
