import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeAll, describe, expect, it } from 'vitest'
import { explainUnreachable } from '../../handlers/aws/network-errors.js'
import { freeLoopbackPort } from '../support/moto.js'

describe('an AWS endpoint that does not answer', () => {
  // `npm run test:unit` shares modules between files: a file that mocked STSClient before this one would
  // answer instead of the socket this test needs.
  beforeAll(() => mockClient(STSClient).restore())

  it('is one sentence naming the endpoint and what to check, for the error the SDK really throws', async () => {
    // Prepare
    const endpointUrl = `http://127.0.0.1:${await freeLoopbackPort()}`
    const sts = new STSClient({
      region: 'eu-west-1',
      endpoint: endpointUrl,
      maxAttempts: 1,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    })
    const refused = await sts.send(new GetCallerIdentityCommand({})).catch((error: unknown) => error)

    // Act
    const explained = explainUnreachable(refused, { region: 'eu-west-1', endpointUrl })

    // Assess
    expect(explained).toMatchObject({
      name: 'EndpointUnreachableError',
      message:
        `Could not reach AWS at ${endpointUrl.slice('http://'.length)} (connect ECONNREFUSED): check the ` +
        `network and any proxy, AWS_ENDPOINT_URL (now ${endpointUrl}) and the region (eu-west-1).`,
      cause: refused,
    })
  })

  it('names the host a DNS look-up did not find', () => {
    // Prepare: Node's own error for a name that does not resolve.
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND sts.eu-west-1.amazonaws.com'), {
      code: 'ENOTFOUND',
      syscall: 'getaddrinfo',
      hostname: 'sts.eu-west-1.amazonaws.com',
    })

    // Act
    const explained = explainUnreachable(notFound, { region: 'eu-west-1', endpointUrl: undefined })

    // Assess
    expect(explained).toMatchObject({
      message:
        'Could not reach AWS at sts.eu-west-1.amazonaws.com (getaddrinfo ENOTFOUND): check the network and ' +
        'any proxy, AWS_ENDPOINT_URL (not set) and the region (eu-west-1).',
    })
  })

  it('names the configured endpoint when a socket timed out', () => {
    // Prepare: the SDK's own error for a silent socket.
    const timedOut = Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' })

    // Act
    const explained = explainUnreachable(timedOut, { region: 'us-east-1', endpointUrl: 'https://proxy.corp' })

    // Assess
    expect(explained).toMatchObject({
      message:
        'Could not reach AWS at https://proxy.corp (Connection timed out after 5000 ms): check the network ' +
        'and any proxy, AWS_ENDPOINT_URL (now https://proxy.corp) and the region (us-east-1).',
    })
  })

  it('leaves every other error as it is', () => {
    // Prepare
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', code: 'Throttling' })

    // Act
    const explained = explainUnreachable(throttled, { region: 'us-east-1', endpointUrl: undefined })

    // Assess
    expect(explained).toBe(throttled)
  })
})
