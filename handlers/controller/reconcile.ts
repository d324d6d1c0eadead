import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { EC2Client } from '@aws-sdk/client-ec2'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { SQSClient } from '@aws-sdk/client-sqs'
import { readConfig } from '../aws/config.js'
import { ManagedPartCache } from '../aws/iam-roles.js'
import { createHandler } from './lambda.js'

// The only place that reads the environment and builds clients; AWS_ENDPOINT_URL (tests, demo) is honoured
// by the SDK itself. IAM throttles writes at an unpublished rate, hence the extra attempts.
const config = readConfig(process.env)
const clientConfig = { region: config.region, maxAttempts: 6 }

export const handler = createHandler({
  ec2: new EC2Client(clientConfig),
  iam: new IAMClient(clientConfig),
  lambda: new LambdaClient(clientConfig),
  events: new EventBridgeClient(clientConfig),
  sqs: new SQSClient(clientConfig),
  deadLetterQueueUrl: process.env.DEAD_LETTER_QUEUE_URL,
  logger: new Logger({ serviceName: 'credential-lock' }),
  metrics: new Metrics({ namespace: 'CredentialLock', serviceName: 'credential-lock' }),
  config,
  now: () => new Date(),
  // Lives as long as the warm Lambda: a managed part whose default version is unchanged is not read again.
  managedPartCache: new ManagedPartCache(),
})
