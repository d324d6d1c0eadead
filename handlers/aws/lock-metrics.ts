import type { Logger } from '@aws-lambda-powertools/logger'
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'

/** What this reads of a delivered event (the reconciler's DeliveredEvent): its EventBridge body. */
interface DeliveredBody {
  readonly body: unknown
}

/** What this reads of a role's decision line (the reconciler's DecisionLine), so the arrow points one way. */
interface DecidedRole {
  readonly action: string
  readonly dryRun: boolean
  readonly eventIds: readonly string[]
  readonly instances: readonly { readonly outcome: string }[]
  readonly functions: readonly { readonly outcome: string }[]
}

/** The scheduled resync: its time says when the schedule fired, not when anything changed. */
const RESYNC_DETAIL_TYPE = 'Scheduled Event'

/** The log line a metric filter (infra/dashboard.ts) reads the locked-workload gauges from. */
export const RESYNC_TOTALS_MESSAGE = 'resync totals'

/**
 * The figures a dashboard draws from one batch: how long a change took to become a lock (event time to lock
 * written), and, after a resync (which decides every role), how many instances and functions are locked now.
 * The gauges are a log line, not EMF counts, so a resync's metric count stays what alarms and tests expect.
 */
export function addBatchMetrics(
  { metrics, logger }: { readonly metrics: Metrics; readonly logger: Logger },
  delivered: readonly DeliveredBody[],
  lines: readonly DecidedRole[],
  now: Date,
): void {
  const eventTimes = new Map<string, number>()
  let resync = false
  for (const { body } of delivered) {
    const event = body as { id?: unknown; time?: unknown; 'detail-type'?: unknown } | null
    if (event?.['detail-type'] === RESYNC_DETAIL_TYPE) resync = true
    else if (typeof event?.id === 'string' && typeof event.time === 'string') {
      const time = Date.parse(event.time)
      if (!Number.isNaN(time)) eventTimes.set(event.id, time)
    }
  }
  for (const line of lines) {
    if (line.action === 'unchanged' || line.dryRun) continue
    const times = line.eventIds.flatMap((id) => eventTimes.get(id) ?? [])
    if (times.length > 0) {
      metrics.addMetric(
        'DecisionLatency',
        MetricUnit.Milliseconds,
        Math.max(0, now.getTime() - Math.min(...times)),
      )
    }
  }
  // A dry run locks nothing: its decisions must not show up as locked workloads.
  if (!resync || lines.some((line) => line.dryRun)) return
  const locked = (outcomes: readonly { readonly outcome: string }[]) =>
    outcomes.filter(({ outcome }) => outcome === 'locked').length
  logger.info(RESYNC_TOTALS_MESSAGE, {
    instancesLocked: sum(lines.map((line) => locked(line.instances))),
    functionsLocked: sum(lines.map((line) => locked(line.functions))),
    rolesDecided: lines.length,
  })
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0)
}
