/** Reading back what the controller's own policies say. */
import { ARN_KEY, FUNCTION_ARN_KEY, FUNCTION_NAME, INSTANCE_ID } from './arns.js'
import { COMPACT_SID, type CurrentLock, type TombstoneEntry } from './facts.js'
import { placementKey, unitKey } from './pack.js'
import { TOMBSTONE_SID } from './tombstones.js'

/**
 * Reads back the policies this controller wrote. Anything it cannot read as its own is treated as holding
 * nothing, so the next write replaces it with a correct lock.
 */
export function readLock(documents: string | undefined | readonly (string | undefined)[]): CurrentLock {
  const instances = { locked: new Set<string>(), tombstones: new Map<string, TombstoneEntry>() }
  const functions = { locked: new Set<string>(), tombstones: new Map<string, TombstoneEntry>() }
  const list = Array.isArray(documents) ? documents : [documents as string | undefined]
  for (const statement of list.flatMap(parseStatements)) {
    const { instanceIds, functionNames } = namedIn(statement)
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

/**
 * Which document (0 the inline policy, then the managed parts in order) holds each instance's and function's
 * share of each statement, by placement key: the packer keeps every one where it is, so a launch or a termination
 * rewrites only the documents it lands in.
 */
export function readPlacement(documents: readonly (string | undefined)[]): Map<string, number> {
  const placement = new Map<string, number>()
  for (const [index, document] of documents.entries()) {
    for (const statement of parseStatements(document)) {
      const { instanceIds, functionNames } = namedIn(statement)
      for (const id of instanceIds) placement.set(placementKey(unitKey('instance', id), statement.Sid), index)
      for (const name of functionNames)
        placement.set(placementKey(unitKey('function', name), statement.Sid), index)
    }
  }
  return placement
}

function namedIn(statement: LooseStatement) {
  const named = [statement.Condition?.StringEquals?.[ARN_KEY], statement.Condition?.StringLike?.[ARN_KEY]]
  const instanceIds = named.flat().flatMap((arn) => {
    const id = typeof arn === 'string' ? arn.split('/').pop() : undefined
    return id && INSTANCE_ID.test(id) ? [id] : []
  })
  const functionNames = [statement.Condition?.ArnEquals?.[FUNCTION_ARN_KEY]].flat().flatMap((arn) => {
    const name = typeof arn === 'string' ? arn.split(':function:')[1] : undefined
    return name && FUNCTION_NAME.test(name) ? [name] : []
  })
  return { instanceIds, functionNames }
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
