import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { App, type Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildApp, type CredentialLockApp } from '../../infra/cdk-app.js'
import { InvalidSettingError } from '../../policy/errors.js'

const ORGANIZATION = {
  organizationId: 'o-a1b2c3d4e5',
  organizationalUnitIds: ['ou-ab12-cd34ef56', 'ou-ab12-99990000'],
  regions: ['eu-central-1', 'us-east-1'],
  securityAccountId: '111122223333',
  securityHub: true,
}
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] }
/** The placeholder CloudFormation (Fn::Sub) and cdk-assets replace with the deploying account. */
const ACCOUNT = `$${'{'}AWS::AccountId}`

async function orgApp(organization: object, context: Record<string, unknown> = {}) {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'org-synth-')),
    context: { ...NO_BUNDLING, organization: JSON.stringify(organization), ...context },
  })
  const stacks = await buildApp(app)
  return {
    app,
    stacks: stacks as CredentialLockApp & { organization: NonNullable<CredentialLockApp['organization']> },
  }
}

describe('the organization setting, checked at synth', () => {
  it('refuses a malformed value before building any stack', async () => {
    // Prepare
    const app = new App({ context: { ...NO_BUNDLING, organization: '{"regions":["Frankfurt"]}' } })

    // Act
    const build = buildApp(app)

    // Assess
    await expect(build).rejects.toThrow(InvalidSettingError)
    await expect(build).rejects.toThrow('organization.regions is ["Frankfurt"]')
    expect(app.node.children).toEqual([])
  })

  it('fails the synth with exit code 1 and the sentence, not a stack trace', () => {
    // Act
    const run = () =>
      execFileSync('npx', ['tsx', 'infra/app.ts'], {
        env: {
          ...process.env,
          CDK_CONTEXT_JSON: JSON.stringify({ ...NO_BUNDLING, organization: '{"regions":[]}' }),
        },
        stdio: 'pipe',
      })

    // Assess
    expect(run).toThrow(/organization\.regions is \[\]: give a list of distinct region names/)
    try {
      run()
    } catch (error) {
      expect((error as { status: number }).status).toBe(1)
      expect(String((error as { stderr: Buffer }).stderr)).not.toMatch(/at .*\.ts:\d+/)
    }
  })
})

describe('the StackSet the administrator deploys', () => {
  let stacks: Awaited<ReturnType<typeof orgApp>>['stacks']
  let template: Template
  let member: Template

  beforeAll(async () => {
    let app: App
    ;({ app, stacks } = await orgApp(
      { ...ORGANIZATION, callAs: 'DELEGATED_ADMIN', failureTolerancePercentage: 5 },
      {
        roleScope: 'tagged',
        lockTagKey: 'lock-me',
      },
    ))
    template = Template.fromStack(stacks.organization.stackSet)
    // The member is no deployable artifact of its own: its template is a file the StackSet points at.
    const outdir = app.synth().directory
    member = Template.fromJSON(
      JSON.parse(readFileSync(join(outdir, stacks.organization.stackSet.member.templateFile), 'utf8')),
    )
  })

  it('is service-managed, deploys to new accounts of the OUs, and uninstalls from accounts that leave', () => {
    template.hasResourceProperties('AWS::CloudFormation::StackSet', {
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      CallAs: 'DELEGATED_ADMIN',
      StackInstancesGroup: [
        {
          DeploymentTargets: { OrganizationalUnitIds: ORGANIZATION.organizationalUnitIds },
          Regions: ORGANIZATION.regions,
        },
      ],
      OperationPreferences: {
        FailureTolerancePercentage: 5,
        MaxConcurrentPercentage: 10,
        RegionConcurrencyType: 'SEQUENTIAL',
        RegionOrder: ORGANIZATION.regions,
      },
    })
  })

  it('points at the member template in the bootstrap bucket and names the code buckets by account', () => {
    const [stackSet] = Object.values(template.findResources('AWS::CloudFormation::StackSet'))
    expect(stackSet?.Properties.TemplateURL['Fn::Sub']).toMatch(
      /^https:\/\/s3\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}\/cdk-hnb659fds-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}\/[0-9a-f]{64}\.json$/,
    )
    expect(stackSet?.Properties.Parameters).toEqual([
      {
        ParameterKey: 'AssetBucketPrefix',
        ParameterValue: { 'Fn::Sub': `credential-lock-assets-${ACCOUNT}` },
      },
    ])
  })

  it('installs the same lock in every member, reading its code from the bucket of its own region', () => {
    member.hasParameter('AssetBucketPrefix', { Type: 'String' })
    const functions = Object.values(member.findResources('AWS::Lambda::Function'))
    expect(functions.length).toBeGreaterThanOrEqual(3)
    for (const fn of functions) {
      expect(fn.Properties.Code.S3Bucket).toEqual({
        'Fn::Join': ['-', [{ Ref: 'AssetBucketPrefix' }, { Ref: 'AWS::Region' }]],
      })
    }
    member.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LOCK_TAG_KEY: 'lock-me', ROLE_SCOPE: 'tagged' }) },
    })
  })

  it('forwards every audit event of a member to the central bus, with a role that may only put events there', () => {
    const centralBus = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':events:eu-central-1:111122223333:event-bus/credential-lock-central',
        ],
      ],
    }
    member.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: 'default',
      EventPattern: { source: ['credential-lock'] },
      Targets: [
        Match.objectLike({ Arn: centralBus, RoleArn: Match.anyValue(), DeadLetterConfig: Match.anyValue() }),
      ],
    })
    member.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'events:PutEvents', Effect: 'Allow', Resource: centralBus }] },
    })
  })
})

