/**
 * Packing statements into the inline policy and managed parts, within IAM's size quotas. Each instance or
 * function (a "unit") lives in one document with all its statements, so a launch or a termination changes only
 * the document it lands in; given where the current lock put each unit, every unit keeps its document while it
 * fits there, and the lock is packed afresh only when that saves a whole document.
 */
import { functionArnPrefix, functionMatch, instanceArnPrefix, instanceMatch } from './arns.js'
import {
  INLINE_POLICY_BUDGET,
  type LockBudget,
  type LockScope,
  MANAGED_POLICY_BUDGET,
  type PolicyDocument,
  type PolicyStatement,
  type StatementPlan,
} from './facts.js'

export function documentCapacities(budget: LockBudget): number[] {
  return [
    INLINE_POLICY_BUDGET - budget.otherInlineChars,
    ...Array.from({ length: Math.max(0, budget.managedPolicies) }, () => MANAGED_POLICY_BUDGET),
  ]
}

/** The key of one instance or function: IDs of the two kinds never collide. */
export function unitKey(subject: StatementPlan['subject'], id: string): string {
  return `${subject}:${id}`
}

/**
 * The key of one unit's share of one statement in a placement: the unit and the statement's Sid without the
 * suffix that keeps Sids unique within a document (a unit is in at most one statement of each Sid).
 */
export function placementKey(unit: string, sid: string | undefined): string {
  return `${unit}#${(sid ?? '').replace(/x\d+$/, '')}`
}

/**
 * Fills the documents with the statements. Without a placement, each unit's statements one after the other fill
 * the documents in order (units in the plans' order, then by ID), so a unit's statements share a document unless
 * it sits at a document's end. With a placement (unit key → index of the document the current lock has it in),
 * each unit stays where it is while it fits; the others go whole to the inline policy when it has room, else to
 * the emptiest part, else to a new one. Returns undefined when they do not fit. Deterministic: the same facts and
 * placement always give the same documents.
 */
export function packDocuments(
  plans: readonly StatementPlan[],
  scope: LockScope,
  capacities: readonly number[],
  placement?: ReadonlyMap<string, number>,
): string[] | undefined {
  const fresh = new Packer(plans, scope, capacities).pack(new Map())
  if (placement === undefined || placement.size === 0) return fresh
  const stable = new Packer(plans, scope, capacities).pack(placement)
  // Compacting rewrites most documents: worth it only when it saves a whole one.
  if (stable === undefined || (fresh !== undefined && fresh.length < stable.length)) return fresh
  return stable
}

/** One statement's share of one unit: the unit's ID in one plan. */
interface Item {
  readonly unit: string
  readonly plan: number
  readonly id: string
  /** Its placement key (see placementKey). */
  readonly key: string
}

class Packer {
  private readonly prefixes: Record<StatementPlan['subject'], string>
  /** Every unit's items together, units in the plans' order and then by ID. */
  private readonly items: Item[] = []
  private readonly bins: Item[][] = []

  constructor(
    private readonly plans: readonly StatementPlan[],
    scope: LockScope,
    private readonly capacities: readonly number[],
  ) {
    this.prefixes = { instance: instanceArnPrefix(scope), function: functionArnPrefix(scope) }
    const units = new Map<string, Item[]>()
    for (const [plan, { subject, ids, render }] of plans.entries()) {
      const sample = ids.slice(0, 1)
      const match = subject === 'function' ? functionMatch : instanceMatch
      const sid = sample.length > 0 ? render(match(this.prefixes[subject], sample), sample).Sid : undefined
      for (const id of [...ids].sort()) {
        const unit = unitKey(subject, id)
        const item = { unit, plan, id, key: placementKey(unit, sid) }
        units.set(unit, [...(units.get(unit) ?? []), item])
      }
    }
    this.items = [...units.values()].flat()
  }

