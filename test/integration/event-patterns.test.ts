import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge'
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs'
import { App } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { CredentialLockStack } from '../../infra/credential-lock-stack.js'
import { type AnyEventBridgeEvent, type FixtureName, loadEvent } from '../support/events.js'
import { useMotoAccount } from '../support/moto.js'

// moto 5.2's TestEventPattern API is a stub that answers nothing, but its event bus really evaluates rule
// patterns (exact values, arrays, exists, prefix...) when routing PutEvents to targets. So each deployed rule
// is recreated in moto with its deployed pattern and SQS FIFO target, and every fixture is put on the bus:
// the queues that receive it are the rules that match it.
type RuleName = 'InstanceStateRule' | 'AddressAndProfileRule' | 'LockTagRule' | 'FunctionRule'

const EXPECTED_RULE: Record<FixtureName, RuleName | undefined> = {
  'ec2-state-change-pending': 'InstanceStateRule',
  'ec2-state-change-running': 'InstanceStateRule',
  'ec2-state-change-stopping': 'InstanceStateRule',
  'ec2-state-change-stopped': 'InstanceStateRule',
  'ec2-state-change-shutting-down': 'InstanceStateRule',
  'ec2-state-change-terminated': 'InstanceStateRule',
  'cloudtrail-associate-address-by-instance': 'AddressAndProfileRule',
  'cloudtrail-associate-address-by-eni': 'AddressAndProfileRule',
  'cloudtrail-disassociate-address': 'AddressAndProfileRule',
  'cloudtrail-associate-iam-instance-profile': 'AddressAndProfileRule',
  'cloudtrail-replace-iam-instance-profile-association': 'AddressAndProfileRule',
  'cloudtrail-disassociate-iam-instance-profile': 'AddressAndProfileRule',
  'tag-change-ec2-instance': 'LockTagRule',
  'tag-change-ec2-instance-opt-out': 'LockTagRule',
  'cloudtrail-lambda-create-function': 'FunctionRule',
  'cloudtrail-lambda-update-function-configuration': 'FunctionRule',
  'cloudtrail-lambda-tag-resource': 'FunctionRule',
  'cloudtrail-lambda-untag-resource': 'FunctionRule',
  'cloudtrail-lambda-delete-function': 'FunctionRule',
  // The pattern cannot tell a function's tag keys or changed fields apart: the controller ignores these itself.
  'cloudtrail-lambda-untag-other-key': 'FunctionRule',
  'cloudtrail-lambda-update-function-environment': 'FunctionRule',
  // Unrelated events, a Lambda call that changes no lock, and a failed call that changed nothing.
  'cloudtrail-associate-address-failed': undefined,
  'cloudtrail-lambda-update-function-code': undefined,
  'cloudtrail-lambda-delete-function-failed': undefined,
  'cloudtrail-ec2-describe-instances': undefined,
  'cloudtrail-s3-put-object': undefined,
  'tag-change-s3-bucket': undefined,
  // The schedule rule fires by itself; no pattern rule may take its events.
  'scheduled-event': undefined,
}
const RULES: readonly RuleName[] = [
  'InstanceStateRule',
  'AddressAndProfileRule',
  'LockTagRule',
  'FunctionRule',
]

interface DeployedRule {
  readonly eventPattern: string
  readonly messageGroupId: string
}

/** The event pattern and target message group of each pattern rule, as the template deploys them. */
function deployedRules(lockTagKey?: string): Map<RuleName, DeployedRule> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } })
  const stack = new CredentialLockStack(app, 'Patterns', { lock: { lockTagKey } })
  const rules = Template.fromStack(stack).findResources('AWS::Events::Rule')
  const deployed = new Map<RuleName, DeployedRule>()
  for (const [logicalId, rule] of Object.entries(rules)) {
    const name = RULES.find((candidate) => logicalId.startsWith(`CredentialLock${candidate}`))
    if (name === undefined) continue
    deployed.set(name, {
      eventPattern: JSON.stringify(rule.Properties.EventPattern),
      messageGroupId: rule.Properties.Targets[0].SqsParameters.MessageGroupId,
    })
  }
  return deployed
}

/** A default bus in its own moto account with the given rules, each sending to its own FIFO queue. */
async function busWithRules(rules: Map<RuleName, DeployedRule>) {
  const endpoint = inject('motoEndpoint')
  const clientConfig = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  }
  const eventBridge = new EventBridgeClient(clientConfig)
  const sqs = new SQSClient(clientConfig)
  useMotoAccount(sqs, useMotoAccount(eventBridge))
  const queues = new Map<RuleName, string>()
  for (const [name, rule] of rules) {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}.fifo`,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
      }),
    )
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    )
    await eventBridge.send(new PutRuleCommand({ Name: name, EventPattern: rule.eventPattern }))
    await eventBridge.send(
      new PutTargetsCommand({
        Rule: name,
        Targets: [
          { Id: 'queue', Arn: Attributes?.QueueArn, SqsParameters: { MessageGroupId: rule.messageGroupId } },
        ],
      }),
    )
    queues.set(name, QueueUrl ?? '')
  }

  /** Puts the event on the bus; returns the rules whose queue received it, with each message group. */
  async function deliver(event: AnyEventBridgeEvent): Promise<{ rule: RuleName; messageGroupId?: string }[]> {
    await eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: event.source,
            DetailType: event['detail-type'],
            Detail: JSON.stringify(event.detail),
            Resources: event.resources,
            Time: new Date(event.time),
          },
        ],
      }),
    )
    const received = []
    for (const [rule, QueueUrl] of queues) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ['All'],
        }),
      )
      for (const message of Messages) {
        received.push({ rule, messageGroupId: message.Attributes?.MessageGroupId })
        // A received FIFO message blocks its group until deleted.
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }))
      }
    }
    return received
  }
  return { deliver }
}

describe('EventBridge rule patterns, routed by a moto event bus', () => {
  let bus: Awaited<ReturnType<typeof busWithRules>>

  beforeAll(async () => {
    bus = await busWithRules(deployedRules())
  })

  it.each(Object.entries(EXPECTED_RULE))('%s reaches %s and no other rule', async (fixture, expected) => {
    // Prepare
    const event = loadEvent(fixture as FixtureName)

    // Act
    const received = await bus.deliver(event)

    // Assess
    expect(received).toEqual(expected ? [{ rule: expected, messageGroupId: 'credential-lock' }] : [])
  })

  it('follows a custom lock tag key, so other keys on instances do not wake the controller', async () => {
    // Prepare
    const customTagRule = deployedRules('team:credential-lock').get('LockTagRule')
    const customBus = await busWithRules(new Map(customTagRule ? [['LockTagRule', customTagRule]] : []))
    const defaultKeyChange = loadEvent('tag-change-ec2-instance')
    const customKeyChange = loadEvent('tag-change-ec2-instance', {
      '"credential-lock"': '"team:credential-lock"',
    })

    // Act
    const received = [await customBus.deliver(defaultKeyChange), await customBus.deliver(customKeyChange)]

    // Assess
    expect(received.map((messages) => messages.length)).toEqual([0, 1])
  })
})
