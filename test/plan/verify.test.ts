import { readFileSync } from 'node:fs'
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2'
import {
  type EvaluationResult,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListInstanceProfilesCommand,
  ListPoliciesCommand,
  NoSuchEntityException,
  SimulatePrincipalPolicyCommand,
  type SimulatePrincipalPolicyCommandInput,
  type SimulatePrincipalPolicyCommandOutput,
} from '@aws-sdk/client-iam'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { runPlanCommand } from '../../handlers/plan/plan-command.js'
import { verifyLocks } from '../../handlers/plan/verify.js'
import {
  casesFor,
  judge,
  type LockedRole,
  NEUTRAL_ALLOW,
  OUTSIDE_ADDRESS,
  PROBE_ACTION,
  type VerifyCase,
} from '../../handlers/plan/verify-cases.js'
import { decideLock, type InstanceFacts, lockPolicyName } from '../../policy/lock/index.js'
import { ACCOUNT, at, HOUR, INLINE_ONLY, MINUTE, NO_LOCK, SETTINGS, T0 } from '../support/lock-scene.js'
import { verdict } from '../support/simulate.js'

const REGION = SETTINGS.region
const POLICY = lockPolicyName(REGION)
const SCOPE = { partition: 'aws', accountId: ACCOUNT, region: REGION }
const VPC = 'vpc-0a1a2a3a4a5a6a7a8'
const WEB_A = { instanceId: 'i-0aaaaaaaaaaaaaaa1', publicIp: '198.18.0.10', privateIp: '10.0.1.10' }
const WEB_B = { instanceId: 'i-0bbbbbbbbbbbbbbb2', publicIp: '198.18.0.20', privateIp: '10.0.1.20' }
const GONE = 'i-0ccccccccccccccc3'

function fixture(name: string): SimulatePrincipalPolicyCommandOutput {
  return JSON.parse(readFileSync(new URL(`../fixtures/simulator/${name}.json`, import.meta.url), 'utf8'))
}

function facts(instance: typeof WEB_A, publicIp = instance.publicIp): InstanceFacts {
  return {
    instanceId: instance.instanceId,
    state: 'running',
    roleName: 'web',
    optedIn: true,
    publicIps: [publicIp],
    egressIps: [],
    privateIps: [instance.privateIp],
    primaryPrivateIpv4: instance.privateIp,
    launchedAt: at(-HOUR),
  }
}

/** The lock the controller writes for two web instances after a third one was terminated. */
function webLock(): string {
  const decision = decideLock(
    {
      roleName: 'web',
      instances: [
        facts(WEB_A),
        facts(WEB_B),
        { ...facts(WEB_A), instanceId: GONE, state: 'terminated', publicIps: [] },
      ],
      current: { ...NO_LOCK, locked: new Set([GONE]) },
      budget: INLINE_ONLY,
    },
    SETTINGS,
    T0,
  )
  if (decision.action !== 'put' || decision.documents.length !== 1)
    throw new Error('expected one inline lock')
  return decision.documents[0] as string
}

function lockedRole(document = webLock(), form: LockedRole['form'] = 'precise'): LockedRole {
  const verified = (instance: typeof WEB_A) => ({
    instanceId: instance.instanceId,
    vpcId: VPC,
    primaryPrivateIpv4: instance.privateIp,
    publicIpv4s: [instance.publicIp],
  })
  return {
    roleName: 'web',
    roleArn: `arn:aws:iam::${ACCOUNT}:role/app/web`,
    form,
    documents: [{ policyId: POLICY, document }],
    instances: [verified(WEB_A), verified(WEB_B)],
    tombstones: new Map([[GONE, { since: at(-10 * MINUTE) }]]),
  }
}

function contextOf(request: SimulatePrincipalPolicyCommandInput): Record<string, string> {
  return Object.fromEntries(
    (request.ContextEntries ?? []).map((entry) => [
      entry.ContextKeyName ?? '',
      entry.ContextKeyValues?.[0] ?? '',
    ]),
  )
}

/**
 * What AWS's simulator would answer, computed by iam-simulate over the role's documents and the neutral allow:
 * EvalDecision and, for a deny, the controller's policy as the matched statement's source.
 */
