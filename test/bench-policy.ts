/**
 * How many opted-in instances one role's lock can hold: policy characters (whitespace not counted, as IAM
 * counts them) per number of locked instances, in the precise and the compact form, and the largest count that
 * fits IAM's 10,240-character inline budget in each form. Each instance has one public and one private IPv4.
 *
 * Importing this module has no side effects; `npx tsx test/bench-policy.ts` prints a markdown table.
 */
import { pathToFileURL } from 'node:url'
import { LockTooLargeError } from '../policy/errors.js'
import {
  decideLock,
  INLINE_POLICY_BUDGET,
  type InstanceFacts,
  instanceArn,
  type LockedInstance,
  type LockForm,
  type LockSettings,
  policyChars,
  renderLock,
} from '../policy/lock.js'

export const DEFAULT_COUNTS: readonly number[] = [1, 5, 10, 20, 30, 40, 60, 100, 150, 200, 300]

const SETTINGS: LockSettings = {
  partition: 'aws',
  region: 'us-east-1',
  accountId: '123456789012',
  tombstoneRetentionMs: 12 * 3_600_000,
}
const ROLE = 'bench-role'

export interface PolicySizeRow {
  readonly instances: number
  readonly preciseChars: number
  readonly compactChars: number
  /** What decideLock writes for that many instances when the role has no other inline policy. */
  readonly decision: LockForm | 'too large'
}

export interface PolicySizeReport {
  readonly budget: number
  readonly otherInlineChars: number
  readonly rows: readonly PolicySizeRow[]
  /** The largest number of instances whose lock fits the budget, in each form. */
  readonly largestFitting: Readonly<Record<LockForm, number>>
}

/** The n-th opted-in running instance: realistic id and address lengths. */
export function benchInstance(index: number): InstanceFacts {
  return {
    instanceId: `i-0${index.toString(16).padStart(16, '0')}`,
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: [`54.210.${100 + Math.floor(index / 200)}.${(index % 200) + 10}`],
    egressIps: [],
    privateIps: [`10.0.${Math.floor(index / 200) + 1}.${(index % 200) + 10}`],
    primaryPrivateIpv4: `10.0.${Math.floor(index / 200) + 1}.${(index % 200) + 10}`,
    otherVpcIds: [],
  }
}

function lockedInstances(count: number): LockedInstance[] {
  return Array.from({ length: count }, (_, index) => {
    const facts = benchInstance(index + 1)
    return {
      arn: instanceArn(SETTINGS, facts.instanceId),
      allowedFrom: {
        publicCidrs: facts.publicIps.map((ip) => `${ip}/32`),
        privateCidrs: facts.privateIps.map((ip) => `${ip}/32`),
      },
    }
  })
}

/** Characters of the lock for `count` instances in `form`, as renderLock writes it. */
export function lockChars(form: LockForm, count: number): number {
  return policyChars(renderLock(form, lockedInstances(count), []))
}

function decisionFor(count: number, otherInlineChars: number): PolicySizeRow['decision'] {
  try {
    const decision = decideLock(
      {
        roleName: ROLE,
        instances: Array.from({ length: count }, (_, index) => benchInstance(index + 1)),
        current: { locked: new Set(), tombstones: new Map() },
        otherInlineChars,
      },
      SETTINGS,
      new Date(),
    )
    return decision.action === 'put' ? decision.form : 'too large'
  } catch (error) {
    if (error instanceof LockTooLargeError) return 'too large'
    throw error
  }
}

function largestFitting(form: LockForm, limit: number): number {
  let count = 0
  while (lockChars(form, count + 1) <= limit) count += 1
  return count
}

/** Measures both forms for each count; `otherInlineChars` is what the role's other inline policies use. */
export function measurePolicySizes(
  counts: readonly number[] = DEFAULT_COUNTS,
  otherInlineChars = 0,
): PolicySizeReport {
  const limit = INLINE_POLICY_BUDGET - otherInlineChars
  return {
    budget: INLINE_POLICY_BUDGET,
    otherInlineChars,
    rows: counts.map((instances) => ({
      instances,
      preciseChars: lockChars('precise', instances),
      compactChars: lockChars('compact', instances),
      decision: decisionFor(instances, otherInlineChars),
    })),
    largestFitting: { precise: largestFitting('precise', limit), compact: largestFitting('compact', limit) },
  }
}

/** The report as a markdown table plus the two largest counts. */
export function formatPolicySizes(report: PolicySizeReport): string {
  const fits = (chars: number) => (chars + report.otherInlineChars <= report.budget ? '' : ' (over)')
  return [
    `Budget ${report.budget} characters, other inline policies ${report.otherInlineChars}.`,
    '',
    '| instances | precise chars | compact chars | decideLock writes |',
    '| ---: | ---: | ---: | :--- |',
    ...report.rows.map(
      (row) =>
        `| ${row.instances} | ${row.preciseChars}${fits(row.preciseChars)} | ${row.compactChars}${fits(row.compactChars)} | ${row.decision} |`,
    ),
    '',
    `Largest count that fits: precise ${report.largestFitting.precise}, compact ${report.largestFitting.compact}.`,
  ].join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatPolicySizes(measurePolicySizes()))
}
