import type { Logger } from '@aws-lambda-powertools/logger'
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import { MissingPermissionError } from './errors.js'

/**
 * Which roles the deployment lets the controller and the uninstaller write on. With `tagged`, IAM itself
 * refuses their writes on any role without the scope tag, so a refusal there means "not ours to lock".
 */
export type RoleScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'tagged'; readonly tag: { readonly key: string; readonly value: string } }

/** The IAM writes the scope condition limits; a refused read is still a missing permission. */
const SCOPED_WRITES = new Set([
  'iam:PutRolePolicy',
  'iam:DeleteRolePolicy',
  'iam:AttachRolePolicy',
  'iam:DetachRolePolicy',
])

/** True when `error` is IAM refusing a write on a role outside a `tagged` scope; other errors stay failures. */
export function isOutOfScope(scope: RoleScope, error: unknown): boolean {
  return scope.kind === 'tagged' && error instanceof MissingPermissionError && SCOPED_WRITES.has(error.action)
}

/**
 * When `error` is an out-of-scope refusal, logs it as a lock decision with action `skipped`, counts it and
 * returns true: the record then succeeds, since no retry can change the role's tags and parking it would
 * flood the dead-letter queue. Any other error returns false.
 */
export function skippedOutOfScope(
  deps: {
    readonly logger: Logger
    readonly metrics: Metrics
    readonly config: { readonly dryRun: boolean; readonly roleScope: RoleScope }
  },
  roleName: string,
  eventIds: readonly string[],
  error: unknown,
): boolean {
  const scope = deps.config.roleScope
  if (scope.kind !== 'tagged' || !isOutOfScope(scope, error)) return false
  deps.logger.info('lock decision', {
    roleName,
    action: 'skipped',
    dryRun: deps.config.dryRun,
    reason: `role ${roleName} is out of scope: tag it ${scope.tag.key}=${scope.tag.value} to let credential-lock lock it`,
    eventIds,
  })
  deps.metrics.addMetric('RolesOutOfScope', MetricUnit.Count, 1)
  return true
}
