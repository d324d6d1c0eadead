import { PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { describe, expect, it } from 'vitest'
import { sqsBatch, tagChange } from '../support/events.js'
import {
  CONTEXT,
  ec2Instance,
  mockAws,
  mockedHandler,
  QUEUE,
  serveWorld,
} from '../support/mocked-controller.js'

const aws = mockAws()
const LUKE = 'i-0a1b2c3d4e5f60001'
const MATT = 'i-0a1b2c3d4e5f60002'

describe("the controller's decision line for a tag that nearly opts in", () => {
  it('names the tag it found and the one it expects, and locks nothing', async () => {
    // Prepare: Luke was tagged by hand with the value capitalised.
    serveWorld(aws, {
      roles: ['web'],
      instances: [ec2Instance(LUKE, 'web', { Tags: [{ Key: 'credential-lock', Value: 'Enabled' }] })],
    })
    const { handler, lines } = mockedHandler()

    // Act
    const response = await handler(
      sqsBatch([tagChange(LUKE, { 'credential-lock': 'Enabled' }, ['credential-lock'])], QUEUE),
      CONTEXT,
    )

    // Assess
    expect(response).toEqual({ batchItemFailures: [] })
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0)
    expect(lines).toContainEqual({
      level: 'INFO',
      message: 'lock decision',
      fields: expect.objectContaining({
        roleName: 'web',
        reason: 'no opted-in instance uses this role',
        nearMissTags: [
          {
            instanceId: LUKE,
            hint: 'not opted in: tag credential-lock=Enabled; the lock tag value is "enabled"',
          },
        ],
      }),
    })
  })

  it('says nothing of instances that carry the exact tag or no tag close to it', async () => {
    // Prepare
    serveWorld(aws, {
      roles: ['web'],
      instances: [
        ec2Instance(LUKE, 'web'),
        ec2Instance(MATT, 'web', { Tags: [{ Key: 'credential-lock', Value: 'disabled' }] }),
      ],
    })
    const { handler, lines } = mockedHandler()

    // Act
    await handler(
      sqsBatch([tagChange(MATT, { 'credential-lock': 'disabled' }, ['credential-lock'])], QUEUE),
      CONTEXT,
    )

    // Assess
    const decision = lines.find((line) => line.message === 'lock decision')
    expect(decision?.fields).toMatchObject({ roleName: 'web', action: 'put' })
    expect(decision?.fields).not.toHaveProperty('nearMissTags')
  })
})