  pack(placement: ReadonlyMap<string, number>): string[] | undefined {
    // Each statement share stays in its document, a new one (a tombstone) goes to its unit's first document, as
    // many as still fit there (a unit's addresses may have grown).
    const home = new Map<string, number>()
    for (const [key, index] of placement) {
      const unit = key.slice(0, key.lastIndexOf('#'))
      home.set(unit, Math.min(index, home.get(unit) ?? index))
    }
    for (const [index] of this.capacities.entries()) {
      let staying = this.items.filter((item) => (placement.get(item.key) ?? home.get(item.unit)) === index)
      while (staying.length > 0) {
        // One that no longer fits waits for a new place; the ones after it may still fit.
        staying = staying.slice(this.fill(index, staying) + 1)
      }
    }
    const placed = new Set(this.bins.flat())
    let waiting = this.items.filter((item) => !placed.has(item))
    while (waiting.length > 0) {
      const target = this.nextTarget(waiting, placement.size > 0)
      if (target === undefined) return undefined
      waiting = waiting.slice(this.fill(target, waiting))
    }
    return this.documents()
  }

  /** Adds the largest leading run of `items` that fits to document `index`; returns how many. */
  private fill(index: number, items: readonly Item[]): number {
    const bin = this.bins[index] ?? []
    const count = largestFitting(items.length, (candidate) =>
      this.fits(index, [...bin, ...items.slice(0, candidate)]),
    )
    if (count > 0) this.bins[index] = [...bin, ...items.slice(0, count)]
    return count
  }

  /**
   * Where the next waiting items go: the inline policy, else the emptiest part with room, else a new part. When
   * keeping a placement, a document that takes the whole next unit comes first, so a launch touches one document.
   */
  private nextTarget(waiting: readonly Item[], wholeUnit: boolean): number | undefined {
    const indexes = [...this.capacities.keys()]
    const open = indexes.filter((index) => index > 0 && (this.bins[index]?.length ?? 0) > 0)
    const empty = indexes.filter((index) => index > 0 && !this.bins[index]?.length)
    const used = new Map(open.map((index) => [index, chars(this.render(this.bins[index] ?? []))]))
    const byRoom = open.sort((a, b) => (used.get(a) ?? 0) - (used.get(b) ?? 0) || a - b)
    const order = [0, ...byRoom, ...empty]
    const takes = (items: readonly Item[]) => (index: number) =>
      this.fits(index, [...(this.bins[index] ?? []), ...items])
    const unit = waiting.filter((item) => item.unit === waiting[0]?.unit)
    return (wholeUnit ? order.find(takes(unit)) : undefined) ?? order.find(takes(waiting.slice(0, 1)))
  }

  private fits(index: number, items: readonly Item[]): boolean {
    return chars(this.render(items)) <= (this.capacities[index] ?? 0)
  }

  /** The documents in order, a part left empty filled by the last one (one write instead of renumbering all). */
  private documents(): string[] | undefined {
    const bins = [...this.capacities.keys()].map((index) => this.bins[index] ?? [])
    while (bins.length > 0 && bins.at(-1)?.length === 0) bins.pop()
    for (let index = 0; index < bins.length; index++) {
      if (bins[index]?.length) continue
      const last = bins.pop() ?? []
      if (index === bins.length) break
      // The inline policy's budget differs from a part's: a part moved inline must still fit.
      if (!this.fits(index, last)) return undefined
      bins[index] = last
    }
    return bins.map((bin) => JSON.stringify(this.render(bin)))
  }

  /** One document holding `items`: per plan, one statement naming the plan's IDs among them. */
  private render(items: readonly Item[]): PolicyDocument {
    const statements: PolicyStatement[] = []
    for (const [index, plan] of this.plans.entries()) {
      const ids = items.flatMap((item) => (item.plan === index ? [item.id] : [])).sort()
      if (ids.length === 0) continue
      const match = plan.subject === 'function' ? functionMatch : instanceMatch
      statements.push(withUniqueSid(plan.render(match(this.prefixes[plan.subject], ids), ids), statements))
    }
    return { Version: '2012-10-17', Statement: statements }
  }
}

function chars(document: PolicyDocument): number {
  return policyChars(JSON.stringify(document))
}

/** The largest count from 0 to `most` that fits, found by bisection (a larger count never fits when a smaller does not). */
export function largestFitting(most: number, fits: (count: number) => boolean): number {
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
