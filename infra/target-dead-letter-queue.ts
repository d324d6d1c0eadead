import { Duration, Validations } from 'aws-cdk-lib'
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'

/**
 * Where EventBridge puts the events a rule target refused for 24 hours: a standard queue (EventBridge accepts no
 * FIFO one), encrypted, TLS only, kept 14 days for a redrive.
 */
export function targetDeadLetterQueue(scope: Construct, id: string, target: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  })
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of ${target}.`,
  })
  return queue
}
