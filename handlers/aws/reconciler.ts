import type { Logger } from '@aws-lambda-powertools/logger'
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { type IAMClient, LimitExceededException } from '@aws-sdk/client-iam'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import { LockTooLargeError } from '../../policy/errors.js'
import {
  decideLock,
  type FunctionFacts,
  type FunctionOutcome,
  type InstanceFacts,
  type InstanceOutcome,
  isCompactLock,
  type LockBudget,
  type LockDecision,
  type LockForm,
  type LockScope,
  lockPolicyName,
  readLock,
  readPlacement,
} from '../../policy/lock/index.js'
import { type AccountIam, carriesOwnPolicy } from './account-iam.js'
import { publishAudit } from './audit.js'
import type { ControllerConfig } from './config.js'
import {
  describeByIds,
  describeOptedIn,
  type Ec2Reading,
  instancesOfInterfaces,
  withEgress,
} from './ec2-truth.js'
import { isPermanent } from './errors.js'
import { readDelivered, type Trigger } from './events.js'
import { functionFacts, type ListedFunction, listFunctions, optedInFunctions } from './function-truth.js'
import {
  instanceProfileRoles,
  type ManagedPartCache,
  type OwnPolicies,
  removeManagedPart,
  removeOwnPolicy,
  writeManagedPart,
  writeOwnPolicy,
} from './iam-roles.js'
import { addBatchMetrics } from './lock-metrics.js'
import {
  BULK_READ_ROLES,
  bulkRead,
  ownDocuments,
  readOwnPolicies,
  roleBudget,
  roleReading,
} from './role-reading.js'
import { skippedOutOfScope } from './role-scope.js'

export interface ControllerDeps {
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly lambda: LambdaClient
  readonly events: EventBridgeClient
  readonly logger: Logger
  readonly metrics: Metrics
  readonly config: ControllerConfig
  readonly now: () => Date
  /** Receives every decision line as it is logged (the pre-flight plan collects them from a dry run). */
  readonly onDecision?: (line: DecisionLine) => void
  /**
   * Managed parts' documents by default version, kept for as long as the Lambda stays warm.
   * @default none: every managed part is read each batch
   */
  readonly managedPartCache?: ManagedPartCache
}

/** One role's decision as it is logged and audited (a type, not an interface, so it passes as a log record). */
export type DecisionLine = {
  readonly roleName: string
  readonly action: LockAction
  readonly form: LockForm | undefined
  readonly policyChars: number
  /** Customer-managed policies the lock needed beyond the inline one. */
  readonly managedPolicies: number
  readonly dryRun: boolean
  readonly reason: string
  readonly eventIds: readonly string[]
  readonly instances: readonly ReturnType<typeof auditInstance>[]
  readonly functions: readonly ReturnType<typeof auditFunction>[]
  /** Instances on the role left out because their tag misses the opt-in tag only by case or spaces. */
  readonly nearMissTags?: readonly { readonly instanceId: string; readonly hint: string }[]
}

/** One delivered event: an SQS record, or the event itself when EventBridge invokes the function directly. */
export interface DeliveredEvent {
  readonly recordId: string
  readonly body: unknown
}

export type LockAction = 'put' | 'remove' | 'unchanged'

export interface BatchOutcome {
  /** Records to hand back to SQS: a retry may succeed (throttling, a service error). */
  readonly retry: readonly string[]
  /** Records no retry can help, with the reason: they belong in the dead-letter queue now. */
  readonly permanent: ReadonlyMap<string, Error>
}

/**
 * Reconciles every role a batch of events touches, and says which records failed and how. The
 * story: parse the events, read the truth from EC2 and IAM, decide each role's lock (pure, in policy/),
 * apply it only where it differs, log the decision.
 */
