import type { Logger } from '@aws-lambda-powertools/logger'
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics'
import { DescribeInstancesCommand, DescribeRegionsCommand, type EC2Client } from '@aws-sdk/client-ec2'
import {
  GetParameterCommand,
  type GetParameterCommandOutput,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import { DecodeAuthorizationMessageCommand, type STSClient } from '@aws-sdk/client-sts'
import {
  type CanaryCallOutcome,
  type CanaryDecision,
  type CanarySettings,
  decideCanary,
} from '../../policy/canary.js'

/** Temporary credentials as the instance metadata service hands them out, and the canary instance writes them. */
export interface StolenCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiration: Date
}

export interface CanaryConfig extends CanarySettings {
  /** The SecureString the canary instance writes its own credentials into. */
  readonly credentialsParameter: string
  /** The String parameter the canary Lambda remembers the last measured instance in. */
  readonly measurementParameter: string
}

export interface CanaryDeps {
  /** Reads the credentials, reads and writes the measurement. */
  readonly ssm: SSMClient
  /** The Lambda's own EC2 client: when EC2 launched the canary instance. */
  readonly ec2: EC2Client
  /** The Lambda's own STS client: decodes EC2's encoded refusal to tell an explicit deny apart. */
  readonly sts: STSClient
  /** An EC2 client that signs with the given credentials: the thief's. */
  readonly ec2With: (credentials: StolenCredentials) => EC2Client
  readonly logger: Logger
  readonly metrics: Metrics
  readonly config: CanaryConfig
  readonly now: () => Date
}

/** What the instance writes: its id and its credentials, in IMDS's own field names. */
interface CanaryParameter {
  readonly instanceId: string
  readonly credentials: StolenCredentials
  readonly writtenAt: Date
}

/** Refusals that mean "not authorized" rather than "these credentials are no good". */
const REFUSALS = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException'])
/** Credentials that AWS no longer accepts at all: there is nothing to test with them. */
const UNUSABLE = new Set(['AuthFailure', 'ExpiredToken', 'RequestExpired', 'InvalidClientTokenId'])
const ENCODED_MESSAGE = /Encoded authorization failure message:\s*(\S+)/

/**
 * One canary run: take the credentials the instance handed over, use them from here (outside its network) for
 * a harmless call, decide, remember a first refusal, publish the metrics and log one decision line.
 */
export async function runCanary(deps: CanaryDeps): Promise<CanaryDecision> {
  const now = deps.now()
  const parameter = await readCanaryParameter(deps)
  const outcome =
    parameter === undefined || parameter.credentials.expiration <= now
      ? 'untested'
      : await tryStolen(deps, parameter.credentials)
  const tested = outcome !== 'untested' && parameter !== undefined
  const [launchedAt, measuredInstanceId] = tested
    ? await Promise.all([launchTime(deps.ec2, parameter.instanceId), readMeasuredInstance(deps)])
    : [undefined, undefined]
  const decision = decideCanary(
    {
      outcome,
      instanceId: parameter?.instanceId,
      launchedAt,
      parameterWrittenAt: parameter?.writtenAt,
      measuredInstanceId,
      now,
    },
    deps.config,
  )
  if (decision.timeToLockSeconds !== undefined && parameter !== undefined) {
    await rememberMeasurement(deps, parameter.instanceId, decision.timeToLockSeconds, now)
  }
  publish(deps.metrics, decision)
  deps.logger.info('canary decision', {
    verdict: decision.verdict,
    outcome,
    instanceId: parameter?.instanceId,
    launchedAt: launchedAt?.toISOString(),
    parameterWrittenAt: parameter?.writtenAt.toISOString(),
    lockHolds: decision.lockHolds,
    ownCallsWork: decision.ownCallsWork,
    timeToLockSeconds: decision.timeToLockSeconds,
    reason: decision.reason,
  })
  return decision
}

async function readCanaryParameter(deps: CanaryDeps): Promise<CanaryParameter | undefined> {
  let output: GetParameterCommandOutput
  try {
    output = await deps.ssm.send(
      new GetParameterCommand({ Name: deps.config.credentialsParameter, WithDecryption: true }),
    )
  } catch (error) {
    if (error instanceof ParameterNotFound) return undefined
    throw error
  }
  const writtenAt = output.Parameter?.LastModifiedDate
  const parsed = parseCanaryValue(output.Parameter?.Value)
  if (parsed === undefined || writtenAt === undefined) {
    deps.logger.warn('canary parameter unreadable', { parameter: deps.config.credentialsParameter })
    return undefined
  }
  return { ...parsed, writtenAt }
}

