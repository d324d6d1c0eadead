/**
 * `npm run bench`: measures, in one run on this machine, what the controller costs: AWS calls per event kind,
 * IAM writes for a burst of launches, policy size per fleet, bundle size and cold init, and the scheduled resync
 * of 2,000 instances on 200 roles. It prints figures and a ✓/✗ against each goal; it never fails on them.
 * Progress goes to stderr; the report to stdout as aligned tables, or with `npm run bench -- --markdown` as the
 * markdown docs/benchmarks.md is refreshed from.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { DeleteRolePolicyCommand } from '@aws-sdk/client-iam'
import { INLINE_POLICY_BUDGET, lockPolicyName, MANAGED_POLICY_BUDGET } from '../policy/lock/index.js'
import { decideFleet, type FleetShape, formatPolicySizes, measurePolicySizes } from './bench-policy.js'
import { formatResync, measureResync } from './bench-resync.js'
import {
  formatFleetChanges,
  formatScaleResync,
  measureFleetChanges,
  measureScaleResync,
} from './bench-scale.js'
import { BenchProgress, renderReport, wantsMarkdown } from './support/bench-output.js'
import { type LockShape, lockShape, summarizeCalls } from './support/controller-report.js'
import { defendersSession, quietControllerOutput, withMoto } from './support/defenders-session.js'
import { sqsBatch, stateChange } from './support/events.js'
import {
  bundleHandler,
  type ColdStart,
  type HandlerBundle,
  measureColdStart,
} from './support/handler-bundle.js'
import { median } from './support/median.js'
import { type ChapterResult, rolePolicies, runChapter, type StoryDeps } from './support/story.js'
import { launchOnRole, setOptIn } from './support/world.js'

const BURST_SIZE = 100
/** The controller's SQS event source batch size in the stack (FIFO queue, so no batching window). */
const SQS_BATCH_SIZE = 10
const COLD_START_RUNS = 5
const GOALS = { bundleBytes: 300 * 1024, preciseInstancesPerRole: 60 } as const

/** Measured on the 2-core machine the project is built on; a faster one takes less. */
const EXPECTED_RUN_TIME =
  'about 8 minutes on 2 idle cores (section 7 builds a second 2,000-instance account), longer on a busy machine'
const progress = new BenchProgress(7)

const mark = (ok: boolean) => (ok ? '✓' : '✗')
const row = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`
const thousands = (value: number) => value.toLocaleString('en-US')

// ---- 1. AWS API calls per event kind -------------------------------------------------------------------

async function callsPerEventKind(endpoint: string): Promise<string> {
  progress.begin('AWS calls per event kind: the Defenders story through the real handler')
  const { deps, chapters, foreignPolicy } = await defendersSession(endpoint, { logLevel: 'SILENT' })
  const results: ChapterResult[] = []
  for (const chapter of chapters) results.push(await runChapter(deps, chapter, foreignPolicy))
  const operations = [...new Set(results.flatMap((result) => Object.keys(result.calls.byOperation)))].sort()
  const summaries = results.map((result) => ({ result, calls: summarizeCalls(result.calls) }))
  // The story has one role, so "one write per role per batch" is at most one write per chapter.
  const withinBudget = ({ result, calls }: (typeof summaries)[number]) =>
    calls.iamWrites <= (result.lockChanged ? 1 : 0)
  return [
    '## 1. AWS API calls per event kind',
    '',
    'The Defenders story (`npm run demo`) against moto: the calls the controller made with its own clients for',
    "each chapter's delivery. Goals: 0 IAM writes when the lock does not change; at most 1 IAM write per role",
    'per batch.',
    '',
    row([
      '#',
      'event kind',
      'lock changed',
      'EC2 reads',
      'IAM reads',
      'IAM writes',
      'EventBridge',
      'total',
      'goal',
    ]),
    row(['---:', ':---', ':---', '---:', '---:', '---:', '---:', '---:', ':---:']),
    ...summaries.map((summary, index) =>
      row([
        index + 1,
        summary.result.eventKind,
        summary.result.lockChanged ? 'yes' : 'no',
        summary.calls.ec2Reads,
        summary.calls.iamReads,
        summary.calls.iamWrites,
        summary.calls.eventBridgeCalls,
        summary.calls.total,
        mark(withinBudget(summary)),
      ]),
    ),
    '',
    'By operation:',
    '',
    row(['#', ...operations.map((operation) => `\`${operation}\``)]),
    row(['---:', ...operations.map(() => '---:')]),
    ...results.map((result, index) =>
      row([index + 1, ...operations.map((operation) => result.calls.byOperation[operation] ?? 0)]),
    ),
  ].join('\n')
}

