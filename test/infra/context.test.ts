/**
 * Settings refused at synth, each with one sentence naming the setting, the value and what to give instead:
 * props of the construct, context keys (unknown, mistyped, not JSON, without a unit), the demo's SSH CIDR,
 * and the app's exit on a settings error.
 */
import { spawnSync } from 'node:child_process'
import { App, Duration, Stack } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import type { RetentionDays } from 'aws-cdk-lib/aws-logs'
import { describe, expect, it } from 'vitest'
import { CredentialLock, type CredentialLockProps } from '../../infra/credential-lock.js'
import { sshCidrFromContext } from '../../infra/demo-stack.js'
import { appWith, NO_BUNDLING } from '../support/cdk-template.js'

describe('settings that are refused at synth', () => {
  it.each<[string, CredentialLockProps, string]>([
    [
      'a resync under 5 minutes',
      { resyncPeriod: Duration.minutes(4) },
      'resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not 4 minutes.',
    ],
    [
      'a resync over 24 hours',
      { resyncPeriod: Duration.hours(25) },
      'resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not 1 day 1 hour.',
    ],
    [
      'a resync in seconds',
      { resyncPeriod: Duration.seconds(330) },
      'resyncPeriod must be a whole number of minutes between 5 minutes and 24 hours, not 5 minutes 30 seconds.',
    ],
    [
      'a tombstone retention under 1 hour',
      { tombstoneRetention: Duration.minutes(30) },
      'tombstoneRetention must be a whole number of hours between 1 and 48, not 30 minutes.',
    ],
    [
      'a tombstone retention over 48 hours',
      { tombstoneRetention: Duration.hours(49) },
      'tombstoneRetention must be a whole number of hours between 1 and 48, not 2 days 1 hour.',
    ],
    [
      'an empty tag key',
      { lockTagKey: '' },
      'lockTagKey "" must be 1 to 128 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.',
    ],
    [
      'a tag key with characters AWS refuses',
      { lockTagKey: 'lock*' },
      'lockTagKey "lock*" must be 1 to 128 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.',
    ],
    [
      'a tag key AWS reserves',
      { lockTagKey: 'aws:lock' },
      'lockTagKey "aws:lock" must not start with "aws:", which AWS reserves.',
    ],
    [
      'a blank tag value',
      { lockTagValue: ' ' },
      'lockTagValue " " must be 1 to 256 letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.',
    ],
    ['an email without a domain', { alarmEmail: 'secops@' }, 'alarmEmail "secops@" is not an email address.'],
    [
      'a log retention CloudWatch does not offer',
      { logRetention: 42 as RetentionDays },
      'logRetention 42 is not a number of days CloudWatch Logs accepts.',
    ],
    [
      'an invalid bus name',
      { auditEventBusName: 'my bus' },
      'auditEventBusName "my bus" is not a valid event bus name.',
    ],
    ['an unknown role scope', { roleScope: 'some' as 'all' }, 'roleScope "some" must be all or tagged.'],
    [
      'a role scope tag with the scope all',
      { roleScopeTagKey: 'team' },
      'roleScopeTagKey and roleScopeTagValue apply only with roleScope tagged: set roleScope to tagged or remove them.',
    ],
    [
      'a role scope tag key AWS reserves',
      { roleScope: 'tagged', roleScopeTagKey: 'aws:team' },
      'roleScopeTagKey "aws:team" must not start with "aws:", which AWS reserves.',
    ],
  ])('refuses %s', (_case, props, message) => {
    // Prepare
    const stack = new Stack()

    // Act
    const create = () => new CredentialLock(stack, 'Lock', props)

    // Assess
    expect(create).toThrowError(expect.objectContaining({ name: 'InvalidSettingError', message }))
  })

  it.each([
    ['dry_run', 'dryRun'],
    ['DryRun', 'dryRun'],
    ['dry-run', 'dryRun'],
    ['dryRn', 'dryRun'],
    ['alarm_email', 'alarmEmail'],
    ['rolescope', 'roleScope'],
    ['ssh_cidr', 'sshCidr'],
    ['tombstoneRetension', 'tombstoneRetention'],
  ])('refuses the misspelled context key %s and suggests %s', async (misspelled, known) => {
    // Act
    const building = appWith({ ...NO_BUNDLING, [misspelled]: 'true' })

    // Assess
    await expect(building).rejects.toThrowError(
      expect.objectContaining({
        name: 'InvalidSettingError',
        message: `Context key "${misspelled}" is not a credential-lock setting: did you mean "${known}"?`,
      }),
    )
  })

  it('refuses an unknown context key far from every setting, listing the settings', async () => {
    await expect(appWith({ ...NO_BUNDLING, colour: 'blue' })).rejects.toThrow(
      /^Context key "colour" is not a credential-lock setting: use one of lockTagKey, .*, sshCidr\.$/,
    )
  })

  it("accepts the CDK's own context keys and the settings other work will read", async () => {
    // Prepare
    const context = {
      ...NO_BUNDLING,
      '@aws-cdk/aws-iam:minimizePolicies': true,
      'aws:cdk:enable-path-metadata': true,
      'acknowledged-issue-numbers': [34892],
      'availability-zones:account=123456789012:region=us-east-1': ['us-east-1a'],
      'cdk-notices': false,
      knownEgress: '{"*":["198.51.100.0/28"]}',
      trustedVpcEndpoints: 'vpce-0123456789abcdef0',
      refuseImdsV1: 'true',
      exemptActions: '{"web":["s3:GetObject"]}',
      managedPolicyQuota: '10',
    }

    // Act
    const building = appWith(context)

    // Assess
    await expect(building).resolves.toBeDefined()
  })

  it('prints a settings error as its one sentence, without a stack trace, and exits 1', () => {
    // Act: the CDK CLI hands the context to the app in CDK_CONTEXT_JSON
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ dry_run: 'true' }) },
      encoding: 'utf8',
    })

    // Assess
    expect(run.stderr).toBe(
      'Context key "dry_run" is not a credential-lock setting: did you mean "dryRun"?\n',
    )
    expect(run.status).toBe(1)
  })

  it.each<[string, CredentialLockProps, string]>([
    [
      'egress that is every address',
      { knownEgress: { 'tgw-0123456789abcdef0': ['0.0.0.0/0'] } },
      'knownEgress "tgw-0123456789abcdef0" lists "0.0.0.0/0", which is every address and would lock nothing: ' +
        'give only the public CIDRs its traffic leaves by, such as "203.0.113.0/28".',
    ],
    [
      'a private range as egress',
      { knownEgress: { '*': ['10.0.0.0/8'] } },
      'knownEgress "*" lists "10.0.0.0/8", which is or includes a private, shared or reserved range AWS never ' +
        'sees traffic come from: give the public CIDRs its traffic leaves by, such as "203.0.113.0/28".',
    ],
    [
      'a VPC ID as a trusted endpoint',
      { trustedVpcEndpoints: ['vpc-0123456789abcdef0'] },
      'trustedVpcEndpoints entry "vpc-0123456789abcdef0" is not a VPC endpoint ID: give interface endpoint IDs ' +
        'such as "vpce-0123456789abcdef0".',
    ],
  ])('refuses %s, naming the setting, the value and the expected form', (_case, props, message) => {
    // Prepare
    const stack = new Stack()

    // Act
    const create = () => new CredentialLock(stack, 'Lock', props)

    // Assess
    expect(create).toThrowError(expect.objectContaining({ name: 'InvalidSettingError', message }))
  })

  it('refuses knownEgress context that is not JSON', async () => {
    await expect(
      appWith({ ...NO_BUNDLING, knownEgress: 'tgw-0123456789abcdef0=203.0.113.0/28' }),
    ).rejects.toThrow(
      'knownEgress "tgw-0123456789abcdef0=203.0.113.0/28" is not JSON: give an object such as ' +
        '{"tgw-0123456789abcdef0": ["203.0.113.0/28"]}.',
    )
  })

  it('refuses a context duration without a unit', async () => {
    await expect(appWith({ ...NO_BUNDLING, resyncPeriod: '60' })).rejects.toThrow(
      'Context resyncPeriod "60" must be a number and a unit m, h or d, such as 30m or 12h.',
    )
  })

  it('refuses an SSH CIDR wider than a /24 for the demo', async () => {
    await expect(appWith({ ...NO_BUNDLING, demo: 'true', sshCidr: '0.0.0.0/0' })).rejects.toThrow(
      'sshCidr "0.0.0.0/0" opens SSH to too many addresses: use a /24 or narrower.',
    )
  })

  it('tells the deployer to pass sshCidr when checkip cannot be reached', async () => {
    // Prepare
    const app = new App()

    // Act
    const lookup = sshCidrFromContext(app.node, () => Promise.reject(new Error('getaddrinfo ENOTFOUND')))

    // Assess
    await expect(lookup).rejects.toThrow(
      'Cannot find your public IP for the demo SSH rule: pass -c sshCidr=x.x.x.x/32.',
    )
  })

  it('takes company networks from cdk.json as an object and a list, and sets nothing when they are absent', async () => {
    // Prepare / Act
    const given = Template.fromStack(
      (
        await appWith({
          ...NO_BUNDLING,
          knownEgress: { 'pcx-0123456789abcdef0': ['2001:db8:ff::/48'] },
          trustedVpcEndpoints: ['vpce-0123456789abcdef0'],
        })
      ).lock,
    )
    const absent = Template.fromStack((await appWith(NO_BUNDLING)).lock)

    // Assess
    given.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          KNOWN_EGRESS: '{"pcx-0123456789abcdef0":["2001:db8:ff::/48"]}',
          TRUSTED_VPC_ENDPOINTS: 'vpce-0123456789abcdef0',
        }),
      },
    })
    absent.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ KNOWN_EGRESS: Match.absent(), TRUSTED_VPC_ENDPOINTS: Match.absent() }),
      },
    })
  })

  it('builds no demo stack without demo=true', async () => {
    // Prepare / Act
    const built = await appWith(NO_BUNDLING)

    // Assess
    expect(built.demo).toBeUndefined()
    expect(built.lock.node.root.node.children.map((child) => child.node.id)).toEqual(['CredentialLock'])
  })
})
