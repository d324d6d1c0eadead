/**
 * The controller's Lambda bundle, built the way the CDK stack builds it, and how long a fresh Node process
 * takes to load it.
 */
import { spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BuildOptions, build } from 'esbuild'

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * The esbuild options `handlerFunction` in infra/lambda-defaults.ts gives NodejsFunction, checked against it:
 * runtime nodejs24.x (so target node24), platform node, minify, and no format (NodejsFunction's default,
 * CommonJS). `entry` is relative to the repository root.
 */
export function lambdaBuildOptions(entry: string, outfile: string) {
  return {
    entryPoints: [join(REPOSITORY_ROOT, entry)],
    absWorkingDir: REPOSITORY_ROOT,
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: true,
    logLevel: 'error',
  } satisfies BuildOptions
}

export interface HandlerBundle {
  readonly file: string
  readonly bytes: number
  readonly sourceMapBytes: number
  /** Packages the bundle leaves to the runtime (the AWS SDK clients). */
  readonly externalImports: readonly string[]
}

/** Bundles `entry` into `outdir` as the stack does: {@link lambdaBuildOptions}, a source map, the SDK external. */
export async function bundleHandler(entry: string, outdir: string): Promise<HandlerBundle> {
  const file = join(outdir, 'index.js')
  const { metafile } = await build({
    ...lambdaBuildOptions(entry, file),
    sourcemap: true,
    external: ['@aws-sdk/*'],
    metafile: true,
  })
  const externalImports = Object.values(metafile.outputs).flatMap((output) =>
    output.imports.flatMap((imported) => (imported.external ? [imported.path] : [])),
  )
  return {
    file,
    bytes: statSync(file).size,
    sourceMapBytes: statSync(`${file}.map`).size,
    externalImports: [...new Set(externalImports)].filter((path) => !path.startsWith('node:')).sort(),
  }
}

export interface ColdStart {
  /** From the process's start (performance.timeOrigin) to the bundle's module evaluated. */
  readonly toEvaluatedMs: number
  /** Node's own start, before any of the handler's code. */
  readonly nodeMs: number
  /** Loading the packages the bundle leaves external (the runtime's AWS SDK). */
  readonly externalsMs: number
  /** Evaluating the bundle itself once its externals are loaded. */
  readonly bundleMs: number
}

/**
 * Loads the bundle in a fresh Node process, as Lambda's init phase does: with the AWS SDK resolvable from
 * this repository's node_modules (Lambda's runtime provides it), the only setting the handler requires, and
 * the NODE_OPTIONS the stack sets (source maps are read when the module loads, so they cost init time).
 */
export function measureColdStart(bundle: HandlerBundle): ColdStart {
  // Requiring the externals first only splits the time: the bundle then finds them in the module cache.
  const probe = [
    'const start = performance.now()',
    `for (const name of ${JSON.stringify(bundle.externalImports)}) require(name)`,
    'const externalsLoaded = performance.now()',
    `require(${JSON.stringify(bundle.file)})`,
    'const end = performance.now()',
    'const times = { toEvaluatedMs: end, nodeMs: start, externalsMs: externalsLoaded - start }',
    'process.stdout.write(JSON.stringify({ ...times, bundleMs: end - externalsLoaded }))',
  ].join('\n')
  const child = spawnSync(process.execPath, ['-e', probe], {
    cwd: tmpdir(),
    env: {
      ...process.env,
      AWS_REGION: 'us-east-1',
      NODE_OPTIONS: '--enable-source-maps',
      NODE_PATH: join(REPOSITORY_ROOT, 'node_modules'),
    },
    encoding: 'utf8',
  })
  if (child.status !== 0) throw new Error(`Loading the bundle failed: ${child.stderr}`)
  return JSON.parse(child.stdout) as ColdStart
}
