/**
 * Stable managed parts: every instance (or function) keeps the document it is in while it lives, so a launch or a
 * termination in a large fleet rewrites at most the document it lands in, the inline policy and, only when that
 * is full, one more. Proven with IAM verdicts on the documents, and by counting the writes each change costs.
 */
import { describe, expect, it } from 'vitest'
import {
  type FunctionFacts,
  type InstanceFacts,
  lockPolicyName,
  readLock,
  readPlacement,
} from '../../../policy/lock/index.js'
import {
  decideFleet,
  documentsOf,
  evenFleet,
  FLEET_NAT,
  FLEET_ROLE,
  type FleetDecision,
  worker,
  writesBetween,
} from '../../support/fleet-churn.js'
import {
  ACCOUNT,
  ALLOWED,
  APP_VPC,
  ATTACKER_V4,
  at,
  DENIED,
  HOUR,
  instanceCredentials,
  REGION,
  RETENTION,
} from '../../support/lock-scene.js'
import {
  ALLOW_ALL,
  type FunctionCredentials,
  fromPublicIp,
  type RolePolicy,
  verdict,
} from '../../support/simulate.js'

const ROLE = FLEET_ROLE
const NAT = FLEET_NAT
const decide = (
  instances: readonly InstanceFacts[],
  documents: readonly string[],
  options: FleetDecision = {},
) => decideFleet(instances, documents, options)

function policies(documents: readonly string[]): RolePolicy[] {
  return [
    ALLOW_ALL,
    ...documents.map((document, index) => ({
      name: index === 0 ? lockPolicyName(REGION) : `${ROLE}-${index}`,
      document,
    })),
  ]
}

const credentials = (instance: InstanceFacts) => instanceCredentials(ROLE, instance)

describe('a launch in a 1,000-worker fleet spread over managed parts', () => {
  it('rewrites at most its own part and the inline policy, and locks the new worker', async () => {
    // Prepare
    const fleet = evenFleet(1_000)
    const before = documentsOf(decide(fleet, []))
    const launched = worker(1_001)

    // Act
    const after = documentsOf(decide([...fleet, launched], before))

    // Assess
    expect(before.length).toBeGreaterThan(5)
    expect(after.length).toBe(before.length)
    expect(writesBetween(before, after)).toBeLessThanOrEqual(4)
    expect(readLock(after).locked.size).toBe(1_001)
    const role = policies(after)
    expect(await verdict(role, fromPublicIp(credentials(launched), NAT))).toBe(ALLOWED)
    expect(await verdict(role, fromPublicIp(credentials(launched), ATTACKER_V4))).toBe(DENIED)
    for (const other of [fleet[0], fleet[499], fleet[999]] as InstanceFacts[]) {
      expect(await verdict(role, fromPublicIp(credentials(other), NAT))).toBe(ALLOWED)
      expect(await verdict(role, fromPublicIp(credentials(other), ATTACKER_V4))).toBe(DENIED)
    }
  })
})

describe('a worker whose addresses grew in a full part', () => {
  it('is locked to its new address wherever it now fits, never left with its old one', async () => {
    // Prepare: a worker in the middle of the fleet gets an Elastic IP of its own.
    const fleet = evenFleet(1_000)
    const before = documentsOf(decide(fleet, []))
    const moved = { ...(fleet[500] as InstanceFacts), publicIps: ['192.0.2.45'] }

    // Act
    const after = documentsOf(
      decide(
        fleet.map((each, n) => (n === 500 ? moved : each)),
        before,
      ),
    )

    // Assess
    expect(writesBetween(before, after)).toBeLessThanOrEqual(4)
    const role = policies(after)
    expect(await verdict(role, fromPublicIp(credentials(moved), '192.0.2.45'))).toBe(ALLOWED)
    expect(await verdict(role, fromPublicIp(credentials(moved), NAT))).toBe(ALLOWED)
    expect(await verdict(role, fromPublicIp(credentials(moved), ATTACKER_V4))).toBe(DENIED)
  })
})

