/** Packing statements into the inline policy and managed parts, within IAM's size quotas. */
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

const DOCUMENT_SHELL = policyChars(JSON.stringify({ Version: '2012-10-17', Statement: [] }))

export function documentCapacities(budget: LockBudget): number[] {
  return [
    INLINE_POLICY_BUDGET - budget.otherInlineChars,
    ...Array.from({ length: Math.max(0, budget.managedPolicies) }, () => MANAGED_POLICY_BUDGET),
  ]
}

/**
 * Fills the documents in order with the statements, splitting a statement's instance list where a document is
 * full. Returns undefined when they do not fit. Deterministic: the same facts always give the same documents.
 */
export function packDocuments(
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
