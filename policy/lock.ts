import { cidrSet } from './addresses.js'
import { InvalidFactsError, LockTooLargeError } from './errors.js'

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
      readonly outcome: 'released' | 'expired' | 'skipped'
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

type ConditionBlock = Readonly<Record<string, string | readonly string[]>>

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

interface LockedInstance {
  readonly instanceId: string
  readonly allowedFrom: AllowedSources
}

interface Tombstone extends TombstoneEntry {
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
const FINAL_STATES: ReadonlySet<InstanceState> = new Set(['shutting-down', 'terminated'])
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
const TOMBSTONE_SID = /^Tombstone(\d{1,12})(?:Before(\d{1,12}))?(?:x\d+)?$/
const COMPACT_SID = 'Compact'
const ARN_KEY = 'ec2:SourceInstanceARN'
const FUNCTION_ARN_KEY = 'lambda:SourceFunctionArn'
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/
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
const NO_FUNCTIONS: FunctionsToLock = { locked: [], tombstones: [] }
// Calls AWS services make with the instance's credentials come from the service's own addresses.
const NOT_VIA_AWS_SERVICE = { 'aws:ViaAWSService': 'false' }
/*
 * IAM refuses policy variables in IP operators, so the primary private IPv4 is compared as a string, the way AWS's
 * own data-perimeter examples do. The default value keeps the variable resolvable on the path where its key is
 * absent (no aws:VpcSourceIp on the public path, no aws:SourceIp through an endpoint), and 'absent' never equals an
 * address, so the comparison then says "not from its own address".
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: IAM policy variables, resolved by IAM.
const OWN_PRIMARY_ADDRESS = ["${aws:SourceIp, 'absent'}", "${aws:VpcSourceIp, 'absent'}"]
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM.
const OWN_VPC = '${aws:EC2InstanceSourceVPC}'
/** Room kept free in every document so that rounding in the packing never pushes IAM over its quota. */
const DOCUMENT_SHELL = policyChars(JSON.stringify({ Version: '2012-10-17', Statement: [] }))

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
 * What each part of an instance ARN looks like. A part of the wrong shape (an account ID as the console shows
 * it, an availability zone for a region) would give ARNs no request ever carries: a lock that locks nothing.
 */
const SCOPE_SHAPES: Readonly<Record<keyof LockScope, RegExp>> = {
  partition: /^aws(-[a-z]+)*$/,
  region: /^[a-z]{2,}(-[a-z]+)+-\d{1,2}$/,
  accountId: /^\d{12}$/,
}

export function instanceArn(scope: LockScope, instanceId: string): string {
  assertInstanceId(instanceId)
  return `${instanceArnPrefix(scope)}${instanceId}`
}

/** The function's unqualified ARN: what lambda:SourceFunctionArn carries. */
export function functionArn(scope: LockScope, functionName: string): string {
  assertFunctionName(functionName)
  return `${functionArnPrefix(scope)}${functionName}`
}

function instanceArnPrefix(scope: LockScope): string {
  assertScope(scope)
  return `arn:${scope.partition}:ec2:${scope.region}:${scope.accountId}:instance/`
}

function functionArnPrefix(scope: LockScope): string {
  assertScope(scope)
  return `arn:${scope.partition}:lambda:${scope.region}:${scope.accountId}:function:`
}

function assertScope(scope: LockScope): void {
  // Only the three scope parts: settings may carry more (retention, tag, ...) that is not part of an ARN.
  for (const part of ['partition', 'region', 'accountId'] as const) {
    if (!SCOPE_SHAPES[part].test(scope[part])) {
      throw new InvalidFactsError(`The ${part} "${scope[part]}" cannot be part of an ARN: fix the settings.`)
    }
  }
}

/**
 * Decides the policies the controller owns on a role: a per-instance ("precise") lock when it fits the budget,
 * else a role-wide ("compact") one that still refuses every outside address. When even that does not fit, the
 * instances that do not fit are left unprotected (each says so) rather than a stale lock staying in place.
 */
export function decideLock(role: RoleFacts, settings: LockSettings, now: Date): LockDecision {
  const { locked, tombstones, outcomes } = judgeInstances(role, settings, now)
  const { functions, functionOutcomes } = judgeFunctions(role, settings, now)
  const noFunctions = functions.locked.length === 0 && functions.tombstones.length === 0
  if (locked.length === 0 && tombstones.length === 0 && noFunctions) {
    return { roleName: role.roleName, action: 'remove', instances: outcomes, functions: functionOutcomes }
  }
  const capacities = documentCapacities(role.budget)
  const render = (form: LockForm, instances: readonly LockedInstance[]) =>
    packDocuments(
      lockPlans(form, instances, tombstones, settings, role.exemptActions ?? [], functions),
      settings,
      capacities,
    )
  const putDecision = (form: LockForm, documents: readonly string[], instances: readonly InstanceOutcome[]) =>
    ({
      roleName: role.roleName,
      action: 'put',
      form,
      documents,
      chars: documents.map(policyChars),
      instances,
      functions: functionOutcomes,
    }) as const
  for (const form of ['precise', 'compact'] as const) {
    const documents = render(form, locked)
    if (documents) return putDecision(form, documents, outcomes)
  }
  // Keep as many instances locked as fit, in a stable order, and say which are not: a stale lock left in place
  // could refuse an instance's new address.
  const kept = largestFitting(
    locked.length - 1,
    (count) => render('compact', locked.slice(0, count)) !== undefined,
  )
  const documents = render('compact', locked.slice(0, kept))
  if (documents) {
    const left = new Set(locked.slice(kept).map((instance) => instance.instanceId))
    const reason =
      `the role's policy budget holds only ${kept} locked instances: move some to another role, ` +
      'or raise the managed-policy quota and the managedPolicyQuota setting'
    const marked = outcomes.map(
      (outcome): InstanceOutcome =>
        outcome.outcome === 'locked' && left.has(outcome.instanceId)
          ? { instanceId: outcome.instanceId, outcome: 'unprotected', reason }
          : outcome,
    )
    return kept === 0 && tombstones.length === 0 && noFunctions
      ? { roleName: role.roleName, action: 'remove', instances: marked, functions: functionOutcomes }
      : putDecision('compact', documents, marked)
  }
  // What the tombstones and functions need with no instance kept, packed as they would be written, unbounded.
  const tombstoneDocuments = packDocuments(
    lockPlans('compact', [], tombstones, settings, role.exemptActions ?? [], functions),
    settings,
    [Number.POSITIVE_INFINITY],
  )
  throw new LockTooLargeError(
    role.roleName,
    (tombstoneDocuments ?? []).reduce((sum, document) => sum + policyChars(document), 0),
    role.budget.otherInlineChars,
    INLINE_POLICY_BUDGET,
  )
}

function judgeInstances(role: RoleFacts, settings: LockSettings, now: Date) {
  const facts = new Map(role.instances.map((instance) => [instance.instanceId, instance]))
  const ids = new Set([...facts.keys(), ...role.current.locked, ...role.current.tombstones.keys()])
  const locked: LockedInstance[] = []
  const tombstones: Tombstone[] = []
  const outcomes: InstanceOutcome[] = []
  for (const instanceId of [...ids].sort()) {
    assertInstanceId(instanceId)
    for (const outcome of judgeInstance(instanceId, facts.get(instanceId), role, settings, now)) {
      outcomes.push(outcome)
      if (outcome.outcome === 'locked') locked.push({ instanceId, allowedFrom: outcome.allowedFrom })
      if (outcome.outcome === 'tombstoned') tombstones.push(outcome)
    }
  }
  return { locked, tombstones, outcomes }
}

function judgeInstance(
  instanceId: string,
  instance: InstanceFacts | undefined,
  role: RoleFacts,
  settings: LockSettings,
  now: Date,
): InstanceOutcome[] {
  const wasLocked = role.current.locked.has(instanceId)
  const runningHere = instance?.roleName === role.roleName && ACTIVE_STATES.has(instance.state)
  // An instance that stops again after running replaces its old tombstone with one covering its newer credentials.
  const existing = wasLocked && !runningHere ? undefined : role.current.tombstones.get(instanceId)
  const tombstone = existing && tombstoneOutcome(instanceId, instance, existing, runningHere, settings, now)
  const kept = tombstone ? [tombstone] : []
  if (instance && runningHere) {
    // A running instance is never refused its own path: it gets a live lock or none, and a tombstone it still
    // carries refuses only the credentials it had before it stopped or moved.
    if (!instance.optedIn) {
      return wasLocked ? [{ instanceId, outcome: 'released', reason: 'not opted in' }, ...kept] : kept
    }
    if (instance.egressIps === 'unknown') {
      const reason =
        instance.egressUnknownReason ??
        'its traffic to AWS leaves through a route whose egress address is unknown'
      return [{ instanceId, outcome: 'skipped', reason }, ...kept]
    }
    return [{ instanceId, outcome: 'locked', allowedFrom: allowedSources(instance) }, ...kept]
  }
  if (existing) return kept
  const why =
    instance === undefined
      ? 'gone from EC2'
      : ACTIVE_STATES.has(instance.state)
        ? 'moved to another role'
        : instance.state
  const refuseAll = instance === undefined || FINAL_STATES.has(instance.state)
  if (wasLocked) {
    const since = refuseAll ? bucketEnd(now, settings) : nextWholeSecond(now)
    return [
      { instanceId, outcome: 'tombstoned', since, issuedBefore: refuseAll ? undefined : since, reason: why },
    ]
  }
  const changedAt = instance?.stateChangedAt
  if (instance && instance.roleName === role.roleName && instance.optedIn && changedAt) {
    // Stopped before the controller ever locked it: its credentials may still be live.
    if (now.getTime() - changedAt.getTime() < settings.tombstoneRetentionMs) {
      const since = wholeSecond(changedAt)
      return [
        {
          instanceId,
          outcome: 'tombstoned',
          since,
          issuedBefore: refuseAll ? undefined : nextWholeSecond(now),
          reason: why,
        },
      ]
    }
  }
  return []
}

/** An existing tombstone: kept until the retention has passed, never refusing a running instance's fresh credentials. */
function tombstoneOutcome(
  instanceId: string,
  instance: InstanceFacts | undefined,
  existing: TombstoneEntry,
  runningHere: boolean,
  settings: LockSettings,
  now: Date,
): InstanceOutcome | undefined {
  if (now.getTime() - existing.since.getTime() >= settings.tombstoneRetentionMs) {
    return { instanceId, outcome: 'expired', reason: 'its old credentials have expired' }
  }
  let issuedBefore = existing.issuedBefore
  if (runningHere && issuedBefore === undefined) {
    // A tombstone refusing every credential (written before tombstones were dated by issue time, or for an
    // instance EC2 briefly did not list) on an instance that runs again: refuse only what came before its start.
    const launched = instance?.launchedAt ? wholeSecond(instance.launchedAt) : undefined
    issuedBefore = launched && launched < existing.since ? launched : existing.since
  }
  const reason = runningHere
    ? 'credentials from before it last stopped or moved'
    : (instance?.state ?? 'gone from EC2')
  return { instanceId, outcome: 'tombstoned', since: existing.since, issuedBefore, reason }
}

/** Why a function outside a VPC is not locked: one sentence naming what to use instead. */
export const OUTSIDE_VPC_REASON =
  'it is not attached to a VPC, so the controller cannot know the address its calls leave from: lock it from ' +
  'inside with the in-function lockdown (README, "Lambda functions", part 2)'

function judgeFunctions(role: RoleFacts, settings: LockSettings, now: Date) {
  const facts = new Map((role.functions ?? []).map((fn) => [fn.functionName, fn]))
  const current = role.current.functions ?? { locked: new Set<string>(), tombstones: new Map() }
  const names = new Set([
    ...[...facts.values()].filter((fn) => fn.roleName === role.roleName).map((fn) => fn.functionName),
    ...current.locked,
    ...current.tombstones.keys(),
  ])
  const locked: LockedFunction[] = []
  const tombstones: FunctionTombstone[] = []
  const functionOutcomes: FunctionOutcome[] = []
  for (const functionName of [...names].sort()) {
    assertFunctionName(functionName)
    const fn = facts.get(functionName)
    for (const outcome of judgeFunction(functionName, fn, role.roleName, current, settings, now)) {
      functionOutcomes.push(outcome)
      if (outcome.outcome === 'locked') locked.push({ functionName, allowedFrom: outcome.allowedFrom })
      if (outcome.outcome === 'tombstoned') tombstones.push(outcome)
    }
  }
  return { functions: { locked, tombstones } satisfies FunctionsToLock, functionOutcomes }
}

/**
 * Like an instance's, but a function has no stopped state: it is here (locked, released or skipped), gone, or
 * on another role. Its old credentials live on in warm environments after it is deleted or moved, so those are
 * refused by issue time; a function created again under the same name gets fresh credentials that work.
 */
function judgeFunction(
  functionName: string,
  fn: FunctionFacts | undefined,
  roleName: string,
  current: FunctionLock,
  settings: LockSettings,
  now: Date,
): FunctionOutcome[] {
  const wasLocked = current.locked.has(functionName)
  const here = fn?.roleName === roleName
  // A function locked again after an earlier tombstone gets a new one covering its newer credentials.
  const existing = wasLocked && !here ? undefined : current.tombstones.get(functionName)
  const kept: FunctionOutcome[] = []
  if (existing) {
    kept.push(
      now.getTime() - existing.since.getTime() >= settings.tombstoneRetentionMs
        ? { functionName, outcome: 'expired', reason: 'its old credentials have expired' }
        : {
            functionName,
            outcome: 'tombstoned',
            since: existing.since,
            issuedBefore: existing.issuedBefore ?? existing.since,
            reason: here
              ? 'credentials from before it was deleted or moved'
              : fn
                ? 'moved to another role'
                : 'deleted',
          },
    )
  }
  if (fn && here) {
    if (!fn.optedIn) {
      return wasLocked ? [{ functionName, outcome: 'released', reason: 'not opted in' }, ...kept] : kept
    }
    if (fn.vpcId === undefined)
      return [{ functionName, outcome: 'skipped', reason: OUTSIDE_VPC_REASON }, ...kept]
    if (fn.egressIps === 'unknown') {
      const reason =
        fn.egressUnknownReason ?? 'its traffic to AWS leaves through a route whose egress address is unknown'
      return [{ functionName, outcome: 'skipped', reason }, ...kept]
    }
    return [
      { functionName, outcome: 'locked', allowedFrom: functionSources(fn, fn.vpcId, fn.egressIps) },
      ...kept,
    ]
  }
  if (existing || !wasLocked) return kept
  const since = nextWholeSecond(now)
  const reason = fn ? 'moved to another role' : 'deleted'
  return [{ functionName, outcome: 'tombstoned', since, issuedBefore: since, reason }]
}

function functionSources(fn: FunctionFacts, vpcId: string, egressIps: readonly string[]): FunctionSources {
  const privateCidrs = cidrSet(fn.subnetCidrs, `Subnet CIDR of function ${fn.functionName}`)
  if (privateCidrs.length === 0) {
    throw new InvalidFactsError(
      `Function ${fn.functionName} is in VPC ${vpcId} but no subnet CIDR was given: pass its subnets' CIDRs.`,
    )
  }
  return {
    vpcId,
    publicCidrs: cidrSet(egressIps, `Egress address of function ${fn.functionName}`),
    privateCidrs,
  }
}

function allowedSources(instance: InstanceFacts): AllowedSources {
  const egress = instance.egressIps === 'unknown' ? [] : instance.egressIps
  const privateCidrs = cidrSet(instance.privateIps, `Private address of ${instance.instanceId}`)
  if (privateCidrs.length === 0) {
    throw new InvalidFactsError(
      `Instance ${instance.instanceId} has no private address: EC2 always gives one.`,
    )
  }
  const otherVpcIds = [...new Set(instance.otherVpcIds ?? [])].sort()
  const primary = instance.primaryPrivateIpv4
  const onlyPrimary =
    primary !== undefined &&
    otherVpcIds.length === 0 &&
    privateCidrs.length === 1 &&
    privateCidrs[0] === cidrSet([primary], `Primary private address of ${instance.instanceId}`)[0]
  return {
    publicCidrs: cidrSet([...instance.publicIps, ...egress], `Public address of ${instance.instanceId}`),
    privateCidrs,
    onlyPrimary,
    otherVpcIds,
  }
}

/**
 * A statement before it is split to fit: the instances it names and everything else it says. A statement that
 * names many instances (a fleet behind one NAT) is split across as many statements and documents as needed.
 */
interface StatementPlan {
  /** Whose credentials it matches: instances by `ec2:SourceInstanceARN`, functions by `lambda:SourceFunctionArn`. */
  readonly subject: 'instance' | 'function'
  /** Instance IDs or function names. */
  readonly ids: readonly string[]
  /** The statement naming `ids` (a part of the plan's instances or functions) through `match`. */
  readonly render: (match: ConditionBlockSet, ids: readonly string[]) => PolicyStatement
}

type ConditionBlockSet = Readonly<Record<string, ConditionBlock>>

/** Every statement of a lock in one form, before packing into documents. */
function lockPlans(
  form: LockForm,
  locked: readonly LockedInstance[],
  tombstones: readonly Tombstone[],
  settings: LockSettings,
  exemptActions: readonly string[],
  functions: FunctionsToLock = NO_FUNCTIONS,
): StatementPlan[] {
  const trusted = settings.trustedVpcEndpoints ?? []
  return [
    ...tombstonePlans(
      'instance',
      tombstones.map(({ instanceId, ...entry }) => ({ id: instanceId, ...entry })),
    ),
    ...tombstonePlans(
      'function',
      functions.tombstones.map(({ functionName, ...entry }) => ({ id: functionName, ...entry })),
    ),
    ...vpcPlans(locked, trusted, exemptActions),
    ...functionEndpointPlans(functions.locked, trusted, exemptActions),
    ...(settings.refuseImdsV1 && locked.length > 0 ? [imdsV1Plan(locked)] : []),
    ...addressPlans(form, locked, exemptActions),
    ...functionAddressPlans(functions.locked, exemptActions),
  ]
}

/** Never the actions Lambda makes for the function from its own addresses, nor the role's exempt actions. */
function functionActions(exemptActions: readonly string[]): Pick<PolicyStatement, 'NotAction'> {
  return { NotAction: [...new Set([...LAMBDA_SERVICE_ACTIONS, ...exemptActions])].sort() }
}

/** Functions grouped by a key of their sources, groups and names in a stable order. */
function groupFunctions(
  locked: readonly LockedFunction[],
  key: (sources: FunctionSources) => string,
): { readonly sources: FunctionSources; readonly names: string[] }[] {
  const groups = new Map<string, { sources: FunctionSources; names: string[] }>()
  for (const { functionName, allowedFrom } of locked) {
    const group = groups.get(key(allowedFrom)) ?? { sources: allowedFrom, names: [] }
    group.names.push(functionName)
    groups.set(key(allowedFrom), group)
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group)
}

/**
 * A function's calls through a VPC endpoint must come through an endpoint of its own VPC (or a trusted shared
 * one). No policy variable names a function's VPC, so the statement names it.
 */
function functionEndpointPlans(
  locked: readonly LockedFunction[],
  trustedVpcEndpoints: readonly string[],
  exempt: readonly string[],
): StatementPlan[] {
  return groupFunctions(locked, (sources) => sources.vpcId).map(({ sources, names }) => {
    return {
      subject: 'function',
      ids: names,
      render: (match) =>
        endpointStatement(
          'FunctionEndpoint',
          functionActions(exempt),
          match,
          sources.vpcId,
          trustedVpcEndpoints,
        ),
    }
  })
}

/**
 * Refuses a function's credentials unless the call comes from its subnets' public egress (aws:SourceIp), from
 * its subnets' own addresses (aws:SourceIp of IAM-authenticated services inside the VPC, aws:VpcSourceIp through
 * an endpoint). The same shape as an instance's address statement.
 */
function functionAddressPlans(locked: readonly LockedFunction[], exempt: readonly string[]): StatementPlan[] {
  return groupFunctions(locked, (sources) => JSON.stringify(sources)).map(({ sources, names }) => ({
    subject: 'function',
    ids: names,
    render: (match) => ({
      Effect: 'Deny',
      ...functionActions(exempt),
      Resource: '*',
      Condition: {
        ...match,
        ...addressConditions(sources.publicCidrs, sources.privateCidrs),
        BoolIfExists: NOT_VIA_AWS_SERVICE,
      },
    }),
  }))
}

function actions(exemptActions: readonly string[]): Pick<PolicyStatement, 'Action' | 'NotAction'> {
  return exemptActions.length > 0 ? { NotAction: [...new Set(exemptActions)].sort() } : { Action: '*' }
}

/**
 * Refuses the credentials unless the call comes from one of the instance's addresses: aws:SourceIp on the public
 * path (its own public addresses and egress, and its private addresses for IAM-authenticated services reached
 * inside the VPC: RDS, EFS, MSK, ...), aws:VpcSourceIp through a VPC endpoint. Each key is absent on the other
 * path, and a negated operator is true for an absent key, so one statement covers every path.
 */
function addressPlans(
  form: LockForm,
  locked: readonly LockedInstance[],
  exempt: readonly string[],
): StatementPlan[] {
  const byId = new Map(locked.map((instance) => [instance.instanceId, instance.allowedFrom]))
  const groups = new Map<string, string[]>()
  for (const { instanceId, allowedFrom } of locked) {
    // Precise: instances with the same addresses (a fleet behind one NAT, each with only its primary address)
    // share a statement. Compact: every instance shares the one of its kind.
    const { privateCidrs, ...shared } = allowedFrom
    const key =
      form === 'compact'
        ? String(allowedFrom.onlyPrimary)
        : JSON.stringify(allowedFrom.onlyPrimary ? shared : allowedFrom)
    groups.set(key, [...(groups.get(key) ?? []), instanceId])
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, ids]) => ({
      subject: 'instance',
      ids,
      render: (match, named) => {
        const sources = named.map((id) => byId.get(id) as AllowedSources)
        const union = (list: (each: AllowedSources) => readonly string[]) =>
          cidrSet(sources.flatMap(list), 'Address')
        // One instance's own address is shorter to list than IAM's variable; a fleet's addresses are not.
        const viaVariable = sources.length > 1 && sources.every((each) => each.onlyPrimary)
        return {
          ...(form === 'compact' ? { Sid: COMPACT_SID } : {}),
          Effect: 'Deny',
          ...actions(exempt),
          Resource: '*',
          Condition: {
            ...match,
            ...addressConditions(
              union((each) => each.publicCidrs),
              viaVariable ? 'primary' : union((each) => each.privateCidrs),
            ),
            BoolIfExists: NOT_VIA_AWS_SERVICE,
          },
        }
      },
    }))
}

