/**
 * roleScope tagged: IAM itself keeps the controller and the uninstall handler off every role without the scope
 * tag, as the verdicts IAM gives show, and both functions know the scope so a refused write is a skip.
 */
import type { Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import type { CredentialLockApp } from '../../infra/cdk-app.js'
import {
  ACCOUNT,
  appWith,
  NO_BUNDLING,
  rolePoliciesOf,
  SSH_CIDR,
  statementsOf,
} from '../support/cdk-template.js'
import { type SimulatedRequest, verdicts } from '../support/simulate.js'

/** IAM actions that change a role's permissions. */
const WRITE_ON_ROLE = /^iam:(Put|Delete|Attach|Detach)Role/

describe('roleScope tagged: IAM allows the role writes only on roles with the tag', () => {
  const SCOPE_TAG = { key: 'security/credential-lock', value: 'managed' }
  let built: CredentialLockApp
  let template: Template

  beforeAll(async () => {
    built = await appWith({
      ...NO_BUNDLING,
      roleScope: 'tagged',
      roleScopeTagKey: SCOPE_TAG.key,
      roleScopeTagValue: SCOPE_TAG.value,
      demo: 'true',
      sshCidr: SSH_CIDR,
    })
    template = Template.fromStack(built.lock)
  })

  it('lets IAM allow every role write of the controller and the uninstaller only on roles with the tag', () => {
    // Prepare
    const writes = statementsOf(template).filter(
      (statement) =>
        statement.Effect === 'Allow' &&
        [statement.Action].flat().some((action) => WRITE_ON_ROLE.test(action)),
    )

    // Act
    const conditions = writes.map((statement) => (statement as { Condition?: unknown }).Condition)

    // Assess
    expect(writes.map((statement) => statement.Sid).sort()).toEqual([
      'AttachOnlyOwnManagedPolicies',
      'AttachOnlyOwnManagedPolicies',
      'DeleteOwnLockPolicy',
      'WriteOwnLockPolicy',
    ])
    for (const condition of conditions) {
      expect(condition).toMatchObject({
        StringEquals: { 'aws:ResourceTag/security/credential-lock': 'managed' },
      })
    }
  })

  it('tells both functions the scope, so a refused write is a skip and not a failure', () => {
    // Prepare
    const scopeVariables = {
      ROLE_SCOPE: 'tagged',
      ROLE_SCOPE_TAG_KEY: SCOPE_TAG.key,
      ROLE_SCOPE_TAG_VALUE: SCOPE_TAG.value,
    }

    // Act
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike(scopeVariables) } },
    })

    // Assess
    expect(Object.keys(functions).sort()).toEqual([
      expect.stringMatching(/^CredentialLockController/),
      expect.stringMatching(/^CredentialLockUninstallHandler/),
    ])
  })

  it('gives IAM the verdicts: Allowed on a tagged role, refused on any other, for each write', async () => {
    // Prepare
    const policies = rolePoliciesOf(template)
    const call = (action: string, tags: Record<string, string>): SimulatedRequest => ({
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/controller/credential-lock`,
      accountId: ACCOUNT,
      call: { action, resource: `arn:aws:iam::${ACCOUNT}:role/web` },
      context: Object.fromEntries(
        Object.entries(tags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]),
      ),
    })
    const requests = ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'].flatMap((action) => [
      call(action, { [SCOPE_TAG.key]: SCOPE_TAG.value }),
      call(action, { [SCOPE_TAG.key]: 'no' }),
      call(action, { team: 'web' }),
    ])

    // Act
    const controller = await verdicts(policies.controller, requests)
    const uninstall = await verdicts(policies.uninstall, requests.slice(3))

    // Assess
    expect(controller).toEqual([
      'Allowed',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
      'Allowed',
      'ImplicitlyDenied',
      'ImplicitlyDenied',
    ])
    expect(uninstall).toEqual(['Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied'])
  })

  it('tags the demo role so the demo is locked in this scope', () => {
    Template.fromStack(built.demo as Stack).hasResourceProperties('AWS::IAM::Role', {
      Tags: Match.arrayWith([{ Key: SCOPE_TAG.key, Value: SCOPE_TAG.value }]),
    })
  })
})
