import { Aws } from 'aws-cdk-lib'
import { EventBus, Rule } from 'aws-cdk-lib/aws-events'
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets'
import { Construct } from 'constructs'
import { AUDIT_SOURCE } from '../handlers/aws/audit.js'
import { targetDeadLetterQueue } from './target-dead-letter-queue.js'

/** The bus in the security account every member forwards its audit events to. */
export const CENTRAL_BUS_NAME = 'credential-lock-central'

export interface AuditForwardingProps {
  /** The bus the controller publishes its audit events to. */
  readonly auditEventBusName: string
  readonly securityAccountId: string
  readonly securityRegion: string
}

/** A rule in a member account that sends every credential-lock audit event on to the security account's bus. */
export class AuditForwarding extends Construct {
  readonly rule: Rule

  constructor(scope: Construct, id: string, props: AuditForwardingProps) {
    super(scope, id)
    const central = EventBus.fromEventBusArn(
      this,
      'CentralBus',
      `arn:${Aws.PARTITION}:events:${props.securityRegion}:${props.securityAccountId}:event-bus/${CENTRAL_BUS_NAME}`,
    )
    const undelivered = targetDeadLetterQueue(this, 'UndeliveredQueue', 'the forwarding rule')
    this.rule = new Rule(this, 'Rule', {
      description: 'credential-lock: forwards every audit event to the security account',
      eventBus: EventBus.fromEventBusName(this, 'AuditBus', props.auditEventBusName),
      eventPattern: { source: [AUDIT_SOURCE] },
      // The target role gets events:PutEvents on the central bus only; the bus's policy admits the organisation.
      targets: [new EventBusTarget(central, { deadLetterQueue: undelivered })],
    })
  }
}
