import type { Logger } from '@aws-lambda-powertools/logger'
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'

export const AUDIT_SOURCE = 'credential-lock'
export const AUDIT_DETAIL_TYPE = 'Credential Lock Changed'
/** An event no retry can help went to the dead-letter queue: a lock may be missing or stale until it is redriven. */
export const FAILURE_DETAIL_TYPE = 'Credential Lock Failed'

/** Publishes one audit event per changed lock. Auditing must never undo or block a lock: failures are logged. */
export async function publishAudit(
  events: EventBridgeClient,
  bus: string,
  detail: Readonly<Record<string, unknown>>,
  logger: Logger,
  detailType: string = AUDIT_DETAIL_TYPE,
): Promise<void> {
  try {
    const output = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: bus,
            Source: AUDIT_SOURCE,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    )
    const failure = output.Entries?.find((entry) => entry.ErrorCode)
    if (failure)
      logger.warn('audit publish failed', {
        bus,
        error: { name: failure.ErrorCode, message: failure.ErrorMessage },
      })
  } catch (error) {
    logger.warn('audit publish failed', { bus, error: error as Error })
  }
}
