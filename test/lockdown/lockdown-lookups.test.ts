/**
 * What the in-function lockdown (handlers/lockdown/lockdown.ts) looks up before it locks: the address the
 * execution environment goes out by, from a local stand-in for checkip.amazonaws.com, and the function's own role
 * from its session's ARN; with the sentence each failure gives.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AddressLookupError } from '../../handlers/lockdown/errors.js'
import { addressLookup, callerRoleArn } from '../../handlers/lockdown/lockdown.js'
import { type AddressStandIn, startAddressStandIn } from '../support/address-stand-in.js'
import { ENVIRONMENT_IP } from '../support/lambda-session.js'
import { restartKeyNumbering } from '../support/lockdown-harness.js'

beforeEach(restartKeyNumbering)

describe('the address look-up', () => {
  let standIn: AddressStandIn

  beforeEach(async () => {
    standIn = await startAddressStandIn(ENVIRONMENT_IP)
  })

  afterEach(async () => {
    await standIn.close()
  })

  it('answers the address the service reports, without its line break', async () => {
    // Act
    const address = await addressLookup(standIn.url, 2_000)()

    // Assess
    expect(address).toBe(ENVIRONMENT_IP)
    expect(standIn.lookups).toBe(1)
  })

  it('names the URL and the HTTP status when the service answers an error', async () => {
    // Prepare
    standIn.answer(503, 'Service Unavailable')

    // Act
    const lookUp = addressLookup(standIn.url, 2_000)()

    // Assess
    await expect(lookUp).rejects.toThrow(AddressLookupError)
    await expect(lookUp).rejects.toThrow(
      `The address look-up at ${standIn.url} answered HTTP 503: check that the function can reach it.`,
    )
  })

  it('names the URL and its time limit when nothing answers there', async () => {
    // Prepare
    const { url } = standIn
    await standIn.close()
    standIn = await startAddressStandIn(ENVIRONMENT_IP)

    // Act
    const error = await addressLookup(url, 2_000)().catch((thrown: unknown) => thrown)

    // Assess
    expect(error).toBeInstanceOf(AddressLookupError)
    expect(error).toMatchObject({
      message: `The address look-up at ${url} could not be reached within 2000 ms: check that the function can reach it.`,
      cause: expect.objectContaining({ name: 'TypeError' }),
    })
  })

  it('gives up on a service that never answers once its time limit has passed', async () => {
    // Prepare: a server that accepts the request and never responds.
    const silent = createServer(() => {})
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`

    // Act
    const error = await addressLookup(url, 100)().catch((thrown: unknown) => thrown)
    silent.closeAllConnections()
    silent.close()

    // Assess
    expect(error).toMatchObject({
      message: `The address look-up at ${url} could not be reached within 100 ms: check that the function can reach it.`,
      cause: expect.objectContaining({ name: 'TimeoutError' }),
    })
  })
})

describe("the function's own role", () => {
  function identity(Arn: string | undefined) {
    const sent: unknown[] = []
    const sts = {
      send: async (command: GetCallerIdentityCommand) => {
        sent.push(command)
        return { Arn }
      },
    }
    return { roleArn: callerRoleArn(sts), sent }
  }

  it.each([
    ['arn:aws:sts::123456789012:assumed-role/orders-fn/orders', 'arn:aws:iam::123456789012:role/orders-fn'],
    [
      'arn:aws-us-gov:sts::123456789012:assumed-role/orders+fn=v2,eu.1@team-a/orders',
      'arn:aws-us-gov:iam::123456789012:role/orders+fn=v2,eu.1@team-a',
    ],
  ])('is read from the session %s', async (sessionArn, roleArn) => {
    // Prepare
    const { roleArn: lookUp, sent } = identity(sessionArn)

    // Act
    const found = await lookUp()

    // Assess
    expect(found).toBe(roleArn)
    expect(sent).toEqual([expect.any(GetCallerIdentityCommand)])
  })

  it.each([
    'arn:aws:iam::123456789012:user/deployer',
    'arn:aws:sts::12345678901:assumed-role/orders-fn/orders',
    'xarn:aws:sts::123456789012:assumed-role/orders-fn/orders',
    'arn:aws:sts::123456789012:assumed-role/orders-fn',
    undefined,
  ])('is refused from the identity %s, which is not a role session', async (sessionArn) => {
    // Act
    const lookUp = identity(sessionArn).roleArn()

    // Assess
    await expect(lookUp).rejects.toThrow(`The function's own identity ${sessionArn} is not a role session.`)
  })
})