export async function reconcileBatch(
  deps: ControllerDeps,
  delivered: readonly DeliveredEvent[],
  scope: Omit<LockScope, 'region'>,
): Promise<BatchOutcome> {
  const triggers = parseAll(deps, delivered)
  const retry = new Set<string>()
  const permanent = new Map<string, Error>()
  const fail = (recordIds: readonly string[], error: unknown) => {
    for (const recordId of recordIds) {
      if (isPermanent(error)) permanent.set(recordId, error as Error)
      else retry.add(recordId)
    }
  }
  if (triggers.length === 0) return { retry: [], permanent }
  let truth: Truth
  try {
    truth = await readTruth(
      deps,
      triggers.map(({ trigger }) => trigger),
    )
  } catch (error) {
    deps.logger.error('record failed', { error: error as Error, recordIds: triggers.map((t) => t.recordId) })
    deps.metrics.addMetric('Failures', MetricUnit.Count, triggers.length)
    fail(
      triggers.map(({ recordId }) => recordId),
      error,
    )
    return { retry: [...retry], permanent }
  }
  const settings = {
    ...scope,
    region: deps.config.region,
    tombstoneRetentionMs: deps.config.tombstoneRetentionMs,
    refuseImdsV1: deps.config.refuseImdsV1,
    trustedVpcEndpoints: deps.config.trustedVpcEndpoints,
  }
  const lines: DecisionLine[] = []
  for (const roleName of [...truth.roles].sort()) {
    const touching = triggers.filter(({ trigger }) => touches(trigger, roleName, truth))
    try {
      const line = await reconcileRole(
        deps,
        truth,
        roleName,
        settings,
        touching.map(({ trigger }) => trigger.eventId),
      )
      if (line) lines.push(line)
    } catch (error) {
      deps.logger.error('role reconcile failed', { roleName, error: error as Error })
      deps.metrics.addMetric('Failures', MetricUnit.Count, 1)
      fail(
        touching.map(({ recordId }) => recordId),
        error,
      )
    }
  }
  addBatchMetrics(deps, delivered, lines, deps.now())
  // A record that also failed on a role a retry may fix is retried; its permanent failure then recurs.
  return {
    retry: [...retry],
    permanent: new Map([...permanent].filter(([recordId]) => !retry.has(recordId))),
  }
}

interface ParsedTrigger {
  readonly recordId: string
  readonly trigger: Trigger
}

function parseAll(deps: ControllerDeps, delivered: readonly DeliveredEvent[]): ParsedTrigger[] {
  const triggers: ParsedTrigger[] = []
  for (const { recordId, body } of delivered) {
    const parsed = readDelivered(body, deps.config.lockTag.key, recordId)
    if ('ignored' in parsed) {
      deps.logger[parsed.malformed ? 'warn' : 'info']('event skipped', {
        recordId,
        eventId: parsed.eventId,
        detailType: parsed.detailType,
        reason: parsed.ignored,
      })
      deps.metrics.addMetric('EventsSkipped', MetricUnit.Count, 1)
    } else {
      triggers.push({ recordId, trigger: parsed })
    }
  }
  return triggers
}

/** Everything EC2 and IAM say about the roles this batch touches, read once for the whole batch. */
interface Truth {
  readonly roles: ReadonlySet<string>
  /** Role names by the instance IDs the triggers name (after resolving network interfaces). */
  readonly namedRoles: ReadonlyMap<string, string | undefined>
  readonly instances: ReadonlyMap<string, InstanceFacts>
  readonly policies: ReadonlyMap<string, OwnPolicies>
  /** Named instances without a role now (terminated, profile removed, gone): their old role is unknown. */
  readonly rolelessIds: ReadonlySet<string>
  readonly optedInRoleNames: ReadonlySet<string>
  /** Role names by the function names the triggers name; undefined for a function Lambda no longer knows. */
  readonly namedFunctionRoles: ReadonlyMap<string, string | undefined>
  /** The functions on the roles being decided or named in their locks, by name. */
  readonly functions: ReadonlyMap<string, FunctionFacts>
  /** The bulk read of IAM, when the batch touched enough roles to make it the cheaper read. */
  readonly account: AccountIam | undefined
}

