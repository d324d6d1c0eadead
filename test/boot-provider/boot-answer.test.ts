/** The boot provider's answer: the caller's address as AWS saw it, and the account's network, read once a minute. */
import { describe, expect, it } from 'vitest'
import type { AccountNetwork } from '../../handlers/aws/account-network.js'
import { bootAnswerer, CACHE_MS, type FunctionUrlRequest } from '../../handlers/boot-provider/boot-answer.js'
import { testClock } from '../support/host-proxy-harness.js'

const NETWORK: AccountNetwork = {
  vpcIds: ['vpc-0a1b2c3d4e5f60718'],
  vpcEndpointIds: ['vpce-0a1b2c3d4e5f60718'],
  elasticIps: ['198.51.100.40'],
}

function urlRequest(sourceIp: string, method = 'GET'): FunctionUrlRequest {
  return { requestContext: { http: { method, sourceIp } } }
}

function answerer() {
  const clock = testClock()
  let reads = 0
  let failNext = false
  const answer = bootAnswerer({
    readNetwork: async () => {
      reads += 1
      if (failNext) {
        failNext = false
        throw new Error('Throttling')
      }
      return NETWORK
    },
    now: () => clock.now(),
  })
  return { answer, clock, reads: () => reads, failOnce: () => (failNext = true) }
}

describe('the boot answer', () => {
  it("holds the caller's source address and the account's VPCs, endpoints and Elastic IPs", async () => {
    // Prepare
    const { answer } = answerer()

    // Act
    const response = await answer(urlRequest('203.0.113.10'))

    // Assess
    expect(response.statusCode).toBe(200)
    expect(response.headers).toEqual({ 'content-type': 'application/json' })
    expect(JSON.parse(response.body)).toEqual({ sourceIp: '203.0.113.10', ...NETWORK })
  })

  it('reads the account at most once a minute, whoever asks', async () => {
    // Prepare
    const { answer, clock, reads } = answerer()

    // Act
    await Promise.all([answer(urlRequest('203.0.113.10')), answer(urlRequest('203.0.113.11'))])
    clock.advance(CACHE_MS - 1)
    const second = JSON.parse((await answer(urlRequest('203.0.113.12'))).body)
    const withinTheMinute = reads()
    clock.advance(1)
    await answer(urlRequest('203.0.113.10'))

    // Assess
    expect(second.sourceIp).toBe('203.0.113.12')
    expect([withinTheMinute, reads()]).toEqual([1, 2])
  })

  it('does not keep a failed read: the next request reads again', async () => {
    // Prepare
    const { answer, reads, failOnce } = answerer()
    failOnce()

    // Act
    const failed = await answer(urlRequest('203.0.113.10')).catch((error: Error) => error.message)
    const retried = await answer(urlRequest('203.0.113.10'))

    // Assess
    expect([failed, retried.statusCode, reads()]).toEqual(['Throttling', 200, 2])
  })

  it('answers only GET', async () => {
    // Act
    const response = await answerer().answer(urlRequest('203.0.113.10', 'POST'))

    // Assess
    expect(response.statusCode).toBe(405)
    expect(JSON.parse(response.body)).toEqual({ message: 'Only GET is answered.' })
  })
})
