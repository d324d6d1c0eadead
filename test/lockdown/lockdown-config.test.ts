/**
 * The lockdown's settings as a function's environment gives them (handlers/lockdown/lockdown-config.ts): what Lambda sets,
 * every CREDENTIAL_LOCK_* variable infra/self-assume.ts sets, their defaults, and the one sentence each mistake
 * gets.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../handlers/aws/errors.js'
import { DEFAULT_ADDRESS_URL, readLockdownConfig } from '../../handlers/lockdown/lockdown-config.js'

/** What Lambda puts in every function's environment. */
const LAMBDA_ENV = {
  AWS_ACCESS_KEY_ID: 'ASIAORIGINAL',
  AWS_SECRET_ACCESS_KEY: 'original-secret',
  AWS_SESSION_TOKEN: 'lambda-token',
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'orders',
}
const OWN_VPC = 'vpc-0a1a2a3a4a5a6a7a8'
const OTHER_VPC = 'vpc-0b1b2b3b4b5b6b7b8'

describe('what Lambda sets', () => {
  it('takes the credentials, region and function name Lambda provides, with every lockdown setting at its default', () => {
    // Act
    const config = readLockdownConfig(LAMBDA_ENV)

    // Assess
    expect(config).toStrictEqual({
      region: 'eu-west-1',
      originalCredentials: {
        accessKeyId: 'ASIAORIGINAL',
        secretAccessKey: 'original-secret',
        sessionToken: 'lambda-token',
      },
      functionName: 'orders',
      roleArn: undefined,
      failureMode: 'open',
      sourceVpcs: 'any',
      addressUrl: DEFAULT_ADDRESS_URL,
    })
    expect(DEFAULT_ADDRESS_URL).toBe('https://checkip.amazonaws.com')
  })

  it('falls back on AWS_DEFAULT_REGION, a generic session name, and no session token', () => {
    // Prepare
    const { AWS_REGION, AWS_LAMBDA_FUNCTION_NAME, AWS_SESSION_TOKEN, ...rest } = LAMBDA_ENV

    // Act
    const config = readLockdownConfig({ ...rest, AWS_DEFAULT_REGION: 'us-west-2' })

    // Assess
    expect(config).toMatchObject({ region: 'us-west-2', functionName: 'lambda-function' })
    expect(config.originalCredentials).toStrictEqual({
      accessKeyId: 'ASIAORIGINAL',
      secretAccessKey: 'original-secret',
      sessionToken: undefined,
    })
  })

  it('prefers AWS_REGION to AWS_DEFAULT_REGION', () => {
    // Act
    const config = readLockdownConfig({ ...LAMBDA_ENV, AWS_DEFAULT_REGION: 'us-west-2' })

    // Assess
    expect(config.region).toBe('eu-west-1')
  })

  it('cuts a function name to the 64 characters a session name may have', () => {
    // Prepare
    const longName = `orders-${'x'.repeat(70)}`

    // Act
    const config = readLockdownConfig({ ...LAMBDA_ENV, AWS_LAMBDA_FUNCTION_NAME: longName })

    // Assess
    expect(config.functionName).toBe(longName.slice(0, 64))
  })

  it.each([
    ['no access key', { AWS_ACCESS_KEY_ID: undefined }],
    ['no secret key', { AWS_SECRET_ACCESS_KEY: '' }],
  ])('refuses to run without the execution role credentials: %s', (_, override) => {
    // Act
    const read = () => readLockdownConfig({ ...LAMBDA_ENV, ...override })

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow(
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: the lockdown runs only where Lambda provides the ' +
        "execution role's credentials.",
    )
  })

  it('refuses to run without a region', () => {
    // Act
    const read = () => readLockdownConfig({ ...LAMBDA_ENV, AWS_REGION: '' })

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow('AWS_REGION is not set: set it to the region the function runs in.')
  })
})

describe('the role to assume (CREDENTIAL_LOCK_ROLE_ARN), as given or else the session’s own', () => {
  it.each([
    ['arn:aws:iam::123456789012:role/service/orders-fn', 'arn:aws:iam::123456789012:role/service/orders-fn'],
    ['', undefined],
  ])('%o gives the role ARN %o', (value, roleArn) => {
    // Act
    const config = readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_ROLE_ARN: value })

    // Assess
    expect(config.roleArn).toBe(roleArn)
  })
})

describe('the failure mode (CREDENTIAL_LOCK_FAILURE_MODE), open unless told closed', () => {
  it.each([
    ['open', 'open'],
    ['closed', 'closed'],
    [' Closed ', 'closed'],
    ['OPEN', 'open'],
    ['', 'open'],
    ['  ', 'open'],
  ])('%o reads as %o', (value, failureMode) => {
    // Act
    const config = readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_FAILURE_MODE: value })

    // Assess
    expect(config.failureMode).toBe(failureMode)
  })

  it('names the value and the two it takes when given another', () => {
    // Act
    const read = () => readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_FAILURE_MODE: 'maybe' })

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow('CREDENTIAL_LOCK_FAILURE_MODE is "maybe": set it to open or closed.')
  })
})

