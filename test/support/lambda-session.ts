/**
 * Requests signed with a Lambda function's role session, for {@link verdict} with a session policy. Unlike an
 * instance's session, a function's carries no key naming where it was issued: only its network path tells
 * the function from a thief, which is why the lockdown pins the session to an address.
 */
import { type SourceVpcs, sessionLockPolicy } from '../../policy/session-lock.js'
import type { ApiCall, SimulatedRequest } from './simulate.js'

export interface FunctionSession {
  readonly accountId: string
  readonly roleName: string
  /** Lambda names the session after the function; the lockdown's locked session keeps that name. */
  readonly sessionName: string
}

export function roleArnOf(session: FunctionSession): string {
  return `arn:aws:iam::${session.accountId}:role/${session.roleName}`
}

/** The function the lockdown tests lock, with its session as Lambda names it. */
export const ORDERS_SESSION: FunctionSession = {
  accountId: '123456789012',
  roleName: 'orders-fn',
  sessionName: 'orders',
}
export const ORDERS_ROLE_ARN = roleArnOf(ORDERS_SESSION)
/** The address checkip.amazonaws.com reports for the function's execution environment (documentation range). */
export const ENVIRONMENT_IP = '198.51.100.23'

/** The session policy the lockdown passes to AssumeRole, pinned to `address` and allowing `sourceVpcs`' endpoints. */
export function lockedTo(
  sourceVpcs: SourceVpcs,
  address = ENVIRONMENT_IP,
  roleArn = ORDERS_ROLE_ARN,
): string {
  return sessionLockPolicy({ roleArn, address, sourceVpcs })
}

/** The session used over the internet from `ip`: the function's own egress address, or a thief's. */
export function sessionFromIp(session: FunctionSession, ip: string, call: ApiCall): SimulatedRequest {
  return sessionRequest(session, call, { 'aws:SourceIp': ip, 'aws:ViaAWSService': 'false' })
}

/** The session used through a VPC endpoint in `vpc`: `aws:SourceIp` is absent on this path. */
export function sessionThroughEndpoint(
  session: FunctionSession,
  endpoint: { readonly vpc: string; readonly privateIp: string; readonly vpce?: string },
  call: ApiCall,
): SimulatedRequest {
  return sessionRequest(session, call, {
    'aws:SourceVpc': endpoint.vpc,
    'aws:SourceVpce': endpoint.vpce ?? 'vpce-0123456789abcdef0',
    'aws:VpcSourceIp': endpoint.privateIp,
    'aws:ViaAWSService': 'false',
  })
}

/** A service calling with the session's credentials (forward access session), from the service's address. */
export function sessionViaAwsService(session: FunctionSession, serviceIp: string, call: ApiCall) {
  return sessionRequest(session, call, { 'aws:SourceIp': serviceIp, 'aws:ViaAWSService': 'true' })
}

function sessionRequest(
  session: FunctionSession,
  call: ApiCall,
  pathKeys: Record<string, string>,
): SimulatedRequest {
  return {
    principal: `arn:aws:sts::${session.accountId}:assumed-role/${session.roleName}/${session.sessionName}`,
    accountId: session.accountId,
    call,
    context: {
      'aws:PrincipalArn': roleArnOf(session),
      'aws:PrincipalAccount': session.accountId,
      ...pathKeys,
    },
  }
}
