/**
 * What the stack lets the controller and the uninstall handler do, with default settings: no wildcard action
 * and no iam:*, exactly the controller's reads, writes and publishes, and the uninstall handler's few calls.
 */
import { Match, Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  appWith,
  logicalIdOf,
  NO_BUNDLING,
  type PolicyStatementJson,
  SSH_CIDR,
  statementsOf,
} from '../support/cdk-template.js'

/** The ARN pattern of the managed policies the controller owns, as the template writes it. */
const OWN_POLICIES = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':iam::',
      { Ref: 'AWS::AccountId' },
      ':policy/credential-lock/',
      { Ref: 'AWS::Region' },
      '/*',
    ],
  ],
}

describe('the permissions of the controller and the uninstall handler, with default settings', () => {
  let template: Template

  beforeAll(async () => {
    const built = await appWith({ ...NO_BUNDLING, demo: 'true', sshCidr: SSH_CIDR })
    template = Template.fromStack(built.lock)
  })

  it('grants no Allow with a wildcard action, and no iam:* anywhere', () => {
    // Prepare / Act
    const allowed = statementsOf(template)
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement) => [statement.Action].flat())

    // Assess
    expect(allowed.filter((action) => action.includes('*'))).toEqual([])
    expect(statementsOf(template).flatMap((statement) => [statement.Action].flat())).not.toContain('iam:*')
  })

  it('gives the controller exactly its read, write and publish permissions', () => {
    // Prepare
    const role = logicalIdOf(template, 'AWS::IAM::Role', 'CredentialLockControllerRole')
    const accountArn = (resource: string) => ({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, `:${resource}`],
      ],
    })

    // Act
    const policy = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })

    // Assess
    const statements = Object.values(policy)[0]?.Properties.PolicyDocument.Statement
    expect(statements).toEqual([
      {
        Sid: 'ReadInstancesAndTheirNetwork',
        Effect: 'Allow',
        Action: [
          'ec2:DescribeInstances',
          'ec2:DescribeRouteTables',
          'ec2:DescribeNatGateways',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
        ],
        Resource: '*',
      },
      { Sid: 'ListFunctions', Effect: 'Allow', Action: 'lambda:ListFunctions', Resource: '*' },
      {
        Sid: 'ReadFunctionTags',
        Effect: 'Allow',
        Action: 'lambda:ListTags',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':lambda:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':function:*',
            ],
          ],
        },
      },
      {
        Sid: 'FindInstanceProfileRoles',
        Effect: 'Allow',
        Action: 'iam:ListInstanceProfiles',
        Resource: accountArn('instance-profile/*'),
      },
      {
        Sid: 'ReadRolePolicies',
        Effect: 'Allow',
        Action: ['iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
        Resource: accountArn('role/*'),
      },
      {
        Sid: 'ReadAccountIamInBulk',
        Effect: 'Allow',
        Action: 'iam:GetAccountAuthorizationDetails',
        Resource: '*',
      },
      {
        Sid: 'WriteOwnLockPolicy',
        Effect: 'Allow',
        Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
        Resource: accountArn('role/*'),
      },
      { Sid: 'FindOwnManagedPolicies', Effect: 'Allow', Action: 'iam:ListPolicies', Resource: '*' },
      {
        Sid: 'ManageOwnManagedPolicies',
        Effect: 'Allow',
        Action: [
          'iam:CreatePolicy',
          'iam:CreatePolicyVersion',
          'iam:GetPolicyVersion',
          'iam:ListPolicyVersions',
          'iam:DeletePolicyVersion',
          'iam:DeletePolicy',
        ],
        Resource: OWN_POLICIES,
      },
      {
        Sid: 'AttachOnlyOwnManagedPolicies',
        Effect: 'Allow',
        Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
        Resource: accountArn('role/*'),
        Condition: { ArnLike: { 'iam:PolicyARN': OWN_POLICIES } },
      },
      {
        Sid: 'NeverChangeOwnRole',
        Effect: 'Deny',
        Action: ['iam:Put*', 'iam:Delete*', 'iam:Attach*', 'iam:Detach*', 'iam:Update*'],
        Resource: { 'Fn::GetAtt': [role, 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':events:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':event-bus/default',
            ],
          ],
        },
      },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::Logs::LogGroup', 'CredentialLockLogGroup'), 'Arn'],
        },
      },
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockDeadLetterQueue'), 'Arn'],
        },
      },
      {
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueUrl',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
        ],
        Resource: {
          'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'CredentialLockEventQueue'), 'Arn'],
        },
      },
    ])
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: Match.absent(),
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
    })
  })

  it('lets the uninstall handler only list instance profiles and functions, read IAM in bulk, delete role policies and its own managed ones', () => {
    // Prepare
    const role = logicalIdOf(template, 'AWS::IAM::Role', 'CredentialLockUninstallHandlerRole')

    // Act
    const policy = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })

    // Assess
    const actions = Object.values(policy)[0]?.Properties.PolicyDocument.Statement.map(
      (statement: PolicyStatementJson) => statement.Action,
    )
    expect(actions).toEqual([
      'iam:ListInstanceProfiles',
      ['lambda:ListFunctions', 'iam:GetAccountAuthorizationDetails'],
      'iam:DeleteRolePolicy',
      'iam:ListPolicies',
      ['iam:ListPolicyVersions', 'iam:DeletePolicyVersion', 'iam:DeletePolicy'],
      'iam:DetachRolePolicy',
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
    ])
  })
})
