/**
 * The lock on VPC Lambda functions (policy/lock/judge-functions.ts), proven with IAM verdicts for a request
 * signed with a function's execution-role credential, which carries lambda:SourceFunctionArn and no EC2 key:
 * allowed from its NAT and its own VPC only, Lambda's own calls kept, untagged functions left alone, and an
 * instance and a function on one role each locked to its own paths.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError } from '../../../policy/errors.js'
import { type FunctionFacts, LAMBDA_SERVICE_ACTIONS, OUTSIDE_VPC_REASON } from '../../../policy/lock/index.js'
import {
  carried,
  credentialsOf,
  decide,
  documentsOf,
  expectVerdicts,
  FUNCTION_ENI,
  instanceCredentials,
  LAMBDA_CALLS,
  LAMBDA_SERVICE_IP,
  LUKE,
  NAT,
  NOT_EXEMPT,
  REPORTER,
  REPORTER_DRAFT,
  ROLE,
  SUBNET_A,
  SUBNET_B,
  WEBHOOK,
} from '../../support/lock-functions.js'
import {
  ACCOUNT,
  ALLOWED,
  APP_VPC,
  ATTACKER_V4,
  DENIED,
  FOREIGN_VPC,
  REGION,
} from '../../support/lock-scene.js'
import {
  byLambdaService,
  fromPublicIp,
  GET_OBJECT,
  throughEndpoint,
  viaAwsService,
} from '../../support/simulate.js'

describe('a tagged function in a VPC', () => {
  it('may use its credentials from its NAT and its own VPC only; a thief is refused everywhere else', async () => {
    // Prepare
    const reporter = credentialsOf(REPORTER)
    const rdsConnect = {
      action: 'rds-db:connect',
      resource: `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-A/app`,
    }

    // Act
    const decision = decide({ functions: [REPORTER] })

    // Assess
    expect(decision.functions).toEqual([
      {
        functionName: 'reporter',
        outcome: 'locked',
        allowedFrom: { vpcId: APP_VPC, publicCidrs: [`${NAT}/32`], privateCidrs: [SUBNET_A, SUBNET_B] },
      },
    ])
    await expectVerdicts(decision, [
      { story: 'from its NAT gateway', request: fromPublicIp(reporter, NAT), expected: ALLOWED },
      {
        story: 'through an endpoint of its VPC',
        request: throughEndpoint(reporter, { vpc: APP_VPC, privateIp: FUNCTION_ENI }),
        expected: ALLOWED,
      },
      {
        story: 'an IAM-authenticated service inside the VPC',
        request: fromPublicIp(reporter, FUNCTION_ENI, rdsConnect),
        expected: ALLOWED,
      },
      { story: 'via an AWS service', request: viaAwsService(reporter, LAMBDA_SERVICE_IP), expected: ALLOWED },
      { story: 'a thief on the internet', request: fromPublicIp(reporter, ATTACKER_V4), expected: DENIED },
      {
        story: 'a thief through an endpoint of another VPC, from an address in its subnet range',
        request: throughEndpoint(reporter, { vpc: FOREIGN_VPC, privateIp: FUNCTION_ENI }),
        expected: DENIED,
      },
      {
        story: 'through its own VPC from outside its subnets',
        request: throughEndpoint(reporter, { vpc: APP_VPC, privateIp: '10.0.9.9' }),
        expected: DENIED,
      },
    ])
  })

  it('keeps the five calls Lambda makes for it from its own addresses, and nothing next to them', async () => {
    // Prepare
    const reporter = credentialsOf(REPORTER)

    // Act
    const decision = decide({ functions: [REPORTER] })

    // Assess
    expect(LAMBDA_CALLS.map((call) => call.action).sort()).toEqual([...LAMBDA_SERVICE_ACTIONS].sort())
    await expectVerdicts(decision, [
      ...LAMBDA_CALLS.map((call) => ({
        story: `Lambda's ${call.action}`,
        request: byLambdaService(reporter, LAMBDA_SERVICE_IP, call),
        expected: ALLOWED,
      })),
      ...NOT_EXEMPT.map((call) => ({
        story: `a thief's ${call.action}`,
        request: fromPublicIp(reporter, ATTACKER_V4, call),
        expected: DENIED,
      })),
    ])
  })

  it('shares its statements with functions in the same subnets, each still refused outside', async () => {
    // Prepare
    const archiver: FunctionFacts = { ...REPORTER, functionName: 'archiver' }

    // Act
    const decision = decide({ functions: [REPORTER, archiver] })

    // Assess
    expect(
      documentsOf(decision)
        .join('')
        .match(/lambda:SourceFunctionArn/g),
    ).toHaveLength(2)
    await expectVerdicts(decision, [
      {
        story: 'reporter from the NAT',
        request: fromPublicIp(credentialsOf(REPORTER), NAT),
        expected: ALLOWED,
      },
      {
        story: 'archiver from the NAT',
        request: fromPublicIp(credentialsOf(archiver), NAT),
        expected: ALLOWED,
      },
      {
        story: 'reporter stolen',
        request: fromPublicIp(credentialsOf(REPORTER), ATTACKER_V4),
        expected: DENIED,
      },
      {
        story: 'archiver stolen',
        request: fromPublicIp(credentialsOf(archiver), ATTACKER_V4),
        expected: DENIED,
      },
    ])
  })

  it("adds the role's exempt actions to Lambda's own", async () => {
    // Prepare
    const reporter = credentialsOf(REPORTER)

    // Act
    const decision = decide({ functions: [REPORTER], exemptActions: ['s3:GetObject'] })

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'an exempt action from outside',
        request: fromPublicIp(reporter, ATTACKER_V4),
        expected: ALLOWED,
      },
      {
        story: 'any other action from outside',
        request: fromPublicIp(reporter, ATTACKER_V4, {
          action: 's3:PutObject',
          resource: GET_OBJECT.resource,
        }),
        expected: DENIED,
      },
    ])
  })

  it('is skipped with the reason when its egress is unknown, and refused nothing', async () => {
    // Prepare
    const reason = 'its route 0.0.0.0/0 to transit gateway tgw-0123 leads where the controller cannot see it'
    const spoke: FunctionFacts = { ...REPORTER, egressIps: 'unknown', egressUnknownReason: reason }

    // Act
    const decision = decide({ functions: [spoke] })

    // Assess
    expect(decision).toMatchObject({ action: 'remove', functions: [{ outcome: 'skipped', reason }] })
  })

  it('refuses facts that name no subnet range or a name Lambda never gives', () => {
    // Prepare
    const noSubnets: FunctionFacts = { ...REPORTER, subnetCidrs: [] }
    const badName: FunctionFacts = { ...REPORTER, functionName: 'reporter:1' }

    // Act / Assess
    expect(() => decide({ functions: [noSubnets] })).toThrow(InvalidFactsError)
    expect(() => decide({ functions: [badName] })).toThrow(InvalidFactsError)
  })
})

describe('functions the lock must not touch', () => {
  it('leaves an untagged function on the same role alone, even one whose name extends a locked one', async () => {
    // Prepare
    const draft = credentialsOf(REPORTER_DRAFT)

    // Act
    const decision = decide({ functions: [REPORTER, REPORTER_DRAFT] })

    // Assess
    expect(decision.functions.map((outcome) => outcome.functionName)).toEqual(['reporter'])
    await expectVerdicts(decision, [
      { story: 'the draft from anywhere', request: fromPublicIp(draft, ATTACKER_V4), expected: ALLOWED },
      {
        story: 'the draft through another VPC',
        request: throughEndpoint(draft, { vpc: FOREIGN_VPC, privateIp: '172.16.0.9' }),
        expected: ALLOWED,
      },
    ])
  })

  it('skips a tagged function outside a VPC, pointing to the in-function lockdown', async () => {
    // Act
    const decision = decide({ functions: [WEBHOOK] })

    // Assess
    expect(decision).toEqual({
      roleName: ROLE,
      action: 'remove',
      instances: [],
      functions: [{ functionName: 'webhook', outcome: 'skipped', reason: OUTSIDE_VPC_REASON }],
    })
    expect(OUTSIDE_VPC_REASON).toContain('in-function lockdown')
  })

  it('lifts the lock when the tag is removed', async () => {
    // Prepare
    const current = carried(decide({ functions: [REPORTER] }))

    // Act
    const decision = decide({ functions: [{ ...REPORTER, optedIn: false }], current })

    // Assess
    expect(decision).toMatchObject({
      action: 'remove',
      functions: [{ functionName: 'reporter', outcome: 'released', reason: 'not opted in' }],
    })
  })
})

describe('an instance and a function on one role', () => {
  it('lock each to its own paths: neither statement matches the other credential', async () => {
    // Prepare
    const luke = instanceCredentials(LUKE)
    const reporter = credentialsOf(REPORTER)

    // Act
    const decision = decide({ functions: [REPORTER], instances: [LUKE] })

    // Assess
    await expectVerdicts(decision, [
      { story: 'luke from its own address', request: fromPublicIp(luke, '198.51.100.10'), expected: ALLOWED },
      { story: 'reporter from its NAT', request: fromPublicIp(reporter, NAT), expected: ALLOWED },
      { story: "luke from reporter's NAT", request: fromPublicIp(luke, NAT), expected: DENIED },
      {
        story: "reporter from luke's address",
        request: fromPublicIp(reporter, '198.51.100.10'),
        expected: DENIED,
      },
      {
        story: "reporter through luke's VPC endpoint from luke's address",
        request: throughEndpoint(reporter, { vpc: APP_VPC, privateIp: '10.0.1.10' }),
        expected: DENIED,
      },
    ])
  })

  it('read back apart: the instance lock names the instance, the function lock the function', () => {
    // Act
    const current = carried(decide({ functions: [REPORTER], instances: [LUKE] }))

    // Assess
    expect(current).toEqual({
      locked: new Set([LUKE.instanceId]),
      tombstones: new Map(),
      functions: { locked: new Set(['reporter']), tombstones: new Map() },
    })
  })
})
