/**
 * How the lock judges running opted-in instances (policy/lock/judge-instances.ts), proven with IAM verdicts
 * (@cloud-copilot/iam-simulate) on the role once it carries the decision: every legitimate path allowed (own
 * addresses, NAT, VPC endpoints of its own VPCs, services acting for it, IAM-authenticated services inside the
 * VPC), every outside one refused, in the precise and the compact form.
 */
import { describe, expect, it } from 'vitest'
import { INLINE_POLICY_BUDGET, isCompactLock } from '../../../policy/lock/index.js'
import {
  ATTACKER_V6,
  BYSTANDER,
  bystander,
  credentials,
  DATA_VPC,
  decide,
  expectVerdicts,
  IN_VPC_SERVICES,
  LIVE,
  NAT_1,
  NAT_2,
  node,
  outcomesOf,
  put,
  ROLE,
  SERVICE_IP,
  SHARED_ENDPOINT,
  type VerdictRow,
  v6Only,
  WEB,
  web,
  worker,
  worker2,
  workerCredentials,
} from '../../support/lock-fleet.js'
import { ACCOUNT, ALLOWED, APP_VPC, ATTACKER_V4, DENIED, FOREIGN_VPC } from '../../support/lock-scene.js'
import {
  fromPublicIp,
  GET_CALLER_IDENTITY,
  GET_OBJECT,
  LIST_ROLES,
  roleSessionFromPublicIp,
  throughEndpoint,
  type Verdict,
  viaAwsService,
  withoutContext,
} from '../../support/simulate.js'

/** What must hold in both forms: every legitimate path allowed, every outside one refused. */
function legitimateAndOutside(): VerdictRow[] {
  return [
    // Its own addresses on the public path, IPv4 and IPv6, on every network interface.
    { story: 'web from its own IPv4', request: fromPublicIp(web, '198.51.100.10'), expected: ALLOWED },
    {
      story: 'web from its Elastic IP on eth1',
      request: fromPublicIp(web, '198.51.100.11'),
      expected: ALLOWED,
    },
    { story: 'web from its own IPv6', request: fromPublicIp(web, '2001:db8:10:1::11'), expected: ALLOWED },
    {
      story: 'worker through NAT address 1',
      request: fromPublicIp(workerCredentials, NAT_1),
      expected: ALLOWED,
    },
    {
      story: 'worker through NAT address 2',
      request: fromPublicIp(workerCredentials, NAT_2),
      expected: ALLOWED,
    },
    {
      story: 'IPv6-only host from its IPv6',
      request: fromPublicIp(v6Only, '2001:db8:60::6'),
      expected: ALLOWED,
    },
    { story: 'IPv6-only host through NAT64', request: fromPublicIp(v6Only, NAT_1), expected: ALLOWED },
    { story: 'node through its NAT', request: fromPublicIp(node, NAT_2), expected: ALLOWED },
    // VPC endpoints of its own VPC, from its own private addresses.
    {
      story: 'web through an endpoint from its private IPv4',
      request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '10.0.1.11' }),
      expected: ALLOWED,
    },
    {
      story: 'web through an endpoint from its IPv6',
      request: throughEndpoint(web, { vpc: APP_VPC, privateIp: '2001:db8:10::10' }),
      expected: ALLOWED,
    },
    {
      story: 'worker through an endpoint from its primary IPv4',
      request: throughEndpoint(workerCredentials, { vpc: APP_VPC, privateIp: '10.0.2.20' }),
      expected: ALLOWED,
    },
    {
      story: 'a pod on the node through an endpoint from its delegated prefix',
      request: throughEndpoint(node, { vpc: APP_VPC, privateIp: '10.0.3.50' }),
      expected: ALLOWED,
    },
    {
      story: 'the node through an endpoint of the VPC its second interface is in',
      request: throughEndpoint(node, { vpc: DATA_VPC, privateIp: '10.9.0.10' }),
      expected: ALLOWED,
    },
    // Services acting with its credential.
    { story: 'web via an AWS service', request: viaAwsService(web, SERVICE_IP), expected: ALLOWED },
    {
      story: 'worker via an AWS service',
      request: viaAwsService(workerCredentials, SERVICE_IP),
      expected: ALLOWED,
    },
    // The thief.
    {
      story: 'web credentials from outside (IPv4)',
      request: fromPublicIp(web, ATTACKER_V4),
      expected: DENIED,
    },
    {
      story: 'web credentials from outside (IPv6)',
      request: fromPublicIp(web, ATTACKER_V6),
      expected: DENIED,
    },
    {
      story: 'worker credentials from outside',
      request: fromPublicIp(workerCredentials, ATTACKER_V4),
      expected: DENIED,
    },
    {
      story: 'IPv6-only credentials from outside',
      request: fromPublicIp(v6Only, ATTACKER_V6),
      expected: DENIED,
    },
    { story: 'node credentials from outside', request: fromPublicIp(node, ATTACKER_V4), expected: DENIED },
    {
      story: 'outside, on a path where AWS sets no aws:ViaAWSService',
      request: withoutContext(fromPublicIp(workerCredentials, ATTACKER_V4), 'aws:ViaAWSService'),
      expected: DENIED,
    },
    {
      story: 'an action with only * as resource, from outside',
      request: fromPublicIp(web, ATTACKER_V4, LIST_ROLES),
      expected: DENIED,
    },
    {
      story: 'web credentials through an endpoint in the thief’s VPC, with web’s own private IP',
      request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10' }),
      expected: DENIED,
    },
    {
      story: 'worker credentials through an endpoint in the thief’s VPC, with its primary IP',
      request: throughEndpoint(workerCredentials, { vpc: FOREIGN_VPC, privateIp: '10.0.2.20' }),
      expected: DENIED,
    },
    {
      story: 'worker credentials through its own VPC’s endpoint from another host',
      request: throughEndpoint(workerCredentials, { vpc: APP_VPC, privateIp: '10.0.2.99' }),
      expected: DENIED,
    },
    {
      story: 'a fleet sibling’s credentials through the endpoint from the worker’s address',
      request: throughEndpoint(worker2, { vpc: APP_VPC, privateIp: '10.0.2.20' }),
      expected: DENIED,
    },
    {
      story: 'a fleet sibling through the same NAT',
      request: fromPublicIp(worker2, NAT_2),
      expected: ALLOWED,
    },
    {
      story: 'node credentials through an endpoint of the second VPC from an address not its own',
      request: throughEndpoint(node, { vpc: DATA_VPC, privateIp: '10.9.0.99' }),
      expected: DENIED,
    },
    {
      story: 'a shared-services endpoint not declared trusted',
      request: throughEndpoint(web, { vpc: FOREIGN_VPC, privateIp: '10.0.1.10', vpce: SHARED_ENDPOINT }),
      expected: DENIED,
    },
    // The sibling that did not opt in is untouched.
    { story: 'bystander from anywhere', request: fromPublicIp(bystander, ATTACKER_V4), expected: ALLOWED },
    {
      story: 'bystander through a foreign endpoint',
      request: throughEndpoint(bystander, { vpc: FOREIGN_VPC, privateIp: '10.0.1.30' }),
      expected: ALLOWED,
    },
  ]
}