function addressConditions(
  publicCidrs: readonly string[],
  privateCidrs: readonly string[] | 'primary',
): ConditionBlockSet {
  if (privateCidrs === 'primary') {
    return {
      ...(publicCidrs.length > 0 ? { NotIpAddress: { 'aws:SourceIp': publicCidrs } } : {}),
      StringNotEquals: { 'aws:EC2InstanceSourcePrivateIPv4': OWN_PRIMARY_ADDRESS },
    }
  }
  return {
    NotIpAddress: {
      'aws:SourceIp': cidrSet([...publicCidrs, ...privateCidrs], 'Address'),
      'aws:VpcSourceIp': privateCidrs,
    },
  }
}

/**
 * A private address is only the instance's own inside its own VPC (or a VPC it has a second interface in, or
 * through a trusted shared-services endpoint): refuse endpoints of any other VPC.
 */
function vpcPlans(
  locked: readonly LockedInstance[],
  trustedVpcEndpoints: readonly string[],
  exempt: readonly string[],
): StatementPlan[] {
  const groups = new Map<string, string[]>()
  for (const { instanceId, allowedFrom } of locked) {
    const key = allowedFrom.otherVpcIds.join(',')
    groups.set(key, [...(groups.get(key) ?? []), instanceId])
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([otherVpcs, ids]) => {
      const vpcs = [OWN_VPC, ...(otherVpcs === '' ? [] : otherVpcs.split(','))]
      return {
        subject: 'instance',
        ids,
        render: (match) =>
          endpointStatement(
            'Endpoint',
            actions(exempt),
            match,
            vpcs.length === 1 ? OWN_VPC : vpcs,
            trustedVpcEndpoints,
          ),
      }
    })
}

