/**
 * The installer of the metadata proxy: what it adds to an instance's user data, role and trust policy, what it
 * refuses at synth, that cdk-nag finds nothing in it, and that its bundle runs on plain Node.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App, Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import {
  Instance,
  InstanceClass,
  InstanceSize,
  InstanceType,
  LaunchTemplate,
  MachineImage,
  UserData,
  Vpc,
} from 'aws-cdk-lib/aws-ec2'
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { AwsSolutionsChecks } from 'cdk-nag'
import { describe, expect, it } from 'vitest'
import { bundleProxy, HostProxy, type HostProxyProps, PROXY_BUNDLE } from '../../infra/host-proxy.js'

const ENV = { account: '123456789012', region: 'eu-west-1' }

function instanceStack(props: HostProxyProps = {}) {
  // Bundling skipped: the bundle is built once, below, where it is run.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } })
  const stack = new Stack(app, 'Hosts', { env: ENV })
  const vpc = new Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 })
  const role = new Role(stack, 'AppRole', {
    assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
    roleName: 'app-role',
  })
  const instance = new Instance(stack, 'App', {
    vpc,
    role,
    instanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.NANO),
    machineImage: MachineImage.latestAmazonLinux2023(),
    requireImdsv2: true,
  })
  const proxy = new HostProxy(stack, 'HostProxy', instance, props)
  return { app, stack, role, instance, proxy }
}

function userDataOf(template: Template): string {
  const [instance] = Object.values(template.findResources('AWS::EC2::Instance'))
  return JSON.stringify(instance?.Properties?.UserData)
}

describe('what the installer adds to an instance', () => {
  it('redirects every other user’s IMDS traffic to the proxy, IPv4 and IPv6, with an owner match', () => {
    // Act
    const { stack } = instanceStack({ port: 9911 })
    const userData = userDataOf(Template.fromStack(stack))

    // Assess
    expect(userData).toContain(
      'OUTPUT -d 169.254.169.254/32 -p tcp --dport 80 -m owner ! --uid-owner credential-lock-proxy -j DNAT --to-destination 127.0.0.1:9911',
    )
    expect(userData).toContain(
      'OUTPUT -d fd00:ec2::254/128 -p tcp --dport 80 -m owner ! --uid-owner credential-lock-proxy -j DNAT --to-destination [::1]:9911',
    )
    expect(userData).toContain('iptables -t nat -C $RULE4 2>/dev/null || iptables -t nat -A $RULE4')
  })

  it('runs the bundled proxy as a systemd service of its own user that restarts on failure', () => {
    // Act
    const { stack } = instanceStack({
      failureMode: 'closed',
      bootUrl: 'https://abc.lambda-url.eu-west-1.on.aws/',
    })
    const userData = userDataOf(Template.fromStack(stack))

    // Assess
    expect(userData).toContain(
      'useradd --system --no-create-home --shell /sbin/nologin credential-lock-proxy',
    )
    expect(userData).toContain('User=credential-lock-proxy')
    expect(userData).toContain('Restart=on-failure')
    expect(userData).toMatch(
      /ExecStart=\/usr\/bin\/env node \/opt\/credential-lock\/metadata-proxy.cjs --listen 127.0.0.1:9911 --listen \[::1\]:9911 --failure closed --boot-url https:\/\/abc.lambda-url.eu-west-1.on.aws\//,
    )
    expect(userData).toContain(
      'systemctl enable --now credential-lock-imds-redirect.service credential-lock-proxy.service',
    )
    expect(userData).toContain('aws s3 cp')
  })

  it('lets the role read the one bundle object and assume itself, and nothing wider', () => {
    // Act
    const { stack } = instanceStack()
    const template = Template.fromStack(stack)

    // Assess
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'app-role',
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'SelfAssumeForCredentialLock',
            Action: 'sts:AssumeRole',
            Condition: { ArnEquals: { 'aws:PrincipalArn': Match.anyValue() } },
          }),
        ]),
      },
    })
    const [policy] = Object.values(template.findResources('AWS::IAM::Policy'))
    const statements = policy?.Properties?.PolicyDocument?.Statement as {
      Action: string
      Resource: unknown
    }[]
    expect(statements.map((statement) => statement.Action).sort()).toEqual(['s3:GetObject', 'sts:AssumeRole'])
    expect(JSON.stringify(statements)).not.toContain('*"')
  })
})

describe('settings refused at synth', () => {
  it.each([
    [{ port: 80 }, /port 80 is not usable/],
    [{ port: 70_000 }, /port 70000 is not usable/],
    [{ user: 'Root User' }, /not a valid Linux user name/],
    [{ bootUrl: 'http://boot.example.com' }, /bootUrl .* must be an https:\/\/ URL/],
    [{ addressUrl: 'http://checkip.example.com' }, /addressUrl .* must be an https:\/\/ URL/],
  ])('refuses %j', (props, message) => {
    // Act
    const build = () => instanceStack(props)

    // Assess
    expect(build).toThrow(message)
  })

  it('refuses a launch template without a role, naming it', () => {
    // Prepare
    const stack = new Stack(new App(), 'Hosts', { env: ENV })
    const template = new LaunchTemplate(stack, 'Fleet', { userData: UserData.forLinux() })

    // Act
    const install = () => new HostProxy(stack, 'HostProxy', template)

    // Assess
    expect(install).toThrow(/Hosts\/Fleet has no role this app creates/)
  })

  it('installs on a launch template with a role and user data', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Hosts', { env: ENV })
    const role = new Role(stack, 'FleetRole', { assumedBy: new ServicePrincipal('ec2.amazonaws.com') })
    const template = new LaunchTemplate(stack, 'Fleet', { role, userData: UserData.forLinux() })

    // Act
    new HostProxy(stack, 'HostProxy', template)

    // Assess
    const data = JSON.stringify(Template.fromStack(stack).findResources('AWS::EC2::LaunchTemplate'))
    expect(data).toContain('credential-lock-proxy.service')
  })
})

describe('cdk-nag', () => {
  it('finds nothing in what the installer adds', () => {
    // Prepare
    const { app, proxy, role } = instanceStack()
    const checks = new AwsSolutionsChecks(app)

    // Act
    const findings = checks
      .validateScope(app)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName} ${resource.constructPath}`),
      )

    // Assess
    const ours = [proxy.node.path, role.node.path]
    expect(findings.filter((finding) => ours.some((path) => finding.includes(path)))).toEqual([])
  })
})

describe('the bundle', () => {
  it('is one file that runs on plain Node and answers a bad command line with a JSON error', () => {
    // Prepare
    const outputDir = mkdtempSync(join(tmpdir(), 'host-proxy-bundle-'))
    bundleProxy(outputDir)
    const bundle = join(outputDir, PROXY_BUNDLE)

    // Act
    let output = ''
    try {
      execFileSync(process.execPath, [bundle, '--listen', 'nowhere'], { encoding: 'utf8', stdio: 'pipe' })
    } catch (error) {
      output = String((error as { stderr: string }).stderr)
    }

    // Assess
    expect(statSync(bundle).size).toBeGreaterThan(0)
    expect(JSON.parse(output)).toMatchObject({ level: 'ERROR', error: { name: 'ConfigError' } })
  })
})
