import type { Logger } from '@aws-lambda-powertools/logger'
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { type IAMClient, LimitExceededException } from '@aws-sdk/client-iam'
import {
  decideLock,
  type InstanceFacts,
  type InstanceOutcome,
  isCompactLock,
  type LockDecision,
  type LockScope,
  lockPolicyName,
  readLock,
} from '../policy/lock.js'
import { publishAudit } from './audit.js'
import { mapLimited } from './concurrency.js'
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
import {
  instanceProfileRoles,
  otherInlinePolicyChars,
  readInlinePolicy,
  removeOwnPolicy,
  writeOwnPolicy,
} from './iam-roles.js'
import { skippedOutOfScope } from './role-scope.js'

export interface ControllerDeps {
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly events: EventBridgeClient
  readonly logger: Logger
  readonly metrics: Metrics
  readonly config: ControllerConfig
  readonly now: () => Date
}

/** One delivered event: an SQS record, or the event itself when EventBridge invokes the function directly. */
export interface DeliveredEvent {
  readonly recordId: string
  readonly body: unknown
}

export type LockAction = 'put' | 'remove' | 'unchanged'

/** Role policies read at once during a resync: fast enough for hundreds of roles, gentle on IAM. */
const IAM_READS_IN_FLIGHT = 8

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
  }
  for (const roleName of [...truth.roles].sort()) {
    const touching = triggers.filter(({ trigger }) => touches(trigger, roleName, truth))
    try {
      await reconcileRole(
        deps,
        truth,
        roleName,
        settings,
        touching.map(({ trigger }) => trigger.eventId),
      )
    } catch (error) {
      deps.logger.error('role reconcile failed', { roleName, error: error as Error })
      deps.metrics.addMetric('Failures', MetricUnit.Count, 1)
      fail(
        touching.map(({ recordId }) => recordId),
        error,
      )
    }
  }
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
  readonly policies: ReadonlyMap<string, string | undefined>
  /** Named instances without a role now (terminated, profile removed, gone): their old role is unknown. */
  readonly rolelessIds: ReadonlySet<string>
  readonly optedInRoleNames: ReadonlySet<string>
}

async function readTruth(deps: ControllerDeps, triggers: readonly Trigger[]): Promise<Truth> {
  const profileRoles = await instanceProfileRoles(deps.iam)
  const reading: Ec2Reading = { ec2: deps.ec2, lockTag: deps.config.lockTag, profileRoles }
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
  if (rolelessIds.size > 0 || triggers.some((t) => t.reach === 'all-roles')) {
    for (const role of profileRoles.values()) roles.add(role)
  }

  const policies = await readOwnPolicies(deps, roles)
  // An instance a lock names but this batch has not seen must be read: treating it as gone would tombstone it.
  await describeUnseen(
    [...policies.values()].flatMap((document) => {
      const current = readLock(document)
      return [...current.locked, ...current.tombstones.keys()]
    }),
  )

  const instances = await withEgress(deps.ec2, [...observed.values()], (i) => roles.has(i.roleName ?? ''))
  return {
    roles,
    namedRoles: new Map(namedIds.map((id) => [id, observed.get(id)?.roleName])),
    instances: new Map(instances.map((instance) => [instance.instanceId, instance])),
    policies,
    rolelessIds,
    optedInRoleNames,
  }
}

/** The controller's own policy on each role (undefined where it has none), a few roles at a time. */
async function readOwnPolicies(
  deps: ControllerDeps,
  roles: ReadonlySet<string>,
): Promise<Map<string, string | undefined>> {
  const policyName = lockPolicyName(deps.config.region)
  const roleNames = [...roles]
  const documents = await mapLimited(roleNames, IAM_READS_IN_FLIGHT, (roleName) =>
    readInlinePolicy(deps.iam, roleName, policyName),
  )
  return new Map(roleNames.map((roleName, index) => [roleName, documents[index]]))
}

