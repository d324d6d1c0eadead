/** The ARNs a lock names, and how its statements match one instance's or function's credentials by them. */
import { InvalidFactsError } from '../errors.js'
import type { ConditionBlockSet, LockScope } from './facts.js'

export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
export const ARN_KEY = 'ec2:SourceInstanceARN'
export const FUNCTION_ARN_KEY = 'lambda:SourceFunctionArn'
export const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/

/**
 * What each part of an instance ARN looks like. A part of the wrong shape (an account ID as the console shows
 * it, an availability zone for a region) would give ARNs no request ever carries: a lock that locks nothing.
 */
const SCOPE_SHAPES: Readonly<Record<keyof LockScope, RegExp>> = {
  partition: /^aws(-[a-z]+)*$/,
  region: /^[a-z]{2,}(-[a-z]+)+-\d{1,2}$/,
  accountId: /^\d{12}$/,
}

export function instanceArn(scope: LockScope, instanceId: string): string {
  assertInstanceId(instanceId)
  return `${instanceArnPrefix(scope)}${instanceId}`
}

/** The function's unqualified ARN: what lambda:SourceFunctionArn carries. */
export function functionArn(scope: LockScope, functionName: string): string {
  assertFunctionName(functionName)
  return `${functionArnPrefix(scope)}${functionName}`
}

export function instanceArnPrefix(scope: LockScope): string {
  assertScope(scope)
  return `arn:${scope.partition}:ec2:${scope.region}:${scope.accountId}:instance/`
}

export function functionArnPrefix(scope: LockScope): string {
  assertScope(scope)
  return `arn:${scope.partition}:lambda:${scope.region}:${scope.accountId}:function:`
}

export function assertScope(scope: LockScope): void {
  // Only the three scope parts: settings may carry more (retention, tag, ...) that is not part of an ARN.
  for (const part of ['partition', 'region', 'accountId'] as const) {
    if (!SCOPE_SHAPES[part].test(scope[part])) {
      throw new InvalidFactsError(`The ${part} "${scope[part]}" cannot be part of an ARN: fix the settings.`)
    }
  }
}

/**
 * Matches the credentials of one instance by its exact ARN, or of several by instance ID within this region
 * and account: listing IDs instead of whole ARNs nearly halves a role-wide statement, which is what lets one
 * role hold a large fleet.
 */
export function instanceMatch(prefix: string, instanceIds: readonly string[]): ConditionBlockSet {
  if (instanceIds.length === 1) return { StringEquals: { [ARN_KEY]: `${prefix}${instanceIds[0]}` } }
  return {
    ArnLike: { [ARN_KEY]: `${prefix}*` },
    StringLike: { [ARN_KEY]: [...instanceIds].sort().map((id) => `*/${id}`) },
  }
}

/**
 * Matches the credentials of one or more functions by their exact unqualified ARNs: an ARN operator, as the
 * Lambda guide asks for lambda:SourceFunctionArn.
 */
export function functionMatch(prefix: string, functionNames: readonly string[]): ConditionBlockSet {
  const arns = [...functionNames].sort().map((name) => `${prefix}${name}`)
  return { ArnEquals: { [FUNCTION_ARN_KEY]: arns.length === 1 ? (arns[0] as string) : arns } }
}

export function assertInstanceId(instanceId: string): void {
  if (!INSTANCE_ID.test(instanceId)) {
    throw new InvalidFactsError(
      `"${instanceId}" is not an EC2 instance ID (i- followed by 8 or 17 hex digits).`,
    )
  }
}

export function assertFunctionName(functionName: string): void {
  if (!FUNCTION_NAME.test(functionName)) {
    throw new InvalidFactsError(
      `"${functionName}" is not a Lambda function name (1 to 64 letters, digits, hyphens and underscores).`,
    )
  }
}
