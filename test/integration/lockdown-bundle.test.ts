/**
 * The lockdown as it ships: bundled alone, loaded in a fresh process with a Lambda-like environment, against
 * the address stand-in and moto. Proves the default factory reads the environment and that the SDK's default
 * credential chain, and child processes, get the locked session.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type AddressStandIn, startAddressStandIn } from '../support/address-stand-in.js'
import { bundleLockdown, probeColdStart } from '../support/lockdown-probe.js'

describe('the bundled lockdown in a fresh process', () => {
  let outdir: string
  let standIn: AddressStandIn

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'lockdown-bundle-'))
    standIn = await startAddressStandIn('198.51.100.23')
  })

  afterAll(async () => {
    await standIn.close()
    rmSync(outdir, { recursive: true, force: true })
  })

  it('gives a client created at module load, and child processes, the locked session', async () => {
    // Prepare
    const bundle = await bundleLockdown(outdir, 'external')

    // Act
    const probe = await probeColdStart(bundle, {
      motoEndpoint: inject('motoEndpoint'),
      addressUrl: standIn.url,
      roleArn: 'arn:aws:iam::123456789012:role/orders-fn',
      functionName: 'orders',
    })

    // Assess
    expect(probe.callerArn).toBe('arn:aws:sts::123456789012:assumed-role/orders-fn/orders')
    expect(probe.childAccessKeyId).not.toBe(probe.originalAccessKeyId)
    expect(probe.childAccessKeyId).toMatch(/^ASIA/)
    expect(standIn.lookups).toBe(1)
  })

  it('leaves the AWS SDK to the Lambda runtime', async () => {
    // Act
    const bundle = await bundleLockdown(outdir, 'external')

    // Assess: a few kilobytes, nothing like the SDK's hundreds.
    expect(bundle.bytes).toBeLessThan(20 * 1024)
  })
})
