/**
 * What the host proxy adds to the session policy, proven with IAM verdicts: more than one public address (a
 * host's IPv4, IPv6 and NAT egress), and trusted VPC endpoints outside the host's own VPCs.
 */
import { describe, expect, it } from 'vitest'
import { InvalidFactsError } from '../../policy/errors.js'
import { sessionLockPolicy } from '../../policy/session-lock.js'
import { type FunctionSession, sessionFromIp, sessionThroughEndpoint } from '../support/lambda-session.js'
import { ALLOW_ALL, GET_OBJECT, verdict } from '../support/simulate.js'

const HOST: FunctionSession = {
  accountId: '123456789012',
  roleName: 'app-role',
  sessionName: 'i-0123456789abcdef0',
}
const ROLE_ARN = 'arn:aws:iam::123456789012:role/app-role'
const OWN_VPC = 'vpc-0a1b2c3d4e5f60718'
const SHARED_VPC = 'vpc-0c0c0c0c0c0c0c0c0'
const SHARED_ENDPOINT = 'vpce-0c0c0c0c0c0c0c0c0'

const hostPolicy = sessionLockPolicy({
  roleArn: ROLE_ARN,
  address: '198.51.100.23',
  otherAddresses: ['203.0.113.10', '2001:db8:1234::10'],
  sourceVpcs: [OWN_VPC],
  sourceVpces: [SHARED_ENDPOINT],
})

describe('a host session', () => {
  it.each([
    ['198.51.100.23', 'Allowed'],
    ['203.0.113.10', 'Allowed'],
    ['2001:db8:1234::10', 'Allowed'],
    ['203.0.113.11', 'ExplicitlyDenied'],
    ['2001:db8:1234::11', 'ExplicitlyDenied'],
  ])('called from %s is %s', async (ip, expected) => {
    // Act
    const answer = await verdict([ALLOW_ALL], sessionFromIp(HOST, ip, GET_OBJECT), {
      sessionPolicy: hostPolicy,
    })

    // Assess
    expect(answer).toBe(expected)
  })

  it("is allowed through its own VPC's endpoints and a trusted shared endpoint, refused through another", async () => {
    // Prepare
    const through = (vpc: string, vpce: string) =>
      verdict([ALLOW_ALL], sessionThroughEndpoint(HOST, { vpc, privateIp: '10.0.1.23', vpce }, GET_OBJECT), {
        sessionPolicy: hostPolicy,
      })

    // Act
    const answers = [
      await through(OWN_VPC, 'vpce-0a0a0a0a0a0a0a0a0'),
      await through(SHARED_VPC, SHARED_ENDPOINT),
      await through(SHARED_VPC, 'vpce-0d0d0d0d0d0d0d0d0'),
    ]

    // Assess
    expect(answers).toEqual(['Allowed', 'Allowed', 'ExplicitlyDenied'])
  })

  it('refuses every endpoint but the trusted one when no VPC is listed', async () => {
    // Prepare
    const sessionPolicy = sessionLockPolicy({
      roleArn: ROLE_ARN,
      address: '198.51.100.23',
      sourceVpcs: [],
      sourceVpces: [SHARED_ENDPOINT],
    })
    const through = (vpce: string) =>
      verdict(
        [ALLOW_ALL],
        sessionThroughEndpoint(HOST, { vpc: SHARED_VPC, privateIp: '10.0.1.23', vpce }, GET_OBJECT),
        {
          sessionPolicy,
        },
      )

    // Act
    const answers = [await through(SHARED_ENDPOINT), await through('vpce-0d0d0d0d0d0d0d0d0')]

    // Assess
    expect(answers).toEqual(['Allowed', 'ExplicitlyDenied'])
  })

  it.each([
    [{ otherAddresses: ['10.0.1.23'] }, /private address AWS never sees/],
    [{ sourceVpces: ['endpoint-1'] }, /"endpoint-1" is not a VPC endpoint ID/],
  ])('refuses facts %j', (extra, message) => {
    // Act
    const build = () =>
      sessionLockPolicy({ roleArn: ROLE_ARN, address: '198.51.100.23', sourceVpcs: [OWN_VPC], ...extra })

    // Assess
    expect(build).toThrow(InvalidFactsError)
    expect(build).toThrow(message)
  })
})
