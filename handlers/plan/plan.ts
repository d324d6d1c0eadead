import { EC2Client } from '@aws-sdk/client-ec2'
import { EKSClient } from '@aws-sdk/client-eks'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { STSClient } from '@aws-sdk/client-sts'
import { type ControllerConfig, readConfig } from '../aws/config.js'
import { explainUnreachable } from '../aws/network-errors.js'
import { runPlanCommand } from './plan-command.js'
import { planAccount } from './preflight.js'
import { resolvePlanRegion } from './region.js'
import { verifyLocks } from './verify.js'

// A reader that stops early (`| head`) closes the pipe: that ends the output, it is not an error to report.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit()
})

// The only place the plan reads the environment and builds clients: the default credential chain, the SDK's
// region chain, and AWS_ENDPOINT_URL honoured by the SDK itself.
process.exitCode = await runPlanCommand(process.argv.slice(2), {
  plan: (everyInstanceOptedIn) =>
    withAccount((config, clientConfig) =>
      planAccount(
        {
          ec2: new EC2Client(clientConfig),
          iam: new IAMClient(clientConfig),
          sts: new STSClient(clientConfig),
          eks: new EKSClient(clientConfig),
          lambda: new LambdaClient(clientConfig),
          events: new EventBridgeClient(clientConfig),
        },
        config,
        { everyInstanceOptedIn, now: new Date() },
      ),
    ),
  verify: () =>
    withAccount((config, clientConfig) =>
      verifyLocks(
        {
          ec2: new EC2Client(clientConfig),
          iam: new IAMClient(clientConfig),
          sts: new STSClient(clientConfig),
        },
        config,
        new Date(),
      ),
    ),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
})

/** The region (the SDK's chain), the settings and the client configuration both commands use, failures explained. */
async function withAccount<Result>(
  run: (config: ControllerConfig, clientConfig: { region: string; maxAttempts: number }) => Promise<Result>,
): Promise<Result> {
  const region = await resolvePlanRegion(process.env, () => new STSClient({}).config.region())
  const config = readConfig({ ...process.env, AWS_REGION: region })
  try {
    return await run(config, { region, maxAttempts: 6 })
  } catch (error) {
    throw explainUnreachable(error, { region, endpointUrl: process.env.AWS_ENDPOINT_URL })
  }
}
