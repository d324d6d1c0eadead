/**
 * The bulk read of IAM (GetAccountAuthorizationDetails) over a response of the shape real IAM returns: paged by
 * Marker, documents URL-encoded. moto 5.2.1 implements the call but never pages (it ignores MaxItems and always
 * answers IsTruncated false), so paging is proven here over two recorded-shape pages; test/integration/scale.test.ts
 * runs the same read against moto.
 */
import { readFileSync } from 'node:fs'
import {
  GetAccountAuthorizationDetailsCommand,
  type GetAccountAuthorizationDetailsCommandOutput,
  GetPolicyVersionCommand,
  IAMClient,
} from '@aws-sdk/client-iam'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { accountIamOf, carriesOwnPolicy, readAccountIam } from '../../handlers/aws/account-iam.js'
import { MissingPermissionError } from '../../handlers/aws/errors.js'
import { decodePolicyDocument, ManagedPartCache, readManagedPart } from '../../handlers/aws/iam-roles.js'
import { lockPolicyName, policyChars, readLock } from '../../policy/lock/index.js'
import { accessDenied } from '../support/mocked-controller.js'

const REGION = 'us-east-1'
const OWN = lockPolicyName(REGION)
const PART_ARN = 'arn:aws:iam::123456789012:policy/credential-lock/us-east-1/web-1'
const FIXTURE = new URL('../fixtures/iam/account-authorization-details.json', import.meta.url)

const iam = mockClient(IAMClient)

function recordedPages(): GetAccountAuthorizationDetailsCommandOutput[] {
  return (
    JSON.parse(readFileSync(FIXTURE, 'utf8')) as { pages: GetAccountAuthorizationDetailsCommandOutput[] }
  ).pages
}

/** Serves the two recorded pages by Marker; returns each request as it was sent (the paginator reuses its input). */
function serveRecordedPages(): object[] {
  const [first, second] = recordedPages()
  const sent: object[] = []
  iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input: { Marker?: string }) => {
    sent.push({ ...input })
    return input.Marker === first?.Marker ? second : first
  })
  return sent
}

beforeEach(() => iam.reset())

describe('the bulk read of IAM', () => {
  it('asks for roles and customer-managed policies only, in pages of 1,000, following the Marker', async () => {
    // Prepare
    const sent = serveRecordedPages()

    // Act
    await readAccountIam(new IAMClient({ region: REGION }), REGION, OWN)

    // Assess
    expect(sent).toEqual([
      { Filter: ['Role', 'LocalManagedPolicy'], MaxItems: 1_000 },
      { Filter: ['Role', 'LocalManagedPolicy'], MaxItems: 1_000, Marker: 'AAEAAXJvbGUtcGFnZS0y' },
    ])
  })

  it('reads each role’s own lock, decoded, from every page', async () => {
    // Prepare
    serveRecordedPages()

    // Act
    const account = await readAccountIam(new IAMClient({ region: REGION }), REGION, OWN)

    // Assess
    const web = account.roles.get('web')
    expect(
      readLock([web?.own.inline, ...(web?.own.parts ?? []).map((each) => each.document)]).locked,
    ).toEqual(new Set(['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719']))
    expect(readLock(account.roles.get('batch')?.own.inline).functions?.locked).toEqual(
      new Set(['nightly-export']),
    )
    expect(account.roles.get('plain')?.own).toEqual({ inline: undefined, parts: [] })
  })

  it('takes a managed part’s default version only, and only the parts under the controller’s path', async () => {
    // Prepare
    serveRecordedPages()

    // Act
    const account = await readAccountIam(new IAMClient({ region: REGION }), REGION, OWN)

    // Assess
    const parts = account.roles.get('web')?.own.parts ?? []
    expect(parts.map(({ part }) => part)).toEqual([
      { roleName: 'web', part: 1, arn: PART_ARN, defaultVersionId: 'v3', attached: true },
    ])
    expect(readLock(parts[0]?.document).locked).toEqual(new Set(['i-0a1b2c3d4e5f60719']))
  })

  it('knows each role’s budget: its other inline policies and the managed policies of others', async () => {
    // Prepare
    serveRecordedPages()
    const [first] = recordedPages()
    const appAccess = first?.RoleDetailList?.[0]?.RolePolicyList?.[0]?.PolicyDocument ?? ''

    // Act
    const account = await readAccountIam(new IAMClient({ region: REGION }), REGION, OWN)

    // Assess
    expect(account.roles.get('web')).toMatchObject({
      otherInlineChars: policyChars(decodeURIComponent(appAccess)),
      foreignManagedPolicies: 1,
    })
  })

  it('maps every instance profile to its role, and names the roles that still carry the lock', async () => {
    // Prepare
    serveRecordedPages()

    // Act
    const account = await readAccountIam(new IAMClient({ region: REGION }), REGION, OWN)

    // Assess
    expect(account.profileRoles).toEqual(
      new Map([
        ['arn:aws:iam::123456789012:instance-profile/web', 'web'],
        ['arn:aws:iam::123456789012:instance-profile/plain-profile', 'plain'],
      ]),
    )
    const carrying = [...account.roles].flatMap(([name, role]) => (carriesOwnPolicy(role) ? [name] : []))
    expect(carrying).toEqual(['web', 'batch'])
  })

  it('remembers each part’s default version, so the warm Lambda does not read it again', async () => {
    // Prepare
    serveRecordedPages()
    const cache = new ManagedPartCache()
    const client = new IAMClient({ region: REGION })
    const account = await readAccountIam(client, REGION, OWN, cache)
    const part = account.roles.get('web')?.own.parts[0]

    // Act
    const document = part && (await readManagedPart(client, part.part, cache))

    // Assess
    expect(document).toBe(part?.document)
    expect(iam.commandCalls(GetPolicyVersionCommand)).toHaveLength(0)
  })

  it('names the missing permission when IAM refuses it', async () => {
    // Prepare
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(accessDenied())

    // Act
    const attempt = readAccountIam(new IAMClient({ region: REGION }), REGION, OWN)

    // Assess
    await expect(attempt).rejects.toThrowError(
      expect.objectContaining({
        name: MissingPermissionError.name,
        action: 'iam:GetAccountAuthorizationDetails',
      }),
    )
  })
})

