import { Aws, Stack } from 'aws-cdk-lib'
import { PolicyStatement } from 'aws-cdk-lib/aws-iam'
import type { Construct } from 'constructs'
import type { RoleScope } from './role-scope.js'

/**
 * IAM grants for the customer-managed policies the controller owns when a fleet outgrows a role's inline budget:
 * only policies under its own path (`/credential-lock/<region>/`), attached and detached only to and from roles
 * with a condition on that path. The uninstaller gets the same, without create.
 */
export function ownManagedPolicyGrants(
  scope: Construct,
  roleScope: RoleScope,
  options: { readonly create: boolean } = { create: true },
): PolicyStatement[] {
  const stack = Stack.of(scope)
  const ownPolicies = stack.formatArn({
    service: 'iam',
    region: '',
    resource: 'policy',
    resourceName: `credential-lock/${Aws.REGION}/*`,
  })
  return [
    new PolicyStatement({
      sid: 'FindOwnManagedPolicies',
      actions: ['iam:ListPolicies'],
      resources: ['*'],
    }),
    new PolicyStatement({
      sid: 'ManageOwnManagedPolicies',
      actions: [
        ...(options.create ? ['iam:CreatePolicy', 'iam:CreatePolicyVersion', 'iam:GetPolicyVersion'] : []),
        'iam:ListPolicyVersions',
        'iam:DeletePolicyVersion',
        'iam:DeletePolicy',
      ],
      resources: [ownPolicies],
    }),
    attachOnlyOwn(scope, roleScope, options.create, ownPolicies),
  ]
}

/** Attaching and detaching are writes on the role: the role scope applies, and only policies under the path. */
function attachOnlyOwn(
  scope: Construct,
  roleScope: RoleScope,
  create: boolean,
  ownPolicies: string,
): PolicyStatement {
  const statement = roleScope.allowOnRoles(scope, 'AttachOnlyOwnManagedPolicies', [
    ...(create ? ['iam:AttachRolePolicy'] : []),
    'iam:DetachRolePolicy',
  ])
  statement.addCondition('ArnLike', { 'iam:PolicyARN': ownPolicies })
  return statement
}

export const OWN_MANAGED_POLICIES_ACKNOWLEDGEMENT = {
  id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/credential-lock/<AWS::Region>/*]',
  reason:
    'The controller creates, versions and deletes only the managed policies under its own path, one per part of ' +
    'a large fleet’s lock; their names are not known in advance.',
}
