/**
 * The small handler modules on the edges mutation testing found unguarded: the audit event's shape and its
 * failures, the IAM reads and writes and the permission each names, and the settings' boundaries.
 */
import type { Logger } from '@aws-lambda-powertools/logger'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import {
  GetRolePolicyCommand,
  IAMClient,
  ListInstanceProfilesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { publishAudit } from '../handlers/aws/audit.js'
import { readConfig } from '../handlers/aws/config.js'
import { asPermitted, ConfigError, isPermanent } from '../handlers/aws/errors.js'
import {
  instanceProfileRoles,
  otherInlinePolicyChars,
  readInlinePolicy,
  removeOwnPolicy,
} from '../handlers/aws/iam-roles.js'
import { handler as uninstallHandler } from '../handlers/controller/uninstall.js'
import { customResourceEvent } from './support/events.js'

const iamMock = mockClient(IAMClient)
const eventsMock = mockClient(EventBridgeClient)
const iam = new IAMClient({ region: 'us-east-1' })
const events = new EventBridgeClient({ region: 'us-east-1' })
const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDenied' })
const missingPermission = (action: string, resource: string) =>
  expect.objectContaining({
    name: 'MissingPermissionError',
    message: expect.stringContaining(`not allowed to call ${action} on ${resource}:`),
  })

beforeEach(() => {
  iamMock.reset()
  eventsMock.reset()
})

describe('publishAudit', () => {
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

describe('the IAM calls', () => {
  it('lists each profile with a role, and skips profiles without one', async () => {
    // Prepare
    const role = { RoleName: 'web', Arn: '', RoleId: '', Path: '/', CreateDate: new Date() }
    const profile = (name: string, roles?: (typeof role)[]) => ({
      Arn: `arn:aws:iam::123456789012:instance-profile/${name}`,
      InstanceProfileName: name,
      InstanceProfileId: 'AIPA',
      Path: '/',
      CreateDate: new Date(),
      Roles: roles as (typeof role)[],
    })
    iamMock.on(ListInstanceProfilesCommand).resolves({
      InstanceProfiles: [profile('web', [role]), profile('empty', []), profile('none')],
    })

    // Act
    const roles = await instanceProfileRoles(iam)

    // Assess
    expect(roles).toEqual(new Map([['arn:aws:iam::123456789012:instance-profile/web', 'web']]))
  })

  it.each([
    ['iam:ListInstanceProfiles', '*', () => instanceProfileRoles(iam)],
    ['iam:GetRolePolicy', 'role web', () => readInlinePolicy(iam, 'web', 'lock')],
    ['iam:DeleteRolePolicy', 'role web', () => removeOwnPolicy(iam, 'web', 'lock')],
    ['iam:ListRolePolicies', 'role web', () => otherInlinePolicyChars(iam, 'web', 'lock')],
  ] as const)('names %s on %s when the controller may not call it', async (action, resource, call) => {
    // Prepare: IAM refuses every call.
    iamMock.onAnyCommand().rejects(denied())

    // Act
    const attempt = call()

    // Assess
    await expect(attempt).rejects.toThrowError(missingPermission(action, resource))
  })

  it('reads a policy IAM returns without a document as none, and one IAM does not have as none', async () => {
    // Prepare
    iamMock
      .on(GetRolePolicyCommand, { PolicyName: 'empty' })
      .resolves({ RoleName: 'web', PolicyName: 'empty' } as never)
    iamMock
      .on(GetRolePolicyCommand, { PolicyName: 'missing' })
      .rejects(new NoSuchEntityException({ message: 'not found', $metadata: {} }))

    // Act
    const documents = [
      await readInlinePolicy(iam, 'web', 'empty'),
      await readInlinePolicy(iam, 'web', 'missing'),
    ]

    // Assess
    expect(documents).toEqual([undefined, undefined])
  })

  it('passes on any other failure to read a policy, so the event is retried', async () => {
    // Prepare
    iamMock
      .on(GetRolePolicyCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))

    // Act
    const read = readInlinePolicy(iam, 'web', 'lock')

    // Assess
    await expect(read).rejects.toThrowError('Rate exceeded')
  })

  it('counts nothing for a policy deleted between listing and reading it', async () => {
    // Prepare
    iamMock.on(ListRolePoliciesCommand, { RoleName: 'web' }).resolves({ PolicyNames: ['gone'] })
    iamMock
      .on(GetRolePolicyCommand)
      .rejects(new NoSuchEntityException({ message: 'not found', $metadata: {} }))

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'lock')

    // Assess
    expect(chars).toBe(0)
  })

  it("counts the role's other inline policies, never its own", async () => {
    // Prepare
    iamMock.on(ListRolePoliciesCommand, { RoleName: 'web' }).resolves({ PolicyNames: ['app', 'lock'] })
    iamMock.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: 'app' }).resolves({
      RoleName: 'web',
      PolicyName: 'app',
      PolicyDocument: encodeURIComponent('{ "Statement": [] }'),
    })
    iamMock.on(GetRolePolicyCommand, { RoleName: 'web', PolicyName: 'lock' }).resolves({
      RoleName: 'web',
      PolicyName: 'lock',
      PolicyDocument: encodeURIComponent('{"Statement":[{"Sid":"a long policy of its own"}]}'),
    })

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'lock')

    // Assess
    expect(chars).toBe('{"Statement":[]}'.length)
  })
})

