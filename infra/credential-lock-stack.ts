import { Stack, type StackProps } from 'aws-cdk-lib'
import type { Construct } from 'constructs'
import { type CanarySettings, StolenCredentialCanary } from './canary.js'
import { CredentialLock, type CredentialLockProps } from './credential-lock.js'
import { LockDashboard } from './dashboard.js'

export interface CredentialLockStackProps extends StackProps {
  /** Settings of the lock; see {@link CredentialLockProps} for each default. */
  readonly lock?: CredentialLockProps
  /**
   * Run the stolen-credential canary with these settings.
   * @default - no canary
   */
  readonly canary?: CanarySettings | undefined
}

/** One per account and region: the rules, queue, controller, alarms and uninstall of credential-lock. */
export class CredentialLockStack extends Stack {
  readonly lock: CredentialLock
  readonly canary: StolenCredentialCanary | undefined

  constructor(scope: Construct, id: string, props: CredentialLockStackProps = {}) {
    super(scope, id, {
      description: 'credential-lock: keeps EC2 instance-role credentials usable only where the instance is',
      ...props,
    })
    this.lock = new CredentialLock(this, 'CredentialLock', props.lock)
    const dashboard = new LockDashboard(this, 'Dashboard', this.lock)
    this.canary =
      props.canary === undefined
        ? undefined
        : new StolenCredentialCanary(this, 'Canary', {
            logRetention: props.lock?.logRetention,
            ...props.canary,
            lockTag: this.lock.lockTag,
            alarmTopic: this.lock.alarmTopic,
          })
    if (this.canary) dashboard.addCanary(this.canary)
  }
}