async function readTruth(deps: ControllerDeps, triggers: readonly Trigger[]): Promise<Truth> {
  const everyRole = triggers.some((t) => t.reach === 'all-roles')
  let account = everyRole ? await bulkRead(deps) : undefined
  let bulkTried = everyRole
  const profileRoles = account?.profileRoles ?? (await instanceProfileRoles(deps.iam))
  const reading: Ec2Reading = {
    ec2: deps.ec2,
    lockTag: deps.config.lockTag,
    profileRoles,
    everyInstanceOptedIn: deps.config.everyInstanceOptedIn,
  }
  const observed = new Map((await describeOptedIn(reading)).map((i) => [i.instanceId, i]))
  const describeUnseen = async (ids: readonly string[]) => {
    for (const instance of await describeByIds(
      reading,
      [...new Set(ids)].filter((id) => !observed.has(id)),
    )) {
      observed.set(instance.instanceId, instance)
    }
  }

  const viaInterfaces = await instancesOfInterfaces(
    deps.ec2,
    triggers.flatMap((t) => t.networkInterfaceIds),
  )
  const namedIds = [...new Set([...triggers.flatMap((t) => t.instanceIds), ...viaInterfaces])]
  await describeUnseen(namedIds)
  for (const id of namedIds.filter((id) => !observed.has(id))) {
    deps.logger.info('instance not found', { instanceId: id, reason: 'EC2 no longer knows it' })
  }

  // A terminated instance loses its profile, so its old role is only found by reading every role's lock.
  const rolelessIds = new Set(namedIds.filter((id) => observed.get(id)?.roleName === undefined))
  const optedInRoleNames = new Set(
    [...observed.values()].flatMap((i) => (i.optedIn && i.roleName ? [i.roleName] : [])),
  )
  const roles = new Set(namedIds.flatMap((id) => observed.get(id)?.roleName ?? []))
  if (triggers.some((t) => t.reach !== 'named')) for (const role of optedInRoleNames) roles.add(role)

  // Lambda is only asked when an event names a function, every role is read, or a lock names a function: an
  // account without locked functions pays no Lambda call on instance events.
  const namedFunctions = [...new Set(triggers.flatMap((t) => t.functionNames))]
  let listed = namedFunctions.length > 0 || everyRole ? await listFunctions(deps.lambda) : undefined
  const listedByName = new Map((listed ?? []).map((fn) => [fn.functionName, fn]))
  for (const name of namedFunctions) roles.add(listedByName.get(name)?.roleName ?? '')
  roles.delete('')
  // A deleted function, like a terminated instance, is only found on its old role by reading every role's lock.
  if (rolelessIds.size > 0 || namedFunctions.some((name) => !listedByName.has(name)) || everyRole) {
    for (const role of profileRoles.values()) roles.add(role)
    for (const fn of listed ?? []) roles.add(fn.roleName)
  }

  if (!bulkTried && roles.size >= BULK_READ_ROLES) {
    bulkTried = true
    account = await bulkRead(deps)
  }
  // A role whose last instance profile or function went still carries its lock: reconciled like any other.
  for (const [roleName, role] of account?.roles ?? []) if (carriesOwnPolicy(role)) roles.add(roleName)
  const policies = await readOwnPolicies(roleReading(deps), roles, account)
  // An instance a lock names but this batch has not seen must be read: treating it as gone would tombstone it.
  await describeUnseen(
    [...policies.values()].flatMap((own) => {
      const current = readLock(ownDocuments(own))
      return [...current.locked, ...current.tombstones.keys()]
    }),
  )

  const instances = await withEgress(
    deps.ec2,
    [...observed.values()],
    (i) => roles.has(i.roleName ?? ''),
    deps.config.knownEgress,
  )
  const lockedFunctions = new Set(
    [...policies.values()].flatMap((own) => {
      const functions = readLock(ownDocuments(own)).functions
      return [...(functions?.locked ?? []), ...(functions?.tombstones.keys() ?? [])]
    }),
  )
  if (listed === undefined && lockedFunctions.size > 0) listed = await listFunctions(deps.lambda)
  const functions = await readFunctions(deps, listed ?? [], roles, {
    named: new Set(namedFunctions),
    locked: lockedFunctions,
    resync: triggers.some((t) => t.detailType === 'Scheduled Event'),
  })
  return {
    roles,
    namedRoles: new Map(namedIds.map((id) => [id, observed.get(id)?.roleName])),
    instances: new Map(instances.map((instance) => [instance.instanceId, instance])),
    policies,
    rolelessIds,
    optedInRoleNames,
    namedFunctionRoles: new Map(namedFunctions.map((name) => [name, listedByName.get(name)?.roleName])),
    functions: new Map(functions.map((fn) => [fn.functionName, fn])),
    account,
  }
}

