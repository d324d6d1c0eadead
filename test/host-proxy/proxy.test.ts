/** The proxy put together: where it listens, and what it logs when it starts. */
import { afterEach, describe, expect, it } from 'vitest'
import { type ProxyScene, RecordingSts, startProxyScene, testClock } from '../support/host-proxy-harness.js'

let scene: ProxyScene | undefined

afterEach(async () => {
  await scene?.close()
  scene = undefined
})

describe('listening', () => {
  it('serves on its first address when a further one cannot be bound, and logs that one at ERROR', async () => {
    // Prepare: 192.0.2.1 is on no interface here, as ::1 is on a host without IPv6
    const clock = testClock()

    // Act
    scene = await startProxyScene({
      sts: new RecordingSts(clock),
      clock,
      listen: [
        { host: '127.0.0.1', port: 0 },
        { host: '192.0.2.1', port: 0 },
      ],
    })
    const answer = await fetch(`${scene.proxy.url}/latest/meta-data/instance-id`, {
      headers: { 'x-aws-ec2-metadata-token': 'any' },
    })

    // Assess
    expect(scene.proxy.urls).toHaveLength(1)
    expect(answer.status).toBe(401)
    expect(scene.logs).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        host: '192.0.2.1',
        message: expect.stringContaining('cannot listen'),
      }),
    )
  })

  it('logs one line when it starts: where it listens, the instance, its role and its failure mode', async () => {
    // Prepare
    const clock = testClock()

    // Act
    scene = await startProxyScene({ sts: new RecordingSts(clock), clock, failureMode: 'closed' })

    // Assess
    expect(scene.logs.map((line) => line.message)).toEqual([
      'Credentials locked to this host',
      'Metadata proxy listening',
    ])
    expect(scene.logs.at(-1)).toMatchObject({
      url: scene.proxy.url,
      instanceId: 'i-0123456789abcdef0',
      roleArn: 'arn:aws:iam::123456789012:role/app-role',
      failureMode: 'closed',
      containerRoles: 0,
    })
  })
})
