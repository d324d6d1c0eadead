import { Aws, Fn, Names, Stack, Token } from 'aws-cdk-lib'
import type { IVpc } from 'aws-cdk-lib/aws-ec2'
import { AccountPrincipal, type CfnRole, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam'
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda'

/** IAM role names are at most 64 characters; the longest region name, and its dash, take 15 of them. */
const ROLE_NAME_PREFIX_LENGTH = 49

/**
 * Lets `role` assume itself, and no one else: what the in-function lockdown (handlers/lockdown/lockdown.ts) needs to
 * re-assume its function's role under a locking session policy.
 *
 * A trust policy cannot name its own role as principal (IAM rejects a principal that does not exist yet, and
 * the role's ARN attribute would make CloudFormation see a circular dependency). So the statement trusts the
 * account and is scoped with `aws:PrincipalArn` to this role's ARN, built from its name, path and the stack's
 * account; the role's identity policy grants `sts:AssumeRole` on itself, which a trust naming the account
 * requires. A role without a name gets one, unique per construct path and region.
 */
export function allowSelfAssume(role: Role): void {
  const resource = role.node.defaultChild as CfnRole
  // An unnamed role's name is a token that resolves to nothing: CloudFormation would pick the name on deploy.
  if (Stack.of(role).resolve(resource.roleName) === undefined) resource.roleName = generatedRoleName(role)
  const path = resource.path ?? '/'
  if (Token.isUnresolved(path)) {
    throw new Error(`Role ${role.node.path} has a path only known at deploy time: give it a literal path.`)
  }
  const ownArn = Stack.of(role).formatArn({
    service: 'iam',
    region: '',
    resource: 'role',
    resourceName: `${path.slice(1)}${resource.roleName}`,
  })
  role.assumeRolePolicy?.addStatements(
    new PolicyStatement({
      sid: 'SelfAssumeForCredentialLock',
      actions: ['sts:AssumeRole'],
      principals: [new AccountPrincipal(Stack.of(role).account)],
      conditions: { ArnEquals: { 'aws:PrincipalArn': ownArn } },
    }),
  )
  role.addToPrincipalPolicy(new PolicyStatement({ actions: ['sts:AssumeRole'], resources: [role.roleArn] }))
}

function generatedRoleName(role: Role): string {
  const prefix = Names.uniqueResourceName(role, { maxLength: ROLE_NAME_PREFIX_LENGTH })
  const region = Stack.of(role).region
  return Token.isUnresolved(region) ? Fn.join('-', [prefix, Aws.REGION]) : `${prefix}-${region}`
}

export interface FunctionLockdownProps {
  /**
   * What the function does when its credentials cannot be locked (the address look-up or AssumeRole fails):
   * `open` runs on its unlocked credentials and logs at ERROR with a `CredentialLock/LockdownFailed` metric;
   * `closed` fails the invocation.
   * @default 'open' - a look-up outage must not stop the function; alarm on the metric instead
   */
  readonly failureMode?: 'open' | 'closed'
  /**
   * The VPC the function runs in: its VPC endpoints stay usable, every other VPC's are refused. Required
   * exactly when the function is in a VPC.
   * @default - the function is outside any VPC: every VPC endpoint call is refused
   */
  readonly vpc?: IVpc
}

/**
 * Prepares a function for the in-function lockdown: its role may assume itself ({@link allowSelfAssume}),
 * and its environment tells the lockdown the role's ARN, the failure mode and which VPC endpoints to allow.
 */
export function lockDownFunction(fn: LambdaFunction, props: FunctionLockdownProps = {}): void {
  const role = fn.role
  if (!(role instanceof Role)) {
    throw new Error(
      `Function ${fn.node.path} does not use a role this app creates: give it one, so its trust policy can change.`,
    )
  }
  if (fn.isBoundToVpc !== (props.vpc !== undefined)) {
    throw new Error(
      fn.isBoundToVpc
        ? `Function ${fn.node.path} runs in a VPC: pass that vpc, or its endpoint calls would be refused.`
        : `Function ${fn.node.path} runs outside any VPC: do not pass a vpc.`,
    )
  }
  allowSelfAssume(role)
  fn.addEnvironment('CREDENTIAL_LOCK_ROLE_ARN', role.roleArn)
  fn.addEnvironment('CREDENTIAL_LOCK_FAILURE_MODE', props.failureMode ?? 'open')
  fn.addEnvironment('CREDENTIAL_LOCK_SOURCE_VPCS', props.vpc?.vpcId ?? 'none')
}
