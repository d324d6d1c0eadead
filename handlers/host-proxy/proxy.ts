/**
 * The metadata proxy put together from injected parts: the instance role's keeper, one keeper per container
 * role, both servers on one listener, and the renewal timer. handlers/host-proxy/metadata-proxy.ts builds the
 * real parts; tests build theirs.
 */
import { once } from 'node:events'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { assumeLocked, type FailureMode, type StsCalls } from '../session/locked-session.js'
import type { JsonLog } from '../session/log-lines.js'
import { containerHandler } from './container-server.js'
import { CredentialKeeper } from './credential-keeper.js'
import { type BootFacts, readHostFacts, readHostIdentity } from './host-facts.js'
import type { ImdsRequest, ImdsResponse } from './imds-client.js'
import { imdsHandler } from './imds-server.js'
import { CONTAINER_PATH, type ListenAddress } from './proxy-config.js'

export interface ProxyDeps {
  readonly imds: {
    forward(request: ImdsRequest): Promise<ImdsResponse>
    metadata(path: string): Promise<string | undefined>
  }
  /** STS signing with the instance role's raw credentials: the locked ones may not assume the role. */
  readonly sts: StsCalls
  readonly lookUpAddress: () => Promise<string>
  readonly readBootFacts: (() => Promise<BootFacts>) | undefined
  /** The instance role's ARN when it has a path; undefined to build it from IMDS. */
  readonly roleArn: string | undefined
  readonly failureMode: FailureMode
  readonly containerRoles: ReadonlyMap<string, string>
  readonly log: JsonLog
  readonly countFailure: (failureMode: FailureMode) => void
  readonly now: () => Date
  readonly retryAfterMs: number
  /** How often the timer renews what is due. */
  readonly renewEveryMs: number
}

export interface RunningProxy {
  /** `http://host:port` of the first listen address. */
  readonly url: string
  readonly urls: readonly string[]
  readonly instanceKeeper: CredentialKeeper
  close(): Promise<void>
}

export async function startProxy(deps: ProxyDeps, listen: readonly ListenAddress[]): Promise<RunningProxy> {
  const { instanceId, roleArn } = await readHostIdentity(deps.imds, deps.roleArn)
  const keeper = (lockedRoleArn: string, failureMode: FailureMode) =>
    new CredentialKeeper({
      lock: async () =>
        assumeLocked(deps.sts, {
          facts: await readHostFacts(deps, lockedRoleArn),
          sessionName: instanceId,
        }),
      what: `role ${lockedRoleArn}`,
      failureMode,
      retryAfterMs: deps.retryAfterMs,
      log: deps.log,
      countFailure: deps.countFailure,
      now: deps.now,
    })
  const instanceKeeper = keeper(roleArn, deps.failureMode)
  // A container's role was never assumed without the lock, so there is nothing unlocked to fail open to.
  const containerKeepers = new Map(
    [...new Set(deps.containerRoles.values())].map((role) => [role, keeper(role, 'closed')]),
  )
  await instanceKeeper.renew()

  const imds = imdsHandler({
    forward: (request) => deps.imds.forward(request),
    keeper: instanceKeeper,
    log: deps.log,
  })
  const containers = containerHandler({
    roles: deps.containerRoles,
    keeperFor: (role) => containerKeepers.get(role) as CredentialKeeper,
  })
  const handle: RequestListener = (request, response) => {
    const route = request.url?.split('?')[0] === CONTAINER_PATH ? containers : imds
    void route(request, response)
  }
  const [first, ...more] = listen
  if (first === undefined) throw new Error('The proxy was given no address to listen on.')
  // The first address must work; a further one (IPv6 loopback on a host without IPv6) is logged and skipped,
  // since a proxy that does not start leaves every application on the host without IMDS.
  const servers = [await listenOn(first, handle)]
  for (const address of more) {
    try {
      servers.push(await listenOn(address, handle))
    } catch (cause) {
      deps.log.error('The proxy cannot listen on one of its addresses; it serves on the others', {
        host: address.host,
        port: address.port,
        cause: String(cause),
      })
    }
  }
  const timer = setInterval(() => {
    for (const each of [instanceKeeper, ...containerKeepers.values()]) void each.renewIfDue()
  }, deps.renewEveryMs)
  const urls = servers.map(urlOf)
  const [url = ''] = urls
  deps.log.info('Metadata proxy listening', {
    url,
    urls,
    instanceId,
    roleArn,
    failureMode: deps.failureMode,
    containerRoles: containerKeepers.size,
  })
  return {
    url,
    urls,
    instanceKeeper,
    close: async () => {
      clearInterval(timer)
      await Promise.all(
        servers.map(async (server) => {
          server.closeAllConnections()
          server.close()
          await once(server, 'close')
        }),
      )
    },
  }
}

async function listenOn(address: ListenAddress, handle: RequestListener): Promise<Server> {
  const server = createServer(handle)
  server.listen(address.port, address.host)
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => Promise.reject(error)),
  ])
  return server
}

function urlOf(server: Server): string {
  const { address, family, port } = server.address() as AddressInfo
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`
}
