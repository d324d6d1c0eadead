/**
 * The plan command (handlers/plan/plan-command.ts) without a process: its options, and what it prints where,
 * with which exit code, over a plan given as a function. handlers/plan/plan.ts only builds that function from
 * the environment; test/integration/plan-cli.test.ts runs the real command against moto.
 */
import { describe, expect, it, vi } from 'vitest'
import { readConfig } from '../../handlers/aws/config.js'
import {
  PLAN_USAGE,
  readPlanArguments,
  runPlanCommand,
  UsageError,
} from '../../handlers/plan/plan-command.js'
import { buildPlanReport, type PlanReport } from '../../handlers/plan/plan-report.js'
import { ACCOUNT, facts } from '../support/plan-facts.js'

function report(everyInstanceOptedIn: boolean): PlanReport {
  return buildPlanReport(facts({ everyInstanceOptedIn }))
}

/** The command over a plan that answers `plan`, with what it printed on each stream. */
async function run(argv: readonly string[], plan = async (all: boolean) => report(all)) {
  const stdout: string[] = []
  const stderr: string[] = []
  const planned = vi.fn(plan)
  const code = await runPlanCommand(argv, {
    plan: planned,
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
  })
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), planned }
}

describe('the plan command’s options', () => {
  it.each([
    [[], { json: false, all: false, help: false }],
    [['--json'], { json: true, all: false, help: false }],
    [['--all'], { json: false, all: true, help: false }],
    [['--help'], { json: false, all: false, help: true }],
    [['-h'], { json: false, all: false, help: true }],
    [['--all', '--json'], { json: true, all: true, help: false }],
  ])('reads %j', (argv, expected) => {
    // Act
    const args = readPlanArguments(argv)

    // Assess
    expect(args).toEqual(expected)
  })

  it.each([[['--dry']], [['--json', '--dry']], [['json']]])(
    'refuses an unknown option in %j, naming it',
    (argv) => {
      // Act
      const read = () => readPlanArguments(argv)

      // Assess
      expect(read).toThrow(UsageError)
      expect(read).toThrow(`Unknown option ${argv.at(-1)}: use --json, --all or --help.`)
    },
  )

  it('calls its error a usage error', () => {
    // Act
    const error = new UsageError('Unknown option --dry: use --json, --all or --help.')

    // Assess
    expect(error.name).toBe('UsageError')
  })
})

describe('the plan command', () => {
  it('prints the report as text by default, and exits 0', async () => {
    // Act
    const { code, stdout, stderr, planned } = await run([])

    // Assess
    expect(code).toBe(0)
    expect(stdout).toMatch(new RegExp(`^credential-lock plan for account ${ACCOUNT} in eu-west-1, `))
    expect(stdout).toContain('\nRead-only: nothing was written.\n')
    expect(stderr).toBe('')
    expect(planned).toHaveBeenCalledWith(false)
  })

  it('prints the report as JSON with --json', async () => {
    // Act
    const { code, stdout } = await run(['--json'])

    // Assess
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({
      accountId: ACCOUNT,
      dryRun: true,
      everyInstanceOptedIn: false,
    })
  })

  it('asks the plan what if every instance opted in with --all', async () => {
    // Act
    const { code, stdout, planned } = await run(['--all', '--json'])

    // Assess
    expect(code).toBe(0)
    expect(planned).toHaveBeenCalledWith(true)
    expect(JSON.parse(stdout)).toMatchObject({ everyInstanceOptedIn: true })
  })

  it.each([['--help'], ['-h']])('prints its usage with %s, reads nothing, and exits 0', async (flag) => {
    // Act
    const { code, stdout, stderr, planned } = await run(['--json', flag])

    // Assess
    expect(code).toBe(0)
    expect(stdout).toBe(PLAN_USAGE)
    expect(PLAN_USAGE).toMatch(/^Usage: credential-lock-plan \[--json\] \[--all\]\n/)
    expect(stderr).toBe('')
    expect(planned).not.toHaveBeenCalled()
  })

  it('exits 1 with one sentence on stderr for an unknown option, and reads nothing', async () => {
    // Act
    const { code, stdout, stderr, planned } = await run(['--dry'])

    // Assess
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe('credential-lock-plan: Unknown option --dry: use --json, --all or --help.\n')
    expect(planned).not.toHaveBeenCalled()
  })

  it('exits 1 with one sentence on stderr when the environment names no region', async () => {
    // Prepare: the entry module reads its settings inside the plan, as here.
    const plan = async (all: boolean) => {
      readConfig({})
      return report(all)
    }

    // Act
    const { code, stdout, stderr } = await run(['--json'], plan)

    // Assess
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      'credential-lock-plan: AWS_REGION is not set: set it to the region this controller guards.\n',
    )
  })

  it('exits 1 with one sentence on stderr when AWS refuses the credentials', async () => {
    // Prepare
    const refused = Object.assign(new Error('The security token included in the request is expired'), {
      name: 'ExpiredToken',
    })

    // Act
    const { code, stderr } = await run([], () => Promise.reject(refused))

    // Assess
    expect(code).toBe(1)
    expect(stderr).toBe(
      'credential-lock-plan: AWS refused the credentials (ExpiredToken): refresh them and run the plan again.\n',
    )
  })
})
