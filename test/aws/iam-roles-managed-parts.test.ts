/**
 * The customer-managed parts of a lock (lock v2), against a mocked IAM: which policies the controller counts
 * as its own, how it writes a new version without reaching IAM's five-version limit, and how it removes a part
 * that is already partly gone. The moto fleet story (test/integration/fleet.test.ts) proves the same end to end;
 * mutation testing runs without moto.
 */
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachRolePolicyCommand,
  GetPolicyVersionCommand,
  IAMClient,
  LimitExceededException,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  foreignManagedPolicyCount,
  listManagedParts,
  type ManagedPart,
  readManagedPart,
  removeManagedPart,
  writeManagedPart,
} from '../../handlers/aws/iam-roles.js'

const iamMock = mockClient(IAMClient)
const iam = new IAMClient({ region: 'us-east-1' })
const REGION = 'us-east-1'
const PATH = '/credential-lock/us-east-1/'
const ARN = (name: string, path = PATH) => `arn:aws:iam::123456789012:policy${path}${name}`
const DOCUMENT = '{"Version":"2012-10-17","Statement":[]}'
const gone = () => new NoSuchEntityException({ message: 'not found', $metadata: {} })
const PART: ManagedPart = {
  roleName: 'app-server',
  part: 1,
  arn: ARN('app-server-1'),
  defaultVersionId: 'v3',
  attached: true,
}

beforeEach(() => iamMock.reset())

describe('listManagedParts: only its own policies, by role, parts in order', () => {
  it('keeps only the policies under its own path named <role>-<part>, by role, parts in order', async () => {
    // Prepare
    iamMock.on(ListPoliciesCommand).resolves({
      Policies: [
        { PolicyName: 'app-server-2', Arn: ARN('app-server-2'), Path: PATH, DefaultVersionId: 'v1' },
        {
          PolicyName: 'app-server-1',
          Arn: ARN('app-server-1'),
          Path: PATH,
          DefaultVersionId: 'v4',
          AttachmentCount: 1,
        },
        { PolicyName: 'my-web-role-10', Arn: ARN('my-web-role-10'), Path: PATH, AttachmentCount: 0 },
        { PolicyName: 'not-numbered', Arn: ARN('not-numbered'), Path: PATH },
        { PolicyName: 'web-2x', Arn: ARN('web-2x'), Path: PATH },
        { PolicyName: '-3', Arn: ARN('-3'), Path: PATH },
        { PolicyName: 'deeper-1', Arn: ARN('deeper-1', `${PATH}x/`), Path: `${PATH}x/` },
        { PolicyName: 'no-arn-1', Path: PATH },
      ],
    })

    // Act
    const parts = await listManagedParts(iam, REGION)

    // Assess
    expect(Object.fromEntries(parts)).toEqual({
      'app-server': [
        { roleName: 'app-server', part: 1, arn: ARN('app-server-1'), defaultVersionId: 'v4', attached: true },
        {
          roleName: 'app-server',
          part: 2,
          arn: ARN('app-server-2'),
          defaultVersionId: 'v1',
          attached: false,
        },
      ],
      'my-web-role': [
        {
          roleName: 'my-web-role',
          part: 10,
          arn: ARN('my-web-role-10'),
          defaultVersionId: undefined,
          attached: false,
        },
      ],
    })
    expect(iamMock.commandCalls(ListPoliciesCommand)[0]?.args[0].input).toEqual({
      Scope: 'Local',
      PathPrefix: PATH,
    })
  })
})

describe('readManagedPart: the default version, URL-decoded', () => {
  it('reads the default version, URL-decoded', async () => {
    // Prepare
    iamMock
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { Document: encodeURIComponent(DOCUMENT) } })

    // Act
    const document = await readManagedPart(iam, PART)

    // Assess
    expect(document).toBe(DOCUMENT)
    expect(iamMock.commandCalls(GetPolicyVersionCommand)[0]?.args[0].input).toEqual({
      PolicyArn: PART.arn,
      VersionId: 'v3',
    })
  })

  it.each([
    ['a part without a default version, asking nothing', { ...PART, defaultVersionId: undefined }, 0],
    ['a version without a document', PART, 1],
  ])('reads nothing from %s', async (_, part, calls) => {
    // Prepare
    iamMock.on(GetPolicyVersionCommand).resolves({})

    // Act
    const document = await readManagedPart(iam, part)

    // Assess
    expect(document).toBeUndefined()
    expect(iamMock.commandCalls(GetPolicyVersionCommand)).toHaveLength(calls)
  })
})

