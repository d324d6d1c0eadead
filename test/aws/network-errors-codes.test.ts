import { describe, expect, it } from 'vitest'
import { explainUnreachable } from '../../handlers/aws/network-errors.js'

const TARGET = { region: 'eu-west-1', endpointUrl: undefined }

function nodeError(code: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect', ...fields })
}

describe('which failures mean the endpoint never answered', () => {
  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'ENETUNREACH',
  ])('%s does, and is named in the sentence', (code) => {
    // Act
    const explained = explainUnreachable(nodeError(code, { address: '203.0.113.9', port: 443 }), TARGET)

    // Assess
    expect(explained).toMatchObject({
      name: 'EndpointUnreachableError',
      message: `Could not reach AWS at 203.0.113.9:443 (connect ${code}): check the network and any proxy, AWS_ENDPOINT_URL (not set) and the region (eu-west-1).`,
    })
  })

  it.each([
    ['an AWS error with a code of its own', nodeError('AccessDenied')],
    ['an error without a code', new Error('boom')],
    ['something that is not an error', 'ECONNREFUSED'],
  ])('%s does not, and is returned as it is', (_, error) => {
    // Act
    const explained = explainUnreachable(error, TARGET)

    // Assess
    expect(explained).toBe(error)
  })

  it('names the host alone when Node gives no port, and "its endpoint" when it gives neither', () => {
    // Act
    const [hostOnly, neither] = [
      explainUnreachable(nodeError('EAI_AGAIN', { hostname: 'ec2.eu-west-1.amazonaws.com' }), TARGET),
      explainUnreachable(nodeError('ECONNRESET', { syscall: undefined }), TARGET),
    ]

    // Assess
    expect(hostOnly).toMatchObject({
      message: expect.stringMatching(
        /^Could not reach AWS at ec2\.eu-west-1\.amazonaws\.com \(connect EAI_AGAIN\): /,
      ),
    })
    expect(neither).toMatchObject({
      message: expect.stringMatching(/^Could not reach AWS at its endpoint \(ECONNRESET\): /),
    })
  })
})