// ---- 2. IAM writes for a burst of launches -------------------------------------------------------------

interface BurstResult {
  readonly label: string
  readonly invocations: number
  readonly putRolePolicy: number
  readonly maxIamWritesPerInvocation: number
  readonly failedRecords: number
  readonly lock: LockShape | undefined
  /** Policy documents the lock ends in: the inline one and the managed parts beyond it. */
  readonly documents: number
}

/** A fresh moto account whose role has no opted-in instance yet: the Defenders world, Luke and Danny out. */
async function emptyRole(endpoint: string): Promise<StoryDeps> {
  const { deps } = await defendersSession(endpoint, { logLevel: 'SILENT' })
  for (const instance of [deps.world.luke, deps.world.danny]) {
    await setOptIn(deps.ec2, instance.instanceId, false)
  }
  return deps
}

/** Launches `count` opted-in instances on the world's role, one RunInstances each (moto quirk). */
async function launch(deps: StoryDeps, count: number, offset: number): Promise<string[]> {
  const instanceIds: string[] = []
  for (let index = offset; index < offset + count; index += 1) {
    const name = `burst-${index}`
    const instance = await launchOnRole(deps.ec2, deps.world, { subnet: 'public', name, optedIn: true })
    instanceIds.push(instance.instanceId)
  }
  return instanceIds
}

interface DeliveryTally {
  invocations: number
  maxIamWritesPerInvocation: number
  failedRecords: number
}

/** Delivers a `running` event per instance through the real handler, `batchSize` SQS records per call. */
async function deliverRunning(
  deps: StoryDeps,
  instanceIds: readonly string[],
  batchSize: number,
  tally: DeliveryTally,
): Promise<void> {
  const { region, accountId } = deps.world
  const context = { invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:credential-lock` }
  const queue = {
    queueArn: `arn:aws:sqs:${region}:${accountId}:credential-lock.fifo`,
    messageGroupId: 'credential-lock',
  }
  for (let start = 0; start < instanceIds.length; start += batchSize) {
    const events = instanceIds.slice(start, start + batchSize).map((id) => stateChange(id, 'running'))
    const writesBefore = summarizeCalls(deps.calls.snapshot()).iamWrites
    const response = await deps.handler(sqsBatch(events, queue), context)
    const writes = summarizeCalls(deps.calls.snapshot()).iamWrites - writesBefore
    tally.invocations += 1
    tally.maxIamWritesPerInvocation = Math.max(tally.maxIamWritesPerInvocation, writes)
    tally.failedRecords += response?.batchItemFailures.length ?? 0
  }
}

/** Counts what `deliveries` make the controller write, and the lock it leaves. */
async function measureBurst(
  deps: StoryDeps,
  label: string,
  deliveries: (tally: DeliveryTally) => Promise<void>,
): Promise<BurstResult> {
  progress.detail(label)
  deps.calls.reset()
  const tally = { invocations: 0, maxIamWritesPerInvocation: 0, failedRecords: 0 }
  await deliveries(tally)
  const policies = await rolePolicies(deps.iam, deps.world.role.roleName)
  const lock = policies.find((policy) => policy.name === lockPolicyName(deps.world.region))?.document
  const parts = policies.filter((policy) => policy.name.startsWith(`${deps.world.role.roleName}-`))
  return {
    label,
    ...tally,
    putRolePolicy: deps.calls.count('IAM:PutRolePolicy'),
    lock: lockShape(typeof lock === 'string' ? lock : undefined),
    documents: 1 + parts.length,
  }
}

/** The whole fleet launches first, then its events arrive: in SQS batches, then one per invocation. */
async function burstAfterLaunches(endpoint: string): Promise<BurstResult[]> {
  const deps = await emptyRole(endpoint)
  const instanceIds = await launch(deps, BURST_SIZE, 0)
  const batched = await measureBurst(
    deps,
    `all ${BURST_SIZE} launched, then SQS batches of ${SQS_BATCH_SIZE}`,
    (tally) => deliverRunning(deps, instanceIds, SQS_BATCH_SIZE, tally),
  )
  // The lock is the controller's only memory: without it, the same fleet starts over.
  const { roleName } = deps.world.role
  await deps.iam.send(
    new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: lockPolicyName(deps.world.region) }),
  )
  const single = await measureBurst(
    deps,
    `all ${BURST_SIZE} launched, then one event per invocation`,
    (tally) => deliverRunning(deps, instanceIds, 1, tally),
  )
  return [batched, single]
}

/** Events arrive while the fleet is still launching: each batch right after its instances start. */
async function burstDuringLaunches(endpoint: string, batchSize: number): Promise<BurstResult> {
  const deps = await emptyRole(endpoint)
  const how = batchSize === 1 ? 'each event delivered alone' : `each SQS batch of ${batchSize}`
  return measureBurst(deps, `launched ${batchSize} at a time, ${how} right after`, async (tally) => {
    for (let launched = 0; launched < BURST_SIZE; launched += batchSize) {
      await deliverRunning(deps, await launch(deps, batchSize, launched), batchSize, tally)
    }
  })
}

async function burst(endpoint: string): Promise<string> {
  progress.begin(`IAM writes for a burst of ${BURST_SIZE} launches on one role, delivered four ways`)
  const results = [
    ...(await burstAfterLaunches(endpoint)),
    await burstDuringLaunches(endpoint, SQS_BATCH_SIZE),
    await burstDuringLaunches(endpoint, 1),
  ]
  return [
    `## 2. IAM writes for a burst of ${BURST_SIZE} launches on one role`,
    '',
    `${BURST_SIZE} opted-in instances launched on one role in a fresh moto account, one \`running\` event each`,
    'through the real handler. Goal: one write per role per batch while the lock is one inline policy; once it',
    'spills into n managed parts, at most one write per document (a managed part also deletes its old version,',
    'and IAM may refuse one write for size first): 2n + 2.',
    '',
    row([
      'delivery',
      'invocations',
      'PutRolePolicy',
      'documents at the end',
      'max IAM writes in one invocation',
      'failed records',
    ]),
    row([':---', '---:', '---:', '---:', '---:', '---:']),
    ...results.map((result) =>
      row([
        result.label,
        result.invocations,
        result.putRolePolicy,
        result.documents,
        `${result.maxIamWritesPerInvocation} ${mark(result.maxIamWritesPerInvocation <= (result.documents === 1 ? 1 : 2 * (result.documents - 1) + 2))}`,
        result.failedRecords,
      ]),
    ),
    '',
    row(['delivery', 'final form', 'lock chars', 'locked']),
    row([':---', ':---', '---:', '---:']),
    ...results.map((result) =>
      row([
        result.label,
        result.lock?.form ?? 'none',
        thousands(result.lock?.chars ?? 0),
        result.lock?.locked ?? 0,
      ]),
    ),
    '',
    'The controller reads the whole truth on every invocation: once the whole fleet is running, the first',
    'invocation locks every instance and the others write nothing. Events that arrive while the fleet is',
    'still launching cost one write per changed document per invocation, so batching divides them by the batch',
    'size. 100 public instances keep the precise form in the inline policy and managed parts; an instance added',
    'in the middle of the sorted list shifts the parts after it, so those are rewritten too.',
  ].join('\n')
}

