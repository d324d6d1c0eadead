/**
 * Reading the controller's own policies and each role's budget for a batch: from the one bulk read of IAM when
 * the batch has it (see account-iam.ts), else role by role, with managed parts whose version is unchanged taken
 * from the warm Lambda's cache.
 */
import type { Logger } from '@aws-lambda-powertools/logger'
import type { IAMClient } from '@aws-sdk/client-iam'
import { type LockBudget, lockPolicyName } from '../../policy/lock/index.js'
import { type AccountIam, readAccountIam } from './account-iam.js'
import { mapLimited } from './concurrency.js'
import { MissingPermissionError } from './errors.js'
import {
  foreignManagedPolicyCount,
  listManagedParts,
  type ManagedPartCache,
  type OwnPolicies,
  otherInlinePolicyChars,
  readInlinePolicy,
  readManagedPart,
} from './iam-roles.js'

/**
 * From this many roles on, a batch reads IAM in bulk: one page of the bulk read holds up to 1,000 roles and
 * policies, where reading role by role costs a call per role and per managed part.
 */
export const BULK_READ_ROLES = 10

/** Role policies read at once role by role: fast enough for hundreds of roles, gentle on IAM. */
const IAM_READS_IN_FLIGHT = 8

export interface RoleReading {
  readonly iam: IAMClient
  readonly region: string
  readonly managedPolicyQuota: number
  /** @default none: every managed part is read */
  readonly cache?: ManagedPartCache | undefined
}

/** The parts of the controller's dependencies reading IAM needs. */
export interface IamReaderDeps {
  readonly iam: IAMClient
  readonly logger: Pick<Logger, 'warn'>
  readonly config: { readonly region: string; readonly managedPolicyQuota: number }
  readonly managedPartCache?: ManagedPartCache | undefined
}

export function roleReading(deps: IamReaderDeps): RoleReading {
  return {
    iam: deps.iam,
    region: deps.config.region,
    managedPolicyQuota: deps.config.managedPolicyQuota,
    cache: deps.managedPartCache,
  }
}

/**
 * The bulk read of IAM, or undefined when IAM refuses it (an SCP or permissions boundary may deny
 * iam:GetAccountAuthorizationDetails): the batch then reads role by role, as correct and only dearer.
 */
export async function bulkRead(deps: IamReaderDeps): Promise<AccountIam | undefined> {
  const { iam, config, managedPartCache } = deps
  try {
    return await readAccountIam(iam, config.region, lockPolicyName(config.region), managedPartCache)
  } catch (error) {
    if (!(error instanceof MissingPermissionError)) throw error
    deps.logger.warn('bulk read of IAM refused: reading role by role', { error })
    return undefined
  }
}

const NO_POLICIES: OwnPolicies = { inline: undefined, parts: [] }

export function ownDocuments(own: OwnPolicies): (string | undefined)[] {
  return [own.inline, ...own.parts.map((each) => each.document)]
}

/**
 * The controller's own policies on each role: from the bulk read when there is one, else one listing of its
 * managed policies for the whole batch, then one read per role, plus one per managed part not in the cache.
 */
export async function readOwnPolicies(
  reading: RoleReading,
  roles: ReadonlySet<string>,
  account: AccountIam | undefined,
): Promise<Map<string, OwnPolicies>> {
  const roleNames = [...roles]
  if (account) return new Map(roleNames.map((name) => [name, account.roles.get(name)?.own ?? NO_POLICIES]))
  const policyName = lockPolicyName(reading.region)
  const managed = await listManagedParts(reading.iam, reading.region)
  const owned = await mapLimited(roleNames, IAM_READS_IN_FLIGHT, async (roleName) => {
    const parts = []
    for (const part of managed.get(roleName) ?? []) {
      parts.push({ part, document: await readManagedPart(reading.iam, part, reading.cache) })
    }
    return { inline: await readInlinePolicy(reading.iam, roleName, policyName), parts }
  })
  return new Map(roleNames.map((roleName, index) => [roleName, owned[index] as OwnPolicies]))
}

/** The room the role leaves for the lock: from the bulk read when there is one, else read now. */
export async function roleBudget(
  reading: RoleReading,
  roleName: string,
  account: AccountIam | undefined,
): Promise<LockBudget> {
  const known = account?.roles.get(roleName)
  const otherInlineChars =
    known?.otherInlineChars ??
    (await otherInlinePolicyChars(reading.iam, roleName, lockPolicyName(reading.region)))
  const foreign =
    known?.foreignManagedPolicies ?? (await foreignManagedPolicyCount(reading.iam, roleName, reading.region))
  return { otherInlineChars, managedPolicies: Math.max(0, reading.managedPolicyQuota - foreign) }
}
