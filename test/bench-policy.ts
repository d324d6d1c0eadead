/**
 * How many opted-in instances one role's lock can hold, for the fleet shapes real accounts have: workers behind one
 * NAT (each with only its primary private IPv4), public instances (each its own address), and EKS-style nodes
 * (pods on secondary addresses). Characters are counted as IAM counts them (whitespace not counted), across the
 * inline policy and the managed policies the controller may add (10 per role, IAM's default quota).
 *
 * Importing this module has no side effects; `npx tsx test/bench-policy.ts` prints the tables.
 */
import { pathToFileURL } from 'node:url'
import {
  decideLock,
  type InstanceFacts,
  type LockBudget,
  type LockDecision,
  type LockForm,
  type LockSettings,
} from '../policy/lock/index.js'

const SETTINGS: LockSettings = {
  partition: 'aws',
  region: 'us-east-1',
  accountId: '123456789012',
  tombstoneRetentionMs: 12 * 3_600_000,
}
const ROLE = 'bench-role'
/** Nothing else on the role: the whole inline budget and IAM's default quota of 10 managed policies. */
export const EMPTY_ROLE: LockBudget = { otherInlineChars: 0, managedPolicies: 10 }

export type FleetShape = 'NAT workers' | 'public instances' | 'EKS nodes'

const octets = (index: number) => `${Math.floor(index / 250)}.${(index % 250) + 2}`

/** The n-th opted-in running instance of a shape: realistic ID and address lengths. */
export function benchInstance(shape: FleetShape, index: number): InstanceFacts {
  const primary = `10.${1 + Math.floor(index / 62_500)}.${octets(index % 62_500)}`
  const base = {
    instanceId: `i-0${index.toString(16).padStart(16, '0')}`,
    state: 'running' as const,
    roleName: ROLE,
    optedIn: true,
    primaryPrivateIpv4: primary,
  }
  if (shape === 'public instances') {
    return { ...base, publicIps: [`54.210.${octets(index)}`], egressIps: [], privateIps: [primary] }
  }
  const nat = ['198.51.100.7', '198.51.100.8']
  if (shape === 'NAT workers') return { ...base, publicIps: [], egressIps: nat, privateIps: [primary] }
  return { ...base, publicIps: [], egressIps: nat, privateIps: [primary, `100.64.${octets(index)}/28`] }
}

export function decideFleet(shape: FleetShape, count: number, budget: LockBudget = EMPTY_ROLE): LockDecision {
  return decideLock(
    {
      roleName: ROLE,
      instances: Array.from({ length: count }, (_, index) => benchInstance(shape, index + 1)),
      current: { locked: new Set(), tombstones: new Map() },
      budget,
    },
    SETTINGS,
    new Date('2026-11-26T00:00:00Z'),
  )
}

export interface FleetRow {
  readonly shape: FleetShape
  readonly instances: number
  readonly form: LockForm | 'none'
  readonly documents: number
  readonly chars: number
  readonly locked: number
}

function row(shape: FleetShape, count: number): FleetRow {
  const decision = decideFleet(shape, count)
  const put = decision.action === 'put' ? decision : undefined
  return {
    shape,
    instances: count,
    form: put?.form ?? 'none',
    documents: put?.documents.length ?? 0,
    chars: put?.chars.reduce((sum, chars) => sum + chars, 0) ?? 0,
    locked: decision.instances.filter((outcome) => outcome.outcome === 'locked').length,
  }
}

/** The largest fleet of a shape whose every instance is locked (in `form` when given), by bisection. */
export function largestFleet(shape: FleetShape, form?: LockForm): number {
  const holds = (count: number) => {
    const decision = decideFleet(shape, count)
    const allLocked = decision.instances.every((outcome) => outcome.outcome === 'locked')
    return decision.action === 'put' && allLocked && (form === undefined || decision.form === form)
  }
  let low = 1
  let high = 4_000
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (holds(middle)) low = middle
    else high = middle - 1
  }
  return low
}

export const DEFAULT_SIZES: Readonly<Record<FleetShape, readonly number[]>> = {
  'NAT workers': [1, 10, 100, 500, 1_000],
  'public instances': [1, 10, 30, 60, 100, 300],
  'EKS nodes': [1, 10, 100, 300],
}

export interface PolicySizeReport {
  readonly rows: readonly FleetRow[]
  readonly largest: readonly {
    readonly shape: FleetShape
    readonly precise: number
    readonly locked: number
  }[]
}

export function measurePolicySizes(sizes = DEFAULT_SIZES): PolicySizeReport {
  const shapes = Object.keys(sizes) as FleetShape[]
  return {
    rows: shapes.flatMap((shape) => (sizes[shape] ?? []).map((count) => row(shape, count))),
    largest: shapes.map((shape) => ({
      shape,
      precise: largestFleet(shape, 'precise'),
      locked: largestFleet(shape),
    })),
  }
}

export function formatPolicySizes(report: PolicySizeReport): string {
  return [
    'One role with nothing else on it: inline budget 10,240 characters plus up to 10 managed policies of 6,144.',
    '',
    '| fleet | instances | form | documents | characters | per instance | locked |',
    '| :--- | ---: | :--- | ---: | ---: | ---: | ---: |',
    ...report.rows.map(
      (each) =>
        `| ${each.shape} | ${each.instances} | ${each.form} | ${each.documents} | ${each.chars} | ` +
        `${Math.round(each.chars / each.instances)} | ${each.locked} |`,
    ),
    '',
    '| fleet | largest fully locked, precise | largest fully locked, any form |',
    '| :--- | ---: | ---: |',
    ...report.largest.map((each) => `| ${each.shape} | ${each.precise} | ${each.locked} |`),
  ].join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatPolicySizes(measurePolicySizes()))
}
