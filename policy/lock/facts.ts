/**
 * What the lock is decided from and what it decides: the facts EC2, Lambda and IAM give about a role, the
 * settings, the outcomes, and the shapes of the documents it writes.
 */

/** IAM's quota for all inline policies of one role together, whitespace not counted. */
export const INLINE_POLICY_BUDGET = 10_240
/** IAM's quota for one customer-managed policy document, whitespace not counted. */
export const MANAGED_POLICY_BUDGET = 6_144

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated'

/** Where the account and region of every instance ARN in a lock come from. */
export interface LockScope {
  readonly partition: string
  readonly region: string
  readonly accountId: string
}

export interface LockSettings extends LockScope {
  /** How long a stopped, terminated or moved instance's old credentials are refused everywhere. */
  readonly tombstoneRetentionMs: number
  /**
   * Interface endpoints of a shared-services VPC: a call through one of them is allowed from the instance's own
   * private addresses although the endpoint is not in the instance's VPC.
   * @default none
   */
  readonly trustedVpcEndpoints?: readonly string[]
  /** Refuse credentials that IMDSv1 delivered (`ec2:RoleDelivery` below 2.0), the usual SSRF path. @default false */
  readonly refuseImdsV1?: boolean
}

/** What EC2 says about one instance right now. */
export interface InstanceFacts {
  readonly instanceId: string
  readonly state: InstanceState
  /** The role its instance profile grants now; undefined when it has no profile. */
  readonly roleName: string | undefined
  /** Carries the opt-in tag (see {@link isOptedIn}). */
  readonly optedIn: boolean
  /**
   * Not opted in, but carries a tag that misses the opt-in tag only by case or spaces: the hint that names it.
   * @default none
   */
  readonly optInNearMiss?: string | undefined
  /** Its own public IPv4 (auto-assigned, Elastic, carrier) and IPv6 addresses, on every network interface. */
  readonly publicIps: readonly string[]
  /**
   * Public CIDRs its calls to AWS's public endpoints leave by besides its own public addresses: NAT gateway or NAT
   * instance addresses (IPv4 routes and NAT64), knownEgress CIDRs. `unknown` when a route that can carry such
   * traffic leads where the controller cannot see the egress and no knownEgress entry covers it.
   */
  readonly egressIps: readonly string[] | 'unknown'
  /** Why egressIps is unknown: one sentence naming the route target and the setting that would fix it. */
  readonly egressUnknownReason?: string | undefined
  /** Its private IPv4 and IPv6 addresses and delegated prefixes, on every network interface. */
  readonly privateIps: readonly string[]
  /** The primary private IPv4 of its primary network interface (what aws:EC2InstanceSourcePrivateIPv4 carries). */
  readonly primaryPrivateIpv4?: string | undefined
  /** VPCs of its attached network interfaces other than the primary interface's VPC. */
  readonly otherVpcIds?: readonly string[] | undefined
  /** When it entered its current state, where EC2 says so. */
  readonly stateChangedAt?: Date | undefined
  /** When it last entered `running` (EC2 LaunchTime, which every start updates). */
  readonly launchedAt?: Date | undefined
}

/** A tombstone as the controller wrote it. */
export interface TombstoneEntry {
  /** When it was written: it is dropped once the retention has passed since then. */
  readonly since: Date
  /**
   * Only credentials issued before this moment are refused (`aws:TokenIssueTime`), so a restarted or returning
   * instance's fresh credentials work. Undefined: every credential of the instance (it was terminated).
   */
  readonly issuedBefore?: Date | undefined
}

/** What Lambda says about one function whose execution role is a role being decided, or that a lock names. */
export interface FunctionFacts {
  readonly functionName: string
  /** Its execution role now. */
  readonly roleName: string
  /** Carries the opt-in tag (see {@link isOptedIn}). */
  readonly optedIn: boolean
  /** The VPC its subnets are in; undefined when it is not attached to a VPC. */
  readonly vpcId: string | undefined
  /**
   * Public CIDRs its calls to AWS's public endpoints leave by: the NAT gateways or NAT instances its subnets
   * route through, or knownEgress CIDRs. Its network interfaces never have a public address of their own.
   * `unknown` as for an instance (see {@link InstanceFacts.egressIps}).
   */
  readonly egressIps: readonly string[] | 'unknown'
  /** Why egressIps is unknown: one sentence naming the route target and the setting that would fix it. */
  readonly egressUnknownReason?: string | undefined
  /** The CIDRs of its subnets: its network interfaces take their private addresses from them. */
  readonly subnetCidrs: readonly string[]
}