async function simulatorAnswer(
  documents: readonly string[],
  request: SimulatePrincipalPolicyCommandInput,
): Promise<SimulatePrincipalPolicyCommandOutput> {
  const context = contextOf(request)
  const sessionName = context['ec2:SourceInstanceARN']?.split('/').pop() ?? 'session'
  const answer = await verdict(
    [
      ...documents.map((document) => ({ name: POLICY, document })),
      { name: 'neutral', document: NEUTRAL_ALLOW },
    ],
    {
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/web/${sessionName}`,
      accountId: ACCOUNT,
      call: { action: PROBE_ACTION, resource: '*' },
      context,
    },
  )
  const decision = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' }[
    answer
  ]
  return {
    $metadata: {},
    EvaluationResults: [
      {
        EvalActionName: PROBE_ACTION,
        EvalResourceName: '*',
        EvalDecision: decision as EvaluationResult['EvalDecision'],
        MatchedStatements:
          decision === 'explicitDeny' ? [{ SourcePolicyId: POLICY, SourcePolicyType: 'role' }] : [],
        MissingContextValues: [],
      },
    ],
  }
}

describe('the requests --verify sends for a locked role', () => {
  it('asks, per sampled instance, its own address and endpoint (allowed), an outside and a sibling address (refused), and per tombstone its old credentials (refused)', () => {
    // Act
    const cases = casesFor(lockedRole(), SCOPE, T0)

    // Assess
    expect(cases.map((each) => [each.instanceId, each.path, each.expected, each.from])).toEqual([
      [WEB_A.instanceId, 'own public address', 'allowed', WEB_A.publicIp],
      [WEB_A.instanceId, 'own VPC endpoint', 'allowed', `${WEB_A.privateIp} in ${VPC}`],
      [WEB_A.instanceId, 'outside address', 'refused', OUTSIDE_ADDRESS],
      [WEB_A.instanceId, "sibling's address", 'refused', WEB_B.publicIp],
      [WEB_B.instanceId, 'own public address', 'allowed', WEB_B.publicIp],
      [WEB_B.instanceId, 'own VPC endpoint', 'allowed', `${WEB_B.privateIp} in ${VPC}`],
      [WEB_B.instanceId, 'outside address', 'refused', OUTSIDE_ADDRESS],
      [WEB_B.instanceId, "sibling's address", 'refused', WEB_A.publicIp],
      [
        GONE,
        'tombstoned credentials',
        'refused',
        `${OUTSIDE_ADDRESS}, issued ${at(-11 * MINUTE).toISOString()}`,
      ],
    ])
  })

  it('simulates the role by its ARN, on the probe action with the neutral allow, with typed context entries', () => {
    // Act
    const [ownEndpoint] = casesFor(lockedRole(), SCOPE, T0).filter((each) => each.path === 'own VPC endpoint')

    // Assess
    expect(ownEndpoint?.request).toEqual({
      PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/app/web`,
      ActionNames: ['ec2:DescribeRegions'],
      ResourceArns: ['*'],
      PolicyInputList: [NEUTRAL_ALLOW],
      ContextEntries: [
        {
          ContextKeyName: 'ec2:SourceInstanceARN',
          ContextKeyType: 'string',
          ContextKeyValues: [`arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${WEB_A.instanceId}`],
        },
        { ContextKeyName: 'aws:EC2InstanceSourceVPC', ContextKeyType: 'string', ContextKeyValues: [VPC] },
        {
          ContextKeyName: 'aws:EC2InstanceSourcePrivateIPv4',
          ContextKeyType: 'ip',
          ContextKeyValues: [WEB_A.privateIp],
        },
        {
          ContextKeyName: 'aws:TokenIssueTime',
          ContextKeyType: 'date',
          ContextKeyValues: [T0.toISOString()],
        },
        { ContextKeyName: 'aws:ViaAWSService', ContextKeyType: 'boolean', ContextKeyValues: ['false'] },
        { ContextKeyName: 'ec2:RoleDelivery', ContextKeyType: 'numeric', ContextKeyValues: ['2.0'] },
        { ContextKeyName: 'aws:SourceVpc', ContextKeyType: 'string', ContextKeyValues: [VPC] },
        {
          ContextKeyName: 'aws:SourceVpce',
          ContextKeyType: 'string',
          ContextKeyValues: ['vpce-0000000000000000v'],
        },
        { ContextKeyName: 'aws:VpcSourceIp', ContextKeyType: 'ip', ContextKeyValues: [WEB_A.privateIp] },
      ],
    })
  })

  it("asks a restarted instance's old credentials from its own address, so only the tombstone can refuse them", () => {
    // Prepare
    const restartedAt = at(-5 * MINUTE)
    const role = {
      ...lockedRole(),
      tombstones: new Map([[WEB_A.instanceId, { since: restartedAt, issuedBefore: restartedAt }]]),
    }

    // Act
    const [tombstone] = casesFor(role, SCOPE, T0).filter((each) => each.path === 'tombstoned credentials')

    // Assess
    expect(tombstone?.expected).toBe('refused')
    expect(contextOf((tombstone as VerifyCase).request)).toMatchObject({
      'aws:SourceIp': WEB_A.publicIp,
      'aws:TokenIssueTime': at(-6 * MINUTE).toISOString(),
      'aws:EC2InstanceSourcePrivateIPv4': WEB_A.privateIp,
    })
  })

  it('asks no own-address case of an instance without a public IPv4 (behind a NAT gateway)', () => {
    // Prepare
    const role = lockedRole()
    const privateOnly = { ...role, instances: role.instances.map((each) => ({ ...each, publicIpv4s: [] })) }

    // Act
    const paths = casesFor(privateOnly, SCOPE, T0).map((each) => each.path)

    // Assess
    expect(paths).not.toContain('own public address')
    expect(paths).not.toContain("sibling's address")
    expect(paths).toContain('own VPC endpoint')
  })

  it('asks no sibling case of a compact lock, where siblings share the role addresses by design', () => {
    // Act
    const cases = casesFor(lockedRole(webLock(), 'compact'), SCOPE, T0)

    // Assess
    expect(cases.some((each) => each.path === "sibling's address")).toBe(false)
  })
})

