/**
 * The plan's reads (handlers/plan/preflight.ts) over mocked AWS clients when something fails: a missing
 * permission, a role the controller could not decide, an STS answer without an account; and the controller run
 * inside the plan, which prints nothing itself and runs dry on a scheduled resync at the plan's clock.
 */
import { readFileSync } from 'node:fs'
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import {
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  ListClustersCommand,
  ListNodegroupsCommand,
} from '@aws-sdk/client-eks'
import {
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
} from '@aws-sdk/client-iam'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MissingPermissionError } from '../../handlers/aws/errors.js'
import { explainFailure } from '../../handlers/plan/plan-report.js'
import { planAccount, scheduledResync } from '../../handlers/plan/preflight.js'
import { isReadOperation } from '../support/aws-call-counter.js'
import { ACCOUNT, accessDenied, NOW } from '../support/mocked-controller.js'
import {
  aws,
  CLUSTER,
  CONFIG,
  clients,
  DANNY,
  INSTANCES,
  LUKE,
  operationsSent,
  optedIn,
  plan,
  serveAccount,
} from '../support/plan-account.js'
import { roleOf } from '../support/plan-facts.js'

describe('what the plan makes of a failure', () => {
  beforeEach(() => serveAccount())

  it.each([
    ['STS', () => aws.sts.on(GetCallerIdentityCommand).rejects(accessDenied()), 'sts:GetCallerIdentity', '*'],
    [
      'the controller’s instance read',
      () => aws.iam.on(ListInstanceProfilesCommand).rejects(accessDenied()),
      'iam:ListInstanceProfiles',
      '*',
    ],
    [
      'the controller’s read of one role',
      () => aws.iam.on(GetRolePolicyCommand, { RoleName: 'web' }).rejects(accessDenied()),
      'iam:GetRolePolicy',
      'role web',
    ],
    [
      'the controller’s budget read of one role',
      () => aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'web' }).rejects(accessDenied()),
      'iam:ListAttachedRolePolicies',
      'role web',
    ],
    [
      'the plan’s own instance read',
      () =>
        aws.ec2.on(DescribeInstancesCommand).callsFake(({ Filters }) => {
          if (Filters === undefined) throw accessDenied()
          return { Reservations: [{ Instances: optedIn(INSTANCES) }] }
        }),
      'ec2:DescribeInstances',
      '*',
    ],
    ['EKS clusters', () => aws.eks.on(ListClustersCommand).rejects(accessDenied()), 'eks:ListClusters', '*'],
    [
      'one EKS cluster',
      () => aws.eks.on(DescribeClusterCommand, { name: CLUSTER }).rejects(accessDenied()),
      'eks:DescribeCluster',
      `cluster ${CLUSTER}`,
    ],
    [
      'the node groups of a cluster',
      () => aws.eks.on(ListNodegroupsCommand, { clusterName: CLUSTER }).rejects(accessDenied()),
      'eks:ListNodegroups',
      `cluster ${CLUSTER}`,
    ],
    [
      'one node group',
      () => aws.eks.on(DescribeNodegroupCommand).rejects(accessDenied()),
      'eks:DescribeNodegroup',
      'node group workers',
    ],
  ])('stops with the permission the caller lacks when %s refuses', async (_, refuse, action, resource) => {
    // Prepare
    refuse()

    // Act
    const failure = await plan().then(
      () => undefined,
      (error: unknown) => error,
    )

    // Assess
    expect(failure).toBeInstanceOf(MissingPermissionError)
    expect(failure).toMatchObject({ action, resource })
    expect(explainFailure(failure)).toBe(
      `You are not allowed to call ${action} on ${resource}: run the plan with credentials that can read ` +
        'EC2, IAM and EKS (e.g. the ReadOnlyAccess policy).',
    )
  })

  it('stops when the controller cannot read the account’s truth, whatever the error', async () => {
    // Prepare
    const outage = Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable' })
    aws.ec2.on(DescribeInstancesCommand).callsFake(({ Filters }) => {
      if (Filters !== undefined) throw outage
      return { Reservations: [{ Instances: INSTANCES }] }
    })

    // Act
    const failure = plan()

    // Assess
    await expect(failure).rejects.toBe(outage)
  })

  it('shows a role the controller could not decide as failed, with the error, and plans the others', async () => {
    // Prepare
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })
    aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'nodes' }).rejects(throttled)

    // Act
    const report = await plan()

    // Assess
    expect(roleOf(report, 'nodes')).toMatchObject({ action: 'failed', error: 'Rate exceeded' })
    expect(roleOf(report, 'web')).toMatchObject({ action: 'put', error: null })
    expect(report.summary.rolesFailed).toBe(1)
  })

  it('stops when STS names no account or partition', async () => {
    // Prepare
    aws.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT })

    // Act
    const failure = plan()

    // Assess
    await expect(failure).rejects.toThrow('STS GetCallerIdentity named no account and partition.')
  })

  it('stops when STS names a partition but no account', async () => {
    // Prepare
    aws.sts.on(GetCallerIdentityCommand).resolves({ Arn: `arn:aws:iam::${ACCOUNT}:user/operator` })

    // Act
    const failure = plan()

    // Assess
    await expect(failure).rejects.toThrow('STS GetCallerIdentity named no account and partition.')
  })
})

