import { explainFailure, type PlanReport, renderPlanJson, renderPlanText } from './plan-report.js'
import type { VerifyReport } from './verify.js'
import { printVerifyReport, VERIFY_OPTION, VERIFY_USAGE } from './verify-report.js'

export const PLAN_USAGE = `Usage: credential-lock-plan [--json] [--all]

Reads the account with your AWS credentials (read-only) and prints, per instance role, the lock the
controller would write, what it would leave unprotected and why, and the risks it can see.

  --json   the same report as JSON, for scripts
  --all    what if every instance with an instance profile opted in
${VERIFY_USAGE}

Region: AWS_REGION, AWS_DEFAULT_REGION, or the region of your AWS_PROFILE's profile (what aws configure
writes). Opt-in tag: LOCK_TAG_KEY / LOCK_TAG_VALUE (default credential-lock=enabled), as deployed.
AWS_ENDPOINT_URL points every client elsewhere (e.g. moto). To pipe the JSON, run the bin, not the npm
script (npm prints its own banner on stdout): npx credential-lock-plan --json | jq .summary
`

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface PlanArguments {
  readonly json: boolean
  readonly all: boolean
  readonly help: boolean
}

export function readPlanArguments(argv: readonly string[]): PlanArguments {
  const known = new Set(['--json', '--all', '--help', '-h'])
  const unknown = argv.find((arg) => !known.has(arg))
  if (unknown !== undefined) throw new UsageError(`Unknown option ${unknown}: use --json, --all or --help.`)
  return {
    json: argv.includes('--json'),
    all: argv.includes('--all'),
    help: argv.includes('--help') || argv.includes('-h'),
  }
}

/** What the command takes from its entry module: the plan over clients it built, and where to print. */
export interface PlanCommandIo {
  /** Reads the environment's settings and the account; may throw for either. */
  readonly plan: (everyInstanceOptedIn: boolean) => Promise<PlanReport>
  /** IAM's simulator verdicts on the locks already written (`--verify`). */
  readonly verify?: () => Promise<VerifyReport>
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

/** The command's story: parse, plan, print one report; or print one sentence. Returns the exit code. */
export async function runPlanCommand(argv: readonly string[], io: PlanCommandIo): Promise<number> {
  try {
    const args = readPlanArguments(argv.filter((arg) => arg !== VERIFY_OPTION))
    if (args.help) {
      io.stdout(PLAN_USAGE)
      return 0
    }
    if (argv.includes(VERIFY_OPTION) && io.verify) {
      return printVerifyReport(await io.verify(), args.json, io.stdout)
    }
    const report = await io.plan(args.all)
    io.stdout(args.json ? renderPlanJson(report) : renderPlanText(report))
    return 0
  } catch (error) {
    io.stderr(`credential-lock-plan: ${explainFailure(error)}\n`)
    return 1
  }
}
