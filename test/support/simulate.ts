/**
 * IAM verdicts for a role's policies, through @cloud-copilot/iam-simulate.
 *
 * Comparing a policy's JSON with expected JSON proves nothing about what IAM does with it; this helper asks the
 * simulator for the verdict IAM would give one request signed with one EC2 instance's role credentials. The
 * request builders put in the request context what AWS really puts there on each network path:
 *
 * | path                     | aws:SourceIp   | aws:SourceVpc / aws:SourceVpce / aws:VpcSourceIp | aws:ViaAWSService |
 * | ------------------------ | -------------- | ------------------------------------------------ | ----------------- |
 * | {@link fromPublicIp}     | the public IP  | absent                                           | false             |
 * | {@link throughEndpoint}  | absent         | the endpoint's VPC, the endpoint, the private IP | false             |
 * | {@link viaAwsService}    | the service's  | absent                                           | true              |
 *
 * Every request signed with an instance-role credential also carries, wherever it is used from, the keys that
 * name where the credential was issued: `ec2:SourceInstanceARN`, `aws:EC2InstanceSourceVPC` and (when the
 * instance has a private IPv4) `aws:EC2InstanceSourcePrivateIPv4`. Stolen credentials keep them: that is what
 * lets the lock tell the real instance from a thief. A Lambda function's execution-role credential carries
 * `lambda:SourceFunctionArn` instead (and no EC2 key): pass {@link FunctionCredentials} to the same builders.
 *
 * The helper is strict on purpose: iam-simulate silently drops context keys it does not know for the action
 * and does not validate IP or boolean values, and either would turn a deny into a false "Allowed". Both are
 * turned into thrown errors here.
 */
import { isIP } from 'node:net'
import { runSimulation } from '@cloud-copilot/iam-simulate'

export type Verdict = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied'

/** One identity policy of the role: an inline policy (name + document) or a managed one. */
export interface RolePolicy {
  readonly name: string
  /** The document as IAM stores it (a JSON string) or as an object. */
  readonly document: string | object
}

/** Where a credential was issued: the instance, its role and its network identity. */
export interface InstanceCredentials {
  readonly partition?: string
  readonly accountId: string
  readonly region: string
  readonly roleName: string
  readonly instanceId: string
  /** The instance's VPC (`aws:EC2InstanceSourceVPC`). */
  readonly vpcId: string
  /** Its primary private IPv4 (`aws:EC2InstanceSourcePrivateIPv4`); undefined for an IPv6-only instance. */
  readonly privateIpv4?: string | undefined
  /**
   * When the credential was issued (`aws:TokenIssueTime`, present on every temporary credential).
   * @default {@link LONG_AGO}: a credential older than any tombstone in the tests
   */
  readonly issuedAt?: Date | undefined
}

/** Where a Lambda function's execution-role credential was issued: the function and its role. */
export interface FunctionCredentials {
  readonly partition?: string
  readonly accountId: string
  readonly region: string
  readonly roleName: string
  readonly functionName: string
  /**
   * When the credential was issued (`aws:TokenIssueTime`).
   * @default {@link LONG_AGO}
   */
  readonly issuedAt?: Date | undefined
}

/** An instance's credential or a function's: every request builder takes either. */
export type Credentials = InstanceCredentials | FunctionCredentials

/** The issue time of a credential when a test does not say: older than every event the tests play. */
export const LONG_AGO = new Date('2020-01-01T00:00:00.000Z')

/** The API call being authorized. */
export interface ApiCall {
  readonly action: string
  /** A resource ARN, or `*` for actions that only take `*` (iam:ListRoles, ec2:DescribeInstances, ...). */
  readonly resource: string
}

/** A fully built request: who signs it, what it calls, and its request context. */
export interface SimulatedRequest {
  readonly principal: string
  readonly accountId: string
  readonly call: ApiCall
  readonly context: Readonly<Record<string, string>>
}

/** A call on a resource ARN: the usual data-plane case. */
export const GET_OBJECT: ApiCall = {
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::example-app-data/report.csv',
}

/** A call whose only resource is `*`. */
export const LIST_ROLES: ApiCall = { action: 'iam:ListRoles', resource: '*' }

/**
 * Note: `sts:GetCallerIdentity` is not a useful probe. AWS allows it even under an explicit deny (and the
 * simulator models that), so no lock can refuse it: a thief can always learn whose credentials they hold.
 */
export const GET_CALLER_IDENTITY: ApiCall = { action: 'sts:GetCallerIdentity', resource: '*' }

/** An ordinary role permission policy: what the role may do at all, before any lock. */
export const ALLOW_ALL: RolePolicy = {
  name: 'ordinary-allow-all',
  document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
}