/**
 * The facts of the functions on the roles being decided, and of those their locks name. Tags cost one call per
 * function, so they are read only for the functions that can change a lock: named by an event, named by a lock,
 * or every function on those roles during the scheduled resync (which finds functions tagged before the
 * controller was installed). Any other function is taken as not opted in, which leaves its role's lock as is.
 */
async function readFunctions(
  deps: ControllerDeps,
  listed: readonly ListedFunction[],
  roles: ReadonlySet<string>,
  wanted: {
    readonly named: ReadonlySet<string>
    readonly locked: ReadonlySet<string>
    readonly resync: boolean
  },
): Promise<FunctionFacts[]> {
  const relevant = listed.filter((fn) => roles.has(fn.roleName) || wanted.locked.has(fn.functionName))
  const toTag = relevant.filter(
    (fn) =>
      roles.has(fn.roleName) &&
      (wanted.resync || wanted.named.has(fn.functionName) || wanted.locked.has(fn.functionName)),
  )
  const optedIn = await optedInFunctions(deps.lambda, toTag, deps.config.lockTag)
  return functionFacts(deps.ec2, relevant, optedIn, deps.config.knownEgress)
}

/** Which records a role's failure sends back for retry. */
function touches(trigger: Trigger, roleName: string, truth: Truth): boolean {
  // A network interface resolves to an instance inside the batch, so its record rides on every role.
  if (trigger.reach === 'all-roles' || trigger.networkInterfaceIds.length > 0) return true
  if (trigger.instanceIds.some((id) => truth.rolelessIds.has(id))) return true
  if (trigger.reach === 'locked-roles' && truth.optedInRoleNames.has(roleName)) return true
  // A deleted function's record rides on every role, as a terminated instance's does.
  if (
    trigger.functionNames.some((name) => [undefined, roleName].includes(truth.namedFunctionRoles.get(name)))
  ) {
    return true
  }
  return trigger.instanceIds.some((id) => truth.namedRoles.get(id) === roleName)
}