/**
 * Refuses endpoint calls through any VPC but `vpcs` (or a trusted shared-services endpoint); the `Null` guard keeps
 * it off the public path, where aws:SourceVpc is absent.
 */
function endpointStatement(
  sid: string,
  actions: Pick<PolicyStatement, 'Action' | 'NotAction'>,
  match: ConditionBlockSet,
  vpcs: string | readonly string[],
  trustedVpcEndpoints: readonly string[],
): PolicyStatement {
  const notFrom: Record<string, string | readonly string[]> = { 'aws:SourceVpc': vpcs }
  if (trustedVpcEndpoints.length > 0) notFrom['aws:SourceVpce'] = [...new Set(trustedVpcEndpoints)].sort()
  return {
    Sid: sid,
    Effect: 'Deny',
    ...actions,
    Resource: '*',
    Condition: {
      ...match,
      StringNotEquals: notFrom,
      Null: { 'aws:SourceVpc': 'false' },
      BoolIfExists: NOT_VIA_AWS_SERVICE,
    },
  }
}

/** AWS's own example: refuse credentials the instance metadata service delivered without a session token. */
function imdsV1Plan(locked: readonly LockedInstance[]): StatementPlan {
  return {
    subject: 'instance',
    ids: locked.map((instance) => instance.instanceId),
    render: (match) => ({
      Sid: 'ImdsV1',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { ...match, NumericLessThan: { 'ec2:RoleDelivery': '2.0' } },
    }),
  }
}

