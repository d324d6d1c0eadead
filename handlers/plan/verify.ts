import type { EC2Client } from '@aws-sdk/client-ec2'
import { GetRoleCommand, type IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam'
import type { STSClient } from '@aws-sdk/client-sts'
import { isCompactLock, lockPolicyName, readLock } from '../../policy/lock/index.js'
import { mapLimited } from '../aws/concurrency.js'
import type { ControllerConfig } from '../aws/config.js'
import { describeByIds } from '../aws/ec2-truth.js'
import { asPermitted } from '../aws/errors.js'
import {
  instanceProfileRoles,
  listManagedParts,
  readInlinePolicy,
  readManagedPart,
} from '../aws/iam-roles.js'
import { callerScope } from './preflight.js'
import { casesFor, judge, type LockDocument, type LockedRole, type VerifyRow } from './verify-cases.js'

export interface VerifyClients {
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly sts: STSClient
}

export interface VerifyReport {
  readonly accountId: string
  readonly region: string
  /** Roles carrying a lock the controller wrote. */
  readonly lockedRoles: number
  readonly rows: readonly VerifyRow[]
}

/** Every IAM and EC2 permission `plan --verify` uses; all of them read, none of them write. */
export const VERIFY_PERMISSIONS = [
  'sts:GetCallerIdentity',
  'iam:ListInstanceProfiles',
  'iam:GetRole',
  'iam:GetRolePolicy',
  'iam:ListPolicies',
  'iam:GetPolicyVersion',
  'iam:SimulatePrincipalPolicy',
  'ec2:DescribeInstances',
] as const

/** Simulator calls at once: gentle on IAM's rate limits. */
const SIMULATIONS_IN_FLIGHT = 2

/**
 * IAM's own verdicts on the locks the controller wrote: per locked role, a sample of its instances and tombstones,
 * each on the paths the lock intends to allow or refuse, asked of iam:SimulatePrincipalPolicy. Only reads.
 */
export async function verifyLocks(
  clients: VerifyClients,
  config: Pick<ControllerConfig, 'region' | 'lockTag'>,
  now: Date,
): Promise<VerifyReport> {
  const scope = { ...(await callerScope(clients.sts)), region: config.region }
  const roles = await readLockedRoles(clients, config)
  const rows: VerifyRow[] = []
  for (const role of roles) {
    const cases = casesFor(role, scope, now)
    const answers = await mapLimited(cases, SIMULATIONS_IN_FLIGHT, (each) =>
      asPermitted('iam:SimulatePrincipalPolicy', role.roleArn, () =>
        clients.iam.send(new SimulatePrincipalPolicyCommand(each.request)),
      ),
    )
    cases.forEach((each, index) => {
      rows.push(judge(each, answers[index]?.EvaluationResults?.[0], role))
    })
  }
  return { accountId: scope.accountId, region: config.region, lockedRoles: roles.length, rows }
}

/** Every instance-profile role that carries the controller's lock, with the instances it names. */
async function readLockedRoles(
  clients: VerifyClients,
  config: Pick<ControllerConfig, 'region' | 'lockTag'>,
): Promise<LockedRole[]> {
  const profileRoles = await instanceProfileRoles(clients.iam)
  const managedParts = await listManagedParts(clients.iam, config.region)
  const roleNames = [...new Set(profileRoles.values())].sort()
  const found = await mapLimited(roleNames, 4, async (roleName) => {
    const inline = await readInlinePolicy(clients.iam, roleName, lockPolicyName(config.region))
    const documents: LockDocument[] =
      inline === undefined ? [] : [{ policyId: lockPolicyName(config.region), document: inline }]
    for (const part of managedParts.get(roleName) ?? []) {
      const document = await readManagedPart(clients.iam, part)
      if (document !== undefined)
        documents.push({ policyId: part.arn.split('/').pop() ?? part.arn, document })
    }
    return documents.length === 0 ? undefined : { roleName, documents }
  })
  return mapLimited(
    found.flatMap((each) => (each === undefined ? [] : [each])),
    4,
    async ({ roleName, documents }) => {
      const lock = readLock(documents.map((each) => each.document))
      const described = await describeByIds({ ec2: clients.ec2, lockTag: config.lockTag, profileRoles }, [
        ...lock.locked,
      ])
      const role = await asPermitted('iam:GetRole', `role ${roleName}`, () =>
        clients.iam.send(new GetRoleCommand({ RoleName: roleName })),
      )
      return {
        roleName,
        roleArn: role.Role?.Arn ?? '',
        form: isCompactLock(documents.map((each) => each.document)) ? 'compact' : 'precise',
        documents,
        instances: described.map((instance) => ({
          instanceId: instance.instanceId,
          // The primary interface's VPC: the one that is not among the other interfaces' VPCs.
          vpcId: instance.interfaces.find((eni) => !(instance.otherVpcIds ?? []).includes(eni.vpcId))?.vpcId,
          primaryPrivateIpv4: instance.primaryPrivateIpv4,
          publicIpv4s: instance.publicIps.filter((address) => !address.includes(':')),
        })),
        tombstones: lock.tombstones,
      } satisfies LockedRole
    },
  )
}
