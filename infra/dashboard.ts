import { Aws, Duration } from 'aws-cdk-lib'
import { Dashboard, GraphWidget, LogQueryWidget, type Metric } from 'aws-cdk-lib/aws-cloudwatch'
import { FilterPattern, MetricFilter } from 'aws-cdk-lib/aws-logs'
import { Construct } from 'constructs'
import { RESYNC_TOTALS_MESSAGE } from '../handlers/aws/lock-metrics.js'
import type { StolenCredentialCanary } from './canary.js'
import { type CredentialLock, controllerMetric } from './credential-lock.js'

/** Resyncs run hourly by default: a gauge read per hour shows each resync's count. */
const GAUGE_PERIOD = Duration.hours(1)
/** The controller's own namespace: the gauges sit next to its EMF counts. */
const GAUGE_NAMESPACE = 'CredentialLock'

/**
 * One page per account and region: what is locked and what is not, what the controller wrote, what failed, how
 * long a change took to become a lock, and why workloads were left unprotected.
 */
export class LockDashboard extends Construct {
  readonly dashboard: Dashboard

  constructor(scope: Construct, id: string, lock: CredentialLock) {
    super(scope, id)
    const gauge = (name: string, field: string, label: string) =>
      new MetricFilter(this, `${name}Filter`, {
        logGroup: lock.logGroup,
        filterPattern: FilterPattern.stringValue('$.message', '=', RESYNC_TOTALS_MESSAGE),
        metricNamespace: GAUGE_NAMESPACE,
        metricName: name,
        metricValue: `$.${field}`,
      }).metric({ statistic: 'Maximum', period: GAUGE_PERIOD, label })
    const count = (name: string, label: string) => controllerMetric(name).with({ label })
    const latency = (statistic: string): Metric =>
      controllerMetric('DecisionLatency').with({ statistic, label: `${statistic} ms` })
    const deadLetters = lock.queue.deadLetterQueue?.queue
    this.dashboard = new Dashboard(this, 'Dashboard', {
      // Dashboards are global to an account, and a StackSet installs one stack per region.
      dashboardName: `credential-lock-${Aws.REGION}`,
      widgets: [
        [
          new GraphWidget({
            title: 'Locked vs unprotected',
            left: [
              gauge('InstancesLocked', 'instancesLocked', 'instances locked (at resync)'),
              gauge('FunctionsLocked', 'functionsLocked', 'functions locked (at resync)'),
            ],
            right: [
              count('InstancesUnprotected', 'instances left unprotected (per decision)'),
              count('FunctionsUnprotected', 'functions left unprotected (per decision)'),
            ],
            width: 12,
          }),
          new GraphWidget({
            title: 'Lock writes',
            left: [count('LocksApplied', 'locks written'), count('LocksRemoved', 'locks removed')],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Failures and dead-letter depth',
            left: [count('Failures', 'failed reconciles'), count('EventsSkipped', 'events skipped')],
            right: deadLetters
              ? [deadLetters.metricApproximateNumberOfMessagesVisible({ label: 'dead-letter queue depth' })]
              : [],
            width: 12,
          }),
          new GraphWidget({
            title: 'Decision latency (event time to lock written)',
            left: [latency('p50'), latency('p90'), latency('Maximum')],
            width: 12,
          }),
        ],
        [
          new LogQueryWidget({
            title: 'Top reasons for unprotected',
            logGroupNames: [lock.logGroup.logGroupName],
            // Each line lists the role's unprotected workloads; the first one's reason stands for the line.
            queryLines: [
              'filter message like /left unprotected/',
              'fields coalesce(`instances.0.reason`, `functions.0.reason`) as why',
              'stats count(*) as decisions by why',
              'sort decisions desc',
              'limit 10',
            ],
            width: 24,
          }),
        ],
      ],
    })
  }

  /** The canary's history beside the lock's: did a stolen credential get refused, and how soon after a launch. */
  addCanary(canary: StolenCredentialCanary): void {
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Stolen-credential canary',
        left: [
          canary.metrics.lockHolds.with({ label: 'lock holds (1/0)' }),
          canary.metrics.ownCallsWork.with({ label: 'own calls work (1/0)' }),
        ],
        right: [canary.metrics.timeToLock.with({ label: 'seconds from launch to lock' })],
        width: 24,
      }),
    )
  }
}
