import type { Duration } from 'aws-cdk-lib'
import type { IRole } from 'aws-cdk-lib/aws-iam'
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda'
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import type { ILogGroup } from 'aws-cdk-lib/aws-logs'
import type { Construct } from 'constructs'

export interface HandlerFunctionProps {
  /** Path of the TypeScript entry, relative to the repository root; it exports `handler`. */
  readonly entry: string
  readonly description: string
  readonly role: IRole
  readonly logGroup: ILogGroup
  readonly timeout: Duration
  readonly environment?: Readonly<Record<string, string>>
}

const REPOSITORY_ROOT = new URL('..', import.meta.url).pathname

/**
 * A function built from one of the repository's handlers, the way every handler here is deployed: the
 * latest Node runtime on arm64, bundled locally with esbuild, the AWS SDK v3 taken from the runtime.
 */
export function handlerFunction(scope: Construct, id: string, props: HandlerFunctionProps): NodejsFunction {
  return new NodejsFunction(scope, id, {
    entry: `${REPOSITORY_ROOT}${props.entry}`,
    handler: 'handler',
    description: props.description,
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: 256,
    timeout: props.timeout,
    role: props.role,
    logGroup: props.logGroup,
    environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
    projectRoot: REPOSITORY_ROOT,
    depsLockFilePath: `${REPOSITORY_ROOT}package-lock.json`,
    bundling: {
      minify: true,
      sourceMap: true,
      externalModules: ['@aws-sdk/*'],
      forceDockerBundling: false,
    },
  })
}
