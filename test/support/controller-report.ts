/** What the controller did, in the terms the demo and the benchmark report it: calls by kind, lock shape. */
import { type LockForm, policyChars, readLock } from '../../policy/lock/index.js'
import { type CallCounts, isReadOperation } from './aws-call-counter.js'

export interface CallSummary {
  readonly ec2Reads: number
  readonly iamReads: number
  readonly iamWrites: number
  /** e.g. `PutRolePolicy` or `PutRolePolicy ×2`. */
  readonly iamWriteOperations: readonly string[]
  readonly eventBridgeCalls: number
  readonly total: number
}

export function summarizeCalls(counts: CallCounts): CallSummary {
  const calls = Object.entries(counts.byOperation).map(([key, count]) => {
    const [service = '', operation = ''] = key.split(':')
    return { service, operation, count, read: isReadOperation(operation) }
  })
  const sum = (matches: (call: (typeof calls)[number]) => boolean) =>
    calls.filter(matches).reduce((total, call) => total + call.count, 0)
  const isIamWrite = (call: (typeof calls)[number]) => call.service === 'IAM' && !call.read
  return {
    ec2Reads: sum((call) => call.service === 'EC2' && call.read),
    iamReads: sum((call) => call.service === 'IAM' && call.read),
    iamWrites: sum(isIamWrite),
    iamWriteOperations: calls
      .filter(isIamWrite)
      .map(({ operation, count }) => (count === 1 ? operation : `${operation} ×${count}`)),
    eventBridgeCalls: sum((call) => call.service === 'EventBridge'),
    total: counts.total,
  }
}

export interface LockShape {
  /** Characters IAM counts against the role's inline budget. */
  readonly chars: number
  readonly form: LockForm | undefined
  readonly locked: number
  readonly tombstoned: number
  /** Functions locked by it. */
  readonly functions: number
}

/** The shape of a lock the controller wrote; undefined when the role has none. */
export function lockShape(document: string | undefined): LockShape | undefined {
  if (document === undefined) return undefined
  const { locked, tombstones, functions } = readLock(document)
  // renderLock names its one role-wide statement `Compact`; the precise form has one statement per instance.
  const statements = (JSON.parse(document) as { Statement?: { Sid?: string }[] }).Statement ?? []
  const compact = statements.some((statement) => statement.Sid === 'Compact')
  return {
    chars: policyChars(document),
    form: locked.size === 0 ? undefined : compact ? 'compact' : 'precise',
    locked: locked.size,
    tombstoned: tombstones.size,
    functions: functions?.locked.size ?? 0,
  }
}

/** e.g. `1,234 chars, precise: 2 locked, 1 tombstoned, 1 function locked`, or `no lock`. */
export function describeLock(shape: LockShape | undefined): string {
  if (shape === undefined) return 'no lock'
  const form = shape.form === undefined ? '' : `, ${shape.form}`
  const tombstoned = shape.tombstoned === 0 ? '' : `, ${shape.tombstoned} tombstoned`
  const functions =
    shape.functions === 0 ? '' : `, ${shape.functions} function${shape.functions > 1 ? 's' : ''} locked`
  return `${shape.chars.toLocaleString('en-US')} chars${form}: ${shape.locked} locked${tombstoned}${functions}`
}
