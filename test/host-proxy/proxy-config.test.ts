/** The proxy's command line: the acceptance interface, its defaults, and one clear sentence per bad value. */
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../handlers/aws/errors.js'
import { DEFAULT_IMDS_URL, readProxyConfig } from '../../handlers/host-proxy/proxy-config.js'

const LISTEN = ['--listen', '127.0.0.1:9911']
const TOKEN = 'a-long-random-container-token'
const files = (text: string) => () => text

describe('the command line', () => {
  it('takes the documented interface and defaults to the real IMDS, checkip over HTTPS, and failing open', () => {
    // Act
    const config = readProxyConfig(LISTEN, { AWS_REGION: 'eu-west-1' })

    // Assess
    expect(config).toMatchObject({
      listen: [{ host: '127.0.0.1', port: 9911 }],
      addressUrl: 'https://checkip.amazonaws.com',
      bootUrl: undefined,
      failureMode: 'open',
      region: 'eu-west-1',
      roleArn: undefined,
    })
    expect(config.imdsUrl.href).toBe(`${DEFAULT_IMDS_URL}/`)
    expect(config.containerRoles.size).toBe(0)
  })

  it('reads every option and the container token file', () => {
    // Act
    const config = readProxyConfig(
      [
        ...LISTEN,
        '--listen',
        '[::1]:9911',
        '--imds',
        'http://127.0.0.1:8000',
        '--address-url',
        'http://127.0.0.1:8001/',
        '--boot-url',
        'https://abc.lambda-url.eu-west-1.on.aws/',
        '--failure',
        'closed',
        '--containers',
        '/etc/credential-lock/containers.json',
      ],
      { CREDENTIAL_LOCK_ROLE_ARN: 'arn:aws:iam::123456789012:role/path/app-role' },
      files(JSON.stringify({ [TOKEN]: 'arn:aws:iam::123456789012:role/orders-task' })),
    )

    // Assess
    expect(config).toMatchObject({
      addressUrl: 'http://127.0.0.1:8001/',
      failureMode: 'closed',
      roleArn: 'arn:aws:iam::123456789012:role/path/app-role',
    })
    expect(config.listen).toEqual([
      { host: '127.0.0.1', port: 9911 },
      { host: '::1', port: 9911 },
    ])
    expect(config.bootUrl?.hostname).toBe('abc.lambda-url.eu-west-1.on.aws')
    expect([...config.containerRoles]).toEqual([[TOKEN, 'arn:aws:iam::123456789012:role/orders-task']])
  })

  it.each([
    [[], /--listen is ""/],
    [['--listen', 'localhost:80'], /--listen is "localhost:80"/],
    [['--listen', '127.0.0.1:99999'], /--listen/],
    [[...LISTEN, '--failure', 'maybe'], /--failure is "maybe": give open or closed/],
    [[...LISTEN, '--address-url', 'http://checkip.example.com'], /--address-url .* give an https:\/\/ URL/],
    [[...LISTEN, '--boot-url', 'http://boot.example.com'], /--boot-url .* https:\/\/ function URL/],
    [[...LISTEN, '--imds', 'ftp://x'], /--imds is "ftp:\/\/x"/],
    [[...LISTEN, '--verbose'], /usage: credential-lock-metadata-proxy/],
  ])('refuses %j with a sentence naming the option', (argv, message) => {
    // Act
    const read = () => readProxyConfig(argv, {})

    // Assess
    expect(read).toThrow(ConfigError)
    expect(read).toThrow(message)
  })

  it.each([
    ['not JSON', 'nope', /could not be read as JSON/],
    ['a list', '[]', /is not a JSON object/],
    ['a short token', JSON.stringify({ short: 'arn:aws:iam::123456789012:role/x' }), /shorter than 16/],
    ['no role ARN', JSON.stringify({ [TOKEN]: 'orders-task' }), /not a role ARN/],
  ])('refuses a container token file that is %s', (_, text, message) => {
    // Act
    const read = () => readProxyConfig([...LISTEN, '--containers', 'containers.json'], {}, files(text))

    // Assess
    expect(read).toThrow(message)
  })
})
