/**
 * Big accounts, little churn (issue 21), against moto: the scheduled resync reads IAM once in bulk, a role whose
 * last locked function moved away is still reconciled, and a launch or a termination in a fleet spread over
 * managed parts rewrites only the parts it lands in. Kept small so CI stays fast; `npm run bench` runs the same
 * paths at 2,000 instances.
 */
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { describe, expect, inject, it } from 'vitest'
import { lockPolicyName } from '../../policy/lock/index.js'
import { summarizeCalls } from '../support/controller-report.js'
import { type ControllerUnderTest, controllerUnderTest } from '../support/controller-under-test.js'
import { type AnyEventBridgeEvent, scheduled, stateChange } from '../support/events.js'
import {
  allowFunctionBasics,
  createFunction,
  functionCredentials,
  moveFunction,
} from '../support/functions.js'
import { fromPublicIp, verdict } from '../support/simulate.js'
import { READ_REPORT, rolePolicies, THIEF_IP } from '../support/story.js'
import {
  buildDefendersWorld,
  DEFENDERS,
  type DefendersWorld,
  launchOnRole,
  terminateInstance,
  type WorldInstance,
  workerCredentials,
} from '../support/world.js'

const HOUR = 3_600_000
/** Each test launches dozens of instances in moto one at a time: more than the default minute on busy cores. */
const SLOW = { timeout: 180_000 }
const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
})
/** A large policy of the role's own, `chars` long: what is left of the inline budget holds only part of the lock. */
const bulkyPolicy = (chars: number) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: `Bulk${'x'.repeat(chars)}`, Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' },
    ],
  })

interface Scene {
  readonly controller: ControllerUnderTest
  readonly world: DefendersWorld
}

async function scene(): Promise<Scene> {
  const controller = controllerUnderTest(inject('motoEndpoint'))
  return { controller, world: await buildDefendersWorld(controller) }
}

/** Delivers one event with a fresh call count; no record may fail. Returns the calls it made. */
async function deliver({ controller, world }: Scene, event: AnyEventBridgeEvent) {
  controller.calls.reset()
  const context = { invokedFunctionArn: `arn:aws:lambda:${world.region}:${world.accountId}:function:cl` }
  const response = await controller.handler(event, context)
  expect(response?.batchItemFailures ?? []).toEqual([])
  const counts = controller.calls.snapshot()
  return { ...summarizeCalls(counts), byOperation: counts.byOperation }
}

async function withBulkyPolicy({ controller }: Scene, chars: number): Promise<void> {
  await controller.iam.send(
    new PutRolePolicyCommand({
      RoleName: DEFENDERS,
      PolicyName: 'defenders-bulky',
      PolicyDocument: bulkyPolicy(chars),
    }),
  )
}

function iamOperations(byOperation: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(byOperation).filter(([key]) => key.startsWith('IAM:')))
}

describe('the scheduled resync of many roles when nothing changed', () => {
  it(
    'reads IAM once in bulk, EC2 in one pass, and writes nothing, managed parts included',
    SLOW,
    async () => {
      // Prepare: six more roles with two opted-in workers each behind the NAT, and the Defenders' lock spilled
      // into a managed part by a large policy of the role's own.
      const at = await scene()
      await withBulkyPolicy(at, 9_000)
      for (let n = 0; n < 6; n++) {
        const name = `fleet-${n}`
        await at.controller.iam.send(
          new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }),
        )
        const profile = await at.controller.iam.send(
          new CreateInstanceProfileCommand({ InstanceProfileName: name }),
        )
        await at.controller.iam.send(
          new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }),
        )
        const instanceProfile = { name, arn: profile.InstanceProfile?.Arn ?? '' }
        for (const worker of ['a', 'b']) {
          await launchOnRole(
            at.controller.ec2,
            { ...at.world, instanceProfile },
            {
              subnet: 'private',
              name: `${name}-${worker}`,
              optedIn: true,
            },
          )
        }
      }
      const first = await deliver(at, scheduled())

      // Act
      const second = await deliver(at, scheduled())

      // Assess
      expect(first.iamWrites).toBeGreaterThan(7)
      expect(iamOperations(first.byOperation)).toMatchObject({
        'IAM:CreatePolicy': 1,
        'IAM:AttachRolePolicy': 1,
      })
      expect(iamOperations(second.byOperation)).toEqual({ 'IAM:GetAccountAuthorizationDetails': 1 })
      expect(second.byOperation['EC2:DescribeInstances']).toBe(1)
      expect(second.iamWrites).toBe(0)
    },
  )
})

