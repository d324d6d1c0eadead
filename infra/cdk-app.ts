import { type App, Validations } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import { BootProvider } from './boot-provider.js'
import { canaryFromContext, flag, lockPropsFromContext } from './context.js'
import { CredentialLockStack } from './credential-lock-stack.js'
import { DemoStack, sshCidrFromContext } from './demo-stack.js'

export interface CredentialLockApp {
  readonly lock: CredentialLockStack
  /** Only with context `demo=true`. */
  readonly demo: DemoStack | undefined
}

/**
 * Adds the stacks the context asks for, checked by cdk-nag's AWS Solutions rules. The stacks are
 * environment-agnostic, so synth needs no credentials and makes no lookups.
 */
export async function buildApp(app: App): Promise<CredentialLockApp> {
  const lock = new CredentialLockStack(app, 'CredentialLock', {
    lock: lockPropsFromContext(app.node),
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
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
  return { lock, demo }
}
