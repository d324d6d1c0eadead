import { EC2Client } from '@aws-sdk/client-ec2'
import { EKSClient } from '@aws-sdk/client-eks'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { STSClient } from '@aws-sdk/client-sts'
import { readConfig } from '../aws/config.js'
import { runPlanCommand } from './plan-command.js'
import { planAccount } from './preflight.js'
import { verifyLocks } from './verify.js'

// The only place the plan reads the environment and builds clients: the default credential chain, and
// AWS_ENDPOINT_URL honoured by the SDK itself.
process.exitCode = await runPlanCommand(process.argv.slice(2), {
  plan: (everyInstanceOptedIn) => {
    const config = readConfig(process.env)
    const clientConfig = { region: config.region, maxAttempts: 6 }
    return planAccount(
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
    )
  },
  verify: () => {
    const config = readConfig(process.env)
    const clientConfig = { region: config.region, maxAttempts: 6 }
    return verifyLocks(
      {
        ec2: new EC2Client(clientConfig),
        iam: new IAMClient(clientConfig),
        sts: new STSClient(clientConfig),
      },
      config,
      new Date(),
    )
  },
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
})