// ---- 3. Policy size ------------------------------------------------------------------------------------

function policySizes(): string {
  progress.begin('Policy size per fleet: the lock engine alone, no AWS')
  const report = measurePolicySizes()
  const largest = (shape: FleetShape) => report.largest.find((each) => each.shape === shape)
  const withinBudget = report.rows.every((each) => {
    const decision = decideFleet(each.shape, each.instances)
    if (decision.action !== 'put') return true
    const [inline = 0, ...managed] = decision.chars
    return inline <= INLINE_POLICY_BUDGET && managed.every((chars) => chars <= MANAGED_POLICY_BUDGET)
  })
  return [
    '## 3. Policy size per fleet',
    '',
    'Characters as IAM counts them (whitespace not counted), summed over the inline policy and the managed',
    'policies the controller adds beyond it.',
    '',
    row(['goal', 'measured', 'met']),
    row([':---', '---:', ':---:']),
    row([
      `no document over its budget (${thousands(INLINE_POLICY_BUDGET)} inline, ${thousands(MANAGED_POLICY_BUDGET)} managed)`,
      '',
      mark(withinBudget),
    ]),
    row([
      '≥ 1,000 NAT workers locked on one role',
      largest('NAT workers')?.locked ?? 0,
      mark((largest('NAT workers')?.locked ?? 0) >= 1_000),
    ]),
    row([
      '≥ 60 public instances keep per-instance precision',
      largest('public instances')?.precise ?? 0,
      mark((largest('public instances')?.precise ?? 0) >= 60),
    ]),
    row([
      '≥ 300 public instances stay locked',
      largest('public instances')?.locked ?? 0,
      mark((largest('public instances')?.locked ?? 0) >= 300),
    ]),
    '',
    formatPolicySizes(report),
  ].join('\n')
}

