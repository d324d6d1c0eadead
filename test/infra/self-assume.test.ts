import { App, Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2'
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda'
import { describe, expect, it } from 'vitest'
import { allowSelfAssume, lockDownFunction } from '../../infra/self-assume.js'

const ENV = { account: '123456789012', region: 'eu-west-1' }

function functionIn(stack: Stack, props: { vpc?: Vpc } = {}): LambdaFunction {
  return new LambdaFunction(stack, 'Orders', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {}'),
    ...(props.vpc && { vpc: props.vpc, vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS } }),
  })
}

function roleIdOf(template: Template): string {
  const [id, ...others] = Object.keys(template.findResources('AWS::IAM::Role'))
  expect(others).toEqual([])
  return id ?? ''
}

describe('allowSelfAssume', () => {
  it('trusts the account only for a principal whose ARN is this role, built from its name and path', () => {
    // Prepare
    const stack = new Stack(new App(), 'Functions', { env: ENV })
    const role = new Role(stack, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      roleName: 'orders-fn',
      path: '/service/',
    })

    // Act
    allowSelfAssume(role)

    // Assess
    const template = Template.fromStack(stack)
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } }),
          {
            Sid: 'SelfAssumeForCredentialLock',
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: {
              AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] },
            },
            Condition: {
              ArnEquals: {
                'aws:PrincipalArn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:role/service/orders-fn'],
                  ],
                },
              },
            },
          },
        ]),
      },
    })
  })

  it('gives an unnamed role a name and trusts exactly that name, referring to nothing of the role itself', () => {
    // Prepare
    const stack = new Stack(new App(), 'Functions', { env: ENV })
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') })

    // Act
    allowSelfAssume(role)

    // Assess: a Ref or GetAtt of the role inside its own properties would be a circular dependency.
    const template = Template.fromStack(stack)
    const roleId = roleIdOf(template)
    const { Properties } = template.findResources('AWS::IAM::Role')[roleId] ?? {}
    expect(JSON.stringify(Properties)).not.toContain(`"${roleId}"`)
    expect(Properties.RoleName).toMatch(/^FunctionsRole\w+-eu-west-1$/)
    expect(Properties.AssumeRolePolicyDocument.Statement[1].Condition).toEqual({
      ArnEquals: {
        'aws:PrincipalArn': {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, `:iam::123456789012:role/${Properties.RoleName}`],
          ],
        },
      },
    })
  })

  it('grants sts:AssumeRole on the role itself in its identity policy, as a trust naming the account needs', () => {
    // Prepare
    const stack = new Stack(new App(), 'Functions', { env: ENV })
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') })

    // Act
    allowSelfAssume(role)

    // Assess
    const template = Template.fromStack(stack)
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Resource: { 'Fn::GetAtt': [roleIdOf(template), 'Arn'] },
          },
        ],
      },
      Roles: [{ Ref: roleIdOf(template) }],
    })
  })

  it('names an unnamed role after its region when the stack is region-agnostic too', () => {
    // Prepare: the same stack deployed in two regions of one account must not collide on a role name.
    const stack = new Stack(new App(), 'Functions')
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') })

    // Act
    allowSelfAssume(role)

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      RoleName: { 'Fn::Join': ['-', [Match.stringLikeRegexp('^FunctionsRole'), { Ref: 'AWS::Region' }]] },
    })
  })
})

describe('lockDownFunction', () => {
  it('tells a function outside any VPC its role ARN, to fail open and to refuse every endpoint call', () => {
    // Prepare
    const stack = new Stack(new App(), 'Functions', { env: ENV })
    const fn = functionIn(stack)

    // Act
    lockDownFunction(fn)

    // Assess
    const template = Template.fromStack(stack)
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          CREDENTIAL_LOCK_ROLE_ARN: { 'Fn::GetAtt': [roleIdOf(template), 'Arn'] },
          CREDENTIAL_LOCK_FAILURE_MODE: 'open',
          CREDENTIAL_LOCK_SOURCE_VPCS: 'none',
        },
      },
    })
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Sid: 'SelfAssumeForCredentialLock' })]),
      },
    })
  })

  it('lets a VPC function use the endpoints of its own VPC, and can fail closed', () => {
    // Prepare
    const stack = new Stack(new App(), 'Functions', { env: ENV })
    const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 })
    const fn = functionIn(stack, { vpc })

    // Act
    lockDownFunction(fn, { vpc, failureMode: 'closed' })

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          CREDENTIAL_LOCK_FAILURE_MODE: 'closed',
          CREDENTIAL_LOCK_SOURCE_VPCS: { Ref: stack.getLogicalId(vpc.node.defaultChild as never) },
        }),
      },
    })
  })

  it('fails at synth when a VPC function is not given its VPC, or a role it cannot change', () => {
    // Prepare
    const stack = new Stack(new App(), 'Functions', { env: ENV })
    const vpcFunction = functionIn(stack, { vpc: new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 }) })
    const imported = new LambdaFunction(stack, 'Imported', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {}'),
      role: Role.fromRoleArn(stack, 'Shared', 'arn:aws:iam::123456789012:role/shared'),
    })

    // Act
    const withoutVpc = () => lockDownFunction(vpcFunction)
    const withImportedRole = () => lockDownFunction(imported)

    // Assess
    expect(withoutVpc).toThrow(
      'Function Functions/Orders runs in a VPC: pass that vpc, or its endpoint calls would be refused.',
    )
    expect(withImportedRole).toThrow(/Function Functions\/Imported does not use a role this app creates/)
  })
})
