/** How tombstones are dated, named and written: what keeps a stopped or gone workload's old credentials refused. */
import type { LockSettings, StatementPlan, TombstoneEntry } from './facts.js'

export const TOMBSTONE_SID = /^Tombstone(\d{1,12})(?:Before(\d{1,12}))?(?:x\d+)?$/

/**
 * The Sid carries when each tombstone was written (and, for a stopped or moved instance, which credentials it
 * refuses), so it outlives the instance disappearing from EC2.
 */
export function tombstonePlans(
  subject: StatementPlan['subject'],
  tombstones: readonly (TombstoneEntry & { readonly id: string })[],
): StatementPlan[] {
  const groups = new Map<string, { entry: TombstoneEntry; ids: string[] }>()
  for (const { id, since, issuedBefore } of tombstones) {
    const sid = `Tombstone${seconds(since)}${issuedBefore ? `Before${seconds(issuedBefore)}` : ''}`
    const group = groups.get(sid) ?? { entry: { since, issuedBefore }, ids: [] }
    group.ids.push(id)
    groups.set(sid, group)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sid, { entry, ids }]) => ({
      subject,
      ids,
      render: (match) => ({
        Sid: sid,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: entry.issuedBefore
          ? { ...match, DateLessThan: { 'aws:TokenIssueTime': entry.issuedBefore.toISOString() } }
          : match,
      }),
    }))
}

export function seconds(time: Date): number {
  return Math.floor(time.getTime() / 1000)
}

/** Rounded up: a tombstone covers every credential issued up to the moment it was decided. */
export function nextWholeSecond(time: Date): Date {
  return new Date(Math.ceil(time.getTime() / 1000) * 1000)
}

export function wholeSecond(time: Date): Date {
  return new Date(seconds(time) * 1000)
}

/**
 * Tombstones of terminated instances are dated at the end of the twelfth of the retention they were written in,
 * so that however many instances an autoscaling group churns through, a role carries at most 13 of them.
 * Rounding up only ever keeps old credentials refused a little longer; a terminated instance has no new ones.
 */
export function bucketEnd(time: Date, settings: LockSettings): Date {
  const bucketMs = Math.max(60_000, Math.floor(settings.tombstoneRetentionMs / 12 / 60_000) * 60_000)
  return new Date(Math.ceil(time.getTime() / bucketMs) * bucketMs)
}
