import { readFileSync } from 'node:fs'
import { App } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../infra/cdk-app.js'

const CDK_JSON = new URL('../../cdk.json', import.meta.url)
const RECOMMENDED = new URL('../../node_modules/aws-cdk-lib/recommended-feature-flags.json', import.meta.url)

/** Every optional resource present, functions not bundled: what the templates say, not what the code weighs. */
const EVERY_OPTION = {
  'aws:cdk:bundling-stacks': [],
  demo: 'true',
  sshCidr: '203.0.113.10/32',
  alarmEmail: 'secops@example.com',
  createTrail: 'true',
}

/**
 * The one recommended flag left off: it adds a custom-resource Lambda function and role to the demo stack to empty
 * the demo VPC's default security group, which nothing in the demo uses; cdk-nag would flag that role's managed
 * policy for no gain in a stack that is deleted after the demo.
 */
const KEPT_OFF = { '@aws-cdk/aws-ec2:restrictDefaultSecurityGroup': false }

function featureFlags(): Record<string, unknown> {
  const { context } = JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context: Record<string, unknown> }
  return Object.fromEntries(Object.entries(context).filter(([key]) => key.startsWith('@aws-cdk')))
}

async function templatesOf(context: Record<string, unknown>) {
  const app = new App({ context: { ...EVERY_OPTION, ...context } })
  const built = await buildApp(app)
  const stacks = [built.lock, ...(built.demo ? [built.demo] : [])]
  const findings = new AwsSolutionsChecks(app)
    .validateScope(app)
    .violations.flatMap((violation) =>
      violation.violatingResources.map((r) => `${violation.ruleName} ${r.constructPath}`),
    )
  const templates = stacks.map((stack) => Template.fromStack(stack))
  return {
    findings,
    templates: templates.map((template) => comparable(template.toJSON())),
    launchTemplateNames: templates.flatMap((template) =>
      Object.values(template.findResources('AWS::EC2::LaunchTemplate')).map(
        (resource) => resource.Properties.LaunchTemplateName as string,
      ),
    ),
  }
}

/**
 * A template as deployed behaviour sees it: action lists in a policy statement are a set, so their order (which
 * `@aws-cdk/aws-iam:minimizePolicies` sorts) does not count, nor does the CDK's own metadata. Launch template
 * names are compared on their own (`@aws-cdk/aws-ec2:uniqueImdsv2TemplateName` makes them unique per stack).
 */
function comparable(template: Record<string, unknown>): unknown {
  const { Resources = {}, ...rest } = template as { Resources?: Record<string, { Type: string }> }
  const resources = Object.fromEntries(
    Object.entries(Resources).filter(([, resource]) => resource.Type !== 'AWS::CDK::Metadata'),
  )
  return JSON.parse(JSON.stringify({ ...rest, Resources: resources }), (key, value) =>
    key === 'LaunchTemplateName'
      ? undefined
      : (key === 'Action' || key === 'NotAction') && Array.isArray(value)
        ? [...value].sort()
        : value,
  )
}

describe("the CDK feature flags in cdk.json (those a new app gets from 'cdk init')", () => {
  it('are every flag this aws-cdk-lib recommends, so synth has none left unconfigured', () => {
    // Prepare
    const recommended = JSON.parse(readFileSync(RECOMMENDED, 'utf8')) as Record<string, unknown>

    // Act
    const configured = featureFlags()

    // Assess
    expect(configured).toEqual({ ...recommended, ...KEPT_OFF })
  })

  it('change nothing the stacks deploy but the order of policy actions and unique launch template names, nor any cdk-nag finding', async () => {
    // Act
    const [withFlags, without] = [await templatesOf(featureFlags()), await templatesOf({})]

    // Assess
    expect(withFlags.templates).toEqual(without.templates)
    expect(withFlags.findings.sort()).toEqual(without.findings.sort())
    expect(without.launchTemplateNames.sort()).toEqual(['LukeLaunchTemplate', 'MattLaunchTemplate'])
    expect(withFlags.launchTemplateNames.sort()).toEqual([
      expect.stringMatching(/^CredentialLockDemoLukeLaunchTemplate[0-9A-F]{8}$/),
      expect.stringMatching(/^CredentialLockDemoMattLaunchTemplate[0-9A-F]{8}$/),
    ])
  }, 180_000)
})
