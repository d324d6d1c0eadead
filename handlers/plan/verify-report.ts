import { VERIFY_PERMISSIONS, type VerifyReport } from './verify.js'
import { OUTSIDE_ADDRESS, PROBE_ACTION } from './verify-cases.js'

/** The option, read apart from the plan's own so that the plan's options stay as they were. */
export const VERIFY_OPTION = '--verify'
export const VERIFY_USAGE = `  --verify ask IAM's policy simulator whether the locks already written refuse and allow what they
           intend; exits 2 if any verdict is not (docs/verify.md)`

/** Whether every verdict is what the lock intends; "cannot judge" rows are reported, not failed. */
export function verifyPassed(report: VerifyReport): boolean {
  return report.rows.every((row) => row.judgement !== 'NOT AS INTENDED')
}

/** Exit code 2 when a verdict is not what the lock intends: set apart from 1, the command failing. */
export function printVerifyReport(
  report: VerifyReport,
  json: boolean,
  stdout: (text: string) => void,
): number {
  stdout(json ? renderVerifyJson(report) : renderVerifyText(report))
  return verifyPassed(report) ? 0 : 2
}

export function renderVerifyJson(report: VerifyReport): string {
  return `${JSON.stringify({ ...report, passed: verifyPassed(report) }, null, 2)}\n`
}

/** The verdicts as a table, with what the simulator was asked and where it cannot judge. */
export function renderVerifyText(report: VerifyReport): string {
  const lines = [
    `IAM policy simulator verdicts on the locks in account ${report.accountId}, ${report.region}`,
    `(${PROBE_ACTION} with a neutral allow added, so only deny statements decide; outside address ${OUTSIDE_ADDRESS})`,
    '',
  ]
  if (report.rows.length === 0) {
    lines.push(
      report.lockedRoles === 0
        ? 'No role carries a lock the controller wrote: nothing to verify.'
        : 'The locked roles name no instance EC2 still describes and no tombstone: nothing to verify.',
    )
  } else {
    const header = ['role', 'instance', 'path', 'from', 'lock intends', 'IAM says', 'verdict']
    const table = [
      header,
      ...report.rows.map((row) => [
        row.roleName,
        row.instanceId,
        row.path,
        row.from,
        row.expected,
        row.decision,
        row.note === undefined ? row.judgement : `${row.judgement}: ${row.note}`,
      ]),
    ]
    const widths = header.map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? '').length)))
    for (const cells of table) {
      lines.push(
        cells
          .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
          .join('  '),
      )
    }
  }
  const count = (judgement: string) => report.rows.filter((row) => row.judgement === judgement).length
  lines.push(
    '',
    `${count('as intended')} as intended, ${count('NOT AS INTENDED')} not as intended, ${count('cannot judge')} the simulator cannot judge.`,
    'The simulator evaluates identity policies with the context given; it is not IAM enforcing a real call.',
    'The canary (-c canary=true) measures the real thing.',
    `Permissions used: ${VERIFY_PERMISSIONS.join(', ')}.`,
    '',
  )
  return lines.join('\n')
}
