import { type App, Validations } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import { BootProvider } from './boot-provider.js'
import { canaryFromContext, flag, lockPropsFromContext, organizationFromContext } from './context.js'
import { CredentialLockStack } from './credential-lock-stack.js'
import { DemoStack, sshCidrFromContext } from './demo-stack.js'
import { OrganizationStack } from './organization.js'
import { SecurityAccountStack } from './security-account.js'

export interface CredentialLockApp {
  readonly lock: CredentialLockStack
  /** Only with context `demo=true`. */
  readonly demo: DemoStack | undefined
  /** Only with context `organization`: the StackSet (administrator) and the central bus (security account). */
  readonly organization:
    | { readonly stackSet: OrganizationStack; readonly security: SecurityAccountStack }
    | undefined
}

/**
 * Adds the stacks the context asks for, checked by cdk-nag's AWS Solutions rules. The stacks are
 * environment-agnostic, so synth needs no credentials and makes no lookups.
 */
export async function buildApp(app: App): Promise<CredentialLockApp> {
  const lockProps = lockPropsFromContext(app.node)
  const settings = organizationFromContext(app.node)
  const lock = new CredentialLockStack(app, 'CredentialLock', {
    lock: lockProps,
    canary: canaryFromContext(app.node),
  })
  if (flag(app.node, 'bootProvider')) new BootProvider(lock, 'BootProvider')
  const demo = flag(app.node, 'demo')
    ? new DemoStack(app, 'CredentialLockDemo', {
        sshCidr: await sshCidrFromContext(app.node),
        lockTag: lock.lock.lockTag,
        roleScopeTag: lock.lock.roleScope.tag,
      })
    : undefined
  const organization = settings && {
    stackSet: new OrganizationStack(app, 'CredentialLockOrganization', {
      organization: settings,
      lock: lockProps,
    }),
    security: new SecurityAccountStack(app, 'CredentialLockSecurity', {
      organization: settings,
      env: { account: settings.securityAccountId, region: settings.securityRegion },
    }),
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
  return { lock, demo, organization }
}
