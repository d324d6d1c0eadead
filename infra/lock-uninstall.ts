import { type CfnElement, CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib'
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs'
import { Provider } from 'aws-cdk-lib/custom-resources'
import { Construct } from 'constructs'
import { handlerFunction } from './lambda-defaults.js'
import { OWN_MANAGED_POLICIES_ACKNOWLEDGEMENT, ownManagedPolicyGrants } from './own-policies.js'
import type { RoleScope } from './role-scope.js'

export interface LockUninstallProps {
  readonly logRetention: RetentionDays
  /** The roles the uninstall may delete the lock policy from: the controller's own scope. */
  readonly roleScope: RoleScope
}

/**
 * A custom resource whose deletion removes every lock policy the controller wrote, so `cdk destroy` leaves
 * the account's roles as they were before the install. Make the controller depend on it: CloudFormation
 * then deletes the controller first, and no late event can write a lock after this one removed them all.
 */
export class LockUninstall extends Construct {
  constructor(scope: Construct, id: string, props: LockUninstallProps) {
    super(scope, id)
    const stack = Stack.of(this)
    const logGroup = new LogGroup(this, 'LogGroup', { retention: props.logRetention })

    const handlerRole = new Role(this, 'HandlerRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'credential-lock uninstall: deletes the controller policy from instance-profile roles',
    })
    handlerRole.addToPolicy(
      new PolicyStatement({
        actions: ['iam:ListInstanceProfiles'],
        resources: [
          stack.formatArn({ service: 'iam', region: '', resource: 'instance-profile', resourceName: '*' }),
        ],
      }),
    )
    // Function roles can carry a lock too; and a role nothing uses any more is found by the bulk read.
    handlerRole.addToPolicy(
      new PolicyStatement({
        actions: ['lambda:ListFunctions', 'iam:GetAccountAuthorizationDetails'],
        resources: ['*'],
      }),
    )
    handlerRole.addToPolicy(
      props.roleScope.allowOnRoles(this, 'DeleteOwnLockPolicy', ['iam:DeleteRolePolicy']),
    )
    for (const statement of ownManagedPolicyGrants(this, props.roleScope, { create: false }))
      handlerRole.addToPolicy(statement)
    logGroup.grantWrite(handlerRole)
    Validations.of(handlerRole).acknowledge(
      OWN_MANAGED_POLICIES_ACKNOWLEDGEMENT,
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'iam:ListPolicies, lambda:ListFunctions and the read-only iam:GetAccountAuthorizationDetails support no ' +
          'resource-level permissions.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:instance-profile/*]',
        reason: 'Uninstall must list every instance profile of the account to find every locked role.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]',
        reason: props.roleScope.reviewReason,
      },
    )

    const onEvent = handlerFunction(this, 'Handler', {
      entry: 'handlers/controller/uninstall.ts',
      description: 'credential-lock uninstall: removes every credential-lock policy on stack deletion',
      role: handlerRole,
      logGroup,
      timeout: Duration.minutes(10),
      environment: props.roleScope.environment,
    })

    const providerRole = new Role(this, 'ProviderRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'credential-lock uninstall: custom resource framework that invokes the uninstall handler',
    })
    logGroup.grantWrite(providerRole)
    const provider = new Provider(this, 'Provider', {
      onEventHandler: onEvent,
      frameworkOnEventRole: providerRole,
      logGroup,
    })
    Validations.of(providerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(onEvent.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason:
        'The CDK provider framework invokes any version of the uninstall handler (grantInvoke adds :*).',
    })

    new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::CredentialLockUninstall',
    })
  }
}
