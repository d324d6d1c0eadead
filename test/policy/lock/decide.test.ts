/**
 * The decision as a whole (policy/lock/decide.ts): documents byte-identical for the same facts in any order,
 * removed when nothing needs a lock, named after their region, and an instance of unknown egress skipped with
 * its reason rather than refused anything.
 */
import { describe, expect, it } from 'vitest'
import { lockPolicyName } from '../../../policy/lock/index.js'
import {
  carried,
  credentials,
  decide,
  expectVerdicts,
  LIVE,
  outcomesOf,
  put,
  ROLE,
  WEB,
  WORKER,
  worker,
} from '../../support/lock-fleet.js'
import { ALLOWED, ATTACKER_V4 } from '../../support/lock-scene.js'
import { fromPublicIp } from '../../support/simulate.js'

describe('the documents decided: stable in any order, removed when empty, named by region', () => {
  it('are byte-identical for the same facts in any order', () => {
    // Prepare
    const shuffled = [...LIVE].reverse().map((facts) => ({
      ...facts,
      privateIps: [...facts.privateIps].reverse(),
      egressIps: facts.egressIps === 'unknown' ? facts.egressIps : [...facts.egressIps].reverse(),
    }))

    // Act
    const a = put(decide({ instances: LIVE }))
    const b = put(decide({ instances: shuffled }))

    // Assess
    expect(b.documents).toEqual(a.documents)
  })

  it('are removed when no instance needs a lock any more', () => {
    // Prepare
    const current = carried(put(decide({ instances: [WEB.facts] })))

    // Act
    const decision = decide({ instances: [{ ...WEB.facts, optedIn: false }], current })

    // Assess
    expect(decision).toEqual({
      roleName: ROLE,
      action: 'remove',
      instances: [{ instanceId: WEB.facts.instanceId, outcome: 'released', reason: 'not opted in' }],
      functions: [],
    })
  })

  it('skip an instance whose egress is unknown, with the reason, without refusing it anything', async () => {
    // Prepare
    const spoke = worker(50, {
      egressIps: 'unknown',
      egressUnknownReason: 'its default route leads to transit gateway tgw-0123; set knownEgress for it',
    })

    // Act
    const decision = put(decide({ instances: [spoke.facts, WORKER.facts] }))

    // Assess
    expect(outcomesOf(decision, spoke.facts.instanceId)).toEqual([
      {
        instanceId: spoke.facts.instanceId,
        outcome: 'skipped',
        reason: 'its default route leads to transit gateway tgw-0123; set knownEgress for it',
      },
    ])
    await expectVerdicts(decision, [
      {
        story: 'skipped from anywhere',
        request: fromPublicIp(credentials(spoke), ATTACKER_V4),
        expected: ALLOWED,
      },
    ])
  })

  it('are named after their region', () => {
    expect(lockPolicyName('eu-west-3')).toBe('credential-lock-eu-west-3')
  })
})
