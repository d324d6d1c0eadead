/**
 * The plan's report (handlers/plan/plan-report.ts) on hand-built facts: what it says about each role, the whole
 * report and its summary, and the report as JSON. test/integration/plan-cli.test.ts reads the same facts from
 * an account simulated on moto.
 */
import { describe, expect, it } from 'vitest'
import { buildPlanReport, renderPlanJson, renderPlanText } from '../../handlers/plan/plan-report.js'
import {
  ACCOUNT,
  DANNY,
  decision,
  facts,
  instance,
  JESSICA,
  LUKE,
  locked,
  MATT,
  REGION,
  roleOf,
  skipped,
  TRANSIT_REASON,
  TRISH,
  tombstoned,
} from '../support/plan-facts.js'

describe('the plan of one role', () => {
  it('puts the decision beside the facts: action, form, characters, budget and the locked instances', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { policyChars: 2_345, instances: [locked(LUKE)] })],
      instances: [instance(LUKE, 'web')],
      otherInlineChars: new Map([['web', 678]]),
    })

    // Act
    const role = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(role).toEqual({
      roleName: 'web',
      action: 'put',
      form: 'precise',
      policyChars: 2_345,
      otherInlineChars: 678,
      budgetChars: 10_240,
      locked: [{ instanceId: LUKE, publicCidrs: ['198.51.100.7/32'], privateCidrs: ['10.0.1.10/32'] }],
      tombstoned: [],
      unprotected: [],
      risks: [],
      error: null,
    })
  })

  it('lists the tombstoned instances with when and why, and no other outcome among them', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { instances: [locked(LUKE), tombstoned(DANNY), skipped(TRISH)] })],
    })

    // Act
    const role = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(role.tombstoned).toEqual([
      { instanceId: DANNY, since: '2026-11-25T11:00:00.000Z', reason: 'stopped' },
    ])
    expect(role.locked.map((i) => i.instanceId)).toEqual([LUKE])
  })

  it('keeps the controller’s reason for an instance the role’s policy budget has no room for', () => {
    // Prepare: the controller locked Luke and left Danny out of a full budget.
    const budgetFull =
      "the role's policy budget holds only 1 locked instances: move some to another role, " +
      'or raise the managed-policy quota and the managedPolicyQuota setting'
    const input = facts({
      decisions: [
        decision('web', {
          form: 'compact',
          instances: [locked(LUKE), { instanceId: DANNY, outcome: 'unprotected', reason: budgetFull }],
        }),
      ],
      instances: [instance(LUKE, 'web'), instance(DANNY, 'web')],
    })

    // Act
    const report = buildPlanReport(input)

    // Assess: said once, with what to do, and counted.
    expect(roleOf(report, 'web').unprotected).toEqual([{ instanceId: DANNY, reason: budgetFull }])
    expect(report.summary.instancesUnprotected).toBe(1)
  })

  it('counts a role without other inline policies or a decision as using none of the budget', () => {
    // Prepare
    const input = facts({ failures: [{ roleName: 'batch', message: 'IAM is throttling.' }] })

    // Act
    const role = roleOf(buildPlanReport(input), 'batch')

    // Assess
    expect(role).toMatchObject({ action: 'failed', form: null, policyChars: 0, otherInlineChars: 0 })
    expect(role.budgetChars).toBe(10_240)
  })

  it('shows a role as failed even when the controller logged a decision for it before failing', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { instances: [locked(LUKE)] })],
      failures: [{ roleName: 'web', message: 'IAM refused the write.' }],
    })

    // Act
    const role = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(role).toMatchObject({ action: 'failed', form: 'precise', error: 'IAM refused the write.' })
  })

  it('names every running instance left unprotected, sorted, each with its reason', () => {
    // Prepare
    const input = facts({
      decisions: [
        decision('web', {
          action: 'unchanged',
          instances: [locked(LUKE), skipped(TRISH)],
        }),
      ],
      instances: [
        instance(TRISH, 'web'),
        instance(MATT, 'web', { optedIn: false }),
        instance(LUKE, 'web'),
        instance(DANNY, 'web'),
        // Stopped, or on another role: not this role's concern.
        instance(JESSICA, 'web', { running: false, optedIn: false }),
        instance('i-0a1b2c3d4e5f60006', 'batch', { optedIn: false }),
      ],
    })

    // Act
    const role = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(role.unprotected).toEqual([
      { instanceId: DANNY, reason: 'the controller did not lock it' },
      { instanceId: MATT, reason: 'not opted in' },
      { instanceId: TRISH, reason: TRANSIT_REASON },
    ])
  })

  it('with --all, does not call an instance without the tag "not opted in"', () => {
    // Prepare
    const input = facts({
      everyInstanceOptedIn: true,
      decisions: [decision('web', { instances: [] })],
      instances: [instance(MATT, 'web', { optedIn: false })],
    })

    // Act
    const report = buildPlanReport(input)

    // Assess
    expect(report.everyInstanceOptedIn).toBe(true)
    expect(roleOf(report, 'web').unprotected).toEqual([
      { instanceId: MATT, reason: 'the controller did not lock it' },
    ])
  })

  it('blames the role, not the opt-in, for the instances of a role that could not be locked', () => {
    // Prepare
    const input = facts({
      failures: [{ roleName: 'web', message: 'Role web needs a lock of 10,900 characters.' }],
      instances: [instance(MATT, 'web', { optedIn: false })],
    })

    // Act
    const role = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(role.unprotected).toEqual([
      { instanceId: MATT, reason: 'its role could not be locked (see the error)' },
    ])
  })

  it('shows a role the controller could not decide as failed, its running instances unprotected', () => {
    // Prepare
    const input = facts({
      failures: [{ roleName: 'batch', message: 'Role batch needs a lock of 10,900 characters.' }],
      instances: [instance(DANNY, 'batch')],
    })

    // Act
    const report = buildPlanReport(input)
    const text = renderPlanText(report)

    // Assess
    expect(report.roles[0]).toMatchObject({
      roleName: 'batch',
      action: 'failed',
      error: 'Role batch needs a lock of 10,900 characters.',
      unprotected: [{ instanceId: DANNY, reason: expect.stringContaining('could not be locked') }],
    })
    expect(report.summary.rolesFailed).toBe(1)
    expect(text).toContain('batch: cannot be locked: Role batch needs a lock of 10,900 characters.')
  })
})

