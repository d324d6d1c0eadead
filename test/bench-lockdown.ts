/**
 * `npm run bench:lockdown`: what the in-function lockdown adds to a Lambda function, measured on this machine:
 * its bundle size, its cold-start cost and its session policy's size. It prints figures; it never fails on them.
 * Progress goes to stderr; the report to stdout as aligned tables, or with `npm run bench:lockdown -- --markdown`
 * as the markdown docs/lambda-functions.md is refreshed from.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SESSION_POLICY_LIMIT, type SourceVpcs, sessionLockPolicy } from '../policy/session-lock.js'
import { startAddressStandIn } from './support/address-stand-in.js'
import { BenchProgress, renderReport, wantsMarkdown } from './support/bench-output.js'
import { bundleLockdown, type ColdStartProbe, probeColdStart } from './support/lockdown-probe.js'
import { median } from './support/median.js'
import { startMoto, stopMoto } from './support/moto.js'

const RUNS = 5
const row = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`
const thousands = (value: number) => value.toLocaleString('en-US')
const ms = (value: number) => value.toFixed(2)

async function main(asMarkdown: boolean): Promise<void> {
  const progress = new BenchProgress(3)
  progress.announce('npm run bench:lockdown', 'about 30 seconds on 2 cores')
  const outdir = mkdtempSync(join(tmpdir(), 'lockdown-bench-'))
  const moto = await startMoto()
  const standIn = await startAddressStandIn('198.51.100.23')
  try {
    const lines = [
      `Node ${process.version} on ${process.platform}/${process.arch}; AWS is moto_server on loopback.`,
      '',
    ]
    lines.push(
      '### Bundle',
      '',
      row(['bundle (esbuild, node24, CommonJS, minified)', 'bytes']),
      row(['---', '--:']),
    )
    progress.begin('Bundle the lockdown twice: AWS SDK external, then bundled')
    const bundles = []
    for (const sdk of ['external', 'bundled'] as const) {
      const bundle = await bundleLockdown(outdir, sdk)
      bundles.push({ sdk, bundle })
      lines.push(row([`\`@aws-sdk/*\` ${sdk}`, thousands(bundle.bytes)]))
    }
    lines.push(
      '',
      `### Cold start (median of ${RUNS} fresh processes)`,
      '',
      row(['bundle', 'load module ms', 'first invocation: look-up + AssumeRole ms', 'warm invocation ms']),
      row(['---', '--:', '--:', '--:']),
    )
    progress.begin(`Cold start: ${RUNS} fresh processes per bundle against moto`)
    for (const { sdk, bundle } of bundles) {
      progress.detail(`@aws-sdk/* ${sdk}`)
      const probes: ColdStartProbe[] = []
      for (let run = 0; run < RUNS; run += 1) {
        probes.push(
          await probeColdStart(bundle, {
            motoEndpoint: moto.endpoint,
            addressUrl: standIn.url,
            roleArn: 'arn:aws:iam::123456789012:role/orders-fn',
            functionName: 'orders',
          }),
        )
      }
      lines.push(
        row([
          `\`@aws-sdk/*\` ${sdk}`,
          ms(median(probes.map((probe) => probe.loadMs))),
          ms(median(probes.map((probe) => probe.firstLockMs))),
          ms(median(probes.map((probe) => probe.warmLockMs))),
        ]),
      )
    }
    progress.begin('Session policy size: the policy engine alone')
    lines.push(
      '',
      '### Session policy size',
      '',
      row(['source VPCs', 'characters', `limit ${SESSION_POLICY_LIMIT}`]),
    )
    lines.push(row(['---', '--:', ':-:']))
    const cases: [string, SourceVpcs][] = [
      ['none (function outside a VPC)', []],
      ['one VPC', ['vpc-0a1a2a3a4a5a6a7a8']],
      ['any (the default without the CDK helper)', 'any'],
    ]
    for (const [label, sourceVpcs] of cases) {
      const chars = sessionLockPolicy({
        roleArn: 'arn:aws:iam::123456789012:role/orders-fn',
        address: '198.51.100.23',
        sourceVpcs,
      }).length
      lines.push(row([label, thousands(chars), chars <= SESSION_POLICY_LIMIT ? '✓' : '✗']))
    }
    progress.end()
    process.stdout.write(`${renderReport(lines.join('\n'), asMarkdown)}\n`)
  } finally {
    await standIn.close()
    await stopMoto(moto)
    rmSync(outdir, { recursive: true, force: true })
  }
}

await main(wantsMarkdown(process.argv.slice(2)))
