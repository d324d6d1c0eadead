import { cidrSet } from './addresses.js'
import { InvalidFactsError, LockTooLargeError } from './errors.js'

/** IAM's quota for all inline policies of one role together, whitespace not counted. */
export const INLINE_POLICY_BUDGET = 10_240

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
  /** When it entered its current state, where EC2 says so. */
  readonly stateChangedAt?: Date | undefined
  /** The primary private IPv4 of its primary network interface (what aws:EC2InstanceSourcePrivateIPv4 carries). */
  readonly primaryPrivateIpv4: string | undefined
  /** VPCs of its attached network interfaces other than the primary interface's VPC. */
  readonly otherVpcIds: readonly string[]
  /** When it last entered `running` (EC2 LaunchTime, which every start updates). */
  readonly launchedAt?: Date | undefined
}

/** What the controller's own policy on a role said before this decision. */
export interface CurrentLock {
  readonly locked: ReadonlySet<string>
  readonly tombstones: ReadonlyMap<string, Date>
}

export interface RoleFacts {
  readonly roleName: string
  /** Every instance EC2 knows that uses this role or is named in its current lock. */
  readonly instances: readonly InstanceFacts[]
  readonly current: CurrentLock
  /** Characters (whitespace not counted) of the role's other inline policies. */
  readonly otherInlineChars: number
}

export type InstanceOutcome =
  | { readonly instanceId: string; readonly outcome: 'locked'; readonly allowedFrom: AllowedSources }
  | {
      readonly instanceId: string
      readonly outcome: 'tombstoned'
      readonly since: Date
      readonly reason: string
    }
  | {
      readonly instanceId: string
      readonly outcome: 'released' | 'expired' | 'skipped'
      readonly reason: string
    }

export interface AllowedSources {
  /** aws:SourceIp values: its own public addresses and its NAT egress addresses. */
  readonly publicCidrs: readonly string[]
  /** aws:VpcSourceIp values, through a VPC endpoint of its own VPC. */
  readonly privateCidrs: readonly string[]
}

export type LockForm = 'precise' | 'compact'

export type LockDecision =
  | {
      readonly roleName: string
      readonly action: 'put'
      readonly form: LockForm
      readonly document: string
      readonly chars: number
      readonly instances: readonly InstanceOutcome[]
    }
  | { readonly roleName: string; readonly action: 'remove'; readonly instances: readonly InstanceOutcome[] }

export interface PolicyStatement {
  readonly Sid?: string
  readonly Effect: 'Deny'
  readonly Action: '*'
  readonly Resource: '*'
  readonly Condition: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>
}

export interface PolicyDocument {
  readonly Version: '2012-10-17'
  readonly Statement: readonly PolicyStatement[]
}

export interface LockedInstance {
  readonly arn: string
  readonly allowedFrom: AllowedSources
}

export interface Tombstone {
  readonly arn: string
  readonly since: Date
}

/** States in which an instance runs, or is about to, with fresh credentials. */
export const ACTIVE_STATES: ReadonlySet<InstanceState> = new Set(['pending', 'running'])
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
const TOMBSTONE_SID = /^Tombstone(\d{1,12})$/
const COMPACT_SID = 'Compact'
const ARN_KEY = 'ec2:SourceInstanceARN'
// Calls AWS services make with the instance's credentials come from the service's own addresses.
const NOT_VIA_AWS_SERVICE = { 'aws:ViaAWSService': 'false' }

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
  // Only the three scope parts: settings may carry more (retention, tag, ...) that is not part of an ARN.
  for (const part of ['partition', 'region', 'accountId'] as const) {
    if (!SCOPE_SHAPES[part].test(scope[part])) {
      throw new InvalidFactsError(
        `The ${part} "${scope[part]}" cannot be part of an instance ARN: fix the settings.`,
      )
    }
  }
  return `arn:${scope.partition}:ec2:${scope.region}:${scope.accountId}:instance/${instanceId}`
}

/**
 * Decides the one policy the controller owns on a role: a per-instance ("precise") lock when it fits the
 * budget, else a role-wide ("compact") one that still refuses every outside address, else an error.
 */
export function decideLock(role: RoleFacts, settings: LockSettings, now: Date): LockDecision {
  const { locked, tombstones, outcomes } = judgeInstances(role, settings, now)
  if (locked.length === 0 && tombstones.length === 0) {
    return { roleName: role.roleName, action: 'remove', instances: outcomes }
  }
  const limit = INLINE_POLICY_BUDGET - role.otherInlineChars
  let smallest = 0
  for (const form of ['precise', 'compact'] as const) {
    const document = renderLock(form, locked, tombstones)
    const chars = policyChars(document)
    if (chars <= limit) {
      return { roleName: role.roleName, action: 'put', form, document, chars, instances: outcomes }
    }
    smallest = chars
  }
  throw new LockTooLargeError(role.roleName, smallest, role.otherInlineChars, INLINE_POLICY_BUDGET)
}