describe('a termination in a 1,000-worker fleet spread over managed parts', () => {
  it('rewrites at most its own part and one more for its tombstone, and refuses its credentials everywhere', async () => {
    // Prepare
    const fleet = evenFleet(1_000)
    const before = documentsOf(decide(fleet, []))
    const gone = fleet[500] as InstanceFacts

    // Act
    const after = documentsOf(
      decide(
        fleet.map((each) => (each === gone ? worker(1_002, 'terminated') : each)),
        before,
        { now: at(HOUR) },
      ),
    )

    // Assess
    expect(writesBetween(before, after)).toBeLessThanOrEqual(4)
    expect(readLock(after).tombstones.has(gone.instanceId)).toBe(true)
    const role = policies(after)
    expect(await verdict(role, fromPublicIp(credentials(gone), NAT))).toBe(DENIED)
    for (const other of [fleet[0], fleet[499], fleet[501], fleet[999]] as InstanceFacts[]) {
      expect(await verdict(role, fromPublicIp(credentials(other), NAT))).toBe(ALLOWED)
    }
  })

  it('keeps every worker in its part through launches and terminations until packing afresh saves a document', () => {
    // Prepare
    const fleet = evenFleet(600)
    const before = documentsOf(decide(fleet, []))
    const placedBefore = readPlacement(before)

    // Act: a tenth of the fleet goes, a few new workers come: no part is saved yet.
    const churned = [...fleet.filter((_, n) => n % 10 !== 3), worker(3), worker(601), worker(1_001)]
    const after = documentsOf(decide(churned, before))

    // Assess
    const placedAfter = readPlacement(after)
    const stayed = [...placedBefore].filter(([unit]) => placedAfter.has(unit))
    expect(stayed.length).toBeGreaterThan(0)
    for (const [unit, index] of stayed) expect(placedAfter.get(unit)).toBe(index)
  })

  it('packs afresh when that saves a whole document', () => {
    // Prepare: half the fleet gone, its tombstones written and then expired.
    const fleet = evenFleet(1_000)
    const before = documentsOf(decide(fleet, []))
    const half = fleet.filter((_, n) => n % 2 === 0)
    const tombstoned = documentsOf(decide(half, before))

    // Act
    const after = documentsOf(decide(half, tombstoned, { now: at(RETENTION + HOUR) }))

    // Assess: packing afresh needs fewer documents than keeping every worker where it was.
    expect(readLock(after).locked.size).toBe(500)
    expect(after.length).toBe(documentsOf(decide(half, [])).length)
    expect(after.length).toBeLessThan(before.length)
  })
})

describe('a part left empty', () => {
  it('is filled with the last part instead of renumbering every part after it', () => {
    // Prepare: a fleet whose parts are all nearly full (packing afresh would save nothing but part 2).
    const unitsIn = (documents: readonly string[], part: number) =>
      new Set(
        [...readPlacement(documents)].flatMap(([key, index]) =>
          index === part ? [key.slice(0, key.indexOf('#'))] : [],
        ),
      ).size
    const sized = evenFleet(1_200)
    const sizing = documentsOf(decide(sized, []))
    const fleet = sized.slice(0, sized.length - unitsIn(sizing, sizing.length - 1) + unitsIn(sizing, 3) - 3)
    const before = documentsOf(decide(fleet, []))
    const inPartTwo = new Set(
      [...readPlacement(before)].flatMap(([key, index]) =>
        index === 2 ? [key.slice('instance:'.length, key.indexOf('#'))] : [],
      ),
    )

    // Act: every worker of part 2 loses its opt-in tag (released: no tombstone).
    const after = documentsOf(
      decide(
        fleet.map((each) => (inPartTwo.has(each.instanceId) ? { ...each, optedIn: false } : each)),
        before,
      ),
    )

    // Assess
    expect(after.length).toBe(before.length - 1)
    expect(after[2]).toBe(before.at(-1))
    // Part 1 changes only when a worker of part 2 began at its end.
    expect(after[0]).toBe(before[0])
    expect(after.slice(3)).toEqual(before.slice(3, -1))
    expect(readLock(after).locked.size).toBe(fleet.length - inPartTwo.size)
  })
})

describe('functions on a role with a small budget', () => {
  const fn = (n: number): FunctionFacts => ({
    functionName: `worker-${String(n).padStart(2, '0')}`,
    roleName: ROLE,
    optedIn: true,
    vpcId: APP_VPC,
    egressIps: [`198.51.100.${n}`],
    subnetCidrs: [`10.1.${n}.0/24`],
  })
  const functionCredentials = (facts: FunctionFacts): FunctionCredentials => ({
    accountId: ACCOUNT,
    region: REGION,
    roleName: ROLE,
    functionName: facts.functionName,
  })

  it('locks as many as fit and leaves the others unprotected with a reason, never failing the role', async () => {
    // Prepare
    const functions = Array.from({ length: 50 }, (_, n) => fn(n + 1))
    const budget = { otherInlineChars: 4_000, managedPolicies: 0 }

    // Act
    const decision = decide([], [], { functions, budget })

    // Assess
    const locked = decision.functions.filter((outcome) => outcome.outcome === 'locked')
    const unprotected = decision.functions.filter((outcome) => outcome.outcome === 'unprotected')
    expect(decision.action).toBe('put')
    expect(locked.length).toBeGreaterThan(0)
    expect(unprotected.length).toBe(50 - locked.length)
    expect(unprotected[0]).toMatchObject({
      reason: expect.stringMatching(
        /budget holds only 0 locked instances and \d+ locked functions: move some/,
      ),
    })
    const role = policies(documentsOf(decision))
    const first = functions[0] as FunctionFacts
    const last = functions[49] as FunctionFacts
    expect(await verdict(role, fromPublicIp(functionCredentials(first), ATTACKER_V4))).toBe(DENIED)
    expect(await verdict(role, fromPublicIp(functionCredentials(first), '198.51.100.1'))).toBe(ALLOWED)
    expect(await verdict(role, fromPublicIp(functionCredentials(last), ATTACKER_V4))).toBe(ALLOWED)
  })
})