describe('the source VPCs (CREDENTIAL_LOCK_SOURCE_VPCS): any by default, none, or a list', () => {
  it.each([
    ['', 'any'],
    ['  ', 'any'],
    ['none', []],
    [' NONE ', []],
    [OWN_VPC, [OWN_VPC]],
    [` ${OWN_VPC} , ${OTHER_VPC} `, [OWN_VPC, OTHER_VPC]],
  ])('%o reads as %o', (value, sourceVpcs) => {
    // Act
    const config = readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_SOURCE_VPCS: value })

    // Assess
    expect(config.sourceVpcs).toEqual(sourceVpcs)
  })
})

describe('the address look-up URL (CREDENTIAL_LOCK_ADDRESS_URL): HTTPS, or plain HTTP on loopback only', () => {
  it.each([
    ['https://ip.example.com/mine', 'https://ip.example.com/mine'],
    [' https://ip.example.com/mine ', 'https://ip.example.com/mine'],
    ['', DEFAULT_ADDRESS_URL],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080/'],
    ['http://127.8.9.10/', 'http://127.8.9.10/'],
    ['http://localhost:8080/', 'http://localhost:8080/'],
  ])('%o is asked as %o', (value, addressUrl) => {
    // Act
    const config = readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_ADDRESS_URL: value })

    // Assess
    expect(config.addressUrl).toBe(addressUrl)
  })

  it.each([
    'http://checkip.amazonaws.com',
    'http://10.0.0.1/',
    'http://127.attacker.example/',
    'ftp://127.0.0.1/',
  ])('refuses %o: only HTTPS, or plain HTTP on the loopback interface', (value) => {
    // Act
    const read = () => readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_ADDRESS_URL: value })

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow(
      `CREDENTIAL_LOCK_ADDRESS_URL is "${value}": give an https:// URL, since whoever answers it decides where ` +
        'the credentials work.',
    )
  })

  it('refuses what is not a URL', () => {
    // Act
    const read = () =>
      readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_ADDRESS_URL: 'checkip.amazonaws.com' })

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow('CREDENTIAL_LOCK_ADDRESS_URL is "checkip.amazonaws.com": give an https:// URL.')
  })
})

describe('the settings the CDK helper sets, and the one each mistake names', () => {
  it('fails open, allows any VPC endpoint and asks checkip.amazonaws.com unless told otherwise', () => {
    // Act
    const config = readLockdownConfig(LAMBDA_ENV)

    // Assess
    expect(config).toMatchObject({
      failureMode: 'open',
      sourceVpcs: 'any',
      addressUrl: 'https://checkip.amazonaws.com',
      roleArn: undefined,
      functionName: 'orders',
      originalCredentials: {
        accessKeyId: 'ASIAORIGINAL',
        secretAccessKey: 'original-secret',
        sessionToken: 'lambda-token',
      },
    })
  })

  it('reads the failure mode, the source VPCs and the role ARN the CDK helper sets', () => {
    // Act
    const config = readLockdownConfig({
      ...LAMBDA_ENV,
      CREDENTIAL_LOCK_FAILURE_MODE: 'closed',
      CREDENTIAL_LOCK_SOURCE_VPCS: 'vpc-0a1a2a3a4a5a6a7a8, vpc-0b1b2b3b4b5b6b7b8',
      CREDENTIAL_LOCK_ROLE_ARN: 'arn:aws:iam::123456789012:role/service/orders-fn',
    })
    const outsideVpc = readLockdownConfig({ ...LAMBDA_ENV, CREDENTIAL_LOCK_SOURCE_VPCS: 'none' })

    // Assess
    expect(config).toMatchObject({
      failureMode: 'closed',
      sourceVpcs: ['vpc-0a1a2a3a4a5a6a7a8', 'vpc-0b1b2b3b4b5b6b7b8'],
      roleArn: 'arn:aws:iam::123456789012:role/service/orders-fn',
    })
    expect(outsideVpc.sourceVpcs).toEqual([])
  })

  it.each([
    [
      { CREDENTIAL_LOCK_FAILURE_MODE: 'maybe' },
      /CREDENTIAL_LOCK_FAILURE_MODE is "maybe": set it to open or closed/,
    ],
    [{ CREDENTIAL_LOCK_ADDRESS_URL: 'http://checkip.amazonaws.com' }, /give an https:\/\/ URL/],
    [{ AWS_ACCESS_KEY_ID: undefined }, /only where Lambda provides the execution role's credentials/],
  ])('names the setting to fix: %o', (override, message) => {
    // Act
    const read = () => readLockdownConfig({ ...LAMBDA_ENV, ...override })

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow(message)
  })

  it('accepts plain HTTP only on the loopback interface', () => {
    // Act
    const config = readLockdownConfig({
      ...LAMBDA_ENV,
      CREDENTIAL_LOCK_ADDRESS_URL: 'http://127.0.0.1:8080/',
    })

    // Assess
    expect(config.addressUrl).toBe('http://127.0.0.1:8080/')
  })
})
