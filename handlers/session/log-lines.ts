/** The one-JSON-line logs and the failure metric both programs write to their standard streams. */

export interface JsonLog {
  info(message: string, details: Record<string, unknown>): void
  error(message: string, details: Record<string, unknown>): void
}

export const consoleJsonLog: JsonLog = {
  info: (message, details) => console.info(JSON.stringify({ level: 'INFO', message, ...details })),
  error: (message, details) => console.error(JSON.stringify({ level: 'ERROR', message, ...details })),
}

/**
 * One CloudWatch embedded-metric-format line, straight to stdout (Lambda's console adds a prefix that hides
 * EMF; on a host the CloudWatch agent reads it from the journal): `CredentialLock/<metric>` by one dimension,
 * to alarm on. No metrics library, to stay light.
 */
export function writeFailureMetric(
  metric: string,
  dimension: readonly [name: string, value: string],
  failureMode: string,
): void {
  const [name, value] = dimension
  const line = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        { Namespace: 'CredentialLock', Dimensions: [[name]], Metrics: [{ Name: metric, Unit: 'Count' }] },
      ],
    },
    [name]: value,
    FailureMode: failureMode,
    [metric]: 1,
  }
  process.stdout.write(`${JSON.stringify(line)}\n`)
}
