/**
 * IAM pages that leave out their list (the SDK omits an empty list element): each reading treats such a page as
 * empty, so a role without other policies costs nothing of its budget. The last mutation pass found these paths
 * run by no test.
 */
import {
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  foreignManagedPolicyCount,
  instanceProfileRoles,
  listManagedParts,
  otherInlinePolicyChars,
} from '../handlers/aws/iam-roles.js'

const iamMock = mockClient(IAMClient)
const iam = new IAMClient({ region: 'us-east-1' })
const REGION = 'us-east-1'

beforeEach(() => iamMock.reset())

describe('a page without its list', () => {
  it('gives no other inline policy characters, and reads no policy', async () => {
    // Prepare
    iamMock.on(ListRolePoliciesCommand).resolves({ IsTruncated: false })

    // Act
    const chars = await otherInlinePolicyChars(iam, 'web', 'credential-lock-us-east-1')

    // Assess
    expect(chars).toBe(0)
    expect(iamMock.commandCalls(GetRolePolicyCommand)).toHaveLength(0)
  })

  it('counts no foreign managed policy', async () => {
    // Prepare
    iamMock.on(ListAttachedRolePoliciesCommand).resolves({ IsTruncated: false })

    // Act
    const count = await foreignManagedPolicyCount(iam, 'web', REGION)

    // Assess
    expect(count).toBe(0)
  })

  it('names no instance profile and no managed part', async () => {
    // Prepare
    iamMock.on(ListInstanceProfilesCommand).resolves({ IsTruncated: false })
    iamMock.on(ListPoliciesCommand).resolves({ IsTruncated: false })

    // Act
    const roles = await instanceProfileRoles(iam)
    const parts = await listManagedParts(iam, REGION)

    // Assess
    expect(roles.size).toBe(0)
    expect(parts.size).toBe(0)
  })
})