/**
 * The Sid carries when each tombstone was written (and, for a stopped or moved instance, which credentials it
 * refuses), so it outlives the instance disappearing from EC2.
 */
function tombstonePlans(
  subject: StatementPlan['subject'],
  tombstones: readonly (TombstoneEntry & { readonly id: string })[],
): StatementPlan[] {
  const groups = new Map<string, { entry: TombstoneEntry; ids: string[] }>()
  for (const { id, since, issuedBefore } of tombstones) {
    const sid = `Tombstone${seconds(since)}${issuedBefore ? `Before${seconds(issuedBefore)}` : ''}`
    const group = groups.get(sid) ?? { entry: { since, issuedBefore }, ids: [] }
    group.ids.push(id)
    groups.set(sid, group)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sid, { entry, ids }]) => ({
      subject,
      ids,
      render: (match) => ({
        Sid: sid,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: entry.issuedBefore
          ? { ...match, DateLessThan: { 'aws:TokenIssueTime': entry.issuedBefore.toISOString() } }
          : match,
      }),
    }))
}

/**
 * Matches the credentials of one instance by its exact ARN, or of several by instance ID within this region
 * and account: listing IDs instead of whole ARNs nearly halves a role-wide statement, which is what lets one
 * role hold a large fleet.
 */
function instanceMatch(prefix: string, instanceIds: readonly string[]): ConditionBlockSet {
  if (instanceIds.length === 1) return { StringEquals: { [ARN_KEY]: `${prefix}${instanceIds[0]}` } }
  return {
    ArnLike: { [ARN_KEY]: `${prefix}*` },
    StringLike: { [ARN_KEY]: [...instanceIds].sort().map((id) => `*/${id}`) },
  }
}

