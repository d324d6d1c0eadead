/** The optional boot provider in the lock stack: a function URL only IAM principals may call, read-only EC2 reads. */
import { App } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../infra/cdk-app.js'

async function lockTemplate(context: Record<string, unknown>) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } })
  const { lock } = await buildApp(app)
  return { app, template: Template.fromStack(lock) }
}

describe('-c bootProvider=true', () => {
  it('adds a function URL with AWS_IAM auth, its URL as an output, and only the three Describe reads', async () => {
    // Act
    const { template } = await lockTemplate({ bootProvider: 'true' })

    // Assess
    template.resourceCountIs('AWS::Lambda::Url', 1)
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' })
    template.hasOutput('BootProviderUrl', {})
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: ['ec2:DescribeVpcs', 'ec2:DescribeVpcEndpoints', 'ec2:DescribeAddresses'],
            Resource: '*',
          },
        ]),
      },
    })
    expect(Object.keys(template.findResources('AWS::Lambda::Permission'))).toEqual([])
  })

  it('is absent by default', async () => {
    // Act
    const { template } = await lockTemplate({})

    // Assess
    template.resourceCountIs('AWS::Lambda::Url', 0)
  })

  it('leaves cdk-nag no unacknowledged finding', async () => {
    // Prepare
    const { app } = await lockTemplate({ bootProvider: 'true' })

    // Act
    const findings = new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => resource.constructPath),
      )

    // Assess
    expect(findings.filter((path) => path?.includes('BootProvider'))).toEqual([])
  })
})
