/**
 * `npm run plan:demo`: the pre-flight plan against a small account it builds on a private moto_server, so the
 * report the README shows can be reproduced. The report is the real command's (bin/credential-lock-plan.js, run
 * as a user runs it, with AWS_ENDPOINT_URL pointing at moto): what a real account gets. Arguments go to the
 * plan (`npm run plan:demo -- --all`). The preface goes to stderr, so `--json` output pipes cleanly.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { EC2Client } from '@aws-sdk/client-ec2'
import { EKSClient } from '@aws-sdk/client-eks'
import { IAMClient } from '@aws-sdk/client-iam'
import { quietControllerOutput, withMoto } from './support/defenders-session.js'
import { buildPlanDemoWorld, EKS_CLUSTER, FULL_ROLE } from './support/plan-world.js'

const REGION = 'us-east-1'
const PLAN_BIN = new URL('../bin/credential-lock-plan.js', import.meta.url).pathname
/** moto's own test credentials: nothing here may reach AWS. */
const MOTO_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }

async function planDemo(args: readonly string[]): Promise<number> {
  quietControllerOutput()
  return withMoto(async (endpoint) => {
    const clientConfig = {
      endpoint,
      region: REGION,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    }
    const { world, trish, karen, frank } = await buildPlanDemoWorld({
      ec2: new EC2Client(clientConfig),
      iam: new IAMClient(clientConfig),
      eks: new EKSClient(clientConfig),
    })
    process.stderr.write(
      [
        `Built on a private moto_server at ${endpoint}, account ${world.accountId}, ${REGION}:`,
        `  role ${world.role.roleName}: luke ${world.luke.instanceId} (public subnet, opted in), ` +
          `danny ${world.danny.instanceId} (behind a NAT gateway, opted in),`,
        `    matt ${world.matt.instanceId} (not opted in), trish ${trish.instanceId} (behind a transit gateway, ` +
          `opted in), karen ${karen.instanceId} (tagged credential-lock=Enabled by hand)`,
        `  role ${FULL_ROLE}: frank ${frank.instanceId} (opted in; the role's own policies fill its quotas)`,
        `  EKS cluster ${EKS_CLUSTER}, public endpoint, its managed nodes on role ${world.role.roleName}; ` +
          'only the opted-in instances require IMDSv2',
        'moto hands out public addresses from 127.0.0.0/8; on AWS they are the real public ones.',
        `Running: AWS_ENDPOINT_URL=${endpoint} npx credential-lock-plan ${args.join(' ')}`.trimEnd(),
        '',
        '',
      ].join('\n'),
    )
    const plan = spawn(process.execPath, [PLAN_BIN, ...args], {
      stdio: 'inherit',
      env: {
        ...process.env,
        ...MOTO_CREDENTIALS,
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: REGION,
        AWS_PROFILE: undefined,
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    })
    const [code] = (await once(plan, 'exit')) as [number | null]
    return code ?? 1
  })
}

planDemo(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