function judgeInstances(role: RoleFacts, settings: LockSettings, now: Date) {
  const facts = new Map(role.instances.map((instance) => [instance.instanceId, instance]))
  const ids = new Set([...facts.keys(), ...role.current.locked, ...role.current.tombstones.keys()])
  const locked: LockedInstance[] = []
  const tombstones: Tombstone[] = []
  const outcomes: InstanceOutcome[] = []
  for (const instanceId of [...ids].sort()) {
    const outcome = judgeInstance(instanceId, facts.get(instanceId), role, settings, now)
    if (outcome === undefined) continue
    outcomes.push(outcome)
    const arn = instanceArn(settings, instanceId)
    if (outcome.outcome === 'locked') locked.push({ arn, allowedFrom: outcome.allowedFrom })
    if (outcome.outcome === 'tombstoned') tombstones.push({ arn, since: outcome.since })
  }
  return { locked, tombstones, outcomes }
}

function judgeInstance(
  instanceId: string,
  instance: InstanceFacts | undefined,
  role: RoleFacts,
  settings: LockSettings,
  now: Date,
): InstanceOutcome | undefined {
  const wasLocked = role.current.locked.has(instanceId)
  const tombstonedSince = role.current.tombstones.get(instanceId)
  const onRole = instance?.roleName === role.roleName
  if (instance && onRole && ACTIVE_STATES.has(instance.state)) {
    // A running instance is never refused its own path: whatever it had before, it gets a live lock or none.
    if (!instance.optedIn) {
      return wasLocked || tombstonedSince
        ? { instanceId, outcome: 'released', reason: 'not opted in' }
        : undefined
    }
    if (instance.egressIps === 'unknown') {
      return {
        instanceId,
        outcome: 'skipped',
        reason: instance.egressUnknownReason ?? 'its public egress is unknown',
      }
    }
    return { instanceId, outcome: 'locked', allowedFrom: allowedSources(instance) }
  }
  const why =
    instance === undefined
      ? 'gone from EC2'
      : ACTIVE_STATES.has(instance.state)
        ? 'moved to another role'
        : instance.state
  if (tombstonedSince) {
    return now.getTime() - tombstonedSince.getTime() >= settings.tombstoneRetentionMs
      ? { instanceId, outcome: 'expired', reason: 'its old credentials have expired' }
      : { instanceId, outcome: 'tombstoned', since: tombstonedSince, reason: why }
  }
  if (wasLocked) {
    return { instanceId, outcome: 'tombstoned', since: tombstoneTime(now, settings), reason: why }
  }
  const changedAt = instance?.stateChangedAt
  if (instance && onRole && instance.optedIn && changedAt) {
    // Stopped before the controller ever locked it: its credentials may still be live.
    const age = now.getTime() - changedAt.getTime()
    if (age < settings.tombstoneRetentionMs) {
      return { instanceId, outcome: 'tombstoned', since: tombstoneTime(changedAt, settings), reason: why }
    }
  }
  return undefined
}

function allowedSources(instance: InstanceFacts): AllowedSources {
  const egressIps = instance.egressIps === 'unknown' ? [] : instance.egressIps
  const privateCidrs = cidrSet(instance.privateIps, `Private address of ${instance.instanceId}`)
  if (privateCidrs.length === 0) {
    throw new InvalidFactsError(
      `Instance ${instance.instanceId} has no private address: EC2 always gives one.`,
    )
  }
  return {
    publicCidrs: cidrSet([...instance.publicIps, ...egressIps], `Public address of ${instance.instanceId}`),
    privateCidrs,
  }
}

/** Renders a lock in one form; exported so benchmarks and docs show the same text the controller writes. */
export function renderLock(
  form: LockForm,
  locked: readonly LockedInstance[],
  tombstones: readonly Tombstone[],
): string {
  const statements: PolicyStatement[] = []
  if (locked.length > 0) {
    if (form === 'precise') {
      for (const instance of locked) statements.push(addressStatement(instance.arn, instance.allowedFrom))
    } else {
      const union = {
        publicCidrs: locked.flatMap((instance) => instance.allowedFrom.publicCidrs),
        privateCidrs: locked.flatMap((instance) => instance.allowedFrom.privateCidrs),
      }
      statements.push({
        Sid: COMPACT_SID,
        ...addressStatement(
          locked.map((instance) => instance.arn),
          {
            publicCidrs: cidrSet(union.publicCidrs, 'Public address'),
            privateCidrs: cidrSet(union.privateCidrs, 'Private address'),
          },
        ),
      })
    }
    statements.push(endpointStatement(locked.map((instance) => instance.arn)))
  }
  statements.push(...tombstoneStatements(tombstones))
  const document: PolicyDocument = { Version: '2012-10-17', Statement: statements }
  return JSON.stringify(document)
}