/**
 * Matches the credentials of one or more functions by their exact unqualified ARNs: an ARN operator, as the
 * Lambda guide asks for lambda:SourceFunctionArn.
 */
function functionMatch(prefix: string, functionNames: readonly string[]): ConditionBlockSet {
  const arns = [...functionNames].sort().map((name) => `${prefix}${name}`)
  return { ArnEquals: { [FUNCTION_ARN_KEY]: arns.length === 1 ? (arns[0] as string) : arns } }
}

/** Characters each document may hold: the inline policy's share of the budget, then each managed policy's. */
function documentCapacities(budget: LockBudget): number[] {
  return [
    INLINE_POLICY_BUDGET - budget.otherInlineChars,
    ...Array.from({ length: Math.max(0, budget.managedPolicies) }, () => MANAGED_POLICY_BUDGET),
  ]
}

/**
 * Fills the documents in order with the statements, splitting a statement's instance list where a document is
 * full. Returns undefined when they do not fit. Deterministic: the same facts always give the same documents.
 */
function packDocuments(
  plans: readonly StatementPlan[],
  scope: LockScope,
  capacities: readonly number[],
): string[] | undefined {
  const prefixes = { instance: instanceArnPrefix(scope), function: functionArnPrefix(scope) }
  const documents: PolicyStatement[][] = [[]]
  let used = DOCUMENT_SHELL
  const cost = (statement: PolicyStatement) =>
    policyChars(JSON.stringify(statement)) + ((documents.at(-1)?.length ?? 0) > 0 ? 1 : 0)
  const room = () => (capacities[documents.length - 1] ?? 0) - used
  for (const plan of plans) {
    let ids = [...plan.ids].sort()
    const match = plan.subject === 'function' ? functionMatch : instanceMatch
    while (ids.length > 0) {
      const render = (count: number) => {
        const named = ids.slice(0, count)
        return withUniqueSid(plan.render(match(prefixes[plan.subject], named), named), documents.at(-1) ?? [])
      }
      const count = largestFitting(ids.length, (candidate) => cost(render(candidate)) <= room())
      if (count === 0) {
        if (documents.length >= capacities.length) return undefined
        documents.push([])
        used = DOCUMENT_SHELL
        continue
      }
      const statement = render(count)
      used += cost(statement)
      documents.at(-1)?.push(statement)
      ids = ids.slice(count)
    }
  }
  // The first document is the inline policy: left empty, the next one would be written inline, over its budget.
  if (documents.length > 1 && documents[0]?.length === 0) return undefined
  return documents
    .filter((statements) => statements.length > 0)
    .map((Statement) => JSON.stringify({ Version: '2012-10-17', Statement } satisfies PolicyDocument))
}

