import { EC2Client } from '@aws-sdk/client-ec2'
import { EKSClient } from '@aws-sdk/client-eks'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { STSClient } from '@aws-sdk/client-sts'
import { readConfig } from './config.js'
import { explainFailure, renderPlanJson, renderPlanText } from './plan-report.js'
import { planAccount } from './preflight.js'

const USAGE = `Usage: credential-lock-plan [--json] [--all]

Reads the account with your AWS credentials (read-only) and prints, per instance role, the lock the
controller would write, what it would leave unprotected and why, and the risks it can see.

  --json   the same report as JSON, for scripts
  --all    what if every instance with an instance profile opted in

Region: AWS_REGION or AWS_DEFAULT_REGION. Opt-in tag: LOCK_TAG_KEY / LOCK_TAG_VALUE (default
credential-lock=enabled), as deployed. AWS_ENDPOINT_URL points every client elsewhere (e.g. moto).
`

class UsageError extends Error {
  override readonly name = 'UsageError'
}

interface PlanArguments {
  readonly json: boolean
  readonly all: boolean
  readonly help: boolean
}

function readArguments(argv: readonly string[]): PlanArguments {
  const known = new Set(['--json', '--all', '--help', '-h'])
  const unknown = argv.find((arg) => !known.has(arg))
  if (unknown !== undefined) throw new UsageError(`Unknown option ${unknown}: use --json, --all or --help.`)
  return {
    json: argv.includes('--json'),
    all: argv.includes('--all'),
    help: argv.includes('--help') || argv.includes('-h'),
  }
}

// The only place the plan reads the environment and builds clients: the default credential chain, and
// AWS_ENDPOINT_URL honoured by the SDK itself.
async function main(): Promise<number> {
  const args = readArguments(process.argv.slice(2))
  if (args.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const config = readConfig(process.env)
  const clientConfig = { region: config.region, maxAttempts: 6 }
  const report = await planAccount(
    {
      ec2: new EC2Client(clientConfig),
      iam: new IAMClient(clientConfig),
      sts: new STSClient(clientConfig),
      eks: new EKSClient(clientConfig),
      lambda: new LambdaClient(clientConfig),
      events: new EventBridgeClient(clientConfig),
    },
    config,
    { everyInstanceOptedIn: args.all, now: new Date() },
  )
  process.stdout.write(args.json ? renderPlanJson(report) : renderPlanText(report))
  return 0
}

try {
  process.exitCode = await main()
} catch (error) {
  process.stderr.write(`credential-lock-plan: ${explainFailure(error)}\n`)
  process.exitCode = 1
}
