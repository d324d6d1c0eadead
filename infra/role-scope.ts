import { Stack } from 'aws-cdk-lib'
import { PolicyStatement } from 'aws-cdk-lib/aws-iam'
import type { Construct } from 'constructs'

/** `all`: any role of the account. `tagged`: only roles carrying the scope tag, enforced by IAM itself. */
export type RoleScopeKind = 'all' | 'tagged'

export const ROLE_SCOPE_KINDS: readonly RoleScopeKind[] = ['all', 'tagged']

/**
 * The roles credential-lock's functions may write on, as IAM conditions: every grant that writes on a role
 * (inline policies now, managed-policy attachments later) is built here, so none can forget the scope.
 */
export class RoleScope {
  static all(): RoleScope {
    return new RoleScope(undefined)
  }

  static tagged(tag: { readonly key: string; readonly value: string }): RoleScope {
    return new RoleScope(tag)
  }

  private constructor(
    /** The tag a role must carry to be written on; undefined when every role is in scope. */
    readonly tag: { readonly key: string; readonly value: string } | undefined,
  ) {}

  get kind(): RoleScopeKind {
    return this.tag === undefined ? 'all' : 'tagged'
  }

  /** What the handlers read the scope from (handlers/aws/config.ts, readRoleScope). */
  get environment(): Readonly<Record<string, string>> {
    return this.tag === undefined
      ? { ROLE_SCOPE: 'all' }
      : { ROLE_SCOPE: 'tagged', ROLE_SCOPE_TAG_KEY: this.tag.key, ROLE_SCOPE_TAG_VALUE: this.tag.value }
  }

  /**
   * Allows `actions` on the account's roles in scope. With `tagged`, IAM matches the role's own tag through
   * `aws:ResourceTag/<key>`, the condition key IAM documents for role resources, so a write on any other role
   * is refused by IAM whatever the function's code does.
   */
  allowOnRoles(scope: Construct, sid: string, actions: readonly string[]): PolicyStatement {
    return new PolicyStatement({
      sid,
      actions: [...actions],
      resources: [
        Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' }),
      ],
      conditions:
        this.tag === undefined
          ? undefined
          : { StringEquals: { [`aws:ResourceTag/${this.tag.key}`]: this.tag.value } },
    })
  }

  /** Why a reviewer can accept these writes on `role/*` (cdk-nag AwsSolutions-IAM5). */
  get reviewReason(): string {
    return this.tag === undefined
      ? 'roleScope all: any instance-profile role can be opted in; the functions write only the policy named ' +
          'credential-lock-<region>. Choose roleScope tagged to have IAM limit them to tagged roles.'
      : `roleScope tagged: IAM allows these writes only on roles tagged ${this.tag.key}=${this.tag.value} ` +
          '(aws:ResourceTag condition); the functions write only the policy named credential-lock-<region>.'
  }
}
