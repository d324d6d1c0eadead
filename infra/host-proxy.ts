/**
 * Installs the metadata proxy (handlers/host-proxy/) on an instance or every instance of a launch template:
 * the proxy bundled into one file (a CDK asset, run by the Node the AMI has), a systemd unit under a user of its
 * own, and iptables rules that send every other user's traffic for IMDS to it. So an SSRF in any application
 * on the host reaches only locked credentials; the proxy's own user still reaches the real IMDS.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { AssetHashType, DockerImage, Stack, Token } from 'aws-cdk-lib'
import type { Instance, LaunchTemplate, UserData } from 'aws-cdk-lib/aws-ec2'
import { PolicyStatement, Role } from 'aws-cdk-lib/aws-iam'
import { Asset } from 'aws-cdk-lib/aws-s3-assets'
import { Construct } from 'constructs'
import { buildSync } from 'esbuild'
import { allowSelfAssume } from './self-assume.js'

const REPOSITORY_ROOT = new URL('..', import.meta.url).pathname
export const PROXY_ENTRY = 'handlers/host-proxy/metadata-proxy.ts'
export const PROXY_BUNDLE = 'metadata-proxy.cjs'
const INSTALL_DIR = '/opt/credential-lock'

export interface HostProxyProps {
  /**
   * What the proxy serves when it cannot lock (address look-up or AssumeRole fails): `open` serves the raw
   * credentials and logs at ERROR with a `CredentialLock/HostProxyLockFailed` metric; `closed` serves none.
   * @default 'open' - an outage of the look-up must not stop every application on the host
   */
  readonly failureMode?: 'open' | 'closed'
  /**
   * The loopback port the proxy listens on.
   * @default 9911
   */
  readonly port?: number
  /**
   * The what-is-my-IP service (HTTPS).
   * @default 'https://checkip.amazonaws.com'
   */
  readonly addressUrl?: string
  /**
   * The boot provider's function URL (`CredentialLock` stack with `-c bootProvider=true`, output
   * `BootProviderUrl`); the instance role must be allowed `lambda:InvokeFunctionUrl` on it.
   * @default - no boot provider: the lock is the host's own addresses and VPCs
   */
  readonly bootUrl?: string
  /**
   * A file on the host mapping container Authorization tokens to role ARNs, for the container endpoint.
   * @default - no container endpoint tokens
   */
  readonly containerTokensFile?: string
  /**
   * The system user the proxy runs as; only its traffic reaches the real IMDS.
   * @default 'credential-lock-proxy'
   */
  readonly user?: string
}

/** The proxy installed on one instance or launch template. */
export class HostProxy extends Construct {
  /** The bundled proxy, as uploaded. */
  readonly bundle: Asset
  readonly port: number
  readonly user: string

  constructor(scope: Construct, id: string, target: Instance | LaunchTemplate, props: HostProxyProps = {}) {
    super(scope, id)
    const { role, userData } = checkedTarget(target)
    this.port = props.port ?? 9911
    this.user = props.user ?? 'credential-lock-proxy'
    checkProps(this.port, this.user, props)

    this.bundle = new Asset(this, 'Bundle', {
      // Bundling reads the whole repository; the path only keeps CDK from fingerprinting node_modules.
      path: join(REPOSITORY_ROOT, 'handlers', 'host-proxy'),
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        image: DockerImage.fromRegistry('node:20-slim'),
        local: { tryBundle: (outputDir) => bundleProxy(outputDir) },
      },
    })
    // The one object, not the asset bucket: the role may read nothing else there.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadCredentialLockProxyBundle',
        actions: ['s3:GetObject'],
        resources: [this.bundle.bucket.arnForObjects(this.bundle.s3ObjectKey)],
      }),
    )
    allowSelfAssume(role)

    const bundlePath = userData.addS3DownloadCommand({
      bucket: this.bundle.bucket,
      bucketKey: this.bundle.s3ObjectKey,
      localFile: `${INSTALL_DIR}/${PROXY_BUNDLE}`,
    })
    userData.addCommands(...installCommands(bundlePath, this.port, this.user, Stack.of(this).region, props))
  }
}

function checkedTarget(target: Instance | LaunchTemplate): { role: Role; userData: UserData } {
  const { role, userData } = target
  if (!(role instanceof Role)) {
    throw new Error(
      `${target.node.path} has no role this app creates: give it one, so its trust policy can let it assume itself.`,
    )
  }
  if (userData === undefined) {
    throw new Error(`${target.node.path} has no user data: give the launch template UserData.forLinux().`)
  }
  return { role, userData }
}

function checkProps(port: number, user: string, props: HostProxyProps): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535 || port === 80) {
    throw new Error(`HostProxy port ${port} is not usable: give a free TCP port other than 80, as 9911.`)
  }
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
    throw new Error(
      `HostProxy user "${user}" is not a valid Linux user name: use lowercase letters and dashes.`,
    )
  }
  for (const [name, url] of [
    ['addressUrl', props.addressUrl],
    ['bootUrl', props.bootUrl],
  ] as const) {
    if (url !== undefined && !Token.isUnresolved(url) && !url.startsWith('https://')) {
      throw new Error(
        `HostProxy ${name} "${url}" must be an https:// URL: whoever answers it decides the lock.`,
      )
    }
  }
}

