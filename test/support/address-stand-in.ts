/**
 * A local stand-in for https://checkip.amazonaws.com on 127.0.0.1: it answers the address it is told to, or
 * an HTTP error, and counts the look-ups. No other network exists on these machines.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'

export interface AddressStandIn {
  readonly url: string
  /** Look-ups answered so far. */
  readonly lookups: number
  /** From now on answer `body` with `status` (200 and an address by default). */
  answer(status: number, body: string): void
  close(): Promise<void>
}

export async function startAddressStandIn(address: string): Promise<AddressStandIn> {
  let status = 200
  let body = `${address}\n`
  let lookups = 0
  const server = createServer((_, response) => {
    lookups += 1
    response.writeHead(status, { 'content-type': 'text/plain' }).end(body)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const bound = server.address()
  if (bound === null || typeof bound === 'string') throw new Error('The address stand-in has no port')
  return {
    url: `http://127.0.0.1:${bound.port}/`,
    get lookups() {
      return lookups
    },
    answer(nextStatus, nextBody) {
      status = nextStatus
      body = nextBody
    },
    async close() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
