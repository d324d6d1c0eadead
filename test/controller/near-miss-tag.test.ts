import { PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { describe, expect, it } from 'vitest'
import { tagChange } from '../support/events.js'
import { batchRunner } from '../support/mocked-batch.js'
import { ec2Instance, mockAws } from '../support/mocked-controller.js'

const aws = mockAws()
const { runBatch } = batchRunner(aws)
const LUKE = 'i-0a1b2c3d4e5f60001'
const MATT = 'i-0a1b2c3d4e5f60002'

describe("the controller's decision line for a tag that nearly opts in", () => {
  it('names the tag it found and the one it expects, and locks nothing', async () => {
    // Prepare: Luke was tagged by hand with the value capitalised.
    const world = {
      roles: ['web'],
      instances: [ec2Instance(LUKE, 'web', { Tags: [{ Key: 'credential-lock', Value: 'Enabled' }] })],
    }

    // Act
    const { response, lines } = await runBatch(world, [
      tagChange(LUKE, { 'credential-lock': 'Enabled' }, ['credential-lock']),
    ])

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
    const world = {
      roles: ['web'],
      instances: [
        ec2Instance(LUKE, 'web'),
        ec2Instance(MATT, 'web', { Tags: [{ Key: 'credential-lock', Value: 'disabled' }] }),
      ],
    }

    // Act
    const { lines } = await runBatch(world, [
      tagChange(MATT, { 'credential-lock': 'disabled' }, ['credential-lock']),
    ])

    // Assess
    const decision = lines.find((line) => line.message === 'lock decision')
    expect(decision?.fields).toMatchObject({ roleName: 'web', action: 'put' })
    expect(decision?.fields).not.toHaveProperty('nearMissTags')
  })
})
