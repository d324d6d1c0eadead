import { IAMClient } from '@aws-sdk/client-iam'
import type { CloudFormationCustomResourceEvent } from 'aws-lambda'
import { lockPolicyName } from '../policy/lock.js'
import { instanceProfileRoles, listManagedParts, removeManagedPart, removeOwnPolicy } from './iam-roles.js'

/** What the custom resource provider framework expects back from an onEvent handler. */
export interface UninstallResponse {
  readonly PhysicalResourceId: string
}

/**
 * On stack deletion, removes the controller's policy from every role an instance profile holds, and the managed
 * policies it created under its own path, and only those: every other policy is left as it is. Create and Update
 * have nothing to do.
 */
export async function uninstall(
  event: CloudFormationCustomResourceEvent,
  iam: IAMClient,
  region: string,
): Promise<UninstallResponse> {
  const policyName = lockPolicyName(region)
  if (event.RequestType === 'Delete') {
    const roleNames = new Set((await instanceProfileRoles(iam)).values())
    // One role at a time: IAM throttles write bursts, and uninstall is not in a hurry.
    for (const roleName of roleNames) await removeOwnPolicy(iam, roleName, policyName)
    // The managed policies a large fleet needed, found by their path: roles outside instance profiles included.
    for (const parts of (await listManagedParts(iam, region)).values()) {
      for (const part of parts) await removeManagedPart(iam, part)
    }
  }
  return { PhysicalResourceId: policyName }
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<UninstallResponse> {
  const region = process.env.AWS_REGION
  if (!region) throw new Error('AWS_REGION is not set: the uninstall must run in the Lambda runtime.')
  return uninstall(event, new IAMClient({}), region)
}