/**
 * Refuses the credentials unless the call comes from one of the allowed addresses: aws:SourceIp on the public
 * path, aws:VpcSourceIp through a VPC endpoint. Each key is absent on the other path, and a negated operator
 * is true for an absent key, so one statement covers both paths without a Null guard.
 */
function addressStatement(arns: string | readonly string[], allowed: AllowedSources): PolicyStatement {
  const notFrom: Record<string, readonly string[]> = {}
  if (allowed.publicCidrs.length > 0) notFrom['aws:SourceIp'] = allowed.publicCidrs
  notFrom['aws:VpcSourceIp'] = allowed.privateCidrs
  return {
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      ...instanceMatch(arns),
      NotIpAddress: notFrom,
      BoolIfExists: NOT_VIA_AWS_SERVICE,
    },
  }
}

/** A private address is only the instance's own inside its own VPC: refuse endpoints of any other VPC. */
function endpointStatement(arns: readonly string[]): PolicyStatement {
  return {
    Sid: 'Endpoint',
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      ...instanceMatch(arns),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM.
      StringNotEquals: { 'aws:SourceVpc': '${aws:EC2InstanceSourceVPC}' },
      Null: { 'aws:SourceVpc': 'false' },
      BoolIfExists: NOT_VIA_AWS_SERVICE,
    },
  }
}

/** The Sid carries when each tombstone was written, so it outlives the instance disappearing from EC2. */
function tombstoneStatements(tombstones: readonly Tombstone[]): PolicyStatement[] {
  const bySecond = new Map<number, string[]>()
  for (const { arn, since } of tombstones) {
    const second = Math.floor(since.getTime() / 1000)
    bySecond.set(second, [...(bySecond.get(second) ?? []), arn])
  }
  return [...bySecond.entries()]
    .sort(([a], [b]) => a - b)
    .map(([second, arns]) => ({
      Sid: `Tombstone${second}`,
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: instanceMatch(arns),
    }))
}

/**
 * Matches the credentials of one instance by its exact ARN, or of several by instance ID within this region
 * and account: listing IDs instead of whole ARNs nearly halves a role-wide statement, which is what lets the
 * compact form hold a large fleet.
 */
function instanceMatch(arns: string | readonly string[]): PolicyStatement['Condition'] {
  if (typeof arns === 'string') return { StringEquals: { [ARN_KEY]: arns } }
  const prefixes = new Set(arns.map((arn) => arn.slice(0, arn.lastIndexOf('/') + 1)))
  const [prefix] = prefixes
  if (prefixes.size !== 1 || prefix === undefined) {
    throw new InvalidFactsError('One lock can only name instances of one partition, region and account.')
  }
  return {
    ArnLike: { [ARN_KEY]: `${prefix}*` },
    StringLike: { [ARN_KEY]: arns.map((arn) => `*/${arn.slice(prefix.length)}`).sort() },
  }
}

/** Characters IAM counts against the budget: everything but whitespace. */
export function policyChars(document: string): number {
  return document.replace(/\s/g, '').length
}

/**
 * Reads back a policy this controller wrote. Anything it cannot read as its own is treated as holding
 * nothing, so the next write replaces it with a correct lock.
 */
export function readLock(document: string | undefined): CurrentLock {
  const locked = new Set<string>()
  const tombstones = new Map<string, Date>()
  const statements = parseStatements(document)
  for (const statement of statements) {
    const named = [statement.Condition?.StringEquals?.[ARN_KEY], statement.Condition?.StringLike?.[ARN_KEY]]
    const ids = named.flat().flatMap((arn) => {
      const id = typeof arn === 'string' ? arn.split('/').pop() : undefined
      return id && INSTANCE_ID.test(id) ? [id] : []
    })
    const tombstoneSecond = TOMBSTONE_SID.exec(statement.Sid ?? '')?.[1]
    for (const id of ids) {
      if (tombstoneSecond === undefined) locked.add(id)
      else tombstones.set(id, new Date(Number(tombstoneSecond) * 1000))
    }
  }
  return { locked, tombstones }
}

/** Whether a policy this controller wrote holds the compact form: then the role's budget is known to be tight. */
export function isCompactLock(document: string | undefined): boolean {
  return parseStatements(document).some((statement) => statement.Sid === COMPACT_SID)
}

interface LooseStatement {
  readonly Sid?: string
  readonly Condition?: {
    readonly StringEquals?: Readonly<Record<string, unknown>>
    readonly StringLike?: Readonly<Record<string, unknown>>
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

/**
 * Tombstones are dated at the end of the twelfth of the retention they were written in, so that however
 * many instances an autoscaling group churns through, a role carries at most 13 tombstone statements.
 * Rounding up only ever keeps old credentials refused a little longer.
 */
function tombstoneTime(time: Date, settings: LockSettings): Date {
  const bucketMs = Math.max(60_000, Math.floor(settings.tombstoneRetentionMs / 12 / 60_000) * 60_000)
  return new Date(Math.ceil(time.getTime() / bucketMs) * bucketMs)
}
