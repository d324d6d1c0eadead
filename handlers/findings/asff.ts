/**
 * Which Security Hub findings one credential-lock audit event makes true or false. Pure: the event in, the
 * observations out; handlers/findings/findings.ts turns them into ASFF imports.
 */

import { AUDIT_DETAIL_TYPE, FAILURE_DETAIL_TYPE } from '../aws/audit.js'

/** A credential-lock audit event as EventBridge delivers it on the central bus. */
export interface AuditEvent {
  readonly id: string
  readonly 'detail-type': string
  readonly source: string
  /** The member account the event came from (EventBridge keeps it across the forwarding). */
  readonly account: string
  readonly region: string
  readonly time: string
  readonly detail: unknown
}

/** One thing that is, or no longer is, a finding. */
export interface Observation {
  readonly findingId: string
  /** True: the finding holds now. False: it no longer does, and an active finding with this id is archived. */
  readonly active: boolean
  readonly kind: 'unprotected' | 'lock-failed'
  readonly resource: { readonly type: string; readonly id: string }
  readonly title: string
  readonly description: string
  readonly memberAccount: string
  readonly region: string
  readonly roleName: string | undefined
  readonly observedAt: string
}

/** The event cannot be read as a credential-lock audit event: it is logged and changes no finding. */
export class UnreadableAuditEventError extends Error {
  override readonly name = 'UnreadableAuditEventError'
}

/** How a decision line names one kind of workload, and which of its outcomes leave it unprotected. */
interface WorkloadKind {
  readonly word: 'instance' | 'function'
  readonly nameField: 'instanceId' | 'functionName'
  readonly unprotected: ReadonlySet<string>
  readonly resourceType: string
  readonly service: string
  readonly resource: (name: string) => string
}

const INSTANCES: WorkloadKind = {
  word: 'instance',
  nameField: 'instanceId',
  unprotected: new Set(['skipped', 'unprotected']),
  resourceType: 'AwsEc2Instance',
  service: 'ec2',
  resource: (name) => `instance/${name}`,
}
const FUNCTIONS: WorkloadKind = {
  word: 'function',
  nameField: 'functionName',
  unprotected: new Set(['skipped']),
  resourceType: 'AwsLambdaFunction',
  service: 'lambda',
  resource: (name) => `function:${name}`,
}
const ACCOUNT_ID = /^\d{12}$/

/** The observations one event makes, in the partition the findings are imported into. */
export function observationsOf(event: AuditEvent, partition: string): Observation[] {
  if (!ACCOUNT_ID.test(String(event.account)) || typeof event.region !== 'string') {
    throw new UnreadableAuditEventError(`Event ${String(event.id)} names no member account and region.`)
  }
  const detail = recordOf(event.detail, event)
  if (event['detail-type'] === AUDIT_DETAIL_TYPE) return lockChanged(event, detail, partition)
  if (event['detail-type'] === FAILURE_DETAIL_TYPE) return [lockFailed(event, detail)]
  throw new UnreadableAuditEventError(
    `Event ${String(event.id)} is a "${String(event['detail-type'])}", not an audit event.`,
  )
}

function lockChanged(event: AuditEvent, detail: Record<string, unknown>, partition: string): Observation[] {
  const roleName = typeof detail.roleName === 'string' ? detail.roleName : undefined
  const base = { memberAccount: event.account, region: event.region, roleName, observedAt: event.time }
  const scope = `${event.account}/${event.region}`
  const arn = (service: string, resource: string) =>
    `arn:${partition}:${service}:${event.region}:${event.account}:${resource}`
  const workloads = (entries: unknown, kind: WorkloadKind) =>
    listOf(entries, event).map((entry) => {
      const name = String(entry[kind.nameField])
      return {
        ...base,
        findingId: `credential-lock/${scope}/${kind.word}/${name}`,
        active: kind.unprotected.has(String(entry.outcome)),
        kind: 'unprotected' as const,
        resource: { type: kind.resourceType, id: arn(kind.service, kind.resource(name)) },
        title: `credential-lock could not lock ${kind.word} ${name}`,
        description: `The ${kind.word} is opted in, but its role ${roleName ?? '(unknown)'} carries no lock for it: ${reasonOf(entry)}`,
      }
    })
  const instances = workloads(detail.instances, INSTANCES)
  const functions = workloads(detail.functions, FUNCTIONS)
  // The events whose failure was parked are reconciled now: their failure findings no longer hold.
  const retried = Array.isArray(detail.eventIds) ? detail.eventIds.filter((id) => typeof id === 'string') : []
  const recovered = retried.map((eventId) => ({
    ...failure(event, eventId),
    active: false,
    description: `Event ${eventId} was reconciled after all.`,
  }))
  return [...instances, ...functions, ...recovered]
}

function lockFailed(event: AuditEvent, detail: Record<string, unknown>): Observation {
  const eventId = typeof detail.eventId === 'string' ? detail.eventId : String(detail.recordId)
  const error = (detail.error ?? {}) as { name?: unknown; message?: unknown }
  return {
    ...failure(event, eventId),
    active: true,
    description:
      `The controller moved event ${eventId} (${String(detail.detailType ?? 'unknown type')}) to its dead-letter ` +
      `queue: ${String(error.name)}: ${String(error.message)} Fix the cause, then redrive the queue.`,
  }
}

function failure(event: AuditEvent, eventId: string): Omit<Observation, 'active' | 'description'> {
  return {
    findingId: `credential-lock/${event.account}/${event.region}/lock-failed/${eventId}`,
    kind: 'lock-failed',
    resource: { type: 'Other', id: `credential-lock/${event.account}/${event.region}/event/${eventId}` },
    title: `credential-lock could not apply a lock in account ${event.account} (${event.region})`,
    memberAccount: event.account,
    region: event.region,
    roleName: undefined,
    observedAt: event.time,
  }
}

function recordOf(value: unknown, event: AuditEvent): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UnreadableAuditEventError(`Event ${String(event.id)} has no detail object.`)
  }
  return value as Record<string, unknown>
}

function listOf(value: unknown, event: AuditEvent): Record<string, unknown>[] {
  if (value === undefined) return []
  if (!Array.isArray(value))
    throw new UnreadableAuditEventError(`Event ${String(event.id)} lists no workloads.`)
  return value.map((entry) => recordOf(entry, event))
}

function reasonOf(entry: Record<string, unknown>): string {
  return typeof entry.reason === 'string' ? entry.reason : `outcome ${String(entry.outcome)}`
}