describe('the controller run inside the plan', () => {
  let written: string[]
  const capture = (chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  }

  beforeEach(() => {
    written = []
    vi.spyOn(process.stdout, 'write').mockImplementation(capture)
    vi.spyOn(process.stderr, 'write').mockImplementation(capture)
  })
  afterEach(() => vi.restoreAllMocks())

  it('prints neither log lines nor metrics, even over a hundred roles and a failing one', async () => {
    // Prepare: a hundred decisions fill a metric, which the SDK then publishes on its own.
    const roles = Array.from({ length: 120 }, (_, n) => `role-${String(n).padStart(3, '0')}`)
    serveAccount(INSTANCES, ['web', 'nodes', ...roles])
    aws.iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'nodes' }).rejects(new Error('Rate exceeded'))

    // Act
    const report = await plan()

    // Assess
    expect(report.roles).toHaveLength(122)
    expect(report.summary.rolesFailed).toBe(1)
    expect(written).toEqual([])
  })

  it('is the scheduled resync EventBridge sends, stamped with the plan’s clock', () => {
    // Prepare
    const fixture = JSON.parse(
      readFileSync(new URL('../fixtures/events/scheduled-event.json', import.meta.url), 'utf8'),
    )

    // Act
    const event = scheduledResync(ACCOUNT, 'eu-west-1', NOW)

    // Assess
    expect(event).toEqual({
      ...fixture,
      id: `plan-${NOW.getTime()}`,
      time: '2026-11-25T12:00:00.000Z',
      region: 'eu-west-1',
      resources: [],
    })
  })

  it('runs dry at the plan’s clock, however the controller is configured', async () => {
    // Prepare
    serveAccount()
    const live = { ...CONFIG, dryRun: false, everyInstanceOptedIn: true }

    // Act
    const report = await planAccount(clients(), live, { everyInstanceOptedIn: false, now: NOW })

    // Assess
    expect(report.everyInstanceOptedIn).toBe(false)
    expect(roleOf(report, 'web').locked.map((i) => i.instanceId)).toEqual([LUKE, DANNY])
    expect(operationsSent().filter((operation) => !isReadOperation(operation))).toEqual([])
  })

  it('runs the controller on an event shaped like the scheduled resync EventBridge sends', () => {
    // Prepare
    const fixture = JSON.parse(
      readFileSync(new URL('../fixtures/events/scheduled-event.json', import.meta.url), 'utf8'),
    )

    // Act
    const event = scheduledResync('123456789012', 'us-east-1', new Date('2026-01-01T00:00:00Z'))

    // Assess
    expect(Object.keys(event).sort()).toEqual(Object.keys(fixture).sort())
    expect(event).toMatchObject({ 'detail-type': fixture['detail-type'], source: fixture.source, detail: {} })
  })
})
