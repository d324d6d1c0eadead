import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import type { CloudFormationCustomResourceEvent } from 'aws-lambda'
import { lockPolicyName } from '../../policy/lock/index.js'
import { carriesOwnPolicy, readAccountIam } from '../aws/account-iam.js'
import { readRoleScope } from '../aws/config.js'
import { MissingPermissionError } from '../aws/errors.js'
import { listFunctions } from '../aws/function-truth.js'
import {
  instanceProfileRoles,
  listManagedParts,
  removeManagedPart,
  removeOwnPolicy,
} from '../aws/iam-roles.js'
import { isOutOfScope, type RoleScope } from '../aws/role-scope.js'

/** What the custom resource provider framework expects back from an onEvent handler. */
export interface UninstallResponse {
  readonly PhysicalResourceId: string
}

/**
 * On stack deletion, removes the controller's policy from every role an instance profile or a function holds, and the managed
 * policies it created under its own path, and only those: every other policy is left as it is. Create and Update
 * have nothing to do. A role IAM keeps out of a `tagged` scope cannot carry a lock written by this deployment's
 * controller; it is reported, not failed, so the stack can still be deleted.
 */
export async function uninstall(
  event: CloudFormationCustomResourceEvent,
  iam: IAMClient,
  lambda: LambdaClient,
  region: string,
  roleScope: RoleScope,
  warn: (message: string) => void,
): Promise<UninstallResponse> {
  const policyName = lockPolicyName(region)
  if (event.RequestType === 'Delete') {
    const unlessOutOfScope = async (roleName: string, what: string, remove: () => Promise<void>) => {
      try {
        await remove()
      } catch (error) {
        if (!isOutOfScope(roleScope, error)) throw error
        warn(`Role ${roleName} is out of scope, so ${what} on it stays: delete it by hand.`)
      }
    }
    const roleNames = new Set([
      ...(await instanceProfileRoles(iam)).values(),
      ...(await listFunctions(lambda)).map((fn) => fn.roleName),
      ...(await rolesCarryingLock(iam, region, policyName, warn)),
    ])
    // One role at a time: IAM throttles write bursts, and uninstall is not in a hurry.
    for (const roleName of roleNames) {
      await unlessOutOfScope(roleName, `any ${policyName} policy`, () =>
        removeOwnPolicy(iam, roleName, policyName),
      )
    }
    // The managed policies a large fleet needed, found by their path: roles outside instance profiles included.
    for (const parts of (await listManagedParts(iam, region)).values()) {
      for (const part of parts) {
        await unlessOutOfScope(part.roleName, `the managed policy ${part.arn}`, () =>
          removeManagedPart(iam, part),
        )
      }
    }
  }
  return { PhysicalResourceId: policyName }
}

/**
 * Roles that still carry the lock though no instance profile or function uses them any more (the last locked
 * function moved away): one bulk read finds them. Without the permission, uninstall goes on without them and says so.
 */
async function rolesCarryingLock(
  iam: IAMClient,
  region: string,
  policyName: string,
  warn: (message: string) => void,
): Promise<string[]> {
  try {
    const account = await readAccountIam(iam, region, policyName)
    return [...account.roles].filter(([, role]) => carriesOwnPolicy(role)).map(([roleName]) => roleName)
  } catch (error) {
    if (!(error instanceof MissingPermissionError)) throw error
    warn(`${error.message} Roles no instance profile or function uses were not searched for ${policyName}.`)
    return []
  }
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<UninstallResponse> {
  const region = process.env.AWS_REGION
  if (!region) throw new Error('AWS_REGION is not set: the uninstall must run in the Lambda runtime.')
  return uninstall(
    event,
    new IAMClient({}),
    new LambdaClient({}),
    region,
    readRoleScope(process.env),
    console.warn,
  )
}
