import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { STSClient } from '@aws-sdk/client-sts'
import { runCanary } from './canary-check.js'
import { readCanaryConfig } from './canary-config.js'

// The only place that reads the environment and builds clients; AWS_ENDPOINT_URL (tests) is honoured by the SDK.
const config = readCanaryConfig(process.env)
const clientConfig = { region: config.region }

const ssm = new SSMClient(clientConfig)
const ec2 = new EC2Client(clientConfig)
const sts = new STSClient(clientConfig)
const logger = new Logger({ serviceName: 'credential-lock-canary' })
const metrics = new Metrics({ namespace: 'CredentialLock', serviceName: 'credential-lock-canary' })

export const handler = async (): Promise<void> => {
  await runCanary({
    ssm,
    ec2,
    sts,
    // One attempt: a refusal is the answer, not a failure to retry.
    ec2With: ({ accessKeyId, secretAccessKey, sessionToken }) =>
      new EC2Client({
        ...clientConfig,
        maxAttempts: 1,
        credentials: { accessKeyId, secretAccessKey, sessionToken },
      }),
    logger,
    metrics,
    config,
    now: () => new Date(),
  })
}