/** `arn:aws:sts::<account>:assumed-role/<role>/<instance-id>`: the session an instance profile creates. */
export function instancePrincipal(instance: InstanceCredentials): string {
  return `arn:${instance.partition ?? 'aws'}:sts::${instance.accountId}:assumed-role/${instance.roleName}/${instance.instanceId}`
}

/** `arn:aws:sts::<account>:assumed-role/<role>/<function name>`: the session Lambda creates for a function. */
export function functionPrincipal(fn: FunctionCredentials): string {
  return `arn:${fn.partition ?? 'aws'}:sts::${fn.accountId}:assumed-role/${fn.roleName}/${fn.functionName}`
}

/**
 * The keys every request signed with this function's execution-role credential carries, from its execution
 * environment or from Lambda's own calls for it: `lambda:SourceFunctionArn` (the unqualified ARN), no EC2 key.
 */
export function functionSessionKeys(fn: FunctionCredentials): Record<string, string> {
  const partition = fn.partition ?? 'aws'
  return {
    'aws:PrincipalArn': `arn:${partition}:iam::${fn.accountId}:role/${fn.roleName}`,
    'aws:PrincipalAccount': fn.accountId,
    'aws:userid': `AROAEXAMPLEROLEID:${fn.functionName}`,
    'lambda:SourceFunctionArn': `arn:${partition}:lambda:${fn.region}:${fn.accountId}:function:${fn.functionName}`,
    'aws:TokenIssueTime': (fn.issuedAt ?? LONG_AGO).toISOString(),
  }
}

/**
 * One of the calls Lambda itself makes with the function's credential from outside its execution environment
 * (log delivery, traces, EFS mounts): from Lambda's own address, not a forward-access session.
 */
export function byLambdaService(fn: FunctionCredentials, lambdaIp: string, call: ApiCall): SimulatedRequest {
  return request(fn, call, { 'aws:SourceIp': lambdaIp, 'aws:ViaAWSService': 'false' })
}

/** The keys every request signed with this instance's role credential carries, wherever it comes from. */
export function instanceSessionKeys(instance: InstanceCredentials): Record<string, string> {
  const partition = instance.partition ?? 'aws'
  const keys: Record<string, string> = {
    'aws:PrincipalArn': `arn:${partition}:iam::${instance.accountId}:role/${instance.roleName}`,
    'aws:PrincipalAccount': instance.accountId,
    'aws:userid': `AROAEXAMPLEROLEID:${instance.instanceId}`,
    'ec2:SourceInstanceARN': `arn:${partition}:ec2:${instance.region}:${instance.accountId}:instance/${instance.instanceId}`,
    'aws:EC2InstanceSourceVPC': instance.vpcId,
    'aws:TokenIssueTime': (instance.issuedAt ?? LONG_AGO).toISOString(),
  }
  if (instance.privateIpv4 !== undefined) keys['aws:EC2InstanceSourcePrivateIPv4'] = instance.privateIpv4
  return keys
}

/**
 * The credential used over the internet from `ip`: the instance's own public address, its NAT gateway's,
 * or a thief's. No VPC keys: those exist only through a VPC endpoint.
 */
export function fromPublicIp(
  instance: Credentials,
  ip: string,
  call: ApiCall = GET_OBJECT,
): SimulatedRequest {
  return request(instance, call, { 'aws:SourceIp': ip, 'aws:ViaAWSService': 'false' })
}

/**
 * The credential used through a VPC endpoint in `vpc`, from the private address `privateIp` (IPv4 or IPv6).
 * `aws:SourceIp` is absent on this path.
 */
export function throughEndpoint(
  instance: Credentials,
  endpoint: { readonly vpc: string; readonly privateIp: string; readonly vpce?: string },
  call: ApiCall = GET_OBJECT,
): SimulatedRequest {
  return request(instance, call, {
    'aws:SourceVpc': endpoint.vpc,
    'aws:SourceVpce': endpoint.vpce ?? 'vpce-0123456789abcdef0',
    'aws:VpcSourceIp': endpoint.privateIp,
    'aws:ViaAWSService': 'false',
  })
}

/**
 * A service (CloudFormation, Athena, ...) calling with the principal's credential (forward access session):
 * `aws:SourceIp` is the service's own address and `aws:ViaAWSService` is true.
 */
export function viaAwsService(
  instance: Credentials,
  serviceIp: string,
  call: ApiCall = GET_OBJECT,
): SimulatedRequest {
  return request(instance, call, { 'aws:SourceIp': serviceIp, 'aws:ViaAWSService': 'true' })
}

