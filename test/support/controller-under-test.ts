import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { EC2Client } from '@aws-sdk/client-ec2'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient } from '@aws-sdk/client-iam'
import { SQSClient } from '@aws-sdk/client-sqs'
import type { ControllerConfig } from '../../handlers/config.js'
import { createHandler } from '../../handlers/lambda.js'
import { AwsCallCounter } from './aws-call-counter.js'
import { useMotoAccount } from './moto.js'
import type { ControllerHandler } from './story.js'

export interface ControllerUnderTest {
  readonly handler: ControllerHandler
  readonly calls: AwsCallCounter
  readonly advanceClock: (ms: number) => void
  /** Operator-side clients in the same moto account, not counted. */
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly accountId: string
}

/**
 * The real controller against a moto endpoint, in a moto account of its own, with its AWS calls counted and
 * its clock under the caller's control. Logs go to `logLevel` (SILENT in tests, INFO in the demo).
 */
export function controllerUnderTest(
  endpoint: string,
  options: { readonly logLevel?: 'SILENT' | 'INFO'; readonly config?: Partial<ControllerConfig> } = {},
): ControllerUnderTest {
  const clientConfig = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  }
  const controllerClients = {
    ec2: new EC2Client(clientConfig),
    iam: new IAMClient(clientConfig),
    events: new EventBridgeClient(clientConfig),
  }
  const operator = { ec2: new EC2Client(clientConfig), iam: new IAMClient(clientConfig) }
  const accountId = useMotoAccount(controllerClients.ec2)
  for (const client of [controllerClients.iam, controllerClients.events, operator.ec2, operator.iam]) {
    useMotoAccount(client, accountId)
  }
  const calls = new AwsCallCounter().attachTo(
    controllerClients.ec2,
    controllerClients.iam,
    controllerClients.events,
  )
  let offsetMs = 0
  const handler = createHandler({
    ...controllerClients,
    sqs: new SQSClient(clientConfig),
    deadLetterQueueUrl: undefined,
    logger: new Logger({ serviceName: 'credential-lock', logLevel: options.logLevel ?? 'SILENT' }),
    metrics: new Metrics({
      namespace: 'CredentialLock',
      serviceName: 'credential-lock',
      singleMetric: false,
    }),
    config: {
      region: 'us-east-1',
      lockTag: { key: 'credential-lock', value: 'enabled' },
      dryRun: false,
      tombstoneRetentionMs: 12 * 3_600_000,
      auditEventBus: 'default',
      roleScope: { kind: 'all' },
      ...options.config,
    },
    now: () => new Date(Date.now() + offsetMs),
  })
  return {
    handler,
    calls,
    advanceClock: (ms) => {
      offsetMs += ms
    },
    ...operator,
    accountId,
  }
}
