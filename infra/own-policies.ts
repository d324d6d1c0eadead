import { Aws, type Stack } from 'aws-cdk-lib'
import { PolicyStatement } from 'aws-cdk-lib/aws-iam'

/**
 * IAM grants for the customer-managed policies the controller owns when a fleet outgrows a role's inline budget:
 * only policies under its own path (`/credential-lock/<region>/`), attached and detached only to and from roles
 * with a condition on that path. The uninstaller gets the same, without create.
 */
export function ownManagedPolicyGrants(
  stack: Stack,
  options: { readonly create: boolean } = { create: true },
) {
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
    new PolicyStatement({
      sid: 'AttachOnlyOwnManagedPolicies',
      actions: [...(options.create ? ['iam:AttachRolePolicy'] : []), 'iam:DetachRolePolicy'],
      resources: [stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' })],
      conditions: { ArnLike: { 'iam:PolicyARN': ownPolicies } },
    }),
  ]
}

export const OWN_MANAGED_POLICIES_ACKNOWLEDGEMENT = {
  id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/credential-lock/<AWS::Region>/*]',
  reason:
    'The controller creates, versions and deletes only the managed policies under its own path, one per part of ' +
    'a large fleet’s lock; their names are not known in advance.',
}
