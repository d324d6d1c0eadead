import { extname } from 'node:path'
import type { cloud_assembly_schema as cxschema } from 'aws-cdk-lib'
import {
  AssetManifestBuilder,
  Aws,
  CfnParameter,
  DefaultStackSynthesizer,
  type DockerImageAssetLocation,
  type FileAssetLocation,
  FileAssetPackaging,
  type FileAssetSource,
  Fn,
  type ISynthesisSession,
  Lazy,
  Stack,
  type StackProps,
  StackSynthesizer,
  type SynthesizeStackArtifactOptions,
} from 'aws-cdk-lib'
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation'
import type { Construct } from 'constructs'
import type { OrganizationSettings } from '../policy/organization-settings.js'
import { AuditForwarding } from './audit-forwarding.js'
import type { CredentialLockProps } from './credential-lock.js'
import { CredentialLockStack } from './credential-lock-stack.js'
import { ASSET_BUCKET_PREFIX, AssetBucketStack, assetBucketName } from './organization-assets.js'

export interface OrganizationStackProps extends StackProps {
  /** Where and how carefully to roll out, and the account that receives every member's audit events. */
  readonly organization: OrganizationSettings
  /** The settings of the lock in every member account, the same as a single-account deployment's. */
  readonly lock?: CredentialLockProps
}

/** The member template's parameter naming the asset buckets (without the region suffix). */
const ASSET_BUCKET_PARAMETER = 'AssetBucketPrefix'

/**
 * For the management account or a delegated StackSets administrator: a service-managed StackSet that installs the
 * credential-lock stack in every account of the named OUs and regions, and in every account that joins them later.
 * Removing an account from the OUs, or deleting the StackSet, deletes its stack, whose uninstall removes every lock.
 */
export class OrganizationStack extends Stack {
  readonly stackSet: CfnStackSet
  /** The member stack: synthesized as the StackSet's template, never deployed on its own. */
  readonly member: CredentialLockStack

  constructor(scope: Construct, id: string, props: OrganizationStackProps) {
    const synthesizer = new OrganizationSynthesizer()
    super(scope, id, {
      description:
        'credential-lock: rolls the lock out to an AWS Organization with a service-managed StackSet',
      synthesizer,
      ...props,
    })
    const { organization } = props
    const memberSynthesizer = new MemberSynthesizer(this, organization.regions)
    synthesizer.regionalManifests.push(() => memberSynthesizer.manifestId)
    this.member = new CredentialLockStack(this, 'Member', {
      lock: props.lock,
      synthesizer: memberSynthesizer,
    })
    new AuditForwarding(this.member, 'AuditForwarding', {
      auditEventBusName: props.lock?.auditEventBusName ?? 'default',
      securityAccountId: organization.securityAccountId,
      securityRegion: organization.securityRegion,
    })
    const bucketPrefix = new CfnParameter(this.member, ASSET_BUCKET_PARAMETER, {
      description: 'The regional buckets holding the function code, without the -<region> suffix',
      type: 'String',
    })
    bucketPrefix.overrideLogicalId(ASSET_BUCKET_PARAMETER)

    for (const region of organization.regions) {
      this.addStackDependency(
        new AssetBucketStack(scope, `CredentialLockAssets-${region}`, {
          env: { region },
          organizationId: organization.organizationId,
        }),
      )
    }

    this.stackSet = new CfnStackSet(this, 'StackSet', {
      stackSetName: 'credential-lock',
      description: 'credential-lock in every account of the organisation units it targets',
      permissionModel: 'SERVICE_MANAGED',
      // Accounts that join an OU get the lock; accounts that leave lose it (the uninstall runs there).
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      callAs: organization.callAs,
      capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
      managedExecution: { Active: true },
      operationPreferences: {
        failureTolerancePercentage: organization.failureTolerancePercentage,
        maxConcurrentPercentage: organization.maxConcurrentPercentage,
        // Concurrency is not capped at failure tolerance + 1: with tolerance 0 a strict mode would go one account at a time.
        concurrencyMode: 'SOFT_FAILURE_TOLERANCE',
        regionConcurrencyType: organization.regionConcurrency,
        regionOrder: [...organization.regions],
      },
      parameters: [
        {
          parameterKey: ASSET_BUCKET_PARAMETER,
          parameterValue: Fn.sub(`${ASSET_BUCKET_PREFIX}-\${AWS::AccountId}`),
        },
      ],
      stackInstancesGroup: [
        {
          deploymentTargets: { organizationalUnitIds: [...organization.organizationalUnitIds] },
          regions: [...organization.regions],
        },
      ],
      templateUrl: Lazy.string({ produce: () => memberSynthesizer.templateUrl }),
    })
  }
}

/** The administrator's stack synthesizer, whose deployment also waits for the member's code to reach every region. */
class OrganizationSynthesizer extends DefaultStackSynthesizer {
  readonly regionalManifests: (() => string | undefined)[] = []

  protected override emitArtifact(
    session: ISynthesisSession,
    options: SynthesizeStackArtifactOptions = {},
  ): void {
    const regional = this.regionalManifests.flatMap((manifestId) => manifestId() ?? [])
    super.emitArtifact(session, {
      ...options,
      additionalDependencies: [...(options.additionalDependencies ?? []), ...regional],
    })
  }
}

/**
 * The member stack's synthesizer: its template becomes a file asset of the administrator's stack (the StackSet's
 * TemplateURL), and each of its file assets is published by `cdk deploy` to the asset bucket of every region, where
 * the member template finds it as `<AssetBucketPrefix>-<region>/<hash>`. Members need no CDK bootstrap.
 */
class MemberSynthesizer extends StackSynthesizer {
  private readonly regionalAssets = new AssetManifestBuilder()
  private url: string | undefined
  private manifest: string | undefined

  constructor(
    private readonly parent: Stack,
    private readonly regions: readonly string[],
  ) {
    super()
  }

  get templateUrl(): string | undefined {
    return this.url
  }

  get manifestId(): string | undefined {
    return this.manifest
  }

  addFileAsset(asset: FileAssetSource): FileAssetLocation {
    if (asset.fileName === undefined) {
      throw new Error('A StackSet member can only use file assets built at synth, not executable assets.')
    }
    const objectKey = `${asset.sourceHash}${asset.packaging === FileAssetPackaging.ZIP_DIRECTORY ? '.zip' : extname(asset.fileName)}`
    const source: cxschema.FileSource = { path: asset.fileName, packaging: asset.packaging }
    for (const region of this.regions) {
      this.regionalAssets.addFileAsset(this.boundStack, asset.sourceHash, source, {
        bucketName: assetBucketName(`${ASSET_BUCKET_PREFIX}-\${AWS::AccountId}`, region),
        objectKey,
        region,
      })
    }
    const bucketName = Fn.join('-', [Fn.ref(ASSET_BUCKET_PARAMETER), Aws.REGION])
    return {
      bucketName,
      objectKey,
      httpUrl: `https://s3.${Aws.REGION}.${Aws.URL_SUFFIX}/${bucketName}/${objectKey}`,
      s3ObjectUrl: `s3://${bucketName}/${objectKey}`,
    }
  }

  addDockerImageAsset(): DockerImageAssetLocation {
    throw new Error('A StackSet member cannot use Docker image assets.')
  }

  synthesize(session: ISynthesisSession): void {
    // Not a deployable artifact of its own: the template is a file asset of the administrator's stack.
    const template = this.synthesizeTemplate(session)
    this.url = this.parent.synthesizer.addFileAsset(template).httpUrl
    this.manifest = this.regionalAssets.emitManifest(this.boundStack, session)
  }
}
