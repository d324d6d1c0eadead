/**
 * What the controller tells the security account and the dashboard: the failure event of a parked record, the
 * audit event of a workload left unprotected even when its lock did not change, the decision latency, and the
 * locked-workload totals of a resync.
 */

import { DescribeRouteTablesCommand } from '@aws-sdk/client-ec2'
import { PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { describe, expect, it } from 'vitest'
import { scheduled, sqsBatch, stateChange } from '../support/events.js'
import {
  accessDenied,
  CONTEXT,
  ec2Instance,
  mockAws,
  mockedHandler,
  NOW,
  QUEUE,
  serveWorld,
} from '../support/mocked-controller.js'

const aws = mockAws()
const WEB_INSTANCE = 'i-0b1c2d3e4f5a60011'
const BATCH_INSTANCE = 'i-0b1c2d3e4f5a60012'

function published(): { detailType: string | undefined; detail: Record<string, unknown> }[] {
  return aws.events.commandCalls(PutEventsCommand).flatMap((call) =>
    (call.args[0].input.Entries ?? []).map((entry) => ({
      detailType: entry.DetailType,
      detail: JSON.parse(entry.Detail ?? '{}'),
    })),
  )
}

describe('a record parked in the dead-letter queue', () => {
  it('is announced to the audit bus as a lock failure, with the event it carried and the reason', async () => {
    // Prepare: the controller may not write to `batch`.
    serveWorld(aws, {
      roles: ['batch'],
      instances: [ec2Instance(BATCH_INSTANCE, 'batch', { PublicIpAddress: '54.0.0.2' })],
    })
    const { handler } = mockedHandler()
    aws.iam.on(PutRolePolicyCommand, { RoleName: 'batch' }).rejects(accessDenied())
    const event = stateChange(BATCH_INSTANCE, 'running')
    const batch = sqsBatch([event], QUEUE)

    // Act
    await handler(batch, CONTEXT)

    // Assess
    expect(published().filter((each) => each.detailType === 'Credential Lock Failed')).toEqual([
      {
        detailType: 'Credential Lock Failed',
        detail: {
          recordId: batch.Records[0]?.messageId,
          eventId: event.id,
          detailType: 'EC2 Instance State-change Notification',
          error: {
            name: 'MissingPermissionError',
            message: expect.stringContaining('not allowed to call iam:PutRolePolicy on role batch'),
          },
        },
      },
    ])
  })
})

describe('the figures the dashboard draws', () => {
  it('measures the time from the event to the lock written, and nothing for a lock left as it was', async () => {
    // Prepare: WEB_INSTANCE started two seconds before the controller ran.
    serveWorld(aws, {
      roles: ['web'],
      instances: [ec2Instance(WEB_INSTANCE, 'web', { PublicIpAddress: '54.0.0.1' })],
    })
    const { handler, metrics } = mockedHandler()
    const started = {
      ...stateChange(WEB_INSTANCE, 'running'),
      time: new Date(NOW.getTime() - 2_000).toISOString(),
    }

    // Act
    await handler(sqsBatch([started], QUEUE), CONTEXT)
    serveWorld(aws, {
      roles: ['web'],
      instances: [ec2Instance(WEB_INSTANCE, 'web', { PublicIpAddress: '54.0.0.1' })],
      policies: { web: aws.iam.commandCalls(PutRolePolicyCommand)[0]?.args[0].input.PolicyDocument ?? '' },
    })
    await handler(sqsBatch([started], QUEUE), CONTEXT)

    // Assess
    const latencies = metrics.addMetric.mock.calls.filter(([name]) => name === 'DecisionLatency')
    expect(latencies).toEqual([['DecisionLatency', 'Milliseconds', 2_000]])
  })

  it('logs how many instances are locked after a resync, the line the gauges are read from', async () => {
    // Prepare: two roles, one opted-in instance on each.
    serveWorld(aws, {
      roles: ['web', 'batch'],
      instances: [
        ec2Instance(WEB_INSTANCE, 'web', { PublicIpAddress: '54.0.0.1' }),
        ec2Instance(BATCH_INSTANCE, 'batch'),
      ],
    })
    const { handler, lines } = mockedHandler()

    // Act
    await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)
    await handler(sqsBatch([stateChange(WEB_INSTANCE, 'running')], QUEUE), CONTEXT)

    // Assess
    expect(lines.filter((line) => line.message === 'resync totals')).toEqual([
      {
        level: 'INFO',
        message: 'resync totals',
        fields: { instancesLocked: 2, functionsLocked: 0, rolesDecided: 2 },
      },
    ])
  })

  it('logs no locked totals from a dry run, which locks nothing', async () => {
    // Prepare
    serveWorld(aws, {
      roles: ['web'],
      instances: [ec2Instance(WEB_INSTANCE, 'web', { PublicIpAddress: '54.0.0.1' })],
    })
    const { handler, lines } = mockedHandler({ config: { dryRun: true } })

    // Act
    await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    expect(lines.filter((line) => line.message === 'lock decision')).toHaveLength(1)
    expect(lines.filter((line) => line.message === 'resync totals')).toEqual([])
  })

  it('takes no latency from the schedule: a resync repairs drift, it answers no event', async () => {
    // Prepare
    serveWorld(aws, {
      roles: ['web'],
      instances: [ec2Instance(WEB_INSTANCE, 'web', { PublicIpAddress: '54.0.0.1' })],
    })
    const { handler, metrics } = mockedHandler()

    // Act
    await handler(sqsBatch([{ ...scheduled(), time: '2026-11-25T11:00:00Z' }], QUEUE), CONTEXT)

    // Assess
    expect(metrics.addMetric.mock.calls.filter(([name]) => name === 'DecisionLatency')).toEqual([])
  })
})

describe('a workload left unprotected', () => {
  it('is reported to the audit bus at every decision, even when no lock is written', async () => {
    // Prepare: WEB_INSTANCE is opted in, but leaves through a transit gateway whose egress nobody named.
    serveWorld(aws, { roles: ['web'], instances: [ec2Instance(WEB_INSTANCE, 'web')] })
    aws.ec2.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        {
          VpcId: 'vpc-1',
          Associations: [{ SubnetId: 'subnet-1' }],
          Routes: [
            { DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: 'tgw-0123456789abcdef0', State: 'active' },
          ],
        },
      ],
    })
    const { handler } = mockedHandler()

    // Act
    await handler(sqsBatch([stateChange(WEB_INSTANCE, 'running')], QUEUE), CONTEXT)

    // Assess
    const reports = published().filter((each) => each.detailType === 'Credential Lock Changed')
    expect(reports.map((each) => each.detail.action)).toEqual(['unchanged'])
    expect(reports[0]?.detail.instances).toEqual([
      expect.objectContaining({ instanceId: WEB_INSTANCE, outcome: 'skipped' }),
    ])
  })
})