describe('the synthesized organisation app', () => {
  let outdir: string
  let app: App

  beforeAll(async () => {
    ;({ app } = await orgApp(ORGANIZATION))
    outdir = app.synth().directory
  })

  it('publishes each member function to the asset bucket of every region before the StackSet deploys', () => {
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'))
    const dependencies: string[] = manifest.artifacts.CredentialLockOrganization.dependencies
    const memberAssets = dependencies.find((id) => id.startsWith('CredentialLockOrganizationMember'))
    expect(dependencies).toEqual(
      expect.arrayContaining([
        'CredentialLockAssets-eu-central-1',
        'CredentialLockAssets-us-east-1',
        memberAssets,
      ]),
    )
    const assets = JSON.parse(readFileSync(join(outdir, `${memberAssets}.json`), 'utf8'))
    const destinations = Object.values(assets.files).map((file) =>
      Object.values(
        (file as { destinations: Record<string, { bucketName: string; region: string }> }).destinations,
      )
        .map(({ bucketName, region }) => `${region} ${bucketName}`)
        .sort(),
    )
    expect(destinations.length).toBeGreaterThanOrEqual(3)
    for (const each of destinations) {
      expect(each).toEqual([
        `eu-central-1 credential-lock-assets-${ACCOUNT}-eu-central-1`,
        `us-east-1 credential-lock-assets-${ACCOUNT}-us-east-1`,
      ])
    }
  })

  it('has zero cfn-lint errors in any template, the member template included', () => {
    const run = () =>
      execFileSync('cfn-lint', ['--ignore-checks', 'W3005', '--', join(outdir, '*.template.json')], {
        stdio: 'pipe',
        shell: false,
      })
    expect(run).not.toThrow()
  }, 120_000)

  it('leaves no unacknowledged cdk-nag finding', () => {
    const { violations } = new AwsSolutionsChecks(app).validateScope(app)
    expect(violations.map((violation) => violation.ruleName)).toEqual([])
  })
})

describe('the asset buckets and the central bus, open to the organisation only', () => {
  let stacks: Awaited<ReturnType<typeof orgApp>>['stacks']
  let app: App

  beforeAll(async () => {
    ;({ app, stacks } = await orgApp(ORGANIZATION))
  })

  async function busVerdict(principalOrgId: string | undefined) {
    const [policy] = Object.values(
      Template.fromStack(stacks.organization.security).findResources('AWS::Events::EventBusPolicy'),
    )
    const statement = policy?.Properties.Statement
    const busArn = 'arn:aws:events:eu-central-1:111122223333:event-bus/credential-lock-central'
    const result = await runSimulation(
      {
        request: {
          principal: 'arn:aws:iam::444455556666:role/forwarder',
          action: 'events:PutEvents',
          resource: { resource: busArn, accountId: '111122223333' },
          contextVariables: principalOrgId ? { 'aws:PrincipalOrgID': principalOrgId } : {},
        },
        identityPolicies: [
          {
            name: 'forward',
            policy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: busArn }],
            },
          },
        ],
        resourcePolicy: { Version: '2012-10-17', Statement: [{ ...statement, Resource: busArn }] },
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      { simulationMode: 'Strict' },
    )
    if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors))
    return result.overallResult
  }

  it('admits a member of the organisation to the central bus, and no one else', async () => {
    expect(await busVerdict('o-a1b2c3d4e5')).toBe('Allowed')
    expect(await busVerdict('o-zzzzzzzzzz')).toBe('ImplicitlyDenied')
    expect(await busVerdict(undefined)).toBe('ImplicitlyDenied')
  })

  it('lets the organisation read the code, only read it, from one bucket per region named by account and region', () => {
    for (const region of ORGANIZATION.regions) {
      const template = Template.fromStack(app.node.findChild(`CredentialLockAssets-${region}`) as Stack)
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: {
          'Fn::Join': ['', ['credential-lock-assets-', { Ref: 'AWS::AccountId' }, `-${region}`]],
        },
      })
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 's3:GetObject',
              Principal: { AWS: '*' },
              Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
            }),
          ]),
        },
      })
    }
  })

  it('has a rule per kind of finding on the central bus, each recording and turning events into findings', () => {
    const template = Template.fromStack(stacks.organization.security)
    for (const detailType of ['Credential Lock Changed', 'Credential Lock Failed']) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: Match.anyValue() },
        EventPattern: { source: ['credential-lock'], 'detail-type': [detailType] },
        Targets: Match.arrayWith([Match.objectLike({ Arn: Match.anyValue() })]),
      })
    }
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Handler: 'index.handler' }, 1)
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'securityhub:BatchImportFindings',
            Resource: Match.objectLike({
              'Fn::Join': [
                '',
                Match.arrayWith([':securityhub:eu-central-1:111122223333:product/111122223333/default']),
              ],
            }),
          }),
        ]),
      },
    })
  })
})
