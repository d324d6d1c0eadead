/**
 * `npx tsx test/bench-host-proxy.ts`: what the metadata proxy costs on a host, measured on this machine and
 * printed as markdown: its bundle size, the time from start to the first served credentials, the latency it
 * adds per IMDS request on loopback (p50/p99), and its memory. It prints figures; it never fails on them.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { gzipSync } from 'node:zlib'
import { bundleProxy, PROXY_BUNDLE } from '../infra/host-proxy.js'
import { startAddressStandIn } from './support/address-stand-in.js'
import { startImdsStandIn } from './support/imds-stand-in.js'
import { median } from './support/median.js'
import { startMoto, stopMoto } from './support/moto.js'

const STARTS = 5
const REQUESTS = 1_000
const WARM_UP = 200
const NOT_MEASURED = { p50: Number.NaN, p99: Number.NaN }
const CREDENTIALS_PATH = '/latest/meta-data/iam/security-credentials/app-role'
const row = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`
const thousands = (value: number) => value.toLocaleString('en-US')
const ms = (value: number) => value.toFixed(2)

interface Percentiles {
  readonly p50: number
  readonly p99: number
}

interface Scene {
  readonly imdsUrl: string
  readonly addressUrl: string
  readonly motoEndpoint: string
  readonly bundle: string
}

async function main(): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), 'host-proxy-bench-'))
  const moto = await startMoto()
  const imds = await startImdsStandIn()
  const address = await startAddressStandIn('198.51.100.23')
  try {
    bundleProxy(outdir)
    const bundle = join(outdir, PROXY_BUNDLE)
    const scene = { imdsUrl: imds.url, addressUrl: address.url, motoEndpoint: moto.endpoint, bundle }
    const bytes = statSync(bundle).size
    const gzipped = gzipSync(readFileSync(bundle)).length
    const lines = [
      '## Metadata proxy on the host',
      '',
      `Node ${process.version} on ${process.platform}/${process.arch}; IMDS is the local stand-in, STS is moto_server,`,
      'all on loopback.',
      '',
      row(['bundle (esbuild, node18, CommonJS, minified, AWS SDK inside)', 'bytes']),
      row(['---', '--:']),
      row(['on disk', thousands(bytes)]),
      row(['gzipped', thousands(gzipped)]),
      '',
    ]
    const startups: number[] = []
    for (let run = 0; run < STARTS; run += 1) {
      const proxy = await startBundle(scene)
      startups.push(proxy.startupMs)
      await stop(proxy.child)
    }
    lines.push(
      `Start-up to the first served credentials (process spawn, IMDS reads, look-up, AssumeRole on moto): median of ${STARTS} **${ms(median(startups))} ms**.`,
      '',
    )

    const proxy = await startBundle(scene)
    const token = await (
      await fetch(`${imds.url}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '600' },
      })
    ).text()
    const headers = { 'x-aws-ec2-metadata-token': token }
    const [direct = NOT_MEASURED, passThrough = NOT_MEASURED, credentials = NOT_MEASURED] =
      await interleavedLatencies(
        [
          `${imds.url}/latest/meta-data/instance-id`,
          `${proxy.url}/latest/meta-data/instance-id`,
          `${proxy.url}${CREDENTIALS_PATH}`,
        ],
        headers,
      )
    const rssKiB = residentKiB(proxy.child.pid ?? 0)
    await stop(proxy.child)
    lines.push(
      `Latency per request over ${thousands(REQUESTS)} rounds, the three requests of a round in turn (keep-alive):`,
      '',
      row(['request', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms']),
      row(['---', '--:', '--:', '--:', '--:']),
      row(['IMDS stand-in directly (`meta-data/instance-id`)', ms(direct.p50), ms(direct.p99), '—', '—']),
      latencyRow('through the proxy (pass-through)', passThrough, direct),
      latencyRow('through the proxy (locked credentials)', credentials, direct),
      '',
      `Memory: resident set of the proxy after the ${thousands(3 * (REQUESTS + WARM_UP))} requests **${thousands(Math.round(rssKiB / 1024))} MiB**.`,
    )
    console.log(lines.join('\n'))
  } finally {
    await imds.close()
    await address.close()
    await stopMoto(moto)
    rmSync(outdir, { recursive: true, force: true })
  }
}

/** Spawns the bundle as systemd would, and times it until it has served one credentials document. */
async function startBundle(scene: Scene): Promise<{ child: ChildProcess; url: string; startupMs: number }> {
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [scene.bundle, '--listen', '127.0.0.1:0', '--imds', scene.imdsUrl, '--address-url', scene.addressUrl],
    {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: scene.motoEndpoint,
        AWS_REGION: 'eu-west-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let url = ''
  for await (const text of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const line = JSON.parse(text) as { message?: string; url?: string }
    if (line.message === 'Metadata proxy listening') {
      url = String(line.url)
      break
    }
  }
  const token = await (
    await fetch(`${url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
    })
  ).text()
  const document = (await (
    await fetch(`${url}${CREDENTIALS_PATH}`, { headers: { 'x-aws-ec2-metadata-token': token } })
  ).json()) as { AccessKeyId?: string }
  if (!document.AccessKeyId?.startsWith('ASIA')) throw new Error('The proxy served no credentials.')
  return { child, url, startupMs: performance.now() - started }
}

/**
 * Each round asks every URL once, in turn: load from the other agents on this machine hits all of them alike,
 * so the differences are the proxy's.
 */
async function interleavedLatencies(
  urls: readonly string[],
  headers: Record<string, string>,
): Promise<Percentiles[]> {
  const times = urls.map((): number[] => [])
  for (let round = 0; round < WARM_UP + REQUESTS; round += 1) {
    for (const [index, url] of urls.entries()) {
      const started = performance.now()
      await (await fetch(url, { headers })).arrayBuffer()
      // Warm-up rounds first: connection set-up and the first JIT passes are not what a long-running host sees.
      if (round >= WARM_UP) times[index]?.push(performance.now() - started)
    }
  }
  return times.map((each) => {
    each.sort((x, y) => x - y)
    const at = (share: number) => each[Math.min(each.length - 1, Math.floor(share * each.length))] ?? 0
    return { p50: at(0.5), p99: at(0.99) }
  })
}

/** One latency row, and what it adds to the direct request. */
function latencyRow(label: string, measured: Percentiles, direct: Percentiles): string {
  const { p50, p99 } = measured
  return row([label, ms(p50), ms(p99), ms(p50 - direct.p50), ms(p99 - direct.p99)])
}

function residentKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? 0)
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
