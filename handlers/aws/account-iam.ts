/**
 * One bulk read of IAM for a batch that touches many roles (the scheduled resync above all):
 * `iam:GetAccountAuthorizationDetails` with the filters Role and LocalManagedPolicy gives every role with its
 * inline policies, attached policies and instance profiles, and every customer-managed policy with its versions,
 * in a few pages instead of one call per role and per managed part. It also names every role that still carries
 * the controller's own policy, so a role no instance profile or function leads to any more is not forgotten.
 */
import {
  type IAMClient,
  type ManagedPolicyDetail,
  paginateGetAccountAuthorizationDetails,
  type RoleDetail,
} from '@aws-sdk/client-iam'
import { policyChars } from '../../policy/lock/index.js'
import { asPermitted } from './errors.js'
import {
  decodePolicyDocument,
  type ManagedPart,
  type ManagedPartCache,
  managedPolicyPath,
  type OwnPolicies,
} from './iam-roles.js'

/** What the bulk read says about one role. */
export interface RoleIam {
  readonly own: OwnPolicies
  /** Characters of the role's other inline policies: what they use of the shared inline budget. */
  readonly otherInlineChars: number
  /** Managed policies attached to the role that the controller does not own (they use its quota). */
  readonly foreignManagedPolicies: number
}

export interface AccountIam {
  /** Every instance profile's role, by profile ARN. */
  readonly profileRoles: ReadonlyMap<string, string>
  readonly roles: ReadonlyMap<string, RoleIam>
}

/** IAM's largest page for this call: a few pages even for thousands of roles. */
const PAGE_SIZE = 1_000

/**
 * Reads every role and customer-managed policy of the account, page by page. Documents come URL-encoded from
 * IAM (RFC 3986) and are decoded; `cache` learns every managed part's default version on the way.
 */
export async function readAccountIam(
  iam: IAMClient,
  region: string,
  ownPolicyName: string,
  cache?: ManagedPartCache,
): Promise<AccountIam> {
  const roles: RoleDetail[] = []
  const policies: ManagedPolicyDetail[] = []
  await asPermitted('iam:GetAccountAuthorizationDetails', '*', async () => {
    const input = { Filter: ['Role' as const, 'LocalManagedPolicy' as const] }
    for await (const page of paginateGetAccountAuthorizationDetails(
      { client: iam, pageSize: PAGE_SIZE },
      input,
    )) {
      roles.push(...(page.RoleDetailList ?? []))
      policies.push(...(page.Policies ?? []))
    }
  })
  return accountIamOf(roles, policies, region, ownPolicyName, cache)
}

/** The roles and managed policies of the bulk read, put together role by role. */
export function accountIamOf(
  roleDetails: readonly RoleDetail[],
  policyDetails: readonly ManagedPolicyDetail[],
  region: string,
  ownPolicyName: string,
  cache?: ManagedPartCache,
): AccountIam {
  const path = managedPolicyPath(region)
  const partsByArn = new Map<
    string,
    { readonly roleName: string; readonly part: number; readonly policy: ManagedPolicyDetail }
  >()
  for (const policy of policyDetails) {
    // moto 5.2.1 leaves PolicyName out of this call's answer; the ARN ends with the name either way.
    const named = /^(.+)-(\d+)$/.exec(policy.PolicyName ?? policy.Arn?.split('/').pop() ?? '')
    if (!named?.[1] || !policy.Arn || policy.Path !== path) continue
    partsByArn.set(policy.Arn, { roleName: named[1], part: Number(named[2]), policy })
  }
  const profileRoles = new Map<string, string>()
  const roles = new Map<string, RoleIam>()
  for (const role of roleDetails) {
    const roleName = role.RoleName
    if (!roleName) continue
    for (const profile of role.InstanceProfileList ?? [])
      if (profile.Arn) profileRoles.set(profile.Arn, roleName)
    const attached = new Set((role.AttachedManagedPolicies ?? []).flatMap((each) => each.PolicyArn ?? []))
    let inline: string | undefined
    let otherInlineChars = 0
    for (const policy of role.RolePolicyList ?? []) {
      const document = decodePolicyDocument(policy.PolicyDocument)
      if (policy.PolicyName === ownPolicyName) inline = document
      else otherInlineChars += policyChars(document ?? '')
    }
    const parts = [...partsByArn.entries()]
      .filter(([, each]) => each.roleName === roleName)
      .sort(([, a], [, b]) => a.part - b.part)
      .map(([arn, { part, policy }]) => {
        const managed: ManagedPart = {
          roleName,
          part,
          arn,
          defaultVersionId: policy.DefaultVersionId,
          attached: attached.has(arn),
        }
        const version = (policy.PolicyVersionList ?? []).find(
          (each) => each.IsDefaultVersion || each.VersionId === policy.DefaultVersionId,
        )
        const document = decodePolicyDocument(version?.Document)
        if (document !== undefined) cache?.remember(managed, document)
        return { part: managed, document }
      })
    const foreignManagedPolicies = [...attached].filter((arn) => !arn.includes(`:policy${path}`)).length
    roles.set(roleName, { own: { inline, parts }, otherInlineChars, foreignManagedPolicies })
  }
  return { profileRoles, roles }
}

/** Whether the controller's inline policy or one of its managed parts is on the role. */
export function carriesOwnPolicy(role: RoleIam): boolean {
  return role.own.inline !== undefined || role.own.parts.length > 0
}
