import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda'
import { type ControllerDeps, type DeliveredEvent, reconcileBatch } from './controller.js'
import { ConfigError } from './errors.js'

export type ControllerEvent = SQSEvent | Readonly<Record<string, unknown>>

/** Every record of a batch failed or was retried: thrown on direct invocation so Lambda retries it. */
export class ReconcileFailedError extends Error {
  override readonly name = 'ReconcileFailedError'
}

/**
 * The Lambda entry: accepts an SQS batch of EventBridge events (answering with the records to retry) or one
 * EventBridge event delivered directly (throwing so Lambda's own retries and DLQ take over).
 */
export function createHandler(deps: ControllerDeps) {
  return async (event: ControllerEvent, context: Pick<Context, 'invokedFunctionArn'>) => {
    const scope = scopeOf(context.invokedFunctionArn)
    try {
      if (isSqsEvent(event)) {
        const delivered = event.Records.map((record) => ({
          recordId: record.messageId,
          body: parseBody(record.body),
        }))
        const failed = await reconcileBatch(deps, delivered, scope)
        return {
          batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })),
        } satisfies SQSBatchResponse
      }
      const delivered: DeliveredEvent = { recordId: String(event.id ?? 'direct'), body: event }
      const failed = await reconcileBatch(deps, [delivered], scope)
      if (failed.length > 0) {
        throw new ReconcileFailedError(
          `Event ${delivered.recordId} could not be reconciled: see the errors logged.`,
        )
      }
      return undefined
    } finally {
      deps.metrics.publishStoredMetrics()
    }
  }
}

function isSqsEvent(event: ControllerEvent): event is SQSEvent {
  return Array.isArray((event as Partial<SQSEvent>).Records)
}

/** A body that is not JSON is kept as text: the event reader then skips it as malformed. */
function parseBody(body: string): unknown {
  try {
    return JSON.parse(body)
  } catch {
    return body
  }
}

/** The partition and account every instance ARN is built from: the function's own. */
function scopeOf(functionArn: string): { partition: string; accountId: string } {
  const [, partition, , , accountId] = functionArn.split(':')
  if (!partition || !accountId) {
    throw new ConfigError(`The invoked function ARN "${functionArn}" names no partition and account.`)
  }
  return { partition, accountId }
}