/** Which records a role's failure sends back for retry. */
function touches(trigger: Trigger, roleName: string, truth: Truth): boolean {
  // A network interface resolves to an instance inside the batch, so its record rides on every role.
  if (trigger.reach === 'all-roles' || trigger.networkInterfaceIds.length > 0) return true
  if (trigger.instanceIds.some((id) => truth.rolelessIds.has(id))) return true
  if (trigger.reach === 'locked-roles' && truth.optedInRoleNames.has(roleName)) return true
  return trigger.instanceIds.some((id) => truth.namedRoles.get(id) === roleName)
}

async function reconcileRole(
  deps: ControllerDeps,
  truth: Truth,
  roleName: string,
  settings: Parameters<typeof decideLock>[1],
  eventIds: readonly string[],
): Promise<void> {
  const policyName = lockPolicyName(deps.config.region)
  const currentDocument = truth.policies.get(roleName)
  const current = readLock(currentDocument)
  const instances = [...truth.instances.values()].filter(
    (i) =>
      i.roleName === roleName || current.locked.has(i.instanceId) || current.tombstones.has(i.instanceId),
  )
  // The other inline policies are read only when the budget is known to be tight: the lock is already in
  // compact form, or IAM refuses a write for size. The usual path costs no extra call.
  const readOthers = () => otherInlinePolicyChars(deps.iam, roleName, policyName)
  const facts = {
    roleName,
    instances,
    current,
    otherInlineChars: isCompactLock(currentDocument) ? await readOthers() : 0,
  }
  const now = deps.now()
  let decision = decideLock(facts, settings, now)
  let action: LockAction
  try {
    action = await apply(deps, decision, currentDocument, policyName)
  } catch (error) {
    if (skippedOutOfScope(deps, roleName, eventIds, error)) return
    if (!(error instanceof LimitExceededException)) throw error
    decision = decideLock({ ...facts, otherInlineChars: await readOthers() }, settings, now)
    action = await apply(deps, decision, currentDocument, policyName)
  }
  await logDecision(deps, decision, action, eventIds)
}

async function apply(
  deps: ControllerDeps,
  decision: LockDecision,
  currentDocument: string | undefined,
  policyName: string,
): Promise<LockAction> {
  if (decision.action === 'remove') {
    if (currentDocument === undefined) return 'unchanged'
    if (!deps.config.dryRun) await removeOwnPolicy(deps.iam, decision.roleName, policyName)
    return 'remove'
  }
  if (currentDocument !== undefined && canonical(currentDocument) === decision.document) return 'unchanged'
  if (!deps.config.dryRun) await writeOwnPolicy(deps.iam, decision.roleName, policyName, decision.document)
  return 'put'
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
): Promise<void> {
  const line = {
    roleName: decision.roleName,
    action,
    form: decision.action === 'put' ? decision.form : undefined,
    policyChars: decision.action === 'put' ? decision.chars : 0,
    dryRun: deps.config.dryRun,
    reason: summarize(decision.instances),
    eventIds,
    instances: decision.instances.map(auditInstance),
  }
  deps.logger.info('lock decision', line)
  const metric = { put: 'LocksApplied', remove: 'LocksRemoved', unchanged: 'LocksUnchanged' }[action]
  deps.metrics.addMetric(metric, MetricUnit.Count, 1)
  if (action !== 'unchanged' && !deps.config.dryRun) {
    await publishAudit(deps.events, deps.config.auditEventBus, line, deps.logger)
  }
}

function auditInstance(outcome: InstanceOutcome) {
  if (outcome.outcome === 'locked') {
    return { instanceId: outcome.instanceId, outcome: outcome.outcome, ...outcome.allowedFrom }
  }
  if (outcome.outcome === 'tombstoned') {
    return { ...outcome, since: outcome.since.toISOString() }
  }
  return outcome
}

function summarize(instances: readonly InstanceOutcome[]): string {
  if (instances.length === 0) return 'no opted-in instance uses this role'
  const counts = new Map<string, number>()
  for (const { outcome } of instances) counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
  return [...counts.entries()].map(([outcome, count]) => `${count} ${outcome}`).join(', ')
}
