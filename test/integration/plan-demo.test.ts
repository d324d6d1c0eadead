import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const PLAN_DEMO = new URL('../plan-demo.ts', import.meta.url).pathname

/** `npm run plan:demo` as a newcomer runs it: its own moto_server, the real plan command, exit code. */
function planDemo() {
  return run(process.execPath, ['--import', 'tsx', PLAN_DEMO], {
    env: { ...process.env, AWS_ENDPOINT_URL: undefined, NO_COLOR: '1' },
  })
}

describe('npm run plan:demo', () => {
  it("exits 0 with the plan's report on the world it built: each case named with its reason", async () => {
    // Act
    const { stdout, stderr } = await planDemo()

    // Assess
    expect(stderr).toContain('moto hands out public addresses from 127.0.0.0/8')
    expect(stdout).toMatch(
      /^credential-lock plan for account 123456789012 in us-east-1, opt-in tag credential-lock=enabled$/m,
    )
    expect(stdout).toMatch(/^defenders: would write the precise lock, /m)
    expect(stdout).toMatch(
      /^ {2}locked {7}i-\w+ {2}from 127\.\d+\.\d+\.\d+\/32; through VPC endpoints from 10\.0\.2\.\d+\/32$/m,
    )
    expect(stdout).toMatch(
      /^ {2}unprotected {2}i-\w+ {2}its route 0\.0\.0\.0\/0 to transit gateway tgw-\w+ leads where/m,
    )
    expect(stdout).toMatch(/^ {2}unprotected {2}i-\w+ {2}not opted in$/m)
    expect(stdout).toMatch(
      /^ {2}unprotected {2}i-\w+ {2}not opted in: tag credential-lock=Enabled; the lock tag value is "enabled"$/m,
    )
    expect(stdout).toMatch(
      /^ {2}risk {9}EKS cluster avengers uses this role for its nodes and has a public endpoint/m,
    )
    expect(stdout).toMatch(/^warehouse: no lock, none fits$/m)
    expect(stdout).toMatch(
      /^ {2}risk {9}No lock fits beside the role's own policies, so i-\w+ stays unlocked\.$/m,
    )
    expect(stdout).toMatch(/^1 role to change, 2 instances locked, 4 unprotected, 5 risks\.$/m)
  }, 120_000)
})