/** esbuild on this machine: the proxy and the AWS SDK in one CommonJS file for the Node the host has. */
export function bundleProxy(outputDir: string): boolean {
  mkdirSync(outputDir, { recursive: true })
  buildSync({
    entryPoints: [join(REPOSITORY_ROOT, PROXY_ENTRY)],
    outfile: join(outputDir, PROXY_BUNDLE),
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
  })
  return true
}

/**
 * The shell lines that make the proxy a service and put the redirect in place. The redirect is its own
 * boot-time unit, independent of the proxy's: while the proxy restarts, other users' IMDS requests are
 * refused, never sent to the real IMDS.
 */
export function installCommands(
  bundlePath: string,
  port: number,
  user: string,
  region: string,
  props: Pick<HostProxyProps, 'failureMode' | 'addressUrl' | 'bootUrl' | 'containerTokensFile'>,
): string[] {
  const args = [
    `--listen 127.0.0.1:${port}`,
    `--listen [::1]:${port}`,
    `--failure ${props.failureMode ?? 'open'}`,
    ...(props.addressUrl ? [`--address-url ${props.addressUrl}`] : []),
    ...(props.bootUrl ? [`--boot-url ${props.bootUrl}`] : []),
    ...(props.containerTokensFile ? [`--containers ${props.containerTokensFile}`] : []),
  ].join(' ')
  const proxyUnit = [
    '[Unit]',
    'Description=credential-lock metadata proxy',
    'After=network-online.target credential-lock-imds-redirect.service',
    'Wants=network-online.target',
    '[Service]',
    `User=${user}`,
    `Environment=AWS_REGION=${region}`,
    `ExecStart=/usr/bin/env node ${bundlePath} ${args}`,
    'Restart=on-failure',
    'RestartSec=2',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    '[Install]',
    'WantedBy=multi-user.target',
  ]
  const redirectUnit = [
    '[Unit]',
    'Description=credential-lock: send IMDS traffic of every user but the proxy to the proxy',
    'Before=credential-lock-proxy.service',
    'After=network-pre.target',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${INSTALL_DIR}/imds-redirect.sh`,
    '[Install]',
    'WantedBy=multi-user.target',
  ]
  // A subshell: its strict mode must not change how the rest of the instance's user data runs.
  return [
    '(',
    'set -euo pipefail',
    `command -v node >/dev/null || dnf install -y nodejs || yum install -y nodejs || apt-get install -y nodejs`,
    `command -v iptables >/dev/null || dnf install -y iptables-nft || yum install -y iptables || apt-get install -y iptables`,
    `id -u ${user} >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin ${user}`,
    `chmod 0755 ${INSTALL_DIR} && chmod 0644 ${bundlePath}`,
    heredoc(`${INSTALL_DIR}/imds-redirect.sh`, imdsRedirectScript(port, user)),
    `chmod 0755 ${INSTALL_DIR}/imds-redirect.sh`,
    heredoc('/etc/systemd/system/credential-lock-imds-redirect.service', redirectUnit.join('\n')),
    heredoc('/etc/systemd/system/credential-lock-proxy.service', proxyUnit.join('\n')),
    'systemctl daemon-reload',
    'systemctl enable --now credential-lock-imds-redirect.service credential-lock-proxy.service',
    ')',
  ]
}

/**
 * The iptables (and ip6tables for IMDS's IPv6 address) rules, added once however often the script runs: every
 * local process's connection to IMDS port 80 goes to the proxy, except the proxy user's own.
 */
export function imdsRedirectScript(port: number, user: string): string {
  return [
    '#!/bin/sh',
    'set -eu',
    `RULE4="OUTPUT -d 169.254.169.254/32 -p tcp --dport 80 -m owner ! --uid-owner ${user} -j DNAT --to-destination 127.0.0.1:${port}"`,
    `RULE6="OUTPUT -d fd00:ec2::254/128 -p tcp --dport 80 -m owner ! --uid-owner ${user} -j DNAT --to-destination [::1]:${port}"`,
    'iptables -t nat -C $RULE4 2>/dev/null || iptables -t nat -A $RULE4',
    // IPv6 NAT is missing on some kernels; IMDS's IPv6 address then does not answer on this host either.
    'if command -v ip6tables >/dev/null; then ip6tables -t nat -C $RULE6 2>/dev/null || ip6tables -t nat -A $RULE6 || true; fi',
  ].join('\n')
}

function heredoc(path: string, content: string): string {
  return `cat > ${path} <<'CREDENTIAL_LOCK_EOF'\n${content}\nCREDENTIAL_LOCK_EOF`
}
