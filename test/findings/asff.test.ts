import { describe, expect, it } from 'vitest'
import { observationsOf, UnreadableAuditEventError } from '../../handlers/findings/asff.js'
import { loadAuditEvent } from '../support/audit-events.js'

describe('what a lock-changed event says about each workload', () => {
  it('makes an active finding of every opted-in instance and function left unprotected, and clears the locked ones', () => {
    // Prepare
    const event = loadAuditEvent('credential-lock-changed-unprotected')

    // Act
    const observations = observationsOf(event, 'aws')

    // Assess
    expect(
      observations.map(({ findingId, active, kind, resource }) => ({ findingId, active, kind, resource })),
    ).toEqual([
      {
        findingId: 'credential-lock/123456789012/us-east-1/instance/i-0fedc4321ba987650',
        active: false,
        kind: 'unprotected',
        resource: {
          type: 'AwsEc2Instance',
          id: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0fedc4321ba987650',
        },
      },
      {
        findingId: 'credential-lock/123456789012/us-east-1/instance/i-0abcd1234ef567890',
        active: true,
        kind: 'unprotected',
        resource: {
          type: 'AwsEc2Instance',
          id: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0abcd1234ef567890',
        },
      },
      {
        findingId: 'credential-lock/123456789012/us-east-1/function/resize-images',
        active: true,
        kind: 'unprotected',
        resource: {
          type: 'AwsLambdaFunction',
          id: 'arn:aws:lambda:us-east-1:123456789012:function:resize-images',
        },
      },
      {
        findingId: 'credential-lock/123456789012/us-east-1/lock-failed/7bf73129-1428-4cd3-a780-95db273d1602',
        active: false,
        kind: 'lock-failed',
        resource: {
          type: 'Other',
          id: 'credential-lock/123456789012/us-east-1/event/7bf73129-1428-4cd3-a780-95db273d1602',
        },
      },
    ])
  })

  it('says why, in the words of the decision, and names the role and the member account', () => {
    // Prepare
    const event = loadAuditEvent('credential-lock-changed-unprotected')

    // Act
    const skipped = observationsOf(event, 'aws').find((o) => o.findingId.endsWith('i-0abcd1234ef567890'))

    // Assess
    expect(skipped).toMatchObject({
      title: 'credential-lock could not lock instance i-0abcd1234ef567890',
      description:
        'The instance is opted in, but its role web carries no lock for it: its traffic to AWS leaves through a route whose egress address is unknown',
      memberAccount: '123456789012',
      region: 'us-east-1',
      roleName: 'web',
      observedAt: '2026-12-07T03:00:00Z',
    })
  })

  it('writes resource ARNs in the partition the findings go to', () => {
    // Act
    const observations = observationsOf(loadAuditEvent('credential-lock-changed-locked'), 'aws-cn')

    // Assess
    expect(observations[0]?.resource.id).toBe(
      'arn:aws-cn:ec2:us-east-1:123456789012:instance/i-0fedc4321ba987650',
    )
  })
})

describe('what a lock-failed event says', () => {
  it('makes one active finding per parked event, naming the error and what to do', () => {
    // Act
    const [failure, ...rest] = observationsOf(loadAuditEvent('credential-lock-failed'), 'aws')

    // Assess
    expect(rest).toEqual([])
    expect(failure).toMatchObject({
      findingId: 'credential-lock/123456789012/us-east-1/lock-failed/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
      active: true,
      kind: 'lock-failed',
      title: 'credential-lock could not apply a lock in account 123456789012 (us-east-1)',
    })
    expect(failure?.description).toContain(
      'MissingPermissionError: The controller is not allowed to call iam:PutRolePolicy',
    )
    expect(failure?.description).toContain('then redrive the queue')
  })

  it('is cleared by the lock-changed event that reconciles the same event later', () => {
    // Act
    const observations = observationsOf(loadAuditEvent('credential-lock-changed-locked'), 'aws')

    // Assess
    expect(observations.filter((o) => o.kind === 'lock-failed')).toEqual([
      expect.objectContaining({
        findingId: 'credential-lock/123456789012/us-east-1/lock-failed/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
        active: false,
      }),
    ])
  })
})

describe('events it cannot read', () => {
  it.each([
    ['no member account', { account: 'unknown' }, 'names no member account'],
    [
      'another detail type',
      { 'detail-type': 'EC2 Instance State-change Notification' },
      'not an audit event',
    ],
    ['no detail object', { detail: 'put' }, 'has no detail object'],
    [
      'workloads that are not a list',
      { detail: { roleName: 'web', instances: 'i-1' } },
      'lists no workloads',
    ],
  ])('refuses %s with a named error', (_, changes, message) => {
    // Prepare
    const event = loadAuditEvent('credential-lock-changed-unprotected', changes as never)

    // Act
    const read = () => observationsOf(event, 'aws')

    // Assess
    expect(read).toThrow(UnreadableAuditEventError)
    expect(read).toThrow(message)
  })
})
