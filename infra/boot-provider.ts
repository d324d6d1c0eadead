/**
 * The boot provider (handlers/boot-provider/), optional in the stack with `-c bootProvider=true`: a function
 * URL with AWS_IAM auth, so only principals of this account (granted lambda:InvokeFunctionUrl, as
 * {@link BootProvider.grantInvokeUrl} does) may ask it where they are.
 */
import { CfnOutput, Duration, Validations } from 'aws-cdk-lib'
import { type IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { FunctionUrlAuthType, type IFunctionUrl } from 'aws-cdk-lib/aws-lambda'
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs'
import { Construct } from 'constructs'
import { handlerFunction } from './lambda-defaults.js'

export interface BootProviderProps {
  /**
   * How long its logs are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays
}

export class BootProvider extends Construct {
  readonly function: NodejsFunction
  readonly url: IFunctionUrl

  constructor(scope: Construct, id: string, props: BootProviderProps = {}) {
    super(scope, id)
    const logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_YEAR,
    })
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description:
        'credential-lock boot provider: reads the VPCs, VPC endpoints and Elastic IPs of the region',
    })
    role.addToPolicy(
      new PolicyStatement({
        actions: ['ec2:DescribeVpcs', 'ec2:DescribeVpcEndpoints', 'ec2:DescribeAddresses'],
        resources: ['*'],
      }),
    )
    logGroup.grantWrite(role)
    this.function = handlerFunction(this, 'Function', {
      entry: 'handlers/boot-provider/boot-provider.ts',
      description: 'credential-lock boot provider: tells a metadata proxy where AWS sees it',
      role,
      logGroup,
      timeout: Duration.seconds(10),
    })
    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM })
    new CfnOutput(this, 'Url', {
      key: 'BootProviderUrl',
      description: 'The --boot-url of credential-lock-metadata-proxy',
      value: this.url.url,
    })
    new CfnOutput(this, 'FunctionArn', { key: 'BootProviderFunctionArn', value: this.function.functionArn })
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeVpcs, DescribeVpcEndpoints and DescribeAddresses support no resource-level permissions.',
    })
  }

  /** Lets `grantee` (an instance role) call the URL; AWS_IAM auth refuses everyone else. */
  grantInvokeUrl(grantee: IGrantable): void {
    this.url.grantInvokeUrl(grantee)
  }
}
