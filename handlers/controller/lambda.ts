import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs'
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda'
import { FAILURE_DETAIL_TYPE, publishAudit } from '../aws/audit.js'
import { ConfigError } from '../aws/errors.js'
import { type ControllerDeps, type DeliveredEvent, reconcileBatch } from '../aws/reconciler.js'

/** What Lambda may hand the function; anything but an SQS batch is read as one directly delivered event. */
export type ControllerEvent = SQSEvent | Readonly<Record<string, unknown>> | null

export interface LambdaDeps extends ControllerDeps {
  readonly sqs: SQSClient
  /** Where records that no retry can help go at once; without it they are retried like any failure. */
  readonly deadLetterQueueUrl: string | undefined
}

/** A directly invoked event could not be reconciled: thrown so Lambda's own retries and DLQ take over. */
export class ReconcileFailedError extends Error {
  override readonly name = 'ReconcileFailedError'
}

/** The message group of the FIFO dead-letter queue, the same as the event queue's. */
const MESSAGE_GROUP_ID = 'credential-lock'

/**
 * The Lambda entry: accepts an SQS batch of EventBridge events (answering with the records to retry) or one
 * EventBridge event delivered directly.
 */
export function createHandler(deps: LambdaDeps) {
  return async (
    event: ControllerEvent,
    context: Partial<Pick<Context, 'invokedFunctionArn'>> | undefined,
  ) => {
    const scope = scopeOf(context?.invokedFunctionArn)
    try {
      if (isSqsEvent(event)) {
        const delivered = event.Records.map((record) => ({
          recordId: record.messageId,
          body: parseBody(record.body),
        }))
        const outcome = await reconcileBatch(deps, delivered, scope)
        const retry = [...outcome.retry]
        for (const [recordId, error] of outcome.permanent) {
          const record = event.Records.find((candidate) => candidate.messageId === recordId)
          if (!record || !(await parkInDeadLetterQueue(deps, record, error))) retry.push(recordId)
        }
        return {
          batchItemFailures: retry.map((itemIdentifier) => ({ itemIdentifier })),
        } satisfies SQSBatchResponse
      }
      const delivered: DeliveredEvent = { recordId: directEventId(event), body: event }
      const outcome = await reconcileBatch(deps, [delivered], scope)
      if (outcome.retry.length > 0 || outcome.permanent.size > 0) {
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

/**
 * Moves a record no retry can help to the dead-letter queue now, with the reason, so it does not hold up
 * every later event of the FIFO group through all its redeliveries. Returns false when that failed, so the
 * record is retried instead and never lost.
 */
async function parkInDeadLetterQueue(deps: LambdaDeps, record: SQSRecord, error: Error): Promise<boolean> {
  if (deps.deadLetterQueueUrl === undefined) return false
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: deps.deadLetterQueueUrl,
        MessageBody: record.body,
        MessageGroupId: MESSAGE_GROUP_ID,
        MessageDeduplicationId: record.messageId,
        MessageAttributes: {
          error: { DataType: 'String', StringValue: `${error.name}: ${error.message}`.slice(0, 1_000) },
        },
      }),
    )
    deps.logger.warn('record parked in dead-letter queue', { recordId: record.messageId, error })
    await publishAudit(
      deps.events,
      deps.config.auditEventBus,
      parkedDetail(record, error),
      deps.logger,
      FAILURE_DETAIL_TYPE,
    )
    return true
  } catch (sendError) {
    deps.logger.error('record failed', { recordId: record.messageId, error: sendError as Error })
    return false
  }
}

/** What the security account learns of a parked record: which event, and why no retry could help. */
function parkedDetail(record: SQSRecord, error: Error): Record<string, unknown> {
  const event = parseBody(record.body) as { id?: unknown; 'detail-type'?: unknown } | null
  return {
    recordId: record.messageId,
    eventId: typeof event?.id === 'string' ? event.id : undefined,
    detailType: typeof event?.['detail-type'] === 'string' ? event['detail-type'] : undefined,
    error: { name: error.name, message: error.message },
  }
}

function isSqsEvent(event: ControllerEvent): event is SQSEvent {
  return Array.isArray((event as Partial<SQSEvent> | null)?.Records)
}

function directEventId(event: ControllerEvent): string {
  const id = (event as { id?: unknown } | null)?.id
  return typeof id === 'string' ? id : 'direct'
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
function scopeOf(functionArn: unknown): { partition: string; accountId: string } {
  const [, partition, , , accountId] = typeof functionArn === 'string' ? functionArn.split(':') : []
  if (!partition || !accountId) {
    throw new ConfigError(
      `The Lambda context's invokedFunctionArn (${JSON.stringify(functionArn) ?? 'missing'}) names no partition and account: invoke the controller through Lambda, or pass a context with the function's ARN.`,
    )
  }
  return { partition, accountId }
}
