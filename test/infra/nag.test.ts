import { App } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../infra/cdk-app.js'

/** The same checks with every acknowledgement ignored: what a reviewer has to accept. */
function everyFinding(app: App): AwsSolutionsChecks {
  // isAcknowledged is private in cdk-nag's types, but it is the one place acknowledgements are read.
  return Object.assign(new AwsSolutionsChecks(app), { isAcknowledged: () => false })
}

function findings(checks: AwsSolutionsChecks, app: App): string[] {
  return checks
    .validateScope(app)
    .violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => `${violation.ruleName} ${resource.constructPath}`),
    )
    .sort()
}

describe('cdk-nag AwsSolutions checks on the whole app (lock stack with every option, and the demo)', () => {
  let app: App

  beforeAll(async () => {
    // Prepare: every optional resource present, functions not bundled (nag reads only the templates)
    app = new App({
      context: {
        'aws:cdk:bundling-stacks': [],
        demo: 'true',
        sshCidr: '203.0.113.10/32',
        alarmEmail: 'secops@example.com',
        createTrail: 'true',
      },
    })
    await buildApp(app)
  })

  it('leaves no unacknowledged finding, and synth succeeds with the plugin registered', () => {
    // Act
    const unacknowledged = findings(new AwsSolutionsChecks(app), app)
    const synth = () => app.synth()

    // Assess
    expect(unacknowledged).toEqual([])
    expect(synth).not.toThrow()
  })

  it('acknowledges exactly the findings a reviewer has accepted, each on its own resource', () => {
    // Act
    const acknowledged = findings(everyFinding(app), app)

    // Assess
    expect(acknowledged).toEqual([
      'AwsSolutions-EC28 CredentialLockDemo/Luke/Resource',
      'AwsSolutions-EC28 CredentialLockDemo/Matt/Resource',
      'AwsSolutions-EC29 CredentialLockDemo/Luke/Resource',
      'AwsSolutions-EC29 CredentialLockDemo/Matt/Resource',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEC2ReadOnlyAccess] CredentialLockDemo/InstanceRole/Resource',
      'AwsSolutions-IAM5[Resource::*] CredentialLock/CredentialLock/ControllerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] CredentialLock/CredentialLock/Uninstall/HandlerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::<CredentialLockUninstallHandler4F16F2FD.Arn>:*] CredentialLock/CredentialLock/Uninstall/ProviderRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:instance-profile/*] CredentialLock/CredentialLock/ControllerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:instance-profile/*] CredentialLock/CredentialLock/Uninstall/HandlerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/credential-lock/<AWS::Region>/*] CredentialLock/CredentialLock/ControllerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/credential-lock/<AWS::Region>/*] CredentialLock/CredentialLock/Uninstall/HandlerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*] CredentialLock/CredentialLock/ControllerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*] CredentialLock/CredentialLock/Uninstall/HandlerRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:*] CredentialLock/CredentialLock/ControllerRole/DefaultPolicy/Resource',
      'AwsSolutions-S1 CredentialLock/CredentialLock/TrailBucket/Resource',
      'AwsSolutions-SQS3 CredentialLock/CredentialLock/UndeliveredEventQueue/Resource',
      'AwsSolutions-VPC7 CredentialLockDemo/Vpc/Resource',
    ])
  })
})
