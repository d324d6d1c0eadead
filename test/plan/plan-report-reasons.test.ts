import { describe, expect, it } from 'vitest'
import { buildPlanReport, renderPlanText } from '../../handlers/plan/plan-report.js'
import { decision, facts, instance, JESSICA, MATT } from '../support/plan-facts.js'

/** The controller's line for a role whose own policies leave no room for any lock. */
const NOTHING_FITS = decision('warehouse', {
  action: 'unchanged',
  form: undefined,
  policyChars: 0,
  reason: '1 unprotected',
  instances: [
    {
      instanceId: JESSICA,
      outcome: 'unprotected',
      reason: "the role's policy budget holds only 0 locked instances: move some to another role",
    },
  ],
})
const NO_OPTED_IN = { ...NOTHING_FITS, instances: [], reason: 'no opted-in instance uses this role' }

describe('the plan of a role no lock fits', () => {
  it('says no lock fits, not that none is needed, and names the instances left unlocked', () => {
    // Prepare
    const input = facts({ decisions: [NOTHING_FITS], instances: [instance(JESSICA, 'warehouse')] })

    // Act
    const report = buildPlanReport(input)
    const text = renderPlanText(report)

    // Assess
    expect(report.roles[0]?.risks).toEqual([
      expect.objectContaining({
        kind: 'over-budget',
        finding: `No lock fits beside the role's own policies, so ${JESSICA} stays unlocked.`,
        instanceIds: [JESSICA],
      }),
    ])
    expect(text).toMatch(/^warehouse: no lock, none fits$/m)
  })

  it('still says none is needed for a role without opted-in instances', () => {
    // Prepare
    const input = facts({
      decisions: [NO_OPTED_IN],
      instances: [instance(MATT, 'warehouse', { optedIn: false })],
    })

    // Act
    const text = renderPlanText(buildPlanReport(input))

    // Assess
    expect(text).toMatch(/^warehouse: no lock, none needed$/m)
    expect(text).toMatch(new RegExp(`^ {2}unprotected {2}${MATT} {2}not opted in$`, 'm'))
  })
})

describe('the plan of an instance whose tag nearly opts it in', () => {
  it('names the tag it carries and the one the lock expects', () => {
    // Prepare
    const hint = 'tag credential-lock=Enabled; the lock tag value is "enabled"'
    const input = facts({
      decisions: [NO_OPTED_IN],
      instances: [instance(MATT, 'warehouse', { optedIn: false, optInNearMiss: hint })],
    })

    // Act
    const [role] = buildPlanReport(input).roles

    // Assess
    expect(role?.unprotected).toEqual([{ instanceId: MATT, reason: `not opted in: ${hint}` }])
  })
})