/** The same network paths, signed by a session of the same role that is not an instance's (no EC2 keys). */
export function roleSessionFromPublicIp(
  instance: Pick<InstanceCredentials, 'partition' | 'accountId' | 'roleName'>,
  sessionName: string,
  ip: string,
  call: ApiCall = GET_OBJECT,
): SimulatedRequest {
  const partition = instance.partition ?? 'aws'
  return {
    principal: `arn:${partition}:sts::${instance.accountId}:assumed-role/${instance.roleName}/${sessionName}`,
    accountId: instance.accountId,
    call,
    context: {
      'aws:PrincipalArn': `arn:${partition}:iam::${instance.accountId}:role/${instance.roleName}`,
      'aws:PrincipalAccount': instance.accountId,
      'aws:SourceIp': ip,
      'aws:ViaAWSService': 'false',
    },
  }
}

function request(signer: Credentials, call: ApiCall, pathKeys: Record<string, string>): SimulatedRequest {
  const isFunction = 'functionName' in signer
  return {
    principal: isFunction ? functionPrincipal(signer) : instancePrincipal(signer),
    accountId: signer.accountId,
    call,
    context: { ...(isFunction ? functionSessionKeys(signer) : instanceSessionKeys(signer)), ...pathKeys },
  }
}

const IP_KEYS = new Set(['aws:SourceIp', 'aws:VpcSourceIp', 'aws:EC2InstanceSourcePrivateIPv4'])
const BOOLEAN_KEYS = new Set(['aws:ViaAWSService'])

export interface VerdictOptions {
  /** The session policy passed to AssumeRole (a JSON string or object): it narrows `policies` for the session. */
  readonly sessionPolicy?: string | object
}

/**
 * The verdict IAM gives `request` when the role carries exactly `policies` (inline and managed alike; include
 * {@link ALLOW_ALL} or the role's real permissions, else everything is implicitly denied). Throws when the
 * simulator rejects the input or would have ignored part of the request context.
 */
export async function verdict(
  policies: readonly RolePolicy[],
  request: SimulatedRequest,
  options: VerdictOptions = {},
): Promise<Verdict> {
  assertContextValues(request.context)
  const { sessionPolicy } = options
  const result = await runSimulation(
    {
      ...(sessionPolicy !== undefined && {
        sessionPolicy: typeof sessionPolicy === 'string' ? JSON.parse(sessionPolicy) : sessionPolicy,
      }),
      request: {
        principal: request.principal,
        action: request.call.action,
        resource: { resource: request.call.resource, accountId: request.accountId },
        contextVariables: { ...request.context },
      },
      identityPolicies: policies.map((policy) => ({
        name: policy.name,
        policy: typeof policy.document === 'string' ? JSON.parse(policy.document) : policy.document,
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    { simulationMode: 'Strict' },
  )
  if (result.resultType === 'error') {
    throw new Error(`iam-simulate rejected the simulation: ${JSON.stringify(result.errors)}`)
  }
  const ignored =
    result.resultType === 'single'
      ? (result.result.ignoredContextKeys ?? [])
      : result.results.flatMap((each) => each.ignoredContextKeys ?? [])
  if (ignored.length > 0) {
    throw new Error(
      `iam-simulate ignored context keys ${ignored.join(', ')} for ${request.call.action}: the verdict would ` +
        'not reflect the request.',
    )
  }
  return result.overallResult
}

/** Verdicts for several requests against the same policies, in order. */
export async function verdicts(
  policies: readonly RolePolicy[],
  requests: readonly SimulatedRequest[],
): Promise<Verdict[]> {
  const results: Verdict[] = []
  for (const each of requests) results.push(await verdict(policies, each))
  return results
}

function assertContextValues(context: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(context)) {
    if (IP_KEYS.has(key) && isIP(value) === 0) {
      throw new Error(`Context key ${key} must be an IP address, got "${value}".`)
    }
    if (BOOLEAN_KEYS.has(key) && value !== 'true' && value !== 'false') {
      throw new Error(`Context key ${key} must be "true" or "false", got "${value}".`)
    }
  }
}

/** The same request with more context keys: when its credential was issued, how IMDS delivered it, ... */
export function withContext(
  request: SimulatedRequest,
  keys: Readonly<Record<string, string>>,
): SimulatedRequest {
  return { ...request, context: { ...request.context, ...keys } }
}

/** The same request without a context key (a path where AWS does not set it). */
export function withoutContext(request: SimulatedRequest, key: string): SimulatedRequest {
  const { [key]: _dropped, ...context } = request.context
  return { ...request, context }
}
