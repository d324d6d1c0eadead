/**
 * The statements the lock writes (policy/lock/statements.ts), proven with IAM verdicts: the settings that change
 * what they refuse (IMDSv1, exempt actions, trusted shared endpoints), a request without aws:ViaAWSService,
 * Sids unique in every document, documents the same in any order, and statements that match only the
 * credentials, region and VPCs they name.
 */
import { describe, expect, it } from 'vitest'
import type { CurrentLock, FunctionFacts } from '../../../policy/lock/index.js'
import {
  bystander,
  decide,
  expectVerdicts,
  LIVE,
  put,
  SHARED_ENDPOINT,
  web,
  workerCredentials,
} from '../../support/lock-fleet.js'
import * as numbered from '../../support/lock-numbered.js'
import {
  ACCOUNT,
  ALLOWED,
  APP_VPC,
  ATTACKER_V4,
  DENIED,
  FOREIGN_VPC,
  HOUR,
  T0,
} from '../../support/lock-scene.js'
import * as single from '../../support/lock-single.js'
import {
  fromPublicIp,
  GET_OBJECT,
  type InstanceCredentials,
  roleSessionFromPublicIp,
  throughEndpoint,
  verdict,
  withContext,
} from '../../support/simulate.js'

describe('settings that change what the lock refuses: IMDSv1, exempt actions, trusted endpoints', () => {
  it('refuses IMDSv1-delivered credentials when asked, even from the instance itself', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE, settings: { refuseImdsV1: true } }))

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'IMDSv1 credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), { 'ec2:RoleDelivery': '1.0' }),
        expected: DENIED,
      },
      {
        story: 'IMDSv2 credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), { 'ec2:RoleDelivery': '2.0' }),
        expected: ALLOWED,
      },
      {
        story: 'the bystander’s IMDSv1 credentials',
        request: withContext(fromPublicIp(bystander, '198.51.100.30'), { 'ec2:RoleDelivery': '1.0' }),
        expected: ALLOWED,
      },
    ])
  })

  it('leaves IMDSv1 credentials alone by default', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE }))

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'IMDSv1 credentials from its own IP',
        request: withContext(fromPublicIp(web, '198.51.100.10'), { 'ec2:RoleDelivery': '1.0' }),
        expected: ALLOWED,
      },
    ])
  })

  it('lets a browser use a presigned URL for an exempt action, and only that action', async () => {
    // Prepare
    const putObject = { action: 's3:PutObject', resource: GET_OBJECT.resource }

    // Act
    const decision = put(decide({ instances: LIVE, exemptActions: ['s3:GetObject'] }))

    // Assess
    await expectVerdicts(decision, [
      {
        story: 'exempt GetObject from a browser',
        request: fromPublicIp(web, ATTACKER_V4),
        expected: ALLOWED,
      },
      {
        story: 'PutObject from a browser',
        request: fromPublicIp(web, ATTACKER_V4, putObject),
        expected: DENIED,
      },
      {
        story: 'PutObject through a foreign endpoint',
        request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' }, putObject),
        expected: DENIED,
      },
    ])
  })

  it('allows a trusted shared-services endpoint from the instance’s own private address only', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE, settings: { trustedVpcEndpoints: [SHARED_ENDPOINT] } }))
    const shared = (credential: InstanceCredentials, privateIp: string) =>
      throughEndpoint(credential, { vpc: FOREIGN_VPC, privateIp, vpce: SHARED_ENDPOINT })

    // Assess
    await expectVerdicts(decision, [
      { story: 'web from its own IPv4', request: shared(web, '10.0.1.10'), expected: ALLOWED },
      {
        story: 'worker from its primary IPv4',
        request: shared(workerCredentials, '10.0.2.20'),
        expected: ALLOWED,
      },
      {
        story: 'worker from another address',
        request: shared(workerCredentials, '10.0.2.99'),
        expected: DENIED,
      },
      {
        story: 'another endpoint in that VPC',
        request: throughEndpoint(web, {
          vpc: FOREIGN_VPC,
          privateIp: '10.0.1.10',
          vpce: 'vpce-0fedcba9876543210',
        }),
        expected: DENIED,
      },
    ])
  })
})

describe('a request that carries no aws:ViaAWSService key', () => {
  it.each([
    ['from an outside address', () => fromPublicIp(single.credentials, ATTACKER_V4)],
    [
      'through an endpoint of another VPC, from the instance’s own private address',
      () => throughEndpoint(single.credentials, { vpc: FOREIGN_VPC, privateIp: single.PRIVATE_IP }),
    ],
  ])('is refused %s', async (_, build) => {
    // Prepare
    const decision = single.decide([single.facts()])
    const request = build()

    // Act
    const result = await verdict(single.rolePolicies(decision), single.withoutViaAwsService(request))

    // Assess
    expect(result).toBe('ExplicitlyDenied')
  })

  it('is allowed from the instance’s own address', async () => {
    // Prepare
    const decision = single.decide([single.facts()])

    // Act
    const result = await verdict(
      single.rolePolicies(decision),
      single.withoutViaAwsService(fromPublicIp(single.credentials, single.OWN_IP)),
    )

    // Assess
    expect(result).toBe('Allowed')
  })
})