/** The largest count from 0 to `most` that fits, found by bisection (a larger count never fits when a smaller does not). */
function largestFitting(most: number, fits: (count: number) => boolean): number {
  if (most <= 0) return 0
  if (fits(most)) return most
  let low = 0
  let high = most - 1
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (fits(middle)) low = middle
    else high = middle - 1
  }
  return low > 0 && fits(low) ? low : 0
}

/** Sids must be unique within a document: a statement split into several in one document gets a numbered suffix. */
function withUniqueSid(statement: PolicyStatement, placed: readonly PolicyStatement[]): PolicyStatement {
  if (statement.Sid === undefined) return statement
  const taken = new Set(placed.map((each) => each.Sid))
  if (!taken.has(statement.Sid)) return statement
  let index = 2
  while (taken.has(`${statement.Sid}x${index}`)) index++
  return { ...statement, Sid: `${statement.Sid}x${index}` }
}

/** Characters IAM counts against the budget: everything but whitespace. */
export function policyChars(document: string): number {
  return document.replace(/\s/g, '').length
}

/**
 * Reads back the policies this controller wrote. Anything it cannot read as its own is treated as holding
 * nothing, so the next write replaces it with a correct lock.
 */
export function readLock(documents: string | undefined | readonly (string | undefined)[]): CurrentLock {
  const instances = { locked: new Set<string>(), tombstones: new Map<string, TombstoneEntry>() }
  const functions = { locked: new Set<string>(), tombstones: new Map<string, TombstoneEntry>() }
  const list = Array.isArray(documents) ? documents : [documents as string | undefined]
  for (const statement of list.flatMap(parseStatements)) {
    const named = [statement.Condition?.StringEquals?.[ARN_KEY], statement.Condition?.StringLike?.[ARN_KEY]]
    const instanceIds = named.flat().flatMap((arn) => {
      const id = typeof arn === 'string' ? arn.split('/').pop() : undefined
      return id && INSTANCE_ID.test(id) ? [id] : []
    })
    const functionNames = [statement.Condition?.ArnEquals?.[FUNCTION_ARN_KEY]].flat().flatMap((arn) => {
      const name = typeof arn === 'string' ? arn.split(':function:')[1] : undefined
      return name && FUNCTION_NAME.test(name) ? [name] : []
    })
    const tombstone = TOMBSTONE_SID.exec(statement.Sid ?? '')
    for (const [into, ids] of [
      [instances, instanceIds],
      [functions, functionNames],
    ] as const) {
      for (const id of ids) {
        if (!tombstone) {
          into.locked.add(id)
          continue
        }
        const issuedBefore = tombstone[2] === undefined ? undefined : new Date(Number(tombstone[2]) * 1000)
        into.tombstones.set(id, { since: new Date(Number(tombstone[1]) * 1000), issuedBefore })
      }
    }
  }
  return { ...instances, functions }
}