describe('foreignManagedPolicyCount: the attached policies that are not its own', () => {
  it('counts the attached policies that are not under its own path of this region', async () => {
    // Prepare
    iamMock.on(ListAttachedRolePoliciesCommand).resolves({
      AttachedPolicies: [
        { PolicyArn: ARN('app-server-1') },
        { PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
        { PolicyArn: ARN('app-server-1', '/credential-lock/eu-west-1/') },
        {},
      ],
    })

    // Act
    const count = await foreignManagedPolicyCount(iam, 'app-server', REGION)

    // Assess
    expect(count).toBe(3)
    expect(iamMock.commandCalls(ListAttachedRolePoliciesCommand)[0]?.args[0].input).toMatchObject({
      RoleName: 'app-server',
    })
  })
})

describe('writeManagedPart: a new part, or a new version within the five-version limit', () => {
  it('creates a new part under its own path and attaches it', async () => {
    // Prepare
    iamMock.on(CreatePolicyCommand).resolves({ Policy: { Arn: ARN('app-server-2') } })

    // Act
    await writeManagedPart(iam, REGION, 'app-server', 2, undefined, DOCUMENT)

    // Assess
    expect(iamMock.commandCalls(CreatePolicyCommand)[0]?.args[0].input).toEqual({
      PolicyName: 'app-server-2',
      Path: PATH,
      PolicyDocument: DOCUMENT,
    })
    expect(iamMock.commandCalls(AttachRolePolicyCommand)[0]?.args[0].input).toEqual({
      RoleName: 'app-server',
      PolicyArn: ARN('app-server-2'),
    })
  })

  it('replaces an attached part by a new default version, deleting only the old versions, attaching nothing', async () => {
    // Prepare
    iamMock.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v4', IsDefaultVersion: true },
        { VersionId: 'v3', IsDefaultVersion: false },
        {},
      ],
    })

    // Act
    await writeManagedPart(iam, REGION, 'app-server', 1, PART, DOCUMENT)

    // Assess
    expect(iamMock.commandCalls(CreatePolicyVersionCommand)[0]?.args[0].input).toEqual({
      PolicyArn: PART.arn,
      PolicyDocument: DOCUMENT,
      SetAsDefault: true,
    })
    expect(iamMock.commandCalls(DeletePolicyVersionCommand).map((call) => call.args[0].input)).toEqual([
      { PolicyArn: PART.arn, VersionId: 'v3' },
    ])
    expect(iamMock.commandCalls(ListPolicyVersionsCommand)[0]?.args[0].input).toEqual({ PolicyArn: PART.arn })
    expect(iamMock.commandCalls(CreatePolicyCommand)).toHaveLength(0)
    expect(iamMock.commandCalls(AttachRolePolicyCommand)).toHaveLength(0)
  })

  it('attaches nothing when IAM names no new policy', async () => {
    // Prepare
    iamMock.on(CreatePolicyCommand).resolves({})

    // Act
    await writeManagedPart(iam, REGION, 'app-server', 2, undefined, DOCUMENT)

    // Assess
    expect(iamMock.commandCalls(AttachRolePolicyCommand)).toHaveLength(0)
  })

  it('attaches an existing part that a person detached', async () => {
    // Prepare
    iamMock.on(ListPolicyVersionsCommand).resolves({ Versions: [] })

    // Act
    await writeManagedPart(iam, REGION, 'app-server', 1, { ...PART, attached: false }, DOCUMENT)

    // Assess
    expect(iamMock.commandCalls(AttachRolePolicyCommand)[0]?.args[0].input).toEqual({
      RoleName: 'app-server',
      PolicyArn: PART.arn,
    })
  })

  it('clears the versions an interrupted run left at the five-version limit, then writes once more', async () => {
    // Prepare
    iamMock
      .on(CreatePolicyVersionCommand)
      .rejectsOnce(new LimitExceededException({ message: 'too many versions', $metadata: {} }))
      .resolves({})
    iamMock.on(ListPolicyVersionsCommand).resolves({
      Versions: [{ VersionId: 'v1', IsDefaultVersion: true }, { VersionId: 'v2' }],
    })

    // Act
    await writeManagedPart(iam, REGION, 'app-server', 1, PART, DOCUMENT)

    // Assess
    expect(iamMock.commandCalls(CreatePolicyVersionCommand)).toHaveLength(2)
    expect(iamMock.commandCalls(DeletePolicyVersionCommand).length).toBeGreaterThan(0)
  })

  it('passes on any other refusal of the new version', async () => {
    // Prepare
    iamMock.on(CreatePolicyVersionCommand).rejects(gone())

    // Act
    const write = writeManagedPart(iam, REGION, 'app-server', 1, PART, DOCUMENT)

    // Assess
    await expect(write).rejects.toThrowError(NoSuchEntityException)
    expect(iamMock.commandCalls(CreatePolicyVersionCommand)).toHaveLength(1)
  })
})

