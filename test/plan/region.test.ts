import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { STSClient } from '@aws-sdk/client-sts'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { resolvePlanRegion } from '../../handlers/plan/region.js'

/** The SDK's own chain, read from process.env at call time, as the plan's entry hands it over. */
const sdkRegion = () => new STSClient({}).config.region()

describe("the plan's region", () => {
  let configFile: string

  beforeEach(() => {
    configFile = join(mkdtempSync(join(tmpdir(), 'credential-lock-region-')), 'config')
    // What `aws configure` writes: a default profile and a named one, each with its region.
    writeFileSync(configFile, '[default]\nregion = eu-west-1\n\n[profile audit]\nregion = ap-southeast-2\n')
    vi.stubEnv('AWS_CONFIG_FILE', configFile)
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(configFile, '..', 'credentials'))
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true')
    vi.stubEnv('AWS_REGION', undefined)
    vi.stubEnv('AWS_DEFAULT_REGION', undefined)
    vi.stubEnv('AWS_PROFILE', undefined)
  })

  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('is the region of the default profile when no variable sets one', async () => {
    // Act
    const region = await resolvePlanRegion(process.env, sdkRegion)

    // Assess
    expect(region).toBe('eu-west-1')
  })

  it('is the region of the AWS_PROFILE profile', async () => {
    // Prepare
    vi.stubEnv('AWS_PROFILE', 'audit')

    // Act
    const region = await resolvePlanRegion(process.env, sdkRegion)

    // Assess
    expect(region).toBe('ap-southeast-2')
  })

  it.each([
    ['AWS_REGION', 'us-east-2'],
    ['AWS_DEFAULT_REGION', 'ca-central-1'],
  ])('is %s before any profile', async (name, value) => {
    // Prepare
    vi.stubEnv(name, value)

    // Act
    const region = await resolvePlanRegion(process.env, sdkRegion)

    // Assess
    expect(region).toBe(value)
  })

  it('is refused with one sentence naming every place it looked', async () => {
    // Prepare: a profile without a region.
    writeFileSync(configFile, '[profile bare]\noutput = json\n')
    vi.stubEnv('AWS_PROFILE', 'bare')

    // Act
    const resolving = resolvePlanRegion(process.env, sdkRegion)

    // Assess
    await expect(resolving).rejects.toThrowError(
      expect.objectContaining({
        name: 'ConfigError',
        message:
          `AWS_REGION is not set, nor AWS_DEFAULT_REGION, and profile "bare" in ${configFile} names no region: ` +
          'set AWS_REGION, or run aws configure set region <region> --profile bare.',
      }),
    )
  })

  it('names the instance metadata service too when the SDK may ask it', async () => {
    // Prepare
    const env = { AWS_PROFILE: 'bare', AWS_CONFIG_FILE: configFile }
    const noRegion = () => Promise.reject(new Error('Region is missing'))

    // Act
    const resolving = resolvePlanRegion(env, noRegion)

    // Assess
    await expect(resolving).rejects.toThrowError(
      `profile "bare" in ${configFile} names no region, nor did the instance metadata service: `,
    )
  })
})

describe("the plan's region, at its edges", () => {
  const never = () => Promise.reject(new Error('the SDK chain must not be asked'))

  it('takes a variable without its surrounding spaces, and skips a blank one', async () => {
    // Act
    const [trimmed, blankFirst] = [
      await resolvePlanRegion({ AWS_REGION: ' eu-west-1 ' }, never),
      await resolvePlanRegion({ AWS_REGION: ' ', AWS_DEFAULT_REGION: ' eu-north-1 ' }, never),
    ]

    // Assess
    expect([trimmed, blankFirst]).toEqual(['eu-west-1', 'eu-north-1'])
  })

  it("takes the SDK's answer without its surrounding spaces", async () => {
    // Act
    const region = await resolvePlanRegion({}, () => Promise.resolve(' ap-south-1 '))

    // Assess
    expect(region).toBe('ap-south-1')
  })

  it('refuses a blank answer from the SDK, and keeps what the SDK said as the cause', async () => {
    // Prepare
    const env = {
      AWS_PROFILE: ' audit ',
      AWS_CONFIG_FILE: ' /etc/aws/config ',
      AWS_EC2_METADATA_DISABLED: 'true',
    }
    const missing = new Error('Region is missing')

    // Act
    const [blank, failed] = await Promise.all([
      resolvePlanRegion(env, () => Promise.resolve(' ')).catch((error: unknown) => error),
      resolvePlanRegion(env, () => Promise.reject(missing)).catch((error: unknown) => error),
    ])

    // Assess
    const sentence =
      'AWS_REGION is not set, nor AWS_DEFAULT_REGION, and profile "audit" in /etc/aws/config names no region: ' +
      'set AWS_REGION, or run aws configure set region <region> --profile audit.'
    expect(blank).toMatchObject({ name: 'ConfigError', message: sentence })
    expect(failed).toMatchObject({ name: 'ConfigError', message: sentence, cause: missing })
  })
})