describe("reading the simulator's answers", () => {
  const role = lockedRole()
  const cases = casesFor(role, SCOPE, T0)
  const caseAt = (path: VerifyCase['path']) => cases.find((each) => each.path === path) as VerifyCase
  const result = (name: string) => fixture(name).EvaluationResults?.[0]

  it.each([
    ['outside address', 'explicit-deny-by-lock', 'as intended'],
    ['own public address', 'allowed', 'as intended'],
    ['outside address', 'allowed', 'NOT AS INTENDED'],
    ['outside address', 'allowed-missing-context', 'cannot judge'],
    ['own public address', 'implicit-deny-boundary', 'cannot judge'],
    ['outside address', 'implicit-deny-boundary', 'cannot judge'],
    ['own public address', 'explicit-deny-by-other-policy', 'cannot judge'],
  ] as const)('judges %s answered %s as %s', (path, answer, judgement) => {
    // Act
    const row = judge(caseAt(path), result(answer), role)

    // Assess
    expect(row.judgement).toBe(judgement)
  })

  it("finds the deciding statement by the simulator's positions: a plain one refusing the own path is a real fault", () => {
    // Prepare: one line of policy, the matched statement located the way IAM reports it (1-based, inclusive)
    const plain = JSON.stringify({ Effect: 'Deny', Action: '*', Resource: '*' })
    const defaulted = JSON.stringify({
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable.
      Condition: { StringNotEquals: { 'aws:EC2InstanceSourcePrivateIPv4': "${aws:VpcSourceIp, 'absent'}" } },
    })
    const document = `{"Version":"2012-10-17","Statement":[${plain},${defaulted}]}`
    const pointingAt = (statement: string): EvaluationResult => {
      const start = document.indexOf(statement)
      const [matched] = result('explicit-deny-by-lock')?.MatchedStatements ?? []
      return {
        ...(result('explicit-deny-by-lock') as EvaluationResult),
        MatchedStatements: [
          {
            ...matched,
            SourcePolicyId: POLICY,
            StartPosition: { Line: 1, Column: start + 1 },
            EndPosition: { Line: 1, Column: start + statement.length },
          },
        ],
      }
    }
    const withDocument = { ...role, documents: [{ policyId: POLICY, document }] }

    // Act
    const byPlain = judge(caseAt('own public address'), pointingAt(plain), withDocument)
    const byDefaulted = judge(caseAt('own public address'), pointingAt(defaulted), withDocument)

    // Assess
    expect(byPlain.judgement).toBe('NOT AS INTENDED')
    expect(byDefaulted).toMatchObject({
      judgement: 'cannot judge',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable.
      note: expect.stringContaining("${aws:VpcSourceIp, 'absent'}"),
    })
  })
})

