import { BlockList, isIP } from 'node:net'
import { toCidr } from './addresses.js'
import { InvalidFactsError, SessionPolicyTooLargeError } from './errors.js'

/** STS refuses an AssumeRole whose inline session policy is longer than this (the JSON text as sent). */
export const SESSION_POLICY_LIMIT = 2_048

/**
 * Which VPC endpoint calls the locked session may make (`aws:SourceVpc`; `aws:SourceIp` is absent there):
 * - `'any'`: every endpoint call is let through. The default, because the wrapper cannot see whether its
 *   function runs in a VPC, and refusing endpoint calls would break one that does; it also leaves a thief a
 *   way in through a VPC endpoint of their own.
 * - a list of VPC IDs: only endpoints in these VPCs (the function's own VPC);
 * - an empty list: no endpoint call at all (a function outside any VPC never makes one).
 */
export type SourceVpcs = 'any' | readonly string[]

export interface SessionLockFacts {
  /** The function's execution role: the session is refused `sts:AssumeRole` on it, so the lock stays on. */
  readonly roleArn: string
  /** The address AWS sees for this execution environment (IPv4 or IPv6). */
  readonly address: string
  /** More public addresses the same host leaves from (a host's IPv6 addresses, an Elastic IP). */
  readonly otherAddresses?: readonly string[]
  readonly sourceVpcs: SourceVpcs
  /**
   * VPC endpoints that stay usable even outside `sourceVpcs` (a trusted shared-services endpoint of the
   * account). Only with a list of VPCs: with `'any'` every endpoint is usable already.
   * @default [] - only the endpoints of `sourceVpcs`
   */
  readonly sourceVpces?: readonly string[]
}

/**
 * Private ranges a VPC can use. IAM-authenticated services that run inside a VPC (RDS and Neptune IAM
 * authentication, EFS, MSK, DAX, OpenSearch in a VPC) see the function's private address as `aws:SourceIp`
 * and carry no VPC key: a call from one of these ranges came through the function's own network, never from
 * the internet. AWS's data-perimeter examples exempt these services by name instead; allowing the ranges keeps
 * a public OpenSearch domain or a public database refused to a thief.
 */
export const VPC_PRIVATE_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
]

const ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,576}$/
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/
const VPCE_ID = /^vpce-[0-9a-f]{8,17}$/
// Calls AWS services make with the session's credentials (forward access sessions) come from the service's
// own addresses.
const NOT_VIA_AWS_SERVICE = { 'aws:ViaAWSService': 'false' }

/**
 * The session policy that pins a Lambda function's credentials (the lockdown) or an instance role's (the host
 * proxy) to where they run. A session policy only ever
 * narrows the role's own policies, so it allows everything and then refuses: every call whose source address
 * is not this environment's, endpoint calls from other VPCs (per `sourceVpcs`), and `sts:AssumeRole` on the
 * function's own role (else the locked session could fetch an unlocked one). Returns the JSON as STS receives
 * it; throws {@link SessionPolicyTooLargeError} rather than send what STS would refuse.
 */
export function sessionLockPolicy(facts: SessionLockFacts): string {
  if (!ROLE_ARN.test(facts.roleArn)) {
    throw new InvalidFactsError(`"${facts.roleArn}" is not an IAM role ARN: give the function's role ARN.`)
  }
  const inVpcAllowed = facts.sourceVpcs === 'any' || facts.sourceVpcs.length > 0
  const addresses = [facts.address, ...(facts.otherAddresses ?? [])].map(publicAddress)
  const allowedSources = [...new Set(addresses), ...(inVpcAllowed ? VPC_PRIVATE_RANGES : [])]
  const statements: object[] = [
    { Sid: 'RolePermissions', Effect: 'Allow', Action: '*', Resource: '*' },
    {
      Sid: 'OnlyFromThisEnvironment',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: {
        NotIpAddress: { 'aws:SourceIp': allowedSources },
        Null: { 'aws:SourceIp': 'false' },
        BoolIfExists: NOT_VIA_AWS_SERVICE,
      },
    },
  ]
  if (facts.sourceVpcs !== 'any')
    statements.push(endpointStatement(facts.sourceVpcs, facts.sourceVpces ?? []))
  statements.push({ Sid: 'KeepTheLock', Effect: 'Deny', Action: 'sts:AssumeRole', Resource: facts.roleArn })
  const document = JSON.stringify({ Version: '2012-10-17', Statement: statements })
  if (document.length > SESSION_POLICY_LIMIT) {
    throw new SessionPolicyTooLargeError(facts.roleArn, document.length, SESSION_POLICY_LIMIT)
  }
  return document
}

function endpointStatement(sourceVpcs: readonly string[], sourceVpces: readonly string[]): object {
  for (const vpc of sourceVpcs) {
    if (!VPC_ID.test(vpc)) throw new InvalidFactsError(`"${vpc}" is not a VPC ID: list VPCs as vpc-0123abcd.`)
  }
  for (const vpce of sourceVpces) {
    if (!VPCE_ID.test(vpce)) {
      throw new InvalidFactsError(`"${vpce}" is not a VPC endpoint ID: list endpoints as vpce-0123abcd.`)
    }
  }
  const vpcs = [...new Set(sourceVpcs)].sort()
  const vpces = [...new Set(sourceVpces)].sort()
  // Keys under one operator must all match: refused only when neither the VPC nor the endpoint is trusted.
  const notTrusted = {
    ...(vpcs.length > 0 && { 'aws:SourceVpc': vpcs }),
    ...(vpces.length > 0 && { 'aws:SourceVpce': vpces }),
  }
  return {
    Sid: 'OnlyOwnVpcEndpoints',
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    // Null first: StringNotEquals alone would also fire on the public path, where aws:SourceVpc is absent.
    Condition: {
      Null: { 'aws:SourceVpc': 'false' },
      ...(Object.keys(notTrusted).length > 0 && { StringNotEquals: notTrusted }),
    },
  }
}

const NOT_SEEN_BY_AWS = new BlockList()
for (const cidr of [...VPC_PRIVATE_RANGES, '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8']) {
  const [network = '', prefix] = cidr.split('/')
  NOT_SEEN_BY_AWS.addSubnet(network, Number(prefix), 'ipv4')
}
for (const [network, prefix] of [
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) {
  NOT_SEEN_BY_AWS.addSubnet(network, prefix, 'ipv6')
}

/**
 * The looked-up address as a CIDR. A private, loopback or link-local answer cannot be the address AWS sees
 * (a proxy or a misconfigured look-up): pinning the session to it would refuse every call.
 */
function publicAddress(address: string): string {
  const trimmed = address.trim()
  const family = isIP(trimmed)
  if (family === 0) {
    throw new InvalidFactsError(`The address look-up answered "${address}", not an IP address.`)
  }
  if (NOT_SEEN_BY_AWS.check(trimmed, family === 4 ? 'ipv4' : 'ipv6')) {
    throw new InvalidFactsError(
      `The address look-up answered ${trimmed}, a private address AWS never sees: point it at a public ` +
        'what-is-my-IP service.',
    )
  }
  return toCidr(trimmed, 'The looked-up address')
}