/** Where the two forms differ: the precise one refuses a sibling's addresses, the compact one allows them. */
function siblingRows(expected: Verdict): VerdictRow[] {
  return [
    { story: 'web credentials from the worker NAT', request: fromPublicIp(web, NAT_1), expected },
    {
      story: 'node credentials from web’s public IP',
      request: fromPublicIp(node, '198.51.100.10'),
      expected,
    },
  ]
}

describe('live lock: running opted-in instances', () => {
  it('is precise when the budget allows: every legitimate path allowed, every outside one refused', async () => {
    // Prepare / Act
    const decision = put(decide({ instances: LIVE }))

    // Assess
    expect(decision.form).toBe('precise')
    expect(decision.documents).toHaveLength(1)
    await expectVerdicts(decision, [...legitimateAndOutside(), ...siblingRows(DENIED)])
  })

  it('is compact when only that fits: outsiders still refused, siblings share addresses', async () => {
    // Prepare: the role's other inline policies leave less than the precise lock needs.
    const precise = put(decide({ instances: LIVE, budget: { otherInlineChars: 0, managedPolicies: 0 } }))
    const room = (precise.chars[0] ?? 0) - 1

    // Act
    const decision = put(
      decide({
        instances: LIVE,
        budget: { otherInlineChars: INLINE_POLICY_BUDGET - room, managedPolicies: 0 },
      }),
    )

    // Assess
    expect(decision.form).toBe('compact')
    expect(isCompactLock(decision.documents)).toBe(true)
    await expectVerdicts(decision, [...legitimateAndOutside(), ...siblingRows(ALLOWED)])
  })

  it.each(['198.51.100.10', '10.0.1.10', '2001:db8:10::10'])(
    'lets IAM-authenticated services inside the VPC through from web’s own address %s',
    async (address) => {
      // Prepare
      const decision = put(decide({ instances: LIVE }))
      const rows = IN_VPC_SERVICES.map((call) => ({
        story: `${call.action} from ${address}`,
        request: fromPublicIp(web, address, call),
        expected: ALLOWED,
      }))

      // Act / Assess
      await expectVerdicts(decision, rows)
    },
  )

  it('lets IAM-authenticated services inside the VPC through from a worker’s, a pod’s and an IPv6 host’s own address', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))
    const from = [
      { credential: workerCredentials, address: '10.0.2.20' },
      { credential: node, address: '10.0.3.50' },
      { credential: v6Only, address: '2001:db8:60::6' },
    ]
    const rows = from.flatMap(({ credential, address }) =>
      IN_VPC_SERVICES.map((call) => ({
        story: `${credential.instanceId} ${call.action} from ${address}`,
        request: fromPublicIp(credential, address, call),
        expected: ALLOWED,
      })),
    )

    // Act / Assess
    await expectVerdicts(decision, rows)
  })

  it('keeps those services and ordinary actions refused from outside, and from a sibling’s private address', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))
    const rows = [...IN_VPC_SERVICES, GET_OBJECT].flatMap((call) => [
      {
        story: `web ${call.action} from outside`,
        request: fromPublicIp(web, ATTACKER_V4, call),
        expected: DENIED,
      },
      {
        story: `worker ${call.action} from outside`,
        request: fromPublicIp(workerCredentials, ATTACKER_V4, call),
        expected: DENIED,
      },
      {
        story: `worker ${call.action} from its sibling's private address`,
        request: fromPublicIp(workerCredentials, '10.0.2.21', call),
        expected: DENIED,
      },
    ])

    // Act / Assess
    await expectVerdicts(decision, rows)
  })

  it('control: without the lock the same stolen-credential requests are allowed, so the denies come from it', async () => {
    // Prepare
    const unlocked = decide({ instances: [BYSTANDER.facts] })

    // Act / Assess
    await expectVerdicts(unlocked, [
      { story: 'web from outside', request: fromPublicIp(web, ATTACKER_V4), expected: ALLOWED },
      {
        story: 'worker via a foreign endpoint',
        request: throughEndpoint(workerCredentials, { vpc: FOREIGN_VPC, privateIp: '10.0.2.20' }),
        expected: ALLOWED,
      },
    ])
  })

  it('cannot refuse sts:GetCallerIdentity (AWS allows it under any deny): a thief learns only whose key it is', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))

    // Act / Assess
    await expectVerdicts(decision, [
      {
        story: 'GetCallerIdentity',
        request: fromPublicIp(web, ATTACKER_V4, GET_CALLER_IDENTITY),
        expected: ALLOWED,
      },
    ])
  })

  it('leaves other sessions of the role alone: only instance credentials carry the instance ARN', async () => {
    // Prepare
    const decision = put(decide({ instances: LIVE }))

    // Act / Assess
    await expectVerdicts(decision, [
      {
        story: 'a session of the same role that is not an instance’s',
        request: roleSessionFromPublicIp({ accountId: ACCOUNT, roleName: ROLE }, 'deploy-job', ATTACKER_V4),
        expected: ALLOWED,
      },
    ])
  })

  it('counts a launching (pending) instance as running: it is locked, not tombstoned', () => {
    // Prepare
    const pending = { ...WEB.facts, state: 'pending' as const }

    // Act
    const decision = decide({
      instances: [pending],
      current: { locked: new Set([WEB.facts.instanceId]), tombstones: new Map() },
    })

    // Assess
    expect(outcomesOf(decision, WEB.facts.instanceId).map((each) => each.outcome)).toEqual(['locked'])
  })

  it('locks an instance with neither public address nor NAT to its own private path only', async () => {
    // Prepare: a subnet that reaches AWS only through endpoints.
    const isolated = worker(40, { egressIps: [] })

    // Act
    const decision = put(decide({ instances: [isolated.facts] }))

    // Assess
    const isolatedCredentials = credentials(isolated)
    await expectVerdicts(decision, [
      {
        story: 'through its endpoint',
        request: throughEndpoint(isolatedCredentials, { vpc: APP_VPC, privateIp: '10.0.2.40' }),
        expected: ALLOWED,
      },
      {
        story: 'RDS from its own address',
        request: fromPublicIp(isolatedCredentials, '10.0.2.40', IN_VPC_SERVICES[0]),
        expected: ALLOWED,
      },
      { story: 'from outside', request: fromPublicIp(isolatedCredentials, ATTACKER_V4), expected: DENIED },
    ])
  })
})