async function reconcileRole(
  deps: ControllerDeps,
  truth: Truth,
  roleName: string,
  settings: Parameters<typeof decideLock>[1],
  eventIds: readonly string[],
): Promise<DecisionLine | undefined> {
  const own = truth.policies.get(roleName) ?? { inline: undefined, parts: [] }
  const documents = ownDocuments(own)
  const current = { ...readLock(documents), placement: readPlacement(documents) }
  const instances = [...truth.instances.values()].filter(
    (i) =>
      i.roleName === roleName || current.locked.has(i.instanceId) || current.tombstones.has(i.instanceId),
  )
  // The role's other policies are read only when the budget matters: the lock did not fit the inline policy as a
  // precise lock (or was already spread over managed parts), or IAM refused a write for size. The usual path
  // costs no extra call.
  const fullBudget = () => roleBudget(roleReading(deps), roleName, truth.account)
  const lockedFunctions = current.functions
  const functions = [...truth.functions.values()].filter(
    (fn) =>
      fn.roleName === roleName ||
      lockedFunctions?.locked.has(fn.functionName) ||
      lockedFunctions?.tombstones.has(fn.functionName),
  )
  const facts = {
    roleName,
    instances,
    functions,
    current,
    budget: { otherInlineChars: 0, managedPolicies: 0 },
    exemptActions: deps.config.exemptActions.get(roleName) ?? [],
  }
  const now = deps.now()
  const decideWith = async (budget: LockBudget | undefined) =>
    decideLock(budget ? { ...facts, budget } : facts, settings, now)
  // A dry run learns nothing from IAM refusing a write, so it reads the real budget up front; the bulk read
  // already holds it.
  const tight =
    own.parts.length > 0 ||
    isCompactLock(documents) ||
    deps.config.dryRun ||
    truth.account?.roles.has(roleName) === true
  let decision = tight ? await decideWith(await fullBudget()) : await tryCheapBudget(decideWith, fullBudget)
  let action: LockAction
  try {
    action = await apply(deps, decision, own)
  } catch (error) {
    if (skippedOutOfScope(deps, roleName, eventIds, error)) return undefined
    if (!(error instanceof LimitExceededException)) throw error
    decision = await decideWith(await fullBudget())
    action = await apply(deps, decision, own)
  }
  const nearMissTags = instances.flatMap(({ instanceId, roleName: role, optedIn, optInNearMiss: hint }) =>
    role === roleName && !optedIn && hint ? [{ instanceId, hint: `not opted in: ${hint}` }] : [],
  )
  return logDecision(deps, decision, action, eventIds, nearMissTags)
}

/** Decides with the inline policy alone first; a lock that needs more room is decided again with the role's real budget. */
async function tryCheapBudget(
  decideWith: (budget: LockBudget | undefined) => Promise<LockDecision>,
  fullBudget: () => Promise<LockBudget>,
): Promise<LockDecision> {
  try {
    const decision = await decideWith(undefined)
    const precise =
      decision.action === 'remove' || (decision.form === 'precise' && decision.documents.length === 1)
    if (precise) return decision
  } catch (error) {
    if (!(error instanceof LockTooLargeError)) throw error
  }
  return decideWith(await fullBudget())
}

async function apply(deps: ControllerDeps, decision: LockDecision, own: OwnPolicies): Promise<LockAction> {
  const { iam, config } = deps
  const policyName = lockPolicyName(config.region)
  const [inline, ...parts] = decision.action === 'put' ? decision.documents : []
  let changed = false
  const change = async (write: () => Promise<void>) => {
    changed = true
    if (!config.dryRun) await write()
  }
  if (inline === undefined) {
    if (own.inline !== undefined) await change(() => removeOwnPolicy(iam, decision.roleName, policyName))
  } else if (own.inline === undefined || canonical(own.inline) !== inline) {
    await change(() => writeOwnPolicy(iam, decision.roleName, policyName, inline))
  }
  for (const [index, document] of parts.entries()) {
    const existing = own.parts.find((each) => each.part.part === index + 1)
    if (
      existing?.part.attached &&
      existing.document !== undefined &&
      canonical(existing.document) === document
    ) {
      continue
    }
    await change(() =>
      writeManagedPart(iam, config.region, decision.roleName, index + 1, existing?.part, document),
    )
  }
  for (const extra of own.parts.filter((each) => each.part.part > parts.length)) {
    await change(() => removeManagedPart(iam, extra.part))
  }
  if (!changed) return 'unchanged'
  return decision.action === 'remove' ? 'remove' : 'put'
}

function canonical(document: string): string | undefined {
  try {
    return JSON.stringify(JSON.parse(document))
  } catch {
    return undefined
  }
}