/** What the controller's own policies on a role said before this decision. */
export interface CurrentLock {
  readonly locked: ReadonlySet<string>
  readonly tombstones: ReadonlyMap<string, TombstoneEntry>
  /**
   * The functions the lock names, by function name.
   * @default none
   */
  readonly functions?: FunctionLock | undefined
  /**
   * Which document each instance and function is in (see readPlacement): the packer keeps them there, so a
   * change rewrites only the documents it touches.
   * @default none: the lock is packed afresh
   */
  readonly placement?: ReadonlyMap<string, number> | undefined
}

/** What the controller's own policies say about functions: the locked ones and the tombstoned ones. */
export interface FunctionLock {
  readonly locked: ReadonlySet<string>
  readonly tombstones: ReadonlyMap<string, TombstoneEntry>
}

/** How much room the role leaves for the lock. */
export interface LockBudget {
  /** Characters (whitespace not counted) of the role's other inline policies. */
  readonly otherInlineChars: number
  /** Customer-managed policies the controller may attach to the role besides the inline policy. */
  readonly managedPolicies: number
}

export interface RoleFacts {
  readonly roleName: string
  /** Every instance EC2 knows that uses this role or is named in its current lock. */
  readonly instances: readonly InstanceFacts[]
  /**
   * Every function Lambda knows whose execution role is this role, or that its current lock names (a function
   * absent here is gone from Lambda).
   * @default none
   */
  readonly functions?: readonly FunctionFacts[]
  readonly current: CurrentLock
  readonly budget: LockBudget
  /**
   * Actions the address statements do not refuse, for workloads that hand presigned URLs to browsers (the URL is
   * used from the browser's address). Tombstones still refuse them.
   * @default none
   */
  readonly exemptActions?: readonly string[]
}

export type InstanceOutcome =
  | { readonly instanceId: string; readonly outcome: 'locked'; readonly allowedFrom: AllowedSources }
  | {
      readonly instanceId: string
      readonly outcome: 'tombstoned'
      readonly since: Date
      readonly issuedBefore: Date | undefined
      readonly reason: string
    }
  | {
      readonly instanceId: string
      readonly outcome: 'released' | 'expired' | 'skipped' | 'unprotected'
      readonly reason: string
    }

export type FunctionOutcome =
  | { readonly functionName: string; readonly outcome: 'locked'; readonly allowedFrom: FunctionSources }
  | {
      readonly functionName: string
      readonly outcome: 'tombstoned'
      readonly since: Date
      readonly issuedBefore: Date
      readonly reason: string
    }
  | {
      readonly functionName: string
      readonly outcome: 'released' | 'expired' | 'skipped' | 'unprotected'
      readonly reason: string
    }

/** Where a locked function may use its credentials from. */
export interface FunctionSources {
  /** Through endpoints of this VPC only (aws:SourceVpc). */
  readonly vpcId: string
  /** aws:SourceIp values: the public egress of its subnets. */
  readonly publicCidrs: readonly string[]
  /** Its subnets' CIDRs: aws:SourceIp of IAM-authenticated services inside the VPC, aws:VpcSourceIp. */
  readonly privateCidrs: readonly string[]
}

export interface AllowedSources {
  /** aws:SourceIp values: its own public addresses and its egress addresses. */
  readonly publicCidrs: readonly string[]
  /** Its own private addresses: aws:SourceIp of IAM-authenticated services inside the VPC, aws:VpcSourceIp. */
  readonly privateCidrs: readonly string[]
  /**
   * It has only its primary private IPv4, which IAM knows as aws:EC2InstanceSourcePrivateIPv4: instances that
   * also share their public addresses (a fleet behind one NAT) then share one statement that compares with that
   * variable instead of listing every address.
   */
  readonly onlyPrimary: boolean
  /** VPCs besides its own whose endpoints it may call through (a second network interface). */
  readonly otherVpcIds: readonly string[]
}

