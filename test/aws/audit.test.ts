/** The audit event each lock decision publishes: its source, type and bus, and how a failure to publish is only logged. */
import type { Logger } from '@aws-lambda-powertools/logger'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { publishAudit } from '../../handlers/aws/audit.js'

const eventsMock = mockClient(EventBridgeClient)
const events = new EventBridgeClient({ region: 'us-east-1' })

beforeEach(() => eventsMock.reset())

describe('publishAudit: one event on the configured bus, and a failure that is logged, never thrown', () => {
  const logger = () => ({ warn: vi.fn() })

  it('publishes one event of the audit source and type on the configured bus', async () => {
    // Prepare
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] })
    const log = logger()

    // Act
    await publishAudit(events, 'audit-bus', { roleName: 'web' }, log as unknown as Logger)

    // Assess
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: 'audit-bus',
          Source: 'credential-lock',
          DetailType: 'Credential Lock Changed',
          Detail: '{"roleName":"web"}',
        },
      ],
    })
    expect(log.warn).not.toHaveBeenCalled()
  })

  it('logs an entry EventBridge refused, with its code and message', async () => {
    // Prepare
    eventsMock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    })
    const log = logger()

    // Act
    await publishAudit(events, 'audit-bus', {}, log as unknown as Logger)

    // Assess
    expect(log.warn).toHaveBeenCalledWith('audit publish failed', {
      bus: 'audit-bus',
      error: { name: 'InternalFailure', message: 'try again' },
    })
  })

  it.each([
    ['an answer without entries', () => eventsMock.on(PutEventsCommand).resolves({})],
    ['a refused call', () => eventsMock.on(PutEventsCommand).rejects(new Error('bus gone'))],
  ])('never throws on %s', async (_, answer) => {
    // Prepare
    answer()
    const log = logger()

    // Act
    const publish = publishAudit(events, 'audit-bus', {}, log as unknown as Logger)

    // Assess
    await expect(publish).resolves.toBeUndefined()
  })

  it('logs nothing when EventBridge answers without entries', async () => {
    // Prepare
    eventsMock.on(PutEventsCommand).resolves({})
    const log = logger()

    // Act
    await publishAudit(events, 'audit-bus', {}, log as unknown as Logger)

    // Assess
    expect(log.warn).not.toHaveBeenCalled()
  })

  it('logs a refused call with the bus and the error', async () => {
    // Prepare
    const error = new Error('bus gone')
    eventsMock.on(PutEventsCommand).rejects(error)
    const log = logger()

    // Act
    await publishAudit(events, 'audit-bus', {}, log as unknown as Logger)

    // Assess
    expect(log.warn).toHaveBeenCalledWith('audit publish failed', { bus: 'audit-bus', error })
  })
})
