/**
 * What `npm run demo` and `npm run bench` share: a moto_server that is stopped however the script ends, and
 * the Defenders world with the real controller, ready to play `defendersStory`.
 */
import { constants } from 'node:os'
import { controllerUnderTest } from './controller-under-test.js'
import { type MotoServer, startMoto, stopMoto } from './moto.js'
import { type Chapter, defendersStory, foreignPolicyDocument, type StoryDeps } from './story.js'
import { buildDefendersWorld } from './world.js'

export interface DefendersSession {
  readonly deps: StoryDeps
  readonly chapters: readonly Chapter[]
  /** The role's own inline policy as the world wrote it, to prove the controller never touches it. */
  readonly foreignPolicy: string
}

/**
 * Keeps the controller's side output out of a report meant for people: Powertools' EMF metric lines and the
 * SDK's Node-version warning (vitest.config.ts does the same for tests). Call before creating a controller.
 */
export function quietControllerOutput(): void {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true'
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
}

/**
 * Runs `work` against a fresh moto_server and stops it afterwards: on success, on error, and on Ctrl-C or
 * SIGTERM, then exiting with the signal's conventional code since the work cannot go on without moto.
 */
export async function withMoto<Result>(work: (endpoint: string) => Promise<Result>): Promise<Result> {
  let server: MotoServer | undefined
  let signalled: NodeJS.Signals | undefined
  const exitOnSignal = (signal: NodeJS.Signals) => process.exit(128 + constants.signals[signal])
  const onSignal = (signal: NodeJS.Signals) => {
    signalled = signal
    // While moto is starting there is no server to stop yet: the code after startMoto stops it.
    if (server !== undefined) void stopMoto(server).finally(() => exitOnSignal(signal))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    server = await startMoto()
    if (signalled !== undefined) throw new Error(`${signalled} while moto_server was starting`)
    return await work(server.endpoint)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (server !== undefined) await stopMoto(server)
    if (signalled !== undefined) exitOnSignal(signalled)
  }
}

/** The Defenders world in a moto account of its own, with the real controller wired to play its story. */
export async function defendersSession(
  endpoint: string,
  options: { readonly logLevel: 'SILENT' | 'INFO' },
): Promise<DefendersSession> {
  const controller = controllerUnderTest(endpoint, options)
  const world = await buildDefendersWorld(controller)
  const deps = { ...controller, world }
  return {
    deps,
    chapters: defendersStory(deps),
    foreignPolicy: await foreignPolicyDocument(controller.iam, world),
  }
}
