import {
  DeleteRolePolicyCommand,
  GetRolePolicyCommand,
  type IAMClient,
  NoSuchEntityException,
  PutRolePolicyCommand,
  paginateListInstanceProfiles,
  paginateListRolePolicies,
} from '@aws-sdk/client-iam'
import { policyChars } from '../policy/lock.js'
import { asPermitted } from './errors.js'

/**
 * Every instance profile's role, by profile ARN. Only roles in instance profiles can carry instance
 * credentials, so this is also the list of every role a lock can be on.
 */
export async function instanceProfileRoles(iam: IAMClient): Promise<Map<string, string>> {
  const roles = new Map<string, string>()
  await asPermitted('iam:ListInstanceProfiles', '*', async () => {
    for await (const page of paginateListInstanceProfiles({ client: iam }, {})) {
      for (const profile of page.InstanceProfiles ?? []) {
        const roleName = profile.Roles?.[0]?.RoleName
        if (profile.Arn && roleName) roles.set(profile.Arn, roleName)
      }
    }
  })
  return roles
}

/** An inline policy of a role, or undefined when the role has none of that name. */
export async function readInlinePolicy(
  iam: IAMClient,
  roleName: string,
  policyName: string,
): Promise<string | undefined> {
  try {
    const output = await asPermitted('iam:GetRolePolicy', `role ${roleName}`, () =>
      iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
    )
    return output.PolicyDocument === undefined ? undefined : decodeURIComponent(output.PolicyDocument)
  } catch (error) {
    if (error instanceof NoSuchEntityException) return undefined
    throw error
  }
}

export async function writeOwnPolicy(
  iam: IAMClient,
  roleName: string,
  policyName: string,
  document: string,
): Promise<void> {
  await asPermitted('iam:PutRolePolicy', `role ${roleName}`, () =>
    iam.send(
      new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: document }),
    ),
  )
}

/** Deletes the controller's own policy; a role that has none is already in the wanted state. */
export async function removeOwnPolicy(iam: IAMClient, roleName: string, policyName: string): Promise<void> {
  try {
    await asPermitted('iam:DeleteRolePolicy', `role ${roleName}`, () =>
      iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
    )
  } catch (error) {
    if (!(error instanceof NoSuchEntityException)) throw error
  }
}

/**
 * Characters the role's other inline policies use of the shared budget. They are only read, never
 * changed, and only when a write was refused for size, so the usual path costs no extra calls.
 */
export async function otherInlinePolicyChars(
  iam: IAMClient,
  roleName: string,
  ownPolicyName: string,
): Promise<number> {
  let total = 0
  await asPermitted('iam:ListRolePolicies', `role ${roleName}`, async () => {
    for await (const page of paginateListRolePolicies({ client: iam }, { RoleName: roleName })) {
      for (const policyName of page.PolicyNames ?? []) {
        if (policyName === ownPolicyName) continue
        total += policyChars((await readInlinePolicy(iam, roleName, policyName)) ?? '')
      }
    }
  })
  return total
}
