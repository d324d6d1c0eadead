import { homedir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../aws/errors.js'

/**
 * The region the plan reads, found where the AWS CLI and SDK look: AWS_REGION, AWS_DEFAULT_REGION (the CLI's),
 * then the SDK's own chain (`sdkRegion`): the `region` of the AWS_PROFILE profile in the shared config file
 * (what `aws configure` writes), then the instance metadata service.
 */
export async function resolvePlanRegion(
  env: Readonly<Record<string, string | undefined>>,
  sdkRegion: () => Promise<string>,
): Promise<string> {
  const fromEnv = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim()
  if (fromEnv) return fromEnv
  try {
    const region = (await sdkRegion()).trim()
    if (region) return region
  } catch (error) {
    throw new ConfigError(regionMissing(env), { cause: error })
  }
  throw new ConfigError(regionMissing(env))
}

/** Names every place looked, so the fix is whichever the user meant to use. */
function regionMissing(env: Readonly<Record<string, string | undefined>>): string {
  const profile = env.AWS_PROFILE?.trim() || 'default'
  const configFile = env.AWS_CONFIG_FILE?.trim() || join(homedir(), '.aws', 'config')
  const metadata = env.AWS_EC2_METADATA_DISABLED === 'true' ? '' : ', nor did the instance metadata service'
  return (
    `AWS_REGION is not set, nor AWS_DEFAULT_REGION, and profile "${profile}" in ${configFile} names no region` +
    `${metadata}: set AWS_REGION, or run aws configure set region <region>${profile === 'default' ? '' : ` --profile ${profile}`}.`
  )
}
