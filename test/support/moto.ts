import { type ChildProcess, spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const LOOPBACK = '127.0.0.1'
const READY_TIMEOUT_MS = 20_000
const READY_POLL_MS = 100
const STOP_GRACE_MS = 5_000
const MOTO_ACCOUNT_HEADER = 'x-moto-account-id'
export const MOTO_INSTALL_HINT = "moto_server is not on PATH: install it with pip install 'moto[server]'."

/** A moto_server this process started; pass it to {@link stopMoto}. */
export interface MotoServer {
  readonly endpoint: string
  readonly process: ChildProcess
}

/** Starts moto_server on a free loopback port and resolves once it answers HTTP. */
export async function startMoto(): Promise<MotoServer> {
  const port = await freeLoopbackPort()
  const endpoint = `http://${LOOPBACK}:${port}`
  const child = spawn('moto_server', ['-H', LOOPBACK, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Without it moto knows no AWS managed policy, and attaching e.g. AmazonEC2ReadOnlyAccess fails.
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' },
  })
  // moto logs every request on stderr; keep only the tail for a useful startup error.
  let stderrTail = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-2_000)
  })
  const failedToStart = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new Error(MOTO_INSTALL_HINT) : error)
    })
    child.once('exit', (code, signal) => {
      reject(
        new Error(`moto_server exited before it was ready (code ${code}, signal ${signal}): ${stderrTail}`),
      )
    })
  })
  // A failed start must also end the polling, or its timers keep the process alive until the deadline.
  const stopPolling = new AbortController()
  try {
    await Promise.race([failedToStart, waitUntilAnswering(endpoint, stopPolling.signal)])
  } catch (error) {
    stopPolling.abort()
    child.kill('SIGKILL')
    throw error
  }
  failedToStart.catch(() => {
    // After startup an exit is reported by the tests' own failing calls, not here.
  })
  return { endpoint, process: child }
}

/** Whether a `moto_server` executable is on PATH, asked before anything would spawn it. */
export function motoServerOnPath(path = process.env.PATH ?? ''): boolean {
  return path
    .split(delimiter)
    .filter((directory) => directory !== '')
    .some((directory) => {
      try {
        accessSync(join(directory, 'moto_server'), constants.X_OK)
        return true
      } catch {
        return false
      }
    })
}

/** Stops a server started by {@link startMoto}, forcefully if it ignores SIGTERM. */
export async function stopMoto(server: MotoServer): Promise<void> {
  const { process: child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}

/**
 * Sends every call of that client into its own moto account, so test files sharing one server stay apart
 * without resetting it under each other's feet. Returns the account id (12 random digits unless given).
 */
export function useMotoAccount(
  client: { readonly middlewareStack: { add: AddBuildMiddleware } },
  accountId = String(randomInt(100_000_000_000, 1_000_000_000_000)),
): string {
  client.middlewareStack.add(motoAccountMiddleware(accountId), {
    step: 'build',
    name: `motoAccount-${accountId}`,
  })
  return accountId
}

function motoAccountMiddleware(accountId: string) {
  return <Args, Output>(next: (args: Args) => Promise<Output>) =>
    (args: Args): Promise<Output> => {
      const { request } = args as { request?: { headers?: Record<string, string> } }
      if (request?.headers) request.headers[MOTO_ACCOUNT_HEADER] = accountId
      return next(args)
    }
}

type AddBuildMiddleware = (
  middleware: ReturnType<typeof motoAccountMiddleware>,
  options: { step: 'build'; name: string },
) => void

/** Forgets every resource in every service and account of that moto server. */
export async function resetMoto(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' })
  if (!response.ok) throw new Error(`moto reset failed with HTTP ${response.status}`)
}

/** A loopback port nothing listens on now: bound, read and closed again. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer()
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new Error('Could not read a free loopback port')
  return address.port
}

async function waitUntilAnswering(endpoint: string, stopped: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline && !stopped.aborted) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: stopped })
      if (response.ok) return
    } catch {
      // Connection refused until the server binds its port.
    }
    await sleep(READY_POLL_MS, undefined, { signal: stopped }).catch(() => undefined)
  }
  throw new Error(`moto_server did not answer at ${endpoint} within ${READY_TIMEOUT_MS / 1000} s`)
}