describe('statements unique, stable, and matching only the credentials they name', () => {
  it('carry unique Sids in each document, however many groups share one', () => {
    // Prepare: three instances, each with a second interface in a different VPC, give three endpoint statements.
    const fleet = [1, 2, 3].map((n) => numbered.facts(n, { otherVpcIds: [`vpc-0b1b2b3b4b5b6b7b${n}`] }))

    // Act
    const decision = numbered.decide(fleet)

    // Assess
    for (const statements of numbered.statementsOf(decision)) {
      const sids = statements.flatMap((statement) => (statement.Sid === undefined ? [] : [statement.Sid]))
      expect(sids).toEqual([...new Set(sids)])
    }
    expect(
      numbered
        .statementsOf(decision)
        .flat()
        .map((statement) => statement.Sid),
    ).toEqual(expect.arrayContaining(['Endpoint', 'Endpointx2', 'Endpointx3']))
  })

  it('are the same whatever order the facts come in', () => {
    // Prepare: groups of every kind: tombstones of two dates, two VPC sets, two address sets, two functions.
    const current: CurrentLock = {
      locked: new Set([numbered.idOf(7), numbered.idOf(8)]),
      tombstones: new Map([
        [numbered.idOf(9), { since: new Date(T0.getTime() - HOUR) }],
        [numbered.idOf(10), { since: new Date(T0.getTime() - 2 * HOUR) }],
      ]),
    }
    const instances = [
      numbered.facts(1, { otherVpcIds: [numbered.SECOND_VPC, numbered.SECOND_VPC] }),
      numbered.facts(2),
      numbered.facts(3, { publicIps: [], primaryPrivateIpv4: '10.0.0.13' }),
      numbered.facts(4, { publicIps: [], primaryPrivateIpv4: '10.0.0.14' }),
      numbered.facts(7, { state: 'stopped' }),
      numbered.facts(8, { state: 'terminated' }),
    ]
    const functions: FunctionFacts[] = ['worker-a', 'worker-b'].map((name, n) => ({
      functionName: name,
      roleName: numbered.ROLE,
      optedIn: true,
      vpcId: n === 0 ? APP_VPC : numbered.SECOND_VPC,
      egressIps: [`198.51.100.${200 + n}`],
      subnetCidrs: [`10.0.${8 + n}.0/24`],
    }))

    // Act
    const forward = numbered.decide(instances, { current, functions })
    const backward = numbered.decide([...instances].reverse(), {
      current,
      functions: [...functions].reverse(),
    })

    // Assess
    expect(backward).toEqual(forward)
  })

  it('for one instance match only that instance’s credentials, not another session of the role', async () => {
    // Prepare
    const decision = numbered.decide([numbered.facts(1)])

    // Act
    const session = await verdict(
      numbered.rolePolicies(decision),
      roleSessionFromPublicIp({ accountId: ACCOUNT, roleName: numbered.ROLE }, 'deploy', ATTACKER_V4),
    )

    // Assess
    expect(session).toBe('Allowed')
  })

  it('naming a fleet match its instances in this region only, not an instance of the same ID elsewhere', async () => {
    // Prepare: the endpoint statement names both instances; instance IDs are unique per region only.
    const decision = numbered.decide([numbered.facts(1), numbered.facts(2)])
    const endpoint = { vpc: FOREIGN_VPC, privateIp: '10.0.0.11' }

    // Act
    const elsewhere = await verdict(
      numbered.rolePolicies(decision),
      throughEndpoint(numbered.credentialsOf(1, { region: 'eu-west-1' }), endpoint),
    )
    const here = await verdict(
      numbered.rolePolicies(decision),
      throughEndpoint(numbered.credentialsOf(1), endpoint),
    )

    // Assess
    expect([elsewhere, here]).toEqual(['Allowed', 'ExplicitlyDenied'])
  })

  it('let an instance with a second interface call through endpoints of both its VPCs, and no other', async () => {
    // Prepare
    const decision = numbered.decide([
      numbered.facts(1, { otherVpcIds: [numbered.SECOND_VPC, numbered.SECOND_VPC] }),
    ])
    const own = numbered.credentialsOf(1)
    const privateIp = '10.0.0.11'

    // Act
    const through = (vpc: string) =>
      verdict(numbered.rolePolicies(decision), throughEndpoint(own, { vpc, privateIp }))

    // Assess
    expect([await through(APP_VPC), await through(numbered.SECOND_VPC), await through(FOREIGN_VPC)]).toEqual([
      'Allowed',
      'Allowed',
      'ExplicitlyDenied',
    ])
  })

  it('list no empty set of addresses for a private fleet compared by its primary address', () => {
    // Prepare
    const fleet = [1, 2].map((n) =>
      numbered.facts(n, { publicIps: [], primaryPrivateIpv4: `10.0.0.${n + 10}` }),
    )

    // Act
    const decision = numbered.decide(fleet)

    // Assess
    expect(decision.action === 'put' && decision.documents.join()).not.toMatch(/\[\]/)
  })

  it('lets an instance with interfaces in two more VPCs call through endpoints of each', async () => {
    // Prepare
    const third = 'vpc-0c1c2c3c4c5c6c7c8'
    const decision = numbered.decide([numbered.facts(1, { otherVpcIds: [numbered.SECOND_VPC, third] })])

    // Act
    const through = (vpc: string) =>
      verdict(
        numbered.rolePolicies(decision),
        throughEndpoint(numbered.credentialsOf(1), { vpc, privateIp: '10.0.0.11' }),
      )

    // Assess
    expect([await through(numbered.SECOND_VPC), await through(third)]).toEqual(['Allowed', 'Allowed'])
  })
})
