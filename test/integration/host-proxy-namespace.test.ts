/**
 * End to end on a host of its own: a network namespace (root, `unshare -n`) where 169.254.169.254 lives on lo
 * and the IMDS stand-in answers there, moto's STS runs inside, the installer's real iptables script is applied,
 * and the bundled proxy runs as its own user. A process of another user asking IMDS gets locked credentials;
 * the proxy's user reaches the stand-in and its raw ones. Where the machine cannot do this, the test is
 * skipped and says why: it never passes without having run.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundleProxy, imdsRedirectScript, PROXY_BUNDLE } from '../../infra/host-proxy.js'

const PROXY_USER = 'daemon'
const OTHER_UID = 65_534
const PROXY_PORT = 9911
const MOTO_PORT = 5999
const REPOSITORY_ROOT = new URL('../..', import.meta.url).pathname

/** Why this machine cannot run the test, or undefined when it can. */
function whyNotHere(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'creating a network namespace needs root'
  for (const tool of ['unshare', 'setpriv', 'ip', 'curl', 'moto_server', 'iptables']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      return `${tool} is not installed${tool === 'iptables' ? ' (apt-get install -y iptables)' : ''}`
    }
  }
  if (spawnSync('id', ['-u', PROXY_USER]).status !== 0) return `there is no user ${PROXY_USER} for the proxy`
  const probe = spawnSync('unshare', ['-n', 'iptables', '-t', 'nat', '-L', 'OUTPUT'], { encoding: 'utf8' })
  if (probe.status !== 0) return `no network namespace with iptables NAT here: ${probe.stderr.trim()}`
  return undefined
}

const skipReason = whyNotHere()
const title = skipReason === undefined ? '' : ` (skipped: ${skipReason})`

describe(`the proxy installed in a network namespace${title}`, () => {
  it.skipIf(skipReason !== undefined)(
    "gives another user's process locked credentials, and the proxy's own user the real IMDS, over IPv4 and IPv6",
    { timeout: 180_000 },
    () => {
      // Prepare
      const dir = mkdtempSync(join(tmpdir(), 'host-proxy-netns-'))
      chmodSync(dir, 0o755)
      bundleProxy(dir)
      chmodSync(join(dir, PROXY_BUNDLE), 0o644)
      writeFileSync(join(dir, 'imds-redirect.sh'), imdsRedirectScript(PROXY_PORT, PROXY_USER), {
        mode: 0o755,
      })
      writeFileSync(join(dir, 'scene.sh'), namespaceScene(dir), { mode: 0o755 })

      // Act
      const output = execFileSync('unshare', ['-n', 'bash', join(dir, 'scene.sh')], {
        cwd: REPOSITORY_ROOT,
        encoding: 'utf8',
        timeout: 170_000,
      })
      const answers = Object.fromEntries(
        output
          .split('\n')
          .filter((line) => line.startsWith('ANSWER '))
          .map((line) => {
            const [, who = '', ...body] = line.split(' ')
            return [who, JSON.parse(body.join(' ')) as Record<string, string>]
          }),
      )

      // Assess
      expect(answers.other?.AccessKeyId, output).toMatch(/^ASIA/)
      expect(answers.other?.AccessKeyId).not.toBe('ASIARAWINSTANCEROLE1')
      expect(answers.other).toMatchObject({ Code: 'Success', Type: 'AWS-HMAC' })
      expect(answers.proxyUser?.AccessKeyId).toBe('ASIARAWINSTANCEROLE1')
      expect(answers.otherOverIpv6?.AccessKeyId).toBe(answers.other?.AccessKeyId)
      expect(answers.proxyUserOverIpv6?.AccessKeyId).toBe('ASIARAWINSTANCEROLE1')
      expect(output).toContain('-m owner ! --uid-owner')
      // With the proxy down, the redirect stays: another user reaches nothing, never the real IMDS.
      expect(answers.otherWithoutProxy).toEqual({ reached: 'nothing' })
    },
  )
})

/** The scene, as one bash script run inside the new namespace; answers are printed as `ANSWER <who> <json>`. */
function namespaceScene(dir: string): string {
  const asUser = (user: string | number) => `setpriv --reuid=${user} --regid=${user} --clear-groups`
  const credentials = (who: string, user: string | number, imds = '169.254.169.254') =>
    [
      `TOKEN=$(${asUser(user)} curl -sf -X PUT -H 'x-aws-ec2-metadata-token-ttl-seconds: 60' http://${imds}/latest/api/token)`,
      `BODY=$(${asUser(user)} curl -sf -H "x-aws-ec2-metadata-token: $TOKEN" http://${imds}/latest/meta-data/iam/security-credentials/app-role)`,
      `echo "ANSWER ${who} $(echo "$BODY" | tr -d '\\n')"`,
    ].join('\n')
  return `set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
ip -6 addr add fd00:ec2::254/128 dev lo
moto_server -H 127.0.0.1 -p ${MOTO_PORT} >/dev/null 2>&1 &
node_modules/.bin/tsx test/support/namespace-stand-ins.ts > ${dir}/stand-ins.json &
for _ in $(seq 1 150); do
  if [ -s ${dir}/stand-ins.json ] && curl -sf http://127.0.0.1:${MOTO_PORT}/moto-api/ >/dev/null; then break; fi
  sleep 0.2
done
ADDRESS_URL=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).addressUrl)' ${dir}/stand-ins.json)
sh ${dir}/imds-redirect.sh
iptables -t nat -S OUTPUT
${asUser(PROXY_USER)} env AWS_ENDPOINT_URL=http://127.0.0.1:${MOTO_PORT} AWS_REGION=eu-west-1 \\
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \\
  node ${dir}/${PROXY_BUNDLE} --listen 127.0.0.1:${PROXY_PORT} --listen [::1]:${PROXY_PORT} --address-url "$ADDRESS_URL" --failure closed \\
  > ${dir}/proxy.log 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 100); do grep -q 'Metadata proxy listening' ${dir}/proxy.log && break; sleep 0.2; done
cat ${dir}/proxy.log
${credentials('other', OTHER_UID)}
${credentials('proxyUser', PROXY_USER)}
${credentials('otherOverIpv6', OTHER_UID, '[fd00:ec2::254]')}
${credentials('proxyUserOverIpv6', PROXY_USER, '[fd00:ec2::254]')}
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null || true
if ${asUser(OTHER_UID)} curl -sf -m 2 http://169.254.169.254/latest/meta-data/ >/dev/null; then
  echo 'ANSWER otherWithoutProxy {"reached":"imds"}'
else
  echo 'ANSWER otherWithoutProxy {"reached":"nothing"}'
fi
`
}