describe('readConfig boundaries', () => {
  it.each([
    ['1', 1],
    ['48', 48],
  ])('accepts a tombstone retention of %s hours', (value, hours) => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', TOMBSTONE_RETENTION_HOURS: value })

    // Assess
    expect(config.tombstoneRetentionMs).toBe(hours * 3_600_000)
  })

  it.each(['49', '0'])('refuses a tombstone retention of %s hours', (value) => {
    // Act
    const read = () => readConfig({ AWS_REGION: 'eu-west-1', TOMBSTONE_RETENTION_HOURS: value })

    // Assess
    expect(read).toThrowError(`TOMBSTONE_RETENTION_HOURS is "${value}": give a number of hours from 1 to 48.`)
  })

  it.each(['', ' ', 'false', 'FALSE'])('reads dry-run "%s" as off', (value) => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', DRY_RUN: value })

    // Assess
    expect(config.dryRun).toBe(false)
  })
})

describe('the uninstall entry', () => {
  const create = customResourceEvent('Create')

  afterEach(() => vi.unstubAllEnvs())

  it('refuses to run outside the Lambda runtime, where AWS_REGION is not set', async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', '')

    // Act
    const run = uninstallHandler(create)

    // Assess
    await expect(run).rejects.toThrowError(
      'AWS_REGION is not set: the uninstall must run in the Lambda runtime.',
    )
  })

  it("names the resource after the region's policy", async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', 'eu-west-3')

    // Act
    const response = await uninstallHandler(create)

    // Assess
    expect(response).toEqual({ PhysicalResourceId: 'credential-lock-eu-west-3' })
  })
})

describe('asPermitted and isPermanent', () => {
  it.each(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])(
    'turns %s into a missing permission that keeps the refusal as its cause',
    async (name) => {
      // Prepare
      const refusal = Object.assign(new Error('no'), { name })

      // Act
      const attempt = asPermitted('kms:Decrypt', 'key k', () => Promise.reject(refusal))

      // Assess
      await expect(attempt).rejects.toThrowError(
        expect.objectContaining({
          name: 'MissingPermissionError',
          message: expect.stringContaining('not allowed to call kms:Decrypt on key k:'),
          cause: refusal,
        }),
      )
    },
  )

  it('counts a configuration error as permanent: no retry fixes the environment', () => {
    // Act
    const permanent = isPermanent(new ConfigError('bad'))

    // Assess
    expect(permanent).toBe(true)
  })
})