// ---- 4 and 5. Bundle size and cold init ----------------------------------------------------------------

async function bundleAndColdStart(): Promise<string> {
  progress.begin(`Bundle size and cold init: esbuild, then ${COLD_START_RUNS} fresh Node processes`)
  const outdir = mkdtempSync(join(tmpdir(), 'credential-lock-bundle-'))
  try {
    return await measureBundle(await bundleHandler('handlers/controller/reconcile.ts', outdir))
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}

function measureBundle(bundle: HandlerBundle): string {
  const runs = Array.from({ length: COLD_START_RUNS }, () => measureColdStart(bundle))
  const medianOf = (measure: keyof ColdStart) => median(runs.map((run) => run[measure]))
  return [
    '## 4. Bundled handler size',
    '',
    "`handlers/controller/reconcile.ts` bundled by esbuild with the stack's NodejsFunction options (node24, CommonJS,",
    'minified, source map, `@aws-sdk/*` external).',
    '',
    row(['file', 'bytes', `goal < ${thousands(GOALS.bundleBytes)}`]),
    row([':---', '---:', ':---:']),
    row(['index.js', thousands(bundle.bytes), mark(bundle.bytes < GOALS.bundleBytes)]),
    row(['index.js.map', thousands(bundle.sourceMapBytes), '']),
    '',
    '## 5. Cold init',
    '',
    `A fresh \`node\` process requires the bundle (AWS SDK from node_modules, \`--enable-source-maps\` as`,
    `the stack sets it); median of ${COLD_START_RUNS}. This machine's Node, not Lambda's nodejs24.x on arm64.`,
    '',
    row(['measure', 'median ms']),
    row([':---', '---:']),
    row(['process start → module evaluated', medianOf('toEvaluatedMs').toFixed(1)]),
    row(['of which Node itself', medianOf('nodeMs').toFixed(1)]),
    row([`of which the external ${bundle.externalImports.join(', ')}`, medianOf('externalsMs').toFixed(1)]),
    row(['of which the bundle itself', medianOf('bundleMs').toFixed(1)]),
  ].join('\n')
}

// ---- Report --------------------------------------------------------------------------------------------

async function bench(asMarkdown: boolean): Promise<void> {
  const started = performance.now()
  progress.announce('npm run bench', EXPECTED_RUN_TIME)
  quietControllerOutput()
  const [calls, bursts, resync, scale] = await withMoto(async (endpoint) => [
    await callsPerEventKind(endpoint),
    await burst(endpoint),
    [
      '## 6. Scheduled resync of a large account',
      '',
      formatResync(await resyncOfLargeAccount(endpoint)),
    ].join('\n'),
    [
      '## 7. Big accounts, little churn (docs/scale.md)',
      '',
      formatScaleResync(await scaleResync(endpoint)),
      '',
      formatFleetChanges(measureFleetChanges([100, 500, 1_000])),
    ].join('\n'),
  ])
  const sections = [
    calls,
    bursts,
    policySizes(),
    await bundleAndColdStart(),
    resync,
    scale,
    await hostProxy(),
  ]
  progress.end()
  const cpu = cpus()
  const markdown = [
    '# credential-lock benchmarks',
    '',
    `Measured by \`npm run bench\` in one run: Node ${process.version} on ${process.platform}/${process.arch},`,
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; AWS is moto_server on loopback.`,
    '',
    sections.join('\n\n'),
    '',
    `_Run time ${((performance.now() - started) / 1000).toFixed(1)} s._`,
  ].join('\n')
  console.log(renderReport(markdown, asMarkdown))
}

function scaleResync(endpoint: string) {
  progress.begin('IAM calls per resync before and after the bulk read, 2,000 instances on 200 roles in moto')
  return measureScaleResync(endpoint, 200, 10, 50)
}

/** The metadata proxy's own bench (its bundle, a moto_server and an IMDS stand-in of its own), as section 8. */
async function hostProxy(): Promise<string> {
  progress.begin('Metadata proxy on the host: bundle, start-up, latency per request, memory')
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./bench-host-proxy.ts', import.meta.url))],
    { maxBuffer: 16 * 1024 * 1024 },
  )
  return stdout.trim().replace(/^## /, '## 8. ')
}

function resyncOfLargeAccount(endpoint: string) {
  progress.begin('Scheduled resync of 2,000 instances on 200 roles in moto')
  return measureResync(endpoint, 200, 10)
}

Promise.resolve()
  .then(() => bench(wantsMarkdown(process.argv.slice(2))))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exitCode = 1
  })