describe('the whole report', () => {
  const input = facts({
    decisions: [
      decision('web', { instances: [locked(LUKE), locked(DANNY), skipped(TRISH)] }),
      decision('batch', { action: 'remove', form: undefined, policyChars: 0, instances: [] }),
      decision('ci', { action: 'unchanged', instances: [locked(JESSICA)] }),
      decision('idle', { action: 'unchanged', form: undefined, policyChars: 0, instances: [] }),
    ],
    failures: [{ roleName: 'analytics', message: 'IAM refused the read.' }],
    instances: [instance(MATT, 'web', { optedIn: false, imdsV1Allowed: true }), instance(TRISH, 'web')],
  })

  it('lists every role decided or failed, by name, and says it read without writing', () => {
    // Act
    const report = buildPlanReport(input)

    // Assess
    expect(report).toMatchObject({
      accountId: ACCOUNT,
      region: REGION,
      lockTag: { key: 'credential-lock', value: 'enabled' },
      everyInstanceOptedIn: false,
      dryRun: true,
    })
    expect(report.roles.map((role) => [role.roleName, role.action])).toEqual([
      ['analytics', 'failed'],
      ['batch', 'remove'],
      ['ci', 'unchanged'],
      ['idle', 'unchanged'],
      ['web', 'put'],
    ])
  })

  it('sums up roles to change (writes and removals), failures, locked and unprotected instances, risks', () => {
    // Act
    const { summary } = buildPlanReport(input)

    // Assess
    expect(summary).toEqual({
      roles: 5,
      rolesToChange: 2,
      rolesFailed: 1,
      instancesLocked: 3,
      instancesUnprotected: 2,
      risks: 2,
    })
  })
})

describe('the report as JSON', () => {
  it('is the report itself, indented for a person, one document ending in a newline', () => {
    // Prepare
    const report = buildPlanReport(facts({ decisions: [decision('web', { instances: [locked(LUKE)] })] }))

    // Act
    const json = renderPlanJson(report)

    // Assess
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(report)))
    expect(json.split('\n').slice(0, 3)).toEqual([
      '{',
      `  "accountId": "${ACCOUNT}",`,
      `  "region": "${REGION}",`,
    ])
    expect(json.endsWith('}\n')).toBe(true)
  })
})
