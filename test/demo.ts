/**
 * `npm run demo`: a newcomer's first ten minutes. Plays the Defenders story (test/support/story.ts) against a
 * local moto_server with the real Lambda handler and prints, chapter by chapter, who can use whose
 * credentials from where. Exits non-zero if any verdict is not the expected one, any record failed, or the
 * role's own inline policy was touched. `DEMO_VERBOSE=1` also shows the controller's logs, error stacks and the
 * final lock document in full.
 */
import { performance } from 'node:perf_hooks'
import { styleText } from 'node:util'
import { lockPolicyName } from '../policy/lock/index.js'
import { describeLock, lockShape, summarizeCalls } from './support/controller-report.js'
import { defendersSession, quietControllerOutput, withMoto } from './support/defenders-session.js'
import type { Verdict } from './support/simulate.js'
import { type Chapter, type ChapterResult, runChapter, THIEF_IP } from './support/story.js'
import { DEFENDERS, DEFENDERS_APP_POLICY } from './support/world.js'

const verbose = process.env.DEMO_VERBOSE === '1'
// https://no-color.org: any non-empty NO_COLOR turns colors off.
const colored = process.stdout.isTTY === true && !process.env.NO_COLOR

const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  Allowed: 'ALLOWED',
  ExplicitlyDenied: 'DENIED',
  ImplicitlyDenied: 'DENIED (no policy allows it)',
}

const INTRO = `credential-lock demo

EC2 instance-role credentials, once stolen, work from anywhere for hours. credential-lock's controller writes
a deny policy on each opted-in instance's role so that they work only from where the instance really is.
This demo builds a small AWS account in a local moto emulator: role "${DEFENDERS}" used by Luke and Danny
(opted in; Danny behind a NAT gateway) and Matt (not opted in), and near the end a Lambda function,
Reporter, tagged, behind the same NAT gateway. It plays each chapter's real events through
the real Lambda handler, then asks an independent IAM policy evaluator (@cloud-copilot/iam-simulate, not
AWS's simulator) who may read a report the role is allowed to read, with whose credentials, from where.
Jessica is the thief, at ${THIEF_IP}.
moto hands out public addresses from 127.0.0.0/8 (e.g. an Elastic IP such as 127.107.73.163): in this demo
they stand for public IPs; on AWS they are real public ones.`

type Style = Parameters<typeof styleText>[0]

function paint(style: Style, text: string): string {
  return colored ? styleText(style, text) : text
}

function mark(ok: boolean): string {
  return ok ? paint('green', '✓') : paint('red', '✗')
}

function printChapter(step: string, chapter: Chapter, result: ChapterResult): void {
  console.log(`\n${paint('bold', `${step} ${chapter.title}`)}`)
  console.log(`      ${paint('italic', chapter.explanation)}`)
  for (const { who, from, expected, actual, harmlessBecause } of result.results) {
    const words =
      actual === 'Allowed' && harmlessBecause !== undefined
        ? `${VERDICT_WORDS[actual]} by the policies, but harmless: ${harmlessBecause}`
        : VERDICT_WORDS[actual]
    const verdict = paint(actual === 'Allowed' ? 'yellow' : 'cyan', words)
    const unexpected = actual === expected ? '' : paint('red', ` (expected ${VERDICT_WORDS[expected]})`)
    console.log(`  ${mark(actual === expected)} ${who} from ${from} → ${verdict}${unexpected}`)
  }
  if (result.failedRecords > 0) console.log(`  ${mark(false)} ${result.failedRecords} record(s) failed`)
  if (!result.foreignPolicyUntouched) {
    console.log(`  ${mark(false)} the role's own policy ${DEFENDERS_APP_POLICY} was changed`)
  }
  console.log(paint('dim', `      controller: ${describeCalls(result)}; lock: ${lockLine(result)}`))
}

function describeCalls(result: ChapterResult): string {
  if (result.calls.total === 0) return 'not invoked'
  const { iamWrites, iamWriteOperations } = summarizeCalls(result.calls)
  const written =
    iamWrites === 0
      ? 'no IAM write'
      : `IAM write${iamWrites > 1 ? 's' : ''}: ${iamWriteOperations.join(', ')}`
  return `${written}, ${result.calls.reads} reads, ${result.calls.total} AWS calls in all`
}

function lockLine(result: ChapterResult): string {
  return `${describeLock(lockShape(result.lockDocument))}${result.lockChanged ? ' (changed)' : ''}`
}

function printEnd(results: readonly ChapterResult[], region: string): boolean {
  const verdicts = results.flatMap((result) => result.results)
  const unexpected = verdicts.filter(({ expected, actual }) => expected !== actual).length
  const failedRecords = results.reduce((sum, result) => sum + result.failedRecords, 0)
  const touched = results.filter((result) => !result.foreignPolicyUntouched).length
  const finalLock = results.at(-1)?.lockDocument
  console.log(
    `\nThe lock the controller left on role "${DEFENDERS}" (inline policy ${lockPolicyName(region)}): ` +
      describeLock(lockShape(finalLock)),
  )
  if (finalLock !== undefined) {
    console.log(
      verbose
        ? JSON.stringify(JSON.parse(finalLock), null, 2)
        : paint('dim', 'DEMO_VERBOSE=1 npm run demo prints the whole document.'),
    )
  }
  const problems = [
    unexpected > 0 ? `${unexpected} not as expected` : '',
    failedRecords > 0 ? `${failedRecords} failed record(s)` : '',
    touched > 0 ? `the role's own policy changed in ${touched} chapter(s)` : '',
  ].filter((problem) => problem !== '')
  const ok = problems.length === 0
  const outcome = ok ? 'all as expected' : problems.join(', ')
  console.log(`\n${mark(ok)} ${results.length} chapters, ${verdicts.length} verdicts, ${outcome}`)
  // performance.now() counts from this process's start: module loading and moto's start-up included.
  console.log(paint('dim', `Finished in ${(performance.now() / 1000).toFixed(1)} s.`))
  return ok
}

async function demo(): Promise<boolean> {
  quietControllerOutput()
  return withMoto(async (endpoint) => {
    const [heading, ...paragraph] = INTRO.split('\n')
    console.log(`${paint('bold', heading ?? '')}\n${paragraph.join('\n')}`)
    const { deps, chapters, foreignPolicy } = await defendersSession(endpoint, {
      logLevel: verbose ? 'INFO' : 'SILENT',
    })
    const results: ChapterResult[] = []
    for (const [index, chapter] of chapters.entries()) {
      const result = await runChapter(deps, chapter, foreignPolicy)
      printChapter(`[${index + 1}/${chapters.length}]`, chapter, result)
      results.push(result)
    }
    return printEnd(results, deps.world.region)
  })
}

demo().then(
  (ok) => {
    process.exitCode = ok ? 0 : 1
  },
  (error: unknown) => {
    const message = error instanceof Error ? (verbose ? error.stack : error.message) : String(error)
    console.error(paint('red', message ?? String(error)))
    process.exitCode = 1
  },
)
