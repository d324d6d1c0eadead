import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, inject, it } from 'vitest'
import { freeLoopbackPort } from '../support/moto.js'

const run = promisify(execFile)
const PLAN_BIN = new URL('../../bin/credential-lock-plan.js', import.meta.url).pathname

/** The plan as `npx credential-lock-plan` runs it, with no region in the environment unless `env` gives one. */
function plan(args: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  return run(process.execPath, [PLAN_BIN, ...args], {
    env: {
      ...process.env,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      AWS_PROFILE: undefined,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  )
}

describe('the plan command as a newcomer runs it', () => {
  it('reads the region of the AWS_PROFILE profile in the shared config file', async () => {
    // Prepare: what `aws configure --profile audit` writes, and nothing in the environment but the profile.
    const directory = mkdtempSync(join(tmpdir(), 'credential-lock-plan-'))
    writeFileSync(join(directory, 'config'), '[profile audit]\nregion = eu-west-1\n')
    writeFileSync(
      join(directory, 'credentials'),
      '[audit]\naws_access_key_id = testing\naws_secret_access_key = testing\n',
    )

    // Act
    const { code, stdout, stderr } = await plan(['--json'], {
      AWS_ENDPOINT_URL: inject('motoEndpoint'),
      AWS_CONFIG_FILE: join(directory, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(directory, 'credentials'),
      AWS_PROFILE: 'audit',
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    })

    // Assess
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(JSON.parse(stdout)).toMatchObject({ region: 'eu-west-1', dryRun: true })
  })

  it('names the endpoint it could not reach and what to check, in one sentence', async () => {
    // Prepare: a loopback port nothing listens on.
    const port = await freeLoopbackPort()

    // Act
    const { code, stdout, stderr } = await plan([], {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_REGION: 'eu-west-1',
    })

    // Assess
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      `credential-lock-plan: Could not reach AWS at 127.0.0.1:${port} (connect ECONNREFUSED): check the ` +
        `network and any proxy, AWS_ENDPOINT_URL (now http://127.0.0.1:${port}) and the region (eu-west-1).\n`,
    )
  })
})
