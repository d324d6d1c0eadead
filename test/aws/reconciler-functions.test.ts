/**
 * The reconcile engine's Lambda-function path driven through `createHandler` over mocked clients: which
 * functions it lists and tags, what it writes on their roles (proven with iam-simulate verdicts), what it logs
 * and counts, and which records fail when a function's role fails. The moto story runs the same path end to
 * end (test/integration/functions.test.ts); these run without moto, so mutation testing sees them.
 */
import { DescribeSubnetsCommand, type Subnet } from '@aws-sdk/client-ec2'
import { GetRolePolicyCommand, NoSuchEntityException, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { type FunctionConfiguration, ListFunctionsCommand, ListTagsCommand } from '@aws-sdk/client-lambda'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { describe, expect, it } from 'vitest'
import { OUTSIDE_VPC_REASON } from '../../policy/lock/index.js'
import {
  type AnyEventBridgeEvent,
  type FunctionFixtureName,
  functionCall,
  scheduled,
  sqsBatch,
  stateChange,
} from '../support/events.js'
import {
  ACCOUNT,
  accessDenied,
  CONTEXT,
  ec2Instance,
  LOCK_TAG,
  mockAws,
  mockedHandler,
  NOW,
  POLICY,
  QUEUE,
  REGION,
  serveWorld,
} from '../support/mocked-controller.js'
import {
  ALLOW_ALL,
  type FunctionCredentials,
  fromPublicIp,
  type RolePolicy,
  throughEndpoint,
  verdict,
} from '../support/simulate.js'

const aws = mockAws()

const ROLE = 'defenders'
const NEXT_ROLE = 'defenders-next'
const INSTANCE_ROLE = 'web'
const REPORTER = 'reporter'
const AUDITOR = 'auditor'
const WEB_INSTANCE = 'i-0a1b2c3d4e5f60001'
const APP_VPC = 'vpc-0a1a2a3a4a5a6a7a8'
const SUBNETS = ['subnet-0a1b2c3d4e5f60789', 'subnet-0a1b2c3d4e5f6078a'] as const
const THIEF = '203.0.113.66'
const AN_HOUR_LATER = new Date(NOW.getTime() + 3_600_000)

interface ListedFunction {
  readonly name: string
  readonly role: string
  readonly inVpc?: boolean
  readonly tagged?: boolean
}

function arnOf(name: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`
}

function configuration({ name, role, inVpc = true }: ListedFunction): FunctionConfiguration {
  return {
    FunctionName: name,
    FunctionArn: arnOf(name),
    // A role with a path: the controller takes the last segment.
    Role: `arn:aws:iam::${ACCOUNT}:role/service/${role}`,
    ...(inVpc && { VpcConfig: { SubnetIds: [...SUBNETS], VpcId: APP_VPC } }),
  }
}

function subnet(subnetId: string, index: number): Subnet {
  return { SubnetId: subnetId, VpcId: APP_VPC, CidrBlock: `10.0.${index + 1}.0/24` }
}

/**
 * The world of {@link serveWorld} with these functions, a stateful IAM (a written policy is read back by the
 * next batch), and the subnets of the application VPC. Returns the documents written, by role.
 */
function serveFunctions(
  functions: readonly ListedFunction[],
  options: { readonly policies?: Record<string, string>; readonly instanceRoles?: readonly string[] } = {},
) {
  const policies: Record<string, string> = { ...options.policies }
  serveWorld(aws, {
    roles: options.instanceRoles ?? [INSTANCE_ROLE],
    instances: (options.instanceRoles ?? [INSTANCE_ROLE]).map((role, index) =>
      ec2Instance(`${WEB_INSTANCE.slice(0, -1)}${index + 1}`, role),
    ),
  })
  aws.iam.on(GetRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
    const document = PolicyName === POLICY ? policies[RoleName] : undefined
    if (document === undefined) throw new NoSuchEntityException({ message: 'not found', $metadata: {} })
    return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) }
  })
  aws.iam.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyDocument }) => {
    policies[RoleName] = PolicyDocument
    return {}
  })
  aws.lambda.on(ListFunctionsCommand).resolves({ Functions: functions.map(configuration) })
  aws.lambda.on(ListTagsCommand).callsFake(({ Resource }) => {
    const fn = functions.find((each) => arnOf(each.name) === Resource)
    return { Tags: fn?.tagged === false ? { team: 'defenders' } : { [LOCK_TAG.key]: LOCK_TAG.value } }
  })
  aws.ec2.on(DescribeSubnetsCommand).callsFake(({ Filters }) => ({
    Subnets: SUBNETS.map(subnet).filter((each) => Filters?.[0]?.Values?.includes(each.SubnetId ?? '')),
  }))
  return policies
}

async function run(events: readonly AnyEventBridgeEvent[]) {
  const controller = mockedHandler()
  const batch = sqsBatch(events, QUEUE)
  const response = await controller.handler(batch, CONTEXT)
  const failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier))
  return {
    ...controller,
    failedRecords: batch.Records.map((record) => failed.has(record.messageId)),
  }
}

const lambdaEvent = (name: FunctionFixtureName, functionName = REPORTER) =>
  functionCall(name, functionName, ACCOUNT, NEXT_ROLE)

function credentials(roleName: string, functionName: string, issuedAt?: Date): FunctionCredentials {
  return { accountId: ACCOUNT, region: REGION, roleName, functionName, issuedAt }
}

function rolePolicies(document: string | undefined): RolePolicy[] {
  return [ALLOW_ALL, ...(document === undefined ? [] : [{ name: POLICY, document }])]
}

/** The verdicts for the function's credential: from inside its VPC through an endpoint, and from a thief. */
async function verdictsFor(document: string | undefined, fn: FunctionCredentials) {
  const policies = rolePolicies(document)
  return {
    fromItsVpc: await verdict(policies, throughEndpoint(fn, { vpc: APP_VPC, privateIp: '10.0.1.25' })),
    fromThief: await verdict(policies, fromPublicIp(fn, THIEF)),
  }
}

function decisionsOf(lines: ReturnType<typeof mockedHandler>['lines']) {
  return lines.filter((line) => line.message === 'lock decision').map((line) => line.fields)
}

describe('a tagged function in a VPC', () => {
  it('is locked to its VPC when it is created: the thief is denied, its VPC allowed', async () => {
    // Prepare
    const policies = serveFunctions([
      { name: REPORTER, role: ROLE },
      { name: AUDITOR, role: ROLE },
      { name: 'elsewhere', role: 'unrelated' },
    ])
    // Act
    const { failedRecords, lines, metrics } = await run([lambdaEvent('cloudtrail-lambda-create-function')])
    // Assess
    expect(failedRecords).toEqual([false])
    expect(aws.lambda.commandCalls(ListTagsCommand).map((call) => call.args[0].input.Resource)).toEqual([
      arnOf(REPORTER),
    ])
    expect(aws.ec2.commandCalls(DescribeSubnetsCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'subnet-id', Values: [...SUBNETS] },
    ])
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'ExplicitlyDenied',
    })
    expect(decisionsOf(lines)).toEqual([
      expect.objectContaining({
        roleName: ROLE,
        action: 'put',
        form: 'precise',
        reason: '1 function locked',
        functions: [
          {
            functionName: REPORTER,
            outcome: 'locked',
            vpcId: APP_VPC,
            publicCidrs: [],
            privateCidrs: ['10.0.1.0/24', '10.0.2.0/24'],
          },
        ],
      }),
    ])
    expect(metrics.addMetric).toHaveBeenCalledWith('LocksApplied', 'Count', 1)
    expect(metrics.addMetric).not.toHaveBeenCalledWith('FunctionsUnprotected', 'Count', expect.anything())
  })

  it('during the resync has the tags of every function read, and leaves the untagged one unlocked', async () => {
    // Prepare
    const policies = serveFunctions([
      { name: REPORTER, role: ROLE },
      { name: AUDITOR, role: ROLE, tagged: false },
      { name: 'elsewhere', role: 'unrelated', tagged: false },
    ])
    // Act
    const { lines } = await run([scheduled()])
    // Assess
    expect(
      aws.lambda
        .commandCalls(ListTagsCommand)
        .map((call) => call.args[0].input.Resource)
        .sort(),
    ).toEqual([arnOf(AUDITOR), arnOf('elsewhere'), arnOf(REPORTER)])
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, AUDITOR))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'Allowed',
    })
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'ExplicitlyDenied',
    })
    expect(policies.unrelated).toBeUndefined()
    expect(decisionsOf(lines).find((line) => line.roleName === ROLE)?.functions).toEqual([
      expect.objectContaining({ functionName: REPORTER, outcome: 'locked' }),
    ])
  })
})

describe('an untagged function', () => {
  it('is left untouched: no policy written, its credential works from anywhere', async () => {
    // Prepare
    const policies = serveFunctions([{ name: REPORTER, role: ROLE, tagged: false }])
    // Act
    const { failedRecords, lines } = await run([lambdaEvent('cloudtrail-lambda-create-function')])
    // Assess
    expect(failedRecords).toEqual([false])
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toEqual([])
    expect(aws.ec2.commandCalls(DescribeSubnetsCommand)).toEqual([])
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'Allowed',
    })
    expect(decisionsOf(lines)).toEqual([
      expect.objectContaining({
        roleName: ROLE,
        action: 'unchanged',
        reason: 'no opted-in instance uses this role',
      }),
    ])
  })

  it('is not even listed when the batch names no function and no lock names one', async () => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: ROLE }])
    // Act
    await run([stateChange(WEB_INSTANCE, 'running')])
    // Assess
    expect(aws.lambda.commandCalls(ListFunctionsCommand)).toEqual([])
    expect(aws.lambda.commandCalls(ListTagsCommand)).toEqual([])
  })
})

describe('a tagged function outside any VPC', () => {
  it('is skipped with its reason, counted as unprotected, and nothing is written', async () => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: ROLE, inVpc: false }])
    // Act
    const { failedRecords, lines, metrics } = await run([lambdaEvent('cloudtrail-lambda-create-function')])
    // Assess
    expect(failedRecords).toEqual([false])
    expect(aws.iam.commandCalls(PutRolePolicyCommand)).toEqual([])
    const skipped = { functionName: REPORTER, outcome: 'skipped', reason: OUTSIDE_VPC_REASON }
    expect(lines.filter((line) => line.level === 'WARN')).toEqual([
      {
        level: 'WARN',
        message: 'opted-in functions left unprotected',
        fields: { roleName: ROLE, functions: [skipped] },
      },
    ])
    expect(decisionsOf(lines)).toEqual([
      expect.objectContaining({ roleName: ROLE, action: 'unchanged', reason: '1 function skipped' }),
    ])
    expect(metrics.addMetric).toHaveBeenCalledWith('FunctionsUnprotected', 'Count', 1)
    expect(metrics.addMetric).toHaveBeenCalledWith('LocksUnchanged', 'Count', 1)
  })
})

describe('a locked function', () => {
  // The old role keeps an instance profile: see the report on function-only roles.
  const instanceRoles = [INSTANCE_ROLE, ROLE]

  async function locked(functions: readonly ListedFunction[]) {
    const policies = serveFunctions(functions, { instanceRoles })
    await run([scheduled()])
    return policies
  }

  it('is tombstoned when deleted: its old credential is denied even from its VPC, the role stays locked', async () => {
    // Prepare
    const before = await locked([
      { name: REPORTER, role: ROLE },
      { name: AUDITOR, role: ROLE },
    ])
    const policies = serveFunctions([{ name: AUDITOR, role: ROLE }], {
      policies: { ...before },
      instanceRoles,
    })
    // Act
    const { failedRecords, lines } = await run([lambdaEvent('cloudtrail-lambda-delete-function')])
    // Assess
    expect(failedRecords).toEqual([false])
    expect(aws.lambda.commandCalls(ListFunctionsCommand)).toHaveLength(1)
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER))).toEqual({
      fromItsVpc: 'ExplicitlyDenied',
      fromThief: 'ExplicitlyDenied',
    })
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER, AN_HOUR_LATER))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'Allowed',
    })
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, AUDITOR))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'ExplicitlyDenied',
    })
    const decision = decisionsOf(lines).find((line) => line.roleName === ROLE)
    expect(decision).toMatchObject({
      action: 'put',
      reason: '1 locked, 1 functions locked, 1 functions tombstoned',
    })
    expect(decision?.functions).toContainEqual(
      expect.objectContaining({
        functionName: REPORTER,
        outcome: 'tombstoned',
        since: NOW.toISOString(),
        issuedBefore: NOW.toISOString(),
      }),
    )
  })

  it('moved to another role is locked there and tombstoned on the role it left', async () => {
    // Prepare
    const before = await locked([{ name: REPORTER, role: ROLE }])
    const policies = serveFunctions([{ name: REPORTER, role: NEXT_ROLE }], {
      policies: { ...before },
      instanceRoles,
    })
    // Act
    const { failedRecords, lines } = await run([
      lambdaEvent('cloudtrail-lambda-update-function-configuration'),
    ])
    // Assess
    expect(failedRecords).toEqual([false])
    expect(await verdictsFor(policies[NEXT_ROLE], credentials(NEXT_ROLE, REPORTER))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'ExplicitlyDenied',
    })
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER))).toEqual({
      fromItsVpc: 'ExplicitlyDenied',
      fromThief: 'ExplicitlyDenied',
    })
    expect(
      decisionsOf(lines).map(({ roleName, functions }) => ({
        roleName,
        outcomes: (functions as { outcome: string }[]).map((fn) => fn.outcome),
      })),
    ).toEqual(
      expect.arrayContaining([
        { roleName: ROLE, outcomes: ['tombstoned'] },
        { roleName: NEXT_ROLE, outcomes: ['locked'] },
      ]),
    )
  })
})

describe('a lock that names a function', () => {
  const instanceRoles = [INSTANCE_ROLE, ROLE]

  it('has the functions listed once on an instance event, and keeps the function locked', async () => {
    // Prepare
    const before = serveFunctions([{ name: REPORTER, role: ROLE }], { instanceRoles })
    await run([scheduled()])
    const policies = serveFunctions([{ name: REPORTER, role: ROLE }], {
      policies: { ...before },
      instanceRoles,
    })
    // Act
    await run([stateChange('i-0a1b2c3d4e5f60002', 'running')])
    // Assess
    expect(aws.lambda.commandCalls(ListFunctionsCommand)).toHaveLength(1)
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, REPORTER))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'ExplicitlyDenied',
    })
  })
})

describe('a batch with the scheduled resync and another event', () => {
  it('still reads the tags of the functions no event names', async () => {
    // Prepare
    const policies = serveFunctions([{ name: AUDITOR, role: ROLE }])
    // Act
    await run([stateChange(WEB_INSTANCE, 'running'), scheduled()])
    // Assess
    expect(aws.lambda.commandCalls(ListFunctionsCommand)).toHaveLength(1)
    expect(await verdictsFor(policies[ROLE], credentials(ROLE, AUDITOR))).toEqual({
      fromItsVpc: 'Allowed',
      fromThief: 'ExplicitlyDenied',
    })
  })
})

describe('the CloudTrail function events', () => {
  it.each([
    ['cloudtrail-lambda-create-function'],
    ['cloudtrail-lambda-tag-resource'],
    ['cloudtrail-lambda-untag-resource'],
  ] as const)('%s reaches the function role only, and names its event', async (fixture) => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: ROLE }], { instanceRoles: [INSTANCE_ROLE, NEXT_ROLE] })
    const event = lambdaEvent(fixture)
    // Act
    const { lines } = await run([event])
    // Assess
    expect(decisionsOf(lines).map(({ roleName, eventIds }) => ({ roleName, eventIds }))).toEqual([
      { roleName: ROLE, eventIds: [event.id] },
    ])
  })

  it('a deleted function reaches every role, since its old role is unknown', async () => {
    // Prepare
    serveFunctions([{ name: AUDITOR, role: ROLE }])
    const event = lambdaEvent('cloudtrail-lambda-delete-function')
    // Act
    const { lines } = await run([event])
    // Assess
    expect(decisionsOf(lines).map(({ roleName, eventIds }) => ({ roleName, eventIds }))).toEqual([
      { roleName: ROLE, eventIds: [event.id] },
      { roleName: INSTANCE_ROLE, eventIds: [event.id] },
    ])
  })

  it('a tag change on a function Lambda no longer lists reaches every role, as a deletion does', async () => {
    // Prepare
    serveFunctions([{ name: AUDITOR, role: ROLE }])
    const event = lambdaEvent('cloudtrail-lambda-tag-resource')
    // Act
    const { lines } = await run([event])
    // Assess
    expect(decisionsOf(lines).map(({ roleName }) => roleName)).toEqual([ROLE, INSTANCE_ROLE])
  })

  it('a function moved to another role reaches both roles', async () => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: NEXT_ROLE }])
    const event = lambdaEvent('cloudtrail-lambda-update-function-configuration')
    // Act
    const { lines } = await run([event])
    // Assess
    expect(decisionsOf(lines).map(({ roleName }) => roleName)).toEqual(
      expect.arrayContaining([NEXT_ROLE, INSTANCE_ROLE]),
    )
  })
})

describe('when the function role fails', () => {
  const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })

  it('the function record is retried and the instance record on another role succeeds', async () => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: ROLE }])
    aws.iam.on(PutRolePolicyCommand, { RoleName: ROLE }).rejects(throttled())
    // Act
    const { failedRecords, metrics } = await run([
      lambdaEvent('cloudtrail-lambda-create-function'),
      stateChange(WEB_INSTANCE, 'running'),
    ])
    // Assess
    expect(failedRecords).toEqual([true, false])
    expect(metrics.addMetric).toHaveBeenCalledWith('Failures', 'Count', 1)
  })

  it('a refused write sends the function record to the dead-letter queue, not back for retry', async () => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: ROLE }])
    aws.iam.on(PutRolePolicyCommand, { RoleName: ROLE }).rejects(accessDenied())
    const events = [lambdaEvent('cloudtrail-lambda-create-function'), stateChange(WEB_INSTANCE, 'running')]
    // Act
    const { failedRecords } = await run(events)
    // Assess
    expect(failedRecords).toEqual([false, false])
    expect(
      aws.sqs
        .commandCalls(SendMessageCommand)
        .map((call) => JSON.parse(call.args[0].input.MessageBody ?? '').id),
    ).toEqual([events[0]?.id])
  })

  it('a refused ListTags sends every record to the dead-letter queue: the truth of the batch cannot be read', async () => {
    // Prepare
    serveFunctions([{ name: REPORTER, role: ROLE }])
    aws.lambda.on(ListTagsCommand).rejects(accessDenied())
    // Act
    const { failedRecords } = await run([
      lambdaEvent('cloudtrail-lambda-create-function'),
      stateChange(WEB_INSTANCE, 'running'),
    ])
    // Assess
    expect(failedRecords).toEqual([false, false])
    expect(aws.sqs.commandCalls(SendMessageCommand)).toHaveLength(2)
  })

  it('a deleted function record fails with an instance role, since it rides on every role; the other function record does not', async () => {
    // Prepare
    serveFunctions([{ name: AUDITOR, role: ROLE }])
    aws.iam.on(PutRolePolicyCommand, { RoleName: INSTANCE_ROLE }).rejects(throttled())
    // Act
    const { failedRecords } = await run([
      lambdaEvent('cloudtrail-lambda-delete-function'),
      lambdaEvent('cloudtrail-lambda-create-function', AUDITOR),
    ])
    // Assess
    expect(failedRecords).toEqual([true, false])
  })
})