describe('a role whose last locked function moved to another role', () => {
  it(
    'is tombstoned on the next resync with no event, and its lock removed after the retention',
    SLOW,
    async () => {
      // Prepare: a function locked on a role of its own, then moved without any event reaching the controller.
      const at = await scene()
      const roles = ['reports-old', 'reports-new']
      const arns: string[] = []
      for (const name of roles) {
        const role = await at.controller.iam.send(
          new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: '{}' }),
        )
        await allowFunctionBasics(at.controller.iam, name)
        arns.push(role.Role?.Arn ?? '')
      }
      const reporter = await createFunction(at.controller.lambda, at.world, {
        name: 'reporter',
        optedIn: true,
        subnetIds: [at.world.privateSubnet.subnetId],
        roleArn: arns[0],
      })
      await deliver(at, scheduled())
      await moveFunction(at.controller.lambda, reporter, arns[1] ?? '')

      // Act
      await deliver(at, scheduled())
      const tombstoned = at.controller.decisions.filter((line) => line.roleName === 'reports-old').at(-1)
      const stolen = functionCredentials(at.world, reporter, new Date(Date.now() - 60_000), 'reports-old')
      const refused = await verdict(
        await rolePolicies(at.controller.iam, 'reports-old'),
        fromPublicIp(stolen, at.world.privateSubnet.natPublicIp, READ_REPORT),
      )
      at.controller.advanceClock(13 * HOUR)
      await deliver(at, scheduled())

      // Assess
      expect(tombstoned?.functions).toEqual([
        expect.objectContaining({
          functionName: 'reporter',
          outcome: 'tombstoned',
          reason: 'moved to another role',
        }),
      ])
      expect(refused).toBe('ExplicitlyDenied')
      expect(at.controller.decisions.filter((line) => line.roleName === 'reports-old').at(-1)).toMatchObject({
        action: 'remove',
      })
      const left = await rolePolicies(at.controller.iam, 'reports-old')
      expect(left.map((policy) => policy.name)).not.toContain(lockPolicyName(at.world.region))
    },
  )
})

describe('a fleet spread over managed parts', () => {
  it(
    'rewrites at most 4 IAM writes for a launch and for a termination, every other worker still allowed',
    SLOW,
    async () => {
      // Prepare: 30 workers with public addresses of their own (a statement each), spread over managed parts.
      const at = await scene()
      await withBulkyPolicy(at, 7_500)
      const workers: WorldInstance[] = []
      for (let n = 0; n < 30; n++) {
        workers.push(
          await launchOnRole(at.controller.ec2, at.world, { subnet: 'public', name: `w${n}`, optedIn: true }),
        )
      }
      const locked = await deliver(at, scheduled())
      const launched = await launchOnRole(at.controller.ec2, at.world, {
        subnet: 'public',
        name: 'new',
        optedIn: true,
      })
      const gone = workers[15] as WorldInstance

      // Act
      const launch = await deliver(at, stateChange(launched.instanceId, 'running'))
      await terminateInstance(at.controller.ec2, gone.instanceId)
      const termination = await deliver(at, stateChange(gone.instanceId, 'terminated'))

      // Assess
      expect(locked.byOperation['IAM:CreatePolicy']).toBeGreaterThanOrEqual(2)
      expect(launch.iamWrites).toBeLessThanOrEqual(4)
      expect(termination.iamWrites).toBeLessThanOrEqual(4)
      const policies = await rolePolicies(at.controller.iam, DEFENDERS)
      const from = (worker: WorldInstance, ip: string | undefined) =>
        verdict(policies, fromPublicIp(workerCredentials(at.world, worker), ip ?? THIEF_IP, READ_REPORT))
      expect(await from(launched, launched.publicIp)).toBe('Allowed')
      expect(await from(launched, THIEF_IP)).toBe('ExplicitlyDenied')
      expect(await from(gone, gone.publicIp)).toBe('ExplicitlyDenied')
      for (const other of [workers[0], workers[14], workers[16], workers[29]] as WorldInstance[]) {
        expect(await from(other, other.publicIp)).toBe('Allowed')
        expect(await from(other, THIEF_IP)).toBe('ExplicitlyDenied')
      }
    },
  )
})
