import { describe, expect, it } from 'vitest'
import type { DecisionLine } from '../../handlers/aws/reconciler.js'
import { buildPlanReport, type PlanFacts, renderPlanText } from '../../handlers/plan/plan-report.js'

const FRANK = 'i-0a1b2c3d4e5f60003'
const KAREN = 'i-0a1b2c3d4e5f60004'

function facts(overrides: Partial<PlanFacts>): PlanFacts {
  return {
    accountId: '123456789012',
    region: 'us-east-1',
    lockTag: { key: 'credential-lock', value: 'enabled' },
    everyInstanceOptedIn: false,
    decisions: [],
    failures: [],
    instances: [],
    clusters: [],
    otherInlineChars: new Map(),
    ...overrides,
  }
}

function instance(instanceId: string, overrides: Partial<PlanFacts['instances'][number]> = {}) {
  return {
    instanceId,
    roleName: 'warehouse',
    running: true,
    optedIn: true,
    imdsV1Allowed: false,
    eksClusterName: undefined,
    ...overrides,
  }
}

/** The controller's line for a role whose own policies leave no room for any lock. */
const NOTHING_FITS: DecisionLine = {
  roleName: 'warehouse',
  action: 'unchanged',
  form: undefined,
  policyChars: 0,
  managedPolicies: 0,
  dryRun: true,
  reason: '1 unprotected',
  eventIds: ['plan'],
  instances: [
    {
      instanceId: FRANK,
      outcome: 'unprotected',
      reason: "the role's policy budget holds only 0 locked instances: move some to another role",
    },
  ],
  functions: [],
}

describe('the plan of a role no lock fits', () => {
  it('says no lock fits, not that none is needed, and names the instances left unlocked', () => {
    // Prepare
    const input = facts({ decisions: [NOTHING_FITS], instances: [instance(FRANK)] })

    // Act
    const report = buildPlanReport(input)
    const text = renderPlanText(report)

    // Assess
    expect(report.roles[0]?.risks).toEqual([
      expect.objectContaining({
        kind: 'over-budget',
        finding: `No lock fits beside the role's own policies, so ${FRANK} stays unlocked.`,
        instanceIds: [FRANK],
      }),
    ])
    expect(text).toMatch(/^warehouse: no lock, none fits$/m)
  })

  it('still says none is needed for a role without opted-in instances', () => {
    // Prepare
    const input = facts({
      decisions: [{ ...NOTHING_FITS, instances: [], reason: 'no opted-in instance uses this role' }],
      instances: [instance(FRANK, { optedIn: false })],
    })

    // Act
    const text = renderPlanText(buildPlanReport(input))

    // Assess
    expect(text).toMatch(/^warehouse: no lock, none needed$/m)
    expect(text).toMatch(new RegExp(`^ {2}unprotected {2}${FRANK} {2}not opted in$`, 'm'))
  })
})

describe('the plan of an instance whose tag nearly opts it in', () => {
  it('names the tag it carries and the one the lock expects', () => {
    // Prepare
    const hint = 'tag credential-lock=Enabled; the lock tag value is "enabled"'
    const input = facts({
      decisions: [{ ...NOTHING_FITS, instances: [], reason: 'no opted-in instance uses this role' }],
      instances: [instance(KAREN, { optedIn: false, optInNearMiss: hint })],
    })

    // Act
    const [role] = buildPlanReport(input).roles

    // Assess
    expect(role?.unprotected).toEqual([{ instanceId: KAREN, reason: `not opted in: ${hint}` }])
  })
})
