/**
 * Lambda functions in the Defenders world, made through moto as an operator would, and the credentials they
 * carry. moto 5.2.1 creates, lists, tags, reconfigures and deletes functions without Docker (only invoking
 * needs it). QUIRK: `VpcConfig.VpcId` comes back as the placeholder `vpc-123abc` (ListFunctions leaves it out),
 * which is why the controller derives a function's VPC from its subnets.
 */

import { type IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  type LambdaClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda'
import type { ApiCall, FunctionCredentials } from './simulate.js'
import { type DefendersWorld, OPT_IN_TAG, required } from './world.js'

/** An address Lambda's own log delivery comes from (documentation range, not a real one). */
export const LAMBDA_SERVICE_IP = '192.0.2.80'

/** The call Lambda makes for a function after each invocation: its log events. */
export const PUT_LOG_EVENTS: ApiCall = {
  action: 'logs:PutLogEvents',
  resource: 'arn:aws:logs:us-east-1:*:log-group:/aws/lambda/reporter:*',
}

/** An empty zip archive: moto stores the code without running it. */
const EMPTY_ZIP = new Uint8Array([80, 75, 5, 6, ...new Array<number>(18).fill(0)])

export interface WorldFunction {
  readonly functionName: string
  readonly functionArn: string
}

export interface FunctionOptions {
  readonly name: string
  readonly optedIn: boolean
  /** Its subnets; none: not attached to a VPC. */
  readonly subnetIds: readonly string[]
  /** @default the Defenders' role */
  readonly roleArn?: string
}

export async function createFunction(
  lambda: LambdaClient,
  world: Pick<DefendersWorld, 'role'>,
  options: FunctionOptions,
): Promise<WorldFunction> {
  const created = await lambda.send(
    new CreateFunctionCommand({
      FunctionName: options.name,
      Runtime: 'nodejs24.x',
      Role: options.roleArn ?? world.role.roleArn,
      Handler: 'index.handler',
      Code: { ZipFile: EMPTY_ZIP },
      ...(options.subnetIds.length > 0
        ? { VpcConfig: { SubnetIds: [...options.subnetIds], SecurityGroupIds: [] } }
        : {}),
      ...(options.optedIn ? { Tags: { [OPT_IN_TAG.key]: OPT_IN_TAG.value } } : {}),
    }),
  )
  return {
    functionName: options.name,
    functionArn: required(created.FunctionArn, 'CreateFunction function ARN'),
  }
}

/** Adds or removes the opt-in tag, as an operator would. */
export async function setFunctionOptIn(lambda: LambdaClient, fn: WorldFunction, on: boolean): Promise<void> {
  if (on) {
    const tags = { [OPT_IN_TAG.key]: OPT_IN_TAG.value }
    await lambda.send(new TagResourceCommand({ Resource: fn.functionArn, Tags: tags }))
  } else {
    await lambda.send(new UntagResourceCommand({ Resource: fn.functionArn, TagKeys: [OPT_IN_TAG.key] }))
  }
}

/**
 * What a function's execution role is allowed besides the Defenders' report: the calls Lambda makes for it
 * (AWSLambdaBasicExecutionRole and friends), so a refusal of them can only come from the lock.
 */
export async function allowFunctionBasics(iam: IAMClient, roleName: string): Promise<void> {
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName,
      PolicyName: 'function-basics',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'logs:CreateLogGroup',
              'logs:CreateLogStream',
              'logs:PutLogEvents',
              'xray:PutTraceSegments',
              'elasticfilesystem:ClientMount',
            ],
            Resource: '*',
          },
        ],
      }),
    }),
  )
}

export async function moveFunction(lambda: LambdaClient, fn: WorldFunction, roleArn: string): Promise<void> {
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn.functionName, Role: roleArn }))
}

export async function deleteFunction(lambda: LambdaClient, fn: WorldFunction): Promise<void> {
  await lambda.send(new DeleteFunctionCommand({ FunctionName: fn.functionName }))
}

/** The execution-role credentials Lambda gave the function (stolen or not), issued at `issuedAt`. */
export function functionCredentials(
  world: Pick<DefendersWorld, 'accountId' | 'region' | 'role'>,
  fn: WorldFunction,
  issuedAt?: Date,
  roleName = world.role.roleName,
): FunctionCredentials {
  return {
    accountId: world.accountId,
    region: world.region,
    roleName,
    functionName: fn.functionName,
    issuedAt,
  }
}
