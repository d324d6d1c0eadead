import { Stack, type StackProps, Validations } from 'aws-cdk-lib'
import { AnyPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam'
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3'
import type { Construct } from 'constructs'

/** Asset buckets are named `<prefix>-<administrator account>-<region>`: S3 names are global, so the account is part of it. */
export const ASSET_BUCKET_PREFIX = 'credential-lock-assets'

export function assetBucketName(prefixWithAccount: string, region: string): string {
  return `${prefixWithAccount}-${region}`
}

export interface AssetBucketStackProps extends StackProps {
  /** Only principals of this organisation may read the code. */
  readonly organizationId: string
}

/**
 * One per region, in the administrator's account: the bucket `cdk deploy` publishes the member functions' code to.
 * Lambda reads code only from a bucket in the function's own region, so a StackSet needs one per region; the
 * StackSet's execution role in each member account reads it through the organisation condition.
 */
export class AssetBucketStack extends Stack {
  readonly bucket: Bucket

  constructor(scope: Construct, id: string, props: AssetBucketStackProps) {
    super(scope, id, {
      description:
        'credential-lock: the function code every member account of the organisation installs from',
      ...props,
    })
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: assetBucketName(`${ASSET_BUCKET_PREFIX}-${this.account}`, this.region),
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    })
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OrganisationReadsCode',
        principals: [new AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': props.organizationId } },
      }),
    )
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Holds only build artifacts written by cdk deploy; CloudTrail data events cover reads if an audit needs them.',
    })
  }
}