/** Whether the controller's policies hold the compact form: then the role's budget is known to be tight. */
export function isCompactLock(documents: readonly (string | undefined)[]): boolean {
  return documents.flatMap(parseStatements).some((statement) => statement.Sid === COMPACT_SID)
}

interface LooseStatement {
  readonly Sid?: string
  readonly Condition?: {
    readonly StringEquals?: Readonly<Record<string, unknown>>
    readonly StringLike?: Readonly<Record<string, unknown>>
    readonly ArnEquals?: Readonly<Record<string, unknown>>
  }
}

function parseStatements(document: string | undefined): readonly LooseStatement[] {
  if (document === undefined) return []
  try {
    const parsed: unknown = JSON.parse(document)
    const statements = (parsed as { Statement?: unknown } | null)?.Statement
    if (!Array.isArray(statements)) return []
    return statements.filter((item): item is LooseStatement => typeof item === 'object' && item !== null)
  } catch {
    return []
  }
}

function assertInstanceId(instanceId: string): void {
  if (!INSTANCE_ID.test(instanceId)) {
    throw new InvalidFactsError(
      `"${instanceId}" is not an EC2 instance ID (i- followed by 8 or 17 hex digits).`,
    )
  }
}

function assertFunctionName(functionName: string): void {
  if (!FUNCTION_NAME.test(functionName)) {
    throw new InvalidFactsError(
      `"${functionName}" is not a Lambda function name (1 to 64 letters, digits, hyphens and underscores).`,
    )
  }
}

function seconds(time: Date): number {
  return Math.floor(time.getTime() / 1000)
}

/** Rounded up: a tombstone covers every credential issued up to the moment it was decided. */
function nextWholeSecond(time: Date): Date {
  return new Date(Math.ceil(time.getTime() / 1000) * 1000)
}

function wholeSecond(time: Date): Date {
  return new Date(seconds(time) * 1000)
}

/**
 * Tombstones of terminated instances are dated at the end of the twelfth of the retention they were written in,
 * so that however many instances an autoscaling group churns through, a role carries at most 13 of them.
 * Rounding up only ever keeps old credentials refused a little longer; a terminated instance has no new ones.
 */
function bucketEnd(time: Date, settings: LockSettings): Date {
  const bucketMs = Math.max(60_000, Math.floor(settings.tombstoneRetentionMs / 12 / 60_000) * 60_000)
  return new Date(Math.ceil(time.getTime() / bucketMs) * bucketMs)
}