describe('a managed part whose default version changed', () => {
  it('is read again', async () => {
    // Prepare
    const cache = new ManagedPartCache()
    const part = { roleName: 'web', part: 1, arn: PART_ARN, defaultVersionId: 'v3', attached: true }
    cache.remember(part, '{"Version":"2012-10-17","Statement":[]}')
    iam.on(GetPolicyVersionCommand).resolves({ PolicyVersion: { Document: encodeURIComponent('{"v":4}') } })

    // Act
    const document = await readManagedPart(
      new IAMClient({ region: REGION }),
      { ...part, defaultVersionId: 'v4' },
      cache,
    )

    // Assess
    expect(document).toBe('{"v":4}')
    expect(iam.commandCalls(GetPolicyVersionCommand)).toHaveLength(1)
  })
})

describe('a policy document from the bulk read', () => {
  it.each([
    ['URL-encoded, as IAM returns it', encodeURIComponent('{"Version":"2012-10-17"}')],
    ['plain JSON, as an emulator may return it', '{"Version":"2012-10-17"}'],
    ['plain JSON holding a percent sign', '{"Version":"2012-10-17","Sid":"100%"}'],
  ])('is read when %s', (_, document) => {
    // Act
    const decoded = decodePolicyDocument(document)

    // Assess
    expect(JSON.parse(decoded ?? '')).toMatchObject({ Version: '2012-10-17' })
  })

  it('that no role names leaves the account with no role', () => {
    // Act
    const account = accountIamOf([], [], REGION, OWN)

    // Assess
    expect(account.roles.size).toBe(0)
    expect(account.profileRoles.size).toBe(0)
  })
})

describe('a managed policy the bulk read names by ARN only', () => {
  it('is known by the name its ARN ends with, as moto 5.2.1 answers', () => {
    // Prepare: moto leaves PolicyName out of the Policies list.
    const [, second] = recordedPages()
    const policies = (second?.Policies ?? []).map(({ PolicyName: _, ...rest }) => rest)
    const roles = recordedPages()[0]?.RoleDetailList ?? []

    // Act
    const account = accountIamOf(roles, policies, REGION, OWN)

    // Assess
    expect(account.roles.get('web')?.own.parts.map(({ part }) => part.arn)).toEqual([PART_ARN])
  })
})