describe('plan --verify over the account', () => {
  const iam = mockClient(IAMClient)
  const ec2 = mockClient(EC2Client)
  const sts = mockClient(STSClient)

  /** An account with the web role carrying `document`, and the two web instances at `publicIps`. */
  function givenAccount(document: string, publicIps: readonly [string, string]): void {
    for (const mock of [iam, ec2, sts]) mock.reset()
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/auditor` })
    iam.on(ListInstanceProfilesCommand).resolves({
      InstanceProfiles: [
        {
          InstanceProfileName: 'web',
          InstanceProfileId: 'AIPAEXAMPLE',
          Path: '/',
          Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/web`,
          CreateDate: T0,
          Roles: [
            {
              RoleName: 'web',
              RoleId: 'AROAEXAMPLE',
              Path: '/app/',
              Arn: `arn:aws:iam::${ACCOUNT}:role/app/web`,
              CreateDate: T0,
            },
          ],
        },
      ],
    })
    iam.on(ListPoliciesCommand).resolves({ Policies: [] })
    iam
      .on(GetRolePolicyCommand)
      .resolves({ RoleName: 'web', PolicyName: POLICY, PolicyDocument: encodeURIComponent(document) })
    iam.on(GetRoleCommand).resolves({
      Role: {
        RoleName: 'web',
        RoleId: 'AROAEXAMPLE',
        Path: '/app/',
        Arn: `arn:aws:iam::${ACCOUNT}:role/app/web`,
        CreateDate: T0,
      },
    })
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input) => simulatorAnswer([document], input))
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [WEB_A, WEB_B].map((instance, index) => ({
            InstanceId: instance.instanceId,
            State: { Name: 'running' },
            VpcId: VPC,
            SubnetId: 'subnet-0a1a2a3a4a5a6a7a8',
            PrivateIpAddress: instance.privateIp,
            PublicIpAddress: publicIps[index],
            IamInstanceProfile: { Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/web` },
          })),
        },
      ],
    })
  }

  async function runVerify(): Promise<{ code: number; out: string }> {
    let out = ''
    const code = await runPlanCommand(['--verify'], {
      plan: () => Promise.reject(new Error('not asked')),
      verify: () =>
        verifyLocks(
          { iam: new IAMClient({}), ec2: new EC2Client({}), sts: new STSClient({}) },
          { region: REGION, lockTag: { key: 'credential-lock', value: 'enabled' } },
          T0,
        ),
      stdout: (text) => {
        out += text
      },
      stderr: (text) => {
        out += text
      },
    })
    return { code, out }
  }

  beforeEach(() => {
    iam.on(GetRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'none', $metadata: {} }))
  })

  it('prints every verdict as intended for the lock the controller wrote, and exits 0', async () => {
    // Prepare
    givenAccount(webLock(), [WEB_A.publicIp, WEB_B.publicIp])

    // Act
    const { code, out } = await runVerify()

    // Assess
    expect(out).toContain('9 as intended, 0 not as intended, 0 the simulator cannot judge.')
    expect(out).toContain('iam:SimulatePrincipalPolicy')
    expect(code).toBe(0)
  })

  it('names the instance whose own address the lock refuses (a stale lock after an address change), and exits 2', async () => {
    // Prepare: web A has a new public address the lock does not know yet
    givenAccount(webLock(), ['198.18.0.99', WEB_B.publicIp])

    // Act
    const { code, out } = await runVerify()

    // Assess
    expect(out).toMatch(
      new RegExp(`web\\s+${WEB_A.instanceId}\\s+own public address\\s+198\\.18\\.0\\.99.*NOT AS INTENDED`),
    )
    expect(code).toBe(2)
  })
})
