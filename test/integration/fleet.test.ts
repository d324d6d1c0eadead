/**
 * A fleet that outgrows the inline budget, against moto: the controller spills its lock into managed policies of
 * its own, keeps every worker locked on the role's real policies, writes nothing when nothing changed, shrinks back
 * to the inline policy when the fleet does, and leaves nothing behind on uninstall. Everything else on the role
 * (its own inline policy, an AWS managed policy) stays as it was.
 */
import { ListPoliciesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import type { CloudFormationCustomResourceEvent } from 'aws-lambda'
import { describe, expect, inject, it } from 'vitest'
import { uninstall } from '../../handlers/controller/uninstall.js'
import { lockPolicyName } from '../../policy/lock/index.js'
import { summarizeCalls } from '../support/controller-report.js'
import { controllerUnderTest } from '../support/controller-under-test.js'
import { scheduled } from '../support/events.js'
import { fromPublicIp, throughEndpoint, verdict } from '../support/simulate.js'
import { READ_REPORT, rolePolicies, THIEF_IP } from '../support/story.js'
import {
  buildDefendersWorld,
  DEFENDERS,
  DEFENDERS_APP_POLICY,
  EC2_READ_ONLY_POLICY_ARN,
  launchOnRole,
  setOptIn,
  type WorldInstance,
  workerCredentials,
} from '../support/world.js'

const WORKERS = 120
/** A large policy of the role's own: what is left of the inline budget holds only part of the lock. */
const OWN_POLICY_NAME = 'defenders-bulk'
const OWN_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: `Bulk${'x'.repeat(6_000)}`, Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }],
})

describe('a fleet too large for the inline policy, against moto', () => {
  it('spills into managed policies, stays locked, writes nothing when unchanged, shrinks back and uninstalls clean', async () => {
    // Prepare: the Defenders' role with a large policy of its own, and 120 opted-in workers behind the NAT.
    const controller = controllerUnderTest(inject('motoEndpoint'))
    const world = await buildDefendersWorld(controller)
    await controller.iam.send(
      new PutRolePolicyCommand({
        RoleName: DEFENDERS,
        PolicyName: OWN_POLICY_NAME,
        PolicyDocument: OWN_POLICY,
      }),
    )
    const workers: WorldInstance[] = []
    for (let n = 0; n < WORKERS; n++) {
      workers.push(
        await launchOnRole(controller.ec2, world, { subnet: 'private', name: `w${n}`, optedIn: true }),
      )
    }
    const context = { invokedFunctionArn: `arn:aws:lambda:${world.region}:${world.accountId}:function:cl` }
    const resync = async () => {
      controller.calls.reset()
      await controller.handler(scheduled(), context)
      return summarizeCalls(controller.calls.snapshot())
    }
    const ownManaged = async () =>
      (
        await controller.iam.send(
          new ListPoliciesCommand({ Scope: 'Local', PathPrefix: `/credential-lock/${world.region}/` }),
        )
      ).Policies ?? []
    const verdicts = async (worker: WorldInstance) => {
      const policies = await rolePolicies(controller.iam, DEFENDERS)
      const own = workerCredentials(world, worker)
      return {
        nat: await verdict(policies, fromPublicIp(own, world.privateSubnet.natPublicIp, READ_REPORT)),
        endpoint: await verdict(
          policies,
          throughEndpoint(own, { vpc: world.vpcId, privateIp: worker.privateIp ?? '' }, READ_REPORT),
        ),
        thief: await verdict(policies, fromPublicIp(own, THIEF_IP, READ_REPORT)),
      }
    }
    const locked = { nat: 'Allowed', endpoint: 'Allowed', thief: 'ExplicitlyDenied' }

    // Act 1: the first resync locks the whole fleet.
    const first = await resync()

    // Assess 1
    const parts = await ownManaged()
    expect(parts.map((policy) => policy.PolicyName)).toEqual([`${DEFENDERS}-1`])
    expect(parts[0]?.AttachmentCount).toBe(1)
    expect(first.iamWrites).toBeGreaterThan(0)
    for (const worker of [workers[0], workers.at(-1)] as WorldInstance[]) {
      expect(await verdicts(worker)).toEqual(locked)
    }
    const policies = await rolePolicies(controller.iam, DEFENDERS)
    expect(policies.map((policy) => policy.name).sort()).toEqual(
      [
        `${DEFENDERS}-1`,
        'AmazonEC2ReadOnlyAccess',
        DEFENDERS_APP_POLICY,
        OWN_POLICY_NAME,
        lockPolicyName(world.region),
      ].sort(),
    )
    expect(policies.find((policy) => policy.name === OWN_POLICY_NAME)?.document).toBe(OWN_POLICY)

    // Act 2: the same resync again.
    const second = await resync()

    // Assess 2: nothing is written; one bulk read of IAM gives the lock (inline, one managed part) and the role's
    // other policies, counted against the budget.
    expect(second.iamWrites).toBe(0)
    expect(second.iamReads).toBe(1)
    expect(controller.calls.snapshot().byOperation).toMatchObject({ 'IAM:GetAccountAuthorizationDetails': 1 })

    // Act 3: 100 workers opt out; the rest fit the inline policy again.
    for (const worker of workers.slice(20)) await setOptIn(controller.ec2, worker.instanceId, false)
    await resync()

    // Assess 3
    expect(await ownManaged()).toEqual([])
    expect(await verdicts(workers[0] as WorldInstance)).toEqual(locked)
    expect((await verdicts(workers.at(-1) as WorldInstance)).thief).toBe('Allowed')

    // Act 4: the fleet grows again, then the stack is deleted.
    for (const worker of workers.slice(20)) await setOptIn(controller.ec2, worker.instanceId, true)
    await resync()
    expect(await ownManaged()).toHaveLength(1)
    await uninstall(
      { RequestType: 'Delete' } as CloudFormationCustomResourceEvent,
      controller.iam,
      controller.lambda,
      world.region,
      { kind: 'all' },
      () => {},
    )

    // Assess 4: only what the role had before the install is left.
    expect(await ownManaged()).toEqual([])
    const left = await rolePolicies(controller.iam, DEFENDERS)
    expect(left.map((policy) => policy.name).sort()).toEqual(
      ['AmazonEC2ReadOnlyAccess', DEFENDERS_APP_POLICY, OWN_POLICY_NAME].sort(),
    )
    expect(EC2_READ_ONLY_POLICY_ARN).toContain('AmazonEC2ReadOnlyAccess')
  })
})