describe('removeManagedPart: detach, delete the versions, then the policy, even when partly gone', () => {
  it('detaches, deletes the old versions, then the policy', async () => {
    // Prepare
    iamMock.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v3', IsDefaultVersion: true },
        { VersionId: 'v2', IsDefaultVersion: false },
      ],
    })

    // Act
    await removeManagedPart(iam, PART)

    // Assess
    expect(iamMock.commandCalls(DetachRolePolicyCommand)[0]?.args[0].input).toEqual({
      RoleName: 'app-server',
      PolicyArn: PART.arn,
    })
    expect(iamMock.commandCalls(DeletePolicyVersionCommand).map((call) => call.args[0].input)).toEqual([
      { PolicyArn: PART.arn, VersionId: 'v2' },
    ])
    expect(iamMock.commandCalls(DeletePolicyCommand)[0]?.args[0].input).toEqual({ PolicyArn: PART.arn })
  })

  it('finishes when the part is already detached and gone', async () => {
    // Prepare
    iamMock.on(DetachRolePolicyCommand).rejects(gone())
    iamMock.on(ListPolicyVersionsCommand).rejects(gone())
    iamMock.on(DeletePolicyCommand).rejects(gone())

    // Act
    const remove = removeManagedPart(iam, PART)

    // Assess
    await expect(remove).resolves.toBeUndefined()
  })

  const throttled = () => new Error('throttled')
  it.each([
    ['detaching', () => iamMock.on(DetachRolePolicyCommand).rejects(throttled())],
    ['listing its versions', () => iamMock.on(ListPolicyVersionsCommand).rejects(throttled())],
    ['deleting it', () => iamMock.on(DeletePolicyCommand).rejects(throttled())],
  ])('passes on any other failure %s', async (_, fail) => {
    // Prepare
    iamMock.on(ListPolicyVersionsCommand).resolves({ Versions: [] })
    fail()

    // Act
    const remove = removeManagedPart(iam, PART)

    // Assess
    await expect(remove).rejects.toThrowError('throttled')
  })
})

describe('every IAM call the managed parts make', () => {
  const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDenied' })
  const detached = { ...PART, attached: false }

  it.each([
    ['iam:ListPolicies', '*', ListPoliciesCommand, () => listManagedParts(iam, REGION)],
    ['iam:GetPolicyVersion', PART.arn, GetPolicyVersionCommand, () => readManagedPart(iam, PART)],
    [
      'iam:ListAttachedRolePolicies',
      'role app-server',
      ListAttachedRolePoliciesCommand,
      () => foreignManagedPolicyCount(iam, 'app-server', REGION),
    ],
    [
      'iam:CreatePolicy',
      'app-server-2',
      CreatePolicyCommand,
      () => writeManagedPart(iam, REGION, 'app-server', 2, undefined, DOCUMENT),
    ],
    [
      'iam:AttachRolePolicy',
      'role app-server',
      AttachRolePolicyCommand,
      () => writeManagedPart(iam, REGION, 'app-server', 1, detached, DOCUMENT),
    ],
    [
      'iam:CreatePolicyVersion',
      PART.arn,
      CreatePolicyVersionCommand,
      () => writeManagedPart(iam, REGION, 'app-server', 1, PART, DOCUMENT),
    ],
    [
      'iam:ListPolicyVersions',
      PART.arn,
      ListPolicyVersionsCommand,
      () => writeManagedPart(iam, REGION, 'app-server', 1, PART, DOCUMENT),
    ],
    [
      'iam:DeletePolicyVersion',
      PART.arn,
      DeletePolicyVersionCommand,
      () => writeManagedPart(iam, REGION, 'app-server', 1, PART, DOCUMENT),
    ],
    ['iam:DetachRolePolicy', 'role app-server', DetachRolePolicyCommand, () => removeManagedPart(iam, PART)],
    ['iam:DeletePolicy', PART.arn, DeletePolicyCommand, () => removeManagedPart(iam, PART)],
  ] as const)('names %s and what it was refused on', async (action, resource, command, call) => {
    // Prepare
    iamMock.on(ListPolicyVersionsCommand).resolves({ Versions: [{ VersionId: 'v1' }] })
    iamMock.on(CreatePolicyCommand).resolves({ Policy: { Arn: ARN('app-server-2') } })
    iamMock.on(command as typeof ListPoliciesCommand).rejects(denied())

    // Act
    const attempt = call()

    // Assess
    await expect(attempt).rejects.toThrowError(
      expect.objectContaining({
        name: 'MissingPermissionError',
        message: expect.stringContaining(`call ${action} on ${resource}:`),
      }),
    )
  })
})
