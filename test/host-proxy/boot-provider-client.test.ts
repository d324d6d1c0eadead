/**
 * The proxy's read of the boot provider: SigV4-signed for Lambda with the instance role's raw credentials, and
 * what of its answer goes into the lock (the address it saw, the account's Elastic IPs and VPC endpoints).
 */
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { bootProviderReader } from '../../handlers/host-proxy/boot-provider-client.js'
import { BootProviderError } from '../../handlers/host-proxy/errors.js'
import { readHostFacts } from '../../handlers/host-proxy/host-facts.js'
import { ImdsClient } from '../../handlers/host-proxy/imds-client.js'
import { type ImdsStandIn, STAND_IN_INSTANCE, startImdsStandIn } from '../support/imds-stand-in.js'

const BOOT_ANSWER = {
  sourceIp: '198.51.100.23',
  vpcIds: ['vpc-0a1b2c3d4e5f60718', 'vpc-0f1f2f3f4f5f6f7f8'],
  vpcEndpointIds: ['vpce-0a1b2c3d4e5f60718'],
  elasticIps: ['198.51.100.40'],
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

async function bootStandIn(status: number, body: string) {
  const seen: IncomingHttpHeaders[] = []
  const server = createServer((request, response) => {
    seen.push(request.headers)
    response.writeHead(status, { 'content-type': 'application/json' }).end(body)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  closers.push(async () => {
    server.close()
    await once(server, 'close')
  })
  const address = server.address() as { port: number }
  return { url: new URL(`http://127.0.0.1:${address.port}/`), seen }
}

function reader(url: URL) {
  return bootProviderReader({
    url,
    region: 'eu-west-1',
    credentials: async () => ({
      accessKeyId: 'ASIARAWINSTANCEROLE1',
      secretAccessKey: 'raw',
      sessionToken: 'raw-token',
    }),
    timeoutMs: 2_000,
  })
}

describe('reading the boot provider', () => {
  it("signs the request with SigV4 for Lambda in the instance's region, with the raw session's token", async () => {
    // Prepare
    const stand = await bootStandIn(200, JSON.stringify(BOOT_ANSWER))

    // Act
    const facts = await reader(stand.url)()

    // Assess
    expect(facts).toEqual(BOOT_ANSWER)
    expect(stand.seen[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIARAWINSTANCEROLE1\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    )
    expect(stand.seen[0]?.['x-amz-security-token']).toBe('raw-token')
  })

  it.each([
    [403, '{"Message":"Forbidden"}', /answered HTTP 403/],
    [200, '{"vpcIds":[]}', /answered without sourceIp/],
    [200, '{"sourceIp":"198.51.100.23","elasticIps":"198.51.100.40"}', /elasticIps that is not a list/],
  ])('refuses an answer with HTTP %i %s', async (status, body, message) => {
    // Prepare
    const stand = await bootStandIn(status, body)

    // Act
    const read = reader(stand.url)()

    // Assess
    await expect(read).rejects.toThrow(BootProviderError)
    await expect(read).rejects.toThrow(message)
  })
})

describe('the lock facts with a boot provider', () => {
  it("add the address it saw and the account's Elastic IPs and endpoints, but only the host's own VPCs", async () => {
    // Prepare
    const imds: ImdsStandIn = await startImdsStandIn()
    closers.push(() => imds.close())

    // Act
    const facts = await readHostFacts(
      {
        imds: new ImdsClient(new URL(imds.url), 2_000),
        lookUpAddress: async () => '198.51.100.23',
        readBootFacts: async () => BOOT_ANSWER,
      },
      'arn:aws:iam::123456789012:role/app-role',
    )

    // Assess
    expect(facts).toEqual({
      roleArn: 'arn:aws:iam::123456789012:role/app-role',
      address: '198.51.100.23',
      otherAddresses: ['203.0.113.10', '2001:db8:1234::10', '198.51.100.23', '198.51.100.40'],
      sourceVpcs: [STAND_IN_INSTANCE.vpcId],
      sourceVpces: ['vpce-0a1b2c3d4e5f60718'],
    })
  })
})