async function logDecision(
  deps: ControllerDeps,
  decision: LockDecision,
  action: LockAction,
  eventIds: readonly string[],
  nearMissTags: NonNullable<DecisionLine['nearMissTags']>,
): Promise<DecisionLine> {
  const line: DecisionLine = {
    roleName: decision.roleName,
    action,
    form: decision.action === 'put' ? decision.form : undefined,
    policyChars: decision.action === 'put' ? decision.chars.reduce((sum, chars) => sum + chars, 0) : 0,
    managedPolicies: decision.action === 'put' ? decision.documents.length - 1 : 0,
    dryRun: deps.config.dryRun,
    reason: summarize(decision.instances, decision.functions),
    eventIds,
    instances: decision.instances.map(auditInstance),
    functions: decision.functions.map(auditFunction),
    ...(nearMissTags.length > 0 ? { nearMissTags } : {}),
  }
  deps.logger.info('lock decision', line)
  deps.onDecision?.(line)
  const metric = { put: 'LocksApplied', remove: 'LocksRemoved', unchanged: 'LocksUnchanged' }[action]
  deps.metrics.addMetric(metric, MetricUnit.Count, 1)
  // An opted-in instance the lock cannot cover is never silent: it has its own metric and alarm.
  const unprotected = decision.instances.filter((i) => i.outcome === 'skipped' || i.outcome === 'unprotected')
  if (unprotected.length > 0) {
    deps.logger.warn('opted-in instances left unprotected', {
      roleName: decision.roleName,
      instances: unprotected.map(auditInstance),
    })
    deps.metrics.addMetric('InstancesUnprotected', MetricUnit.Count, unprotected.length)
  }
  const skippedFunctions = decision.functions.filter(
    (fn) => fn.outcome === 'skipped' || fn.outcome === 'unprotected',
  )
  if (skippedFunctions.length > 0) {
    deps.logger.warn('opted-in functions left unprotected', {
      roleName: decision.roleName,
      functions: skippedFunctions.map(auditFunction),
    })
    deps.metrics.addMetric('FunctionsUnprotected', MetricUnit.Count, skippedFunctions.length)
  }
  // A workload left unprotected is reported at every decision, so the security account's finding stays current.
  const reportable = action !== 'unchanged' || unprotected.length > 0 || skippedFunctions.length > 0
  if (reportable && !deps.config.dryRun) {
    await publishAudit(deps.events, deps.config.auditEventBus, line, deps.logger)
  }
  return line
}

function auditInstance(outcome: InstanceOutcome) {
  if (outcome.outcome === 'locked') {
    return { instanceId: outcome.instanceId, outcome: outcome.outcome, ...outcome.allowedFrom }
  }
  if (outcome.outcome === 'tombstoned') {
    return {
      ...outcome,
      since: outcome.since.toISOString(),
      issuedBefore: outcome.issuedBefore?.toISOString(),
    }
  }
  return outcome
}

function auditFunction(outcome: FunctionOutcome) {
  if (outcome.outcome === 'locked') {
    return { functionName: outcome.functionName, outcome: outcome.outcome, ...outcome.allowedFrom }
  }
  if (outcome.outcome === 'tombstoned') {
    return {
      ...outcome,
      since: outcome.since.toISOString(),
      issuedBefore: outcome.issuedBefore.toISOString(),
    }
  }
  return outcome
}

function summarize(instances: readonly InstanceOutcome[], functions: readonly FunctionOutcome[]): string {
  if (instances.length === 0 && functions.length === 0) return 'no opted-in instance uses this role'
  const counts = new Map<string, number>()
  const count = (outcome: string) => counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
  for (const { outcome } of instances) count(outcome)
  for (const { outcome } of functions) count(`function${functions.length > 1 ? 's' : ''} ${outcome}`)
  return [...counts.entries()].map(([outcome, total]) => `${total} ${outcome}`).join(', ')
}
