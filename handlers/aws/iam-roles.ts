import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  type IAMClient,
  LimitExceededException,
  ListPolicyVersionsCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListInstanceProfiles,
  paginateListPolicies,
  paginateListRolePolicies,
} from '@aws-sdk/client-iam'
import { policyChars } from '../../policy/lock/index.js'
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
    return decodePolicyDocument(output.PolicyDocument)
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

/** One customer-managed policy the controller owns: part `part` of a role's lock, beyond the inline policy. */
export interface ManagedPart {
  readonly roleName: string
  readonly part: number
  readonly arn: string
  readonly defaultVersionId: string | undefined
  readonly attached: boolean
}

/** The path every managed policy of the controller lives under: its IAM grants are scoped to it. */
export function managedPolicyPath(region: string): string {
  return `/credential-lock/${region}/`
}

/** `<role name>-<part>`: the role a part belongs to is always the name without its last `-<number>`. */
export function managedPolicyName(roleName: string, part: number): string {
  return `${roleName}-${part}`
}

/** Every managed policy the controller owns in this region, by role, parts in order: one listing per batch. */
export async function listManagedParts(iam: IAMClient, region: string): Promise<Map<string, ManagedPart[]>> {
  const parts = new Map<string, ManagedPart[]>()
  await asPermitted('iam:ListPolicies', '*', async () => {
    const input = { Scope: 'Local' as const, PathPrefix: managedPolicyPath(region) }
    for await (const page of paginateListPolicies({ client: iam }, input)) {
      for (const policy of page.Policies ?? []) {
        const named = /^(.+)-(\d+)$/.exec(policy.PolicyName ?? '')
        if (!named?.[1] || !policy.Arn || policy.Path !== managedPolicyPath(region)) continue
        const part: ManagedPart = {
          roleName: named[1],
          part: Number(named[2]),
          arn: policy.Arn,
          defaultVersionId: policy.DefaultVersionId,
          attached: (policy.AttachmentCount ?? 0) > 0,
        }
        parts.set(
          part.roleName,
          [...(parts.get(part.roleName) ?? []), part].sort((a, b) => a.part - b.part),
        )
      }
    }
  })
  return parts
}

/** The controller's own policies on one role: its inline policy, and the managed parts beyond it. */
export interface OwnPolicies {
  readonly inline: string | undefined
  readonly parts: readonly { readonly part: ManagedPart; readonly document: string | undefined }[]
}

/**
 * The documents of managed parts by their default version, kept by the warm Lambda: a part whose
 * DefaultVersionId has not changed since it was last read is not read again.
 */
export class ManagedPartCache {
  private readonly documents = new Map<string, { readonly versionId: string; readonly document: string }>()

  remember(part: ManagedPart, document: string): void {
    if (part.defaultVersionId !== undefined) {
      this.documents.set(part.arn, { versionId: part.defaultVersionId, document })
    }
  }

  recall(part: ManagedPart): string | undefined {
    const known = this.documents.get(part.arn)
    return known !== undefined && known.versionId === part.defaultVersionId ? known.document : undefined
  }
}

/** The document of a managed part's default version, from `cache` when that version was read before. */
export async function readManagedPart(
  iam: IAMClient,
  part: ManagedPart,
  cache?: ManagedPartCache,
): Promise<string | undefined> {
  if (part.defaultVersionId === undefined) return undefined
  const cached = cache?.recall(part)
  if (cached !== undefined) return cached
  const output = await asPermitted('iam:GetPolicyVersion', part.arn, () =>
    iam.send(new GetPolicyVersionCommand({ PolicyArn: part.arn, VersionId: part.defaultVersionId })),
  )
  const document = decodePolicyDocument(output.PolicyVersion?.Document)
  if (document !== undefined) cache?.remember(part, document)
  return document
}

/** How many managed policies are attached to the role that the controller does not own (they use its quota). */
export async function foreignManagedPolicyCount(
  iam: IAMClient,
  roleName: string,
  region: string,
): Promise<number> {
  let count = 0
  await asPermitted('iam:ListAttachedRolePolicies', `role ${roleName}`, async () => {
    for await (const page of paginateListAttachedRolePolicies({ client: iam }, { RoleName: roleName })) {
      for (const policy of page.AttachedPolicies ?? []) {
        if (!policy.PolicyArn?.includes(`:policy${managedPolicyPath(region)}`)) count++
      }
    }
  })
  return count
}

/**
 * Writes part `part` of a role's lock: a new default version of the existing policy (the previous one deleted,
 * so the five-version limit is never reached), or a new policy; attached to the role in both cases.
 */
export async function writeManagedPart(
  iam: IAMClient,
  region: string,
  roleName: string,
  part: number,
  existing: ManagedPart | undefined,
  document: string,
): Promise<void> {
  const name = managedPolicyName(roleName, part)
  let arn = existing?.arn
  if (existing === undefined) {
    const created = await asPermitted('iam:CreatePolicy', name, () =>
      iam.send(
        new CreatePolicyCommand({
          PolicyName: name,
          Path: managedPolicyPath(region),
          PolicyDocument: document,
        }),
      ),
    )
    arn = created.Policy?.Arn
  } else {
    await createDefaultVersion(iam, existing.arn, document)
  }
  if (arn && !existing?.attached) {
    const policyArn = arn
    await asPermitted('iam:AttachRolePolicy', `role ${roleName}`, () =>
      iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn })),
    )
  }
}

async function createDefaultVersion(iam: IAMClient, arn: string, document: string): Promise<void> {
  const create = () =>
    asPermitted('iam:CreatePolicyVersion', arn, () =>
      iam.send(
        new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: document, SetAsDefault: true }),
      ),
    )
  try {
    await create()
  } catch (error) {
    // Left over from an interrupted run: clear the old versions, then try once more.
    if (!(error instanceof LimitExceededException)) throw error
    await deleteOldVersions(iam, arn)
    await create()
  }
  await deleteOldVersions(iam, arn)
}

async function deleteOldVersions(iam: IAMClient, arn: string): Promise<void> {
  const versions = await asPermitted('iam:ListPolicyVersions', arn, () =>
    iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn })),
  )
  for (const version of versions.Versions ?? []) {
    if (version.IsDefaultVersion || !version.VersionId) continue
    const versionId = version.VersionId
    await asPermitted('iam:DeletePolicyVersion', arn, () =>
      iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: versionId })),
    )
  }
}

/** Detaches and deletes a managed part; one already gone is already in the wanted state. */
export async function removeManagedPart(iam: IAMClient, part: ManagedPart): Promise<void> {
  const ignoreGone = (error: unknown) => {
    if (!(error instanceof NoSuchEntityException)) throw error
  }
  await asPermitted('iam:DetachRolePolicy', `role ${part.roleName}`, () =>
    iam.send(new DetachRolePolicyCommand({ RoleName: part.roleName, PolicyArn: part.arn })),
  ).catch(ignoreGone)
  await deleteOldVersions(iam, part.arn).catch(ignoreGone)
  await asPermitted('iam:DeletePolicy', part.arn, () =>
    iam.send(new DeletePolicyCommand({ PolicyArn: part.arn })),
  ).catch(ignoreGone)
}

/**
 * A policy document as IAM returns it (GetRolePolicy, GetPolicyVersion, the bulk read): URL-encoded by real IAM
 * (RFC 3986), and plain JSON from some emulators. A document that is already JSON is kept as it is.
 */
export function decodePolicyDocument(document: string | undefined): string | undefined {
  if (document === undefined) return undefined
  if (document.trimStart().startsWith('{')) return document
  try {
    return decodeURIComponent(document)
  } catch {
    return document
  }
}
