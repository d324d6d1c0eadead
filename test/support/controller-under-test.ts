import { Logger } from '@aws-lambda-powertools/logger'
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { EC2Client } from '@aws-sdk/client-ec2'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { SQSClient } from '@aws-sdk/client-sqs'
import { type ControllerConfig, readConfig } from '../../handlers/aws/config.js'
import { ManagedPartCache } from '../../handlers/aws/iam-roles.js'
import { createHandler } from '../../handlers/controller/lambda.js'
import { AwsCallCounter } from './aws-call-counter.js'
import { enforceInlineQuota } from './inline-quota.js'
import { useMotoAccount } from './moto.js'
import type { ControllerHandler } from './story.js'

export interface ControllerUnderTest {
  readonly handler: ControllerHandler
  readonly calls: AwsCallCounter
  readonly advanceClock: (ms: number) => void
  /** Operator-side clients in the same moto account, not counted. */
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly lambda: LambdaClient
  readonly accountId: string
  /** Every `lock decision` line the controller logged, oldest first. */
  readonly decisions: readonly DecisionLine[]
}

/** The fields of one `lock decision` log line (see handlers/aws/reconciler.ts). */
export interface DecisionLine {
  readonly roleName: string
  readonly action: string
  readonly reason: string
  readonly instances: readonly ({ readonly instanceId: string; readonly outcome: string } & Record<
    string,
    unknown
  >)[]
  readonly functions: readonly ({ readonly functionName: string; readonly outcome: string } & Record<
    string,
    unknown
  >)[]
}

/** A logger that also keeps the controller's decision lines, so tests can read the reasons it gave. */
class DecisionRecorder extends Logger {
  readonly decisions: DecisionLine[] = []

  override info(input: LogItemMessage, ...extraInput: LogItemExtraInput): void {
    const [fields] = extraInput
    if (input === 'lock decision' && typeof fields === 'object')
      this.decisions.push(fields as unknown as DecisionLine)
    super.info(input, ...extraInput)
  }
}

/**
 * The real controller against a moto endpoint, in a moto account of its own, with its AWS calls counted and
 * its clock under the caller's control. Logs go to `logLevel` (SILENT in tests, INFO in the demo).
 */
export function controllerUnderTest(
  endpoint: string,
  options: {
    readonly logLevel?: 'SILENT' | 'INFO'
    readonly config?: Partial<ControllerConfig>
    /** Another controller's moto account, to run it with other settings on the same world. */
    readonly accountId?: string
    /**
     * Read IAM role by role with no cache, as the controller did before the bulk read (and does when an SCP
     * refuses it): the bulk read is refused with AccessDenied.
     * @default false
     */
    readonly roleByRole?: boolean
  } = {},
): ControllerUnderTest {
  const clientConfig = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  }
  const controllerClients = {
    ec2: new EC2Client(clientConfig),
    iam: new IAMClient(clientConfig),
    lambda: new LambdaClient(clientConfig),
    events: new EventBridgeClient(clientConfig),
  }
  const operator = {
    ec2: new EC2Client(clientConfig),
    iam: new IAMClient(clientConfig),
    lambda: new LambdaClient(clientConfig),
  }
  const accountId = useMotoAccount(controllerClients.ec2, options.accountId)
  for (const client of [
    controllerClients.iam,
    controllerClients.lambda,
    controllerClients.events,
    operator.ec2,
    operator.iam,
    operator.lambda,
  ]) {
    useMotoAccount(client, accountId)
  }
  // moto does not enforce IAM's inline-policy quota; the controller relies on IAM refusing it.
  enforceInlineQuota(controllerClients.iam, operator.iam)
  if (options.roleByRole) refuseBulkRead(controllerClients.iam)
  const calls = new AwsCallCounter().attachTo(
    controllerClients.ec2,
    controllerClients.iam,
    controllerClients.lambda,
    controllerClients.events,
  )
  let offsetMs = 0
  const logger = new DecisionRecorder({
    serviceName: 'credential-lock',
    logLevel: options.logLevel ?? 'SILENT',
  })
  const handler = createHandler({
    ...controllerClients,
    sqs: new SQSClient(clientConfig),
    deadLetterQueueUrl: undefined,
    logger,
    metrics: new Metrics({
      namespace: 'CredentialLock',
      serviceName: 'credential-lock',
      singleMetric: false,
    }),
    config: { ...readConfig({ AWS_REGION: 'us-east-1' }), ...options.config },
    now: () => new Date(Date.now() + offsetMs),
    ...(options.roleByRole ? {} : { managedPartCache: new ManagedPartCache() }),
  })
  return {
    handler,
    calls,
    advanceClock: (ms) => {
      offsetMs += ms
    },
    ...operator,
    accountId,
    decisions: logger.decisions,
  }
}

/** IAM refuses GetAccountAuthorizationDetails to this client, as an SCP denying it would. */
function refuseBulkRead(iam: IAMClient): void {
  iam.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetAccountAuthorizationDetailsCommand') {
        throw Object.assign(new Error('not authorized to perform iam:GetAccountAuthorizationDetails'), {
          name: 'AccessDenied',
        })
      }
      return next(args)
    },
    // Ahead of the call counter: a refused call is not one the controller made before the bulk read.
    { step: 'initialize', name: 'refuseBulkRead', priority: 'high' },
  )
}