/** `precise`: each instance only its own addresses. `compact`: every locked instance the role's addresses. */
export type LockForm = 'precise' | 'compact'

export type LockDecision =
  | {
      readonly roleName: string
      readonly action: 'put'
      readonly form: LockForm
      /** The inline policy first, then the customer-managed policies in order (none when the inline one holds all). */
      readonly documents: readonly string[]
      /** Characters of each document, whitespace not counted. */
      readonly chars: readonly number[]
      readonly instances: readonly InstanceOutcome[]
      readonly functions: readonly FunctionOutcome[]
    }
  | {
      readonly roleName: string
      readonly action: 'remove'
      readonly instances: readonly InstanceOutcome[]
      readonly functions: readonly FunctionOutcome[]
    }

export type ConditionBlock = Readonly<Record<string, string | readonly string[]>>

export interface PolicyStatement {
  readonly Sid?: string
  readonly Effect: 'Deny'
  readonly Action?: '*'
  readonly NotAction?: readonly string[]
  readonly Resource: '*'
  readonly Condition: Readonly<Record<string, ConditionBlock>>
}

export interface PolicyDocument {
  readonly Version: '2012-10-17'
  readonly Statement: readonly PolicyStatement[]
}

export interface LockedInstance {
  readonly instanceId: string
  readonly allowedFrom: AllowedSources
}

export interface Tombstone extends TombstoneEntry {
  readonly instanceId: string
}

export interface LockedFunction {
  readonly functionName: string
  readonly allowedFrom: FunctionSources
}

export interface FunctionTombstone extends TombstoneEntry {
  readonly functionName: string
}

/** The functions a lock covers: the locked ones and the tombstoned ones. */
export interface FunctionsToLock {
  readonly locked: readonly LockedFunction[]
  readonly tombstones: readonly FunctionTombstone[]
}

/** States in which an instance runs, or is about to, with fresh credentials. */
export const ACTIVE_STATES: ReadonlySet<InstanceState> = new Set(['pending', 'running'])
/** States after which an instance never runs again: every credential it had is refused. */
export const FINAL_STATES: ReadonlySet<InstanceState> = new Set(['shutting-down', 'terminated'])
export const COMPACT_SID = 'Compact'
/**
 * Calls Lambda itself makes with a function's credentials from outside its execution environment, still carrying
 * lambda:SourceFunctionArn: refusing them would stop the function's logs, traces and EFS mounts.
 */
export const LAMBDA_SERVICE_ACTIONS: readonly string[] = [
  'elasticfilesystem:ClientMount',
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'xray:PutTraceSegments',
]

/** The inline policy name, one per region so two regional deployments never overwrite each other. */
export function lockPolicyName(region: string): string {
  return `credential-lock-${region}`
}

/** An instance is opted in when it carries the lock tag with the lock value (value compared exactly). */
export function isOptedIn(
  tags: readonly { readonly Key?: string | undefined; readonly Value?: string | undefined }[],
  tag: { readonly key: string; readonly value: string },
): boolean {
  return tags.some((candidate) => candidate.Key === tag.key && candidate.Value === tag.value)
}

/**
 * A statement before it is split to fit: the instances it names and everything else it says. A statement that
 * names many instances (a fleet behind one NAT) is split across as many statements and documents as needed.
 */
export interface StatementPlan {
  /** Whose credentials it matches: instances by `ec2:SourceInstanceARN`, functions by `lambda:SourceFunctionArn`. */
  readonly subject: 'instance' | 'function'
  /** Instance IDs or function names. */
  readonly ids: readonly string[]
  /** The statement naming `ids` (a part of the plan's instances or functions) through `match`. */
  readonly render: (match: ConditionBlockSet, ids: readonly string[]) => PolicyStatement
}

export type ConditionBlockSet = Readonly<Record<string, ConditionBlock>>