/** The instance writes `{"instanceId": "...", "credentials": <IMDS's JSON>}`; anything else is not usable. */
export function parseCanaryValue(value: string | undefined): Omit<CanaryParameter, 'writtenAt'> | undefined {
  try {
    const parsed = JSON.parse(value ?? '') as { instanceId?: unknown; credentials?: Record<string, unknown> }
    const credentials = parsed.credentials ?? {}
    const fields = [
      credentials.AccessKeyId,
      credentials.SecretAccessKey,
      credentials.Token,
      credentials.Expiration,
    ]
    if (typeof parsed.instanceId !== 'string' || !fields.every((field) => typeof field === 'string'))
      return undefined
    const expiration = new Date(String(credentials.Expiration))
    if (Number.isNaN(expiration.getTime())) return undefined
    return {
      instanceId: parsed.instanceId,
      credentials: {
        accessKeyId: String(credentials.AccessKeyId),
        secretAccessKey: String(credentials.SecretAccessKey),
        sessionToken: String(credentials.Token),
        expiration,
      },
    }
  } catch {
    return undefined
  }
}

/** The harmless call, signed with the stolen credentials, from the Lambda's public addresses. */
async function tryStolen(deps: CanaryDeps, credentials: StolenCredentials): Promise<CanaryCallOutcome> {
  try {
    await deps.ec2With(credentials).send(new DescribeRegionsCommand({}))
    return 'allowed'
  } catch (error) {
    const name = error instanceof Error ? error.name : ''
    if (UNUSABLE.has(name)) return 'untested'
    if (!REFUSALS.has(name)) throw error
    return (await isExplicitDeny(deps.sts, (error as Error).message)) ? 'explicit-deny' : 'refused-otherwise'
  }
}

/**
 * AWS names an explicit deny in the refusal's text; EC2 may instead encode the reason, which STS decodes (with the
 * Lambda's own credentials) into `explicitDeny`.
 */
async function isExplicitDeny(sts: STSClient, message: string): Promise<boolean> {
  if (/explicit deny/i.test(message)) return true
  const encoded = ENCODED_MESSAGE.exec(message)?.[1]
  if (encoded === undefined) return false
  const decoded = await sts.send(new DecodeAuthorizationMessageCommand({ EncodedMessage: encoded }))
  try {
    return (JSON.parse(decoded.DecodedMessage ?? '{}') as { explicitDeny?: unknown }).explicitDeny === true
  } catch {
    return false
  }
}

async function launchTime(ec2: EC2Client, instanceId: string): Promise<Date | undefined> {
  // A filter, unlike InstanceIds, answers "no such instance" with an empty list instead of an error.
  const output = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }),
  )
  return output.Reservations?.[0]?.Instances?.[0]?.LaunchTime
}

async function readMeasuredInstance(deps: CanaryDeps): Promise<string | undefined> {
  try {
    const output = await deps.ssm.send(new GetParameterCommand({ Name: deps.config.measurementParameter }))
    const parsed = JSON.parse(output.Parameter?.Value ?? '{}') as { instanceId?: unknown }
    return typeof parsed.instanceId === 'string' ? parsed.instanceId : undefined
  } catch (error) {
    if (error instanceof ParameterNotFound || error instanceof SyntaxError) return undefined
    throw error
  }
}

async function rememberMeasurement(
  deps: CanaryDeps,
  instanceId: string,
  seconds: number,
  now: Date,
): Promise<void> {
  await deps.ssm.send(
    new PutParameterCommand({
      Name: deps.config.measurementParameter,
      Type: 'String',
      Overwrite: true,
      Value: JSON.stringify({ instanceId, timeToLockSeconds: seconds, measuredAt: now.toISOString() }),
    }),
  )
}

function publish(metrics: Metrics, decision: CanaryDecision): void {
  if (decision.lockHolds !== undefined)
    metrics.addMetric('CanaryLockHolds', MetricUnit.Count, decision.lockHolds)
  metrics.addMetric('CanaryOwnCallsWork', MetricUnit.Count, decision.ownCallsWork)
  if (decision.timeToLockSeconds !== undefined) {
    metrics.addMetric('CanaryTimeToLock', MetricUnit.Seconds, decision.timeToLockSeconds)
  }
  metrics.publishStoredMetrics()
}
