/**
 * The plan's report (handlers/plan-report.ts) on hand-built facts: what it says about each role, the risks it
 * names, how a person and a script read it, and the one sentence it prints when the plan cannot run. The moto
 * story in plan.test.ts reads the same facts from a simulated account, but Stryker does not run it.
 */
import { describe, expect, it } from 'vitest'
import { MissingPermissionError } from '../handlers/aws/errors.js'
import type { DecisionLine } from '../handlers/aws/reconciler.js'
import {
  buildPlanReport,
  type EksCluster,
  explainFailure,
  type PlanFacts,
  type PlanInstance,
  type PlanReport,
  type RolePlan,
  renderPlanJson,
  renderPlanText,
} from '../handlers/plan/plan-report.js'

const ACCOUNT = '123456789012'
const REGION = 'eu-west-1'
const LUKE = 'i-0a1b2c3d4e5f60001'
const DANNY = 'i-0a1b2c3d4e5f60002'
const MATT = 'i-0a1b2c3d4e5f60003'
const TRISH = 'i-0a1b2c3d4e5f60004'
const JESSICA = 'i-0a1b2c3d4e5f60005'
const TRANSIT_REASON =
  'its traffic to AWS leaves through transit gateway tgw-0a1b2c3d4e5f60001, whose egress address is unknown'
const PEERING_REASON =
  'its traffic to AWS leaves through peering connection pcx-0a1b2c3d4e5f60001, whose egress address is unknown'

type Outcome = DecisionLine['instances'][number]

function facts(overrides: Partial<PlanFacts>): PlanFacts {
  return {
    accountId: ACCOUNT,
    region: REGION,
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

function decision(roleName: string, line: Partial<DecisionLine> = {}): DecisionLine {
  return {
    roleName,
    action: 'put',
    form: 'precise',
    policyChars: 1_234,
    managedPolicies: 0,
    dryRun: true,
    reason: '1 locked',
    eventIds: ['plan'],
    instances: [],
    functions: [],
    ...line,
  }
}

function locked(
  instanceId: string,
  publicCidrs: readonly string[] = ['198.51.100.7/32'],
  privateCidrs: readonly string[] = ['10.0.1.10/32'],
): Outcome {
  return {
    instanceId,
    outcome: 'locked',
    publicCidrs,
    privateCidrs,
    onlyPrimary: true,
    otherVpcIds: [],
  }
}

function skipped(instanceId: string, reason = TRANSIT_REASON): Outcome {
  return { instanceId, outcome: 'skipped', reason }
}

function tombstoned(instanceId: string): Outcome {
  return {
    instanceId,
    outcome: 'tombstoned',
    since: '2026-11-25T11:00:00.000Z',
    issuedBefore: '2026-11-25T11:00:00.000Z',
    reason: 'stopped',
  }
}

/** A running, opted-in instance on `roleName` that requires IMDSv2 and belongs to no EKS cluster. */
function instance(instanceId: string, roleName: string | undefined, overrides: Partial<PlanInstance> = {}) {
  return {
    instanceId,
    roleName,
    running: true,
    optedIn: true,
    imdsV1Allowed: false,
    eksClusterName: undefined,
    ...overrides,
  } satisfies PlanInstance
}

function cluster(overrides: Partial<EksCluster> = {}): EksCluster {
  return {
    clusterName: 'avengers',
    publicEndpoint: true,
    publicAccessCidrs: [],
    nodeRoleNames: [],
    ...overrides,
  }
}

function roleOf(report: PlanReport, roleName: string): RolePlan {
  const role = report.roles.find((candidate) => candidate.roleName === roleName)
  if (!role) throw new Error(`the plan has no role ${roleName}`)
  return role
}

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
})

describe('the risks the plan names', () => {
  it('names each instance behind a route whose egress is hidden, with the route, and why that matters', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { instances: [skipped(TRISH), skipped(JESSICA, PEERING_REASON)] })],
    })

    // Act
    const { risks } = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(risks).toEqual([
      {
        kind: 'hidden-egress',
        finding: `${TRISH}: ${TRANSIT_REASON} ${JESSICA}: ${PEERING_REASON}`,
        why:
          'The controller cannot see the public address such a route leaves from, so it leaves the instance ' +
          "unlocked rather than lock it out: declare that network's egress addresses (knownEgress) to lock it.",
        instanceIds: [TRISH, JESSICA],
      },
    ])
  })

  it('names the running instances of the role that still answer IMDSv1, and says to require IMDSv2', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { instances: [locked(LUKE), locked(MATT)] })],
      instances: [
        instance(LUKE, 'web', { imdsV1Allowed: true }),
        instance(MATT, 'web', { imdsV1Allowed: true }),
        instance(DANNY, 'web'),
        instance(JESSICA, 'web', { imdsV1Allowed: true, running: false }),
        instance(TRISH, 'batch', { imdsV1Allowed: true }),
      ],
    })

    // Act
    const { risks } = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(risks).toEqual([
      {
        kind: 'imds-v1',
        finding: `IMDSv1 is allowed on ${LUKE}, ${MATT}.`,
        why:
          "IMDSv1 hands the role's credentials to any server-side request forgery without a session token, the " +
          'usual way they are stolen: require IMDSv2 (HttpTokens=required).',
        instanceIds: [LUKE, MATT],
      },
    ])
  })

  it('warns that a locked node role of a public EKS endpoint still logs in to the cluster', () => {
    // Prepare
    const input = facts({
      decisions: [decision('nodes', { instances: [locked(LUKE)] })],
      instances: [
        instance(LUKE, 'nodes', { eksClusterName: 'avengers' }),
        instance(DANNY, 'nodes', { eksClusterName: 'avengers', running: false }),
        instance(MATT, 'nodes', { eksClusterName: 'defenders' }),
        instance(TRISH, 'web', { eksClusterName: 'avengers' }),
      ],
      clusters: [cluster({ publicAccessCidrs: ['203.0.113.0/24', '198.51.100.0/24'] })],
    })

    // Act
    const { risks } = roleOf(buildPlanReport(input), 'nodes')

    // Assess
    expect(risks).toEqual([
      {
        kind: 'public-eks-endpoint',
        finding:
          'EKS cluster avengers uses this role for its nodes and has a public endpoint open to ' +
          '203.0.113.0/24, 198.51.100.0/24.',
        why:
          'Stolen node credentials still log in to a public EKS endpoint through a presigned ' +
          'sts:GetCallerIdentity, which no IAM deny can stop: make the endpoint private or narrow its ' +
          'publicAccessCidrs.',
        instanceIds: [LUKE, DANNY],
      },
    ])
  })

  it('knows a node role from the managed node groups alone, and an endpoint open to all as 0.0.0.0/0', () => {
    // Prepare
    const input = facts({
      decisions: [decision('nodes', { instances: [locked(LUKE)] })],
      instances: [instance(LUKE, 'nodes')],
      clusters: [cluster({ nodeRoleNames: ['builders', 'nodes'] }), cluster({ clusterName: 'defenders' })],
    })

    // Act
    const { risks } = roleOf(buildPlanReport(input), 'nodes')

    // Assess
    expect(risks).toEqual([
      expect.objectContaining({
        kind: 'public-eks-endpoint',
        finding:
          'EKS cluster avengers uses this role for its nodes and has a public endpoint open to 0.0.0.0/0.',
        instanceIds: [],
      }),
    ])
  })

  it('says nothing of EKS for a private endpoint, a role that is not a node role, or a role left unlocked', () => {
    // Prepare
    const input = facts({
      decisions: [
        decision('private-nodes', { instances: [locked(LUKE)] }),
        decision('web', { instances: [locked(DANNY)] }),
        decision('unlocked-nodes', { instances: [skipped(TRISH)] }),
      ],
      instances: [
        instance(LUKE, 'private-nodes', { eksClusterName: 'private' }),
        instance(DANNY, 'web'),
        instance(TRISH, 'unlocked-nodes', { eksClusterName: 'avengers' }),
      ],
      clusters: [
        cluster({ nodeRoleNames: ['unlocked-nodes'] }),
        cluster({ clusterName: 'private', publicEndpoint: false, nodeRoleNames: ['private-nodes'] }),
      ],
    })

    // Act
    const report = buildPlanReport(input)

    // Assess
    const kinds = report.roles.map((role) => [role.roleName, role.risks.map((risk) => risk.kind)])
    expect(kinds).toEqual([
      ['private-nodes', []],
      ['unlocked-nodes', ['hidden-egress']],
      ['web', []],
    ])
  })

  it('says when the lock spills into managed policies of its own, counted in its budget', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { policyChars: 21_500, managedPolicies: 2, instances: [locked(LUKE)] })],
      otherInlineChars: new Map([['web', 1_500]]),
    })

    // Act
    const role = roleOf(buildPlanReport(input), 'web')

    // Assess
    expect(role.budgetChars).toBe(10_240 + 2 * 6_144)
    expect(role.risks).toEqual([
      {
        kind: 'over-budget',
        finding:
          "The lock needs 21,500 characters, more than the inline policy holds beside the role's other inline " +
          'policies (1,500): the controller adds 2 managed policies of its own.',
        why:
          'IAM allows a role 10,240 characters of inline policies in all: beyond them the controller writes ' +
          "managed policies of its own, which count against the role's quota of attached managed policies " +
          '(10 by default); instances that fit nowhere stay unprotected and alarm.',
        instanceIds: [],
      },
    ])
  })

  it('says "1 managed policy" when the lock spills into one', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { policyChars: 12_000, managedPolicies: 1, instances: [locked(LUKE)] })],
    })

    // Act
    const [risk] = roleOf(buildPlanReport(input), 'web').risks

    // Assess
    expect(risk?.finding).toBe(
      "The lock needs 12,000 characters, more than the inline policy holds beside the role's other inline " +
        'policies (0): the controller adds 1 managed policy of its own.',
    )
  })

  it('lists the risks of one role in a fixed order: egress, IMDSv1, EKS, budget', () => {
    // Prepare
    const input = facts({
      decisions: [
        decision('nodes', {
          managedPolicies: 1,
          policyChars: 12_000,
          instances: [locked(LUKE), skipped(TRISH)],
        }),
      ],
      instances: [
        instance(LUKE, 'nodes', { imdsV1Allowed: true, eksClusterName: 'avengers' }),
        instance(TRISH, 'nodes'),
      ],
      clusters: [cluster()],
    })

    // Act
    const report = buildPlanReport(input)

    // Assess
    expect(roleOf(report, 'nodes').risks.map((risk) => risk.kind)).toEqual([
      'hidden-egress',
      'imds-v1',
      'public-eks-endpoint',
      'over-budget',
    ])
    expect(report.summary.risks).toBe(4)
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

describe('the report as text', () => {
  const lines = (text: string) => text.split('\n')

  it('opens with the account, region and opt-in tag, and says nothing was written', () => {
    // Prepare
    const report = buildPlanReport(facts({}))

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text).slice(0, 2)).toEqual([
      `credential-lock plan for account ${ACCOUNT} in ${REGION}, opt-in tag credential-lock=enabled`,
      'Read-only: nothing was written.',
    ])
  })

  it('with --all, says it answers what if every instance with an instance profile opted in', () => {
    // Prepare
    const report = buildPlanReport(facts({ everyInstanceOptedIn: true }))

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text)[1]).toBe(
      'What if every instance with an instance profile opted in (--all). Read-only: nothing was written.',
    )
  })

  it('shows one block per role: the action, locked, tombstoned and unprotected instances, risks and why', () => {
    // Prepare
    const report = buildPlanReport(
      facts({
        decisions: [
          decision('web', {
            policyChars: 12_345,
            managedPolicies: 1,
            instances: [locked(LUKE), locked(DANNY, []), tombstoned(JESSICA), skipped(TRISH)],
          }),
        ],
        otherInlineChars: new Map([['web', 2_048]]),
      }),
    )

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text).slice(2, 11)).toEqual([
      '',
      'web: would write the precise lock, 12,345 of 16,384 characters (other inline policies: 2,048)',
      `  locked       ${LUKE}  from 198.51.100.7/32; through VPC endpoints from 10.0.1.10/32`,
      `  locked       ${DANNY}  through VPC endpoints from 10.0.1.10/32`,
      `  tombstoned   ${JESSICA}  stopped, credentials issued before 2026-11-25T11:00:00.000Z refused`,
      `  unprotected  ${TRISH}  ${TRANSIT_REASON}`,
      `  risk         ${TRISH}: ${TRANSIT_REASON}`,
      `               Why: ${report.roles[0]?.risks[0]?.why}`,
      `  risk         ${report.roles[0]?.risks[1]?.finding}`,
    ])
  })

  it('joins several addresses of one locked instance with commas', () => {
    // Prepare
    const twoAddresses = locked(LUKE, ['198.51.100.7/32', '203.0.113.9/32'], ['10.0.1.10/32', '10.0.2.10/32'])
    const report = buildPlanReport(facts({ decisions: [decision('web', { instances: [twoAddresses] })] }))

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(text).toContain(
      `  locked       ${LUKE}  from 198.51.100.7/32, 203.0.113.9/32; through VPC endpoints from 10.0.1.10/32, 10.0.2.10/32\n`,
    )
  })

  it.each<[string, Partial<DecisionLine>, string]>([
    [
      'keeps',
      { action: 'unchanged', form: 'compact' },
      'web: keeps its compact lock, 1,234 of 10,240 characters',
    ],
    ['removes', { action: 'remove', form: undefined }, 'web: would remove its lock'],
    ['needs none', { action: 'unchanged', form: undefined }, 'web: no lock, none needed'],
  ])('says in words what the controller does with a role it %s', (_, line, heading) => {
    // Prepare: every role here has an instance to show, so none is quiet.
    const report = buildPlanReport(
      facts({
        decisions: [decision('web', line)],
        instances: [instance(MATT, 'web', { optedIn: false })],
      }),
    )

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text)[3]).toBe(heading)
  })

  it('says why a role cannot be locked', () => {
    // Prepare
    const report = buildPlanReport(
      facts({ failures: [{ roleName: 'batch', message: 'IAM refused the read.' }] }),
    )

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text)[3]).toBe('batch: cannot be locked: IAM refused the read.')
    expect(text).toContain(
      '\n0 roles to change, 0 instances locked, 0 unprotected, 0 risks, 1 role failed.\n',
    )
  })

  it('puts the roles with nothing to write and nothing unprotected on one line, after the others', () => {
    // Prepare
    const quiet = { action: 'unchanged', form: undefined, policyChars: 0, instances: [] } as const
    const report = buildPlanReport(
      facts({
        decisions: [
          decision('web', { instances: [locked(LUKE)] }),
          decision('ci', quiet),
          decision('build', quiet),
        ],
      }),
    )

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text).slice(2)).toEqual([
      '',
      'web: would write the precise lock, 1,234 of 10,240 characters',
      `  locked       ${LUKE}  from 198.51.100.7/32; through VPC endpoints from 10.0.1.10/32`,
      '',
      'Nothing to write and nothing running unprotected: build, ci',
      '',
      '1 role to change, 1 instance locked, 0 unprotected, 0 risks.',
      '',
    ])
  })

  it.each<[string, Partial<DecisionLine>, readonly PlanInstance[]]>([
    ['it would remove its lock', { action: 'remove', form: undefined, instances: [] }, []],
    ['it keeps a lock on a running instance', { action: 'unchanged', instances: [locked(LUKE)] }, []],
    ['it carries a tombstone', { action: 'unchanged', instances: [tombstoned(JESSICA)] }, []],
    ['an instance on it is unprotected', { action: 'unchanged', form: undefined }, [instance(MATT, 'web')]],
    ['its lock spills into a managed policy', { action: 'unchanged', managedPolicies: 1 }, []],
    [
      'it keeps one lock and one tombstone',
      { action: 'unchanged', instances: [locked(LUKE), tombstoned(JESSICA)] },
      [],
    ],
    [
      'it keeps one lock and leaves one instance unprotected',
      { action: 'unchanged', instances: [locked(LUKE)] },
      [instance(MATT, 'web', { optedIn: false })],
    ],
    [
      'it keeps one lock and has one risk',
      { action: 'unchanged', managedPolicies: 1, instances: [locked(LUKE)] },
      [],
    ],
  ])('gives a role its own block when %s', (_, line, instances) => {
    // Prepare
    const report = buildPlanReport(facts({ decisions: [decision('web', line)], instances }))

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text)[3]).toMatch(/^web: /)
    expect(text).not.toContain('Nothing to write')
  })

  it('counts in the closing line with singular and plural nouns', () => {
    // Prepare
    const report = buildPlanReport(
      facts({
        decisions: [
          decision('web', { instances: [locked(LUKE), locked(DANNY), skipped(TRISH)] }),
          decision('batch', { action: 'remove', form: undefined, instances: [] }),
        ],
        failures: [
          { roleName: 'analytics', message: 'IAM refused the read.' },
          { roleName: 'ml', message: 'IAM refused the read.' },
        ],
        instances: [instance(MATT, 'web', { optedIn: false })],
      }),
    )

    // Act
    const text = renderPlanText(report)

    // Assess
    expect(lines(text).at(-2)).toBe(
      '2 roles to change, 2 instances locked, 2 unprotected, 1 risk, 2 roles failed.',
    )
    expect(text.endsWith('.\n')).toBe(true)
  })
})

describe('the one sentence printed when the plan cannot run', () => {
  it('names the permission the caller lacks and the credentials that have it', () => {
    // Prepare
    const error = new MissingPermissionError('ec2:DescribeInstances', '*', {
      cause: new Error('AccessDenied'),
    })

    // Act
    const sentence = explainFailure(error)

    // Assess
    expect(sentence).toBe(
      'You are not allowed to call ec2:DescribeInstances on *: run the plan with credentials that can read ' +
        'EC2, IAM and EKS (e.g. the ReadOnlyAccess policy).',
    )
  })

  it('says how to configure credentials when the SDK found none', () => {
    // Prepare
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    })

    // Act
    const sentence = explainFailure(error)

    // Assess
    expect(sentence).toBe(
      'No AWS credentials were found: configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID) and run ' +
        'the plan again.',
    )
  })

  it.each([
    'ExpiredToken',
    'ExpiredTokenException',
    'InvalidClientTokenId',
    'UnrecognizedClientException',
    'SignatureDoesNotMatch',
  ])('says to refresh credentials AWS refused with %s', (name) => {
    // Prepare
    const error = Object.assign(new Error('The security token included in the request is invalid.'), { name })

    // Act
    const sentence = explainFailure(error)

    // Assess
    expect(sentence).toBe(`AWS refused the credentials (${name}): refresh them and run the plan again.`)
  })

  it.each([
    [
      'ends a message without a full stop with one',
      'Throttling: Rate exceeded',
      'Throttling: Rate exceeded.',
    ],
    ['keeps a full stop inside the message', 'Role v1.2 is unknown', 'Role v1.2 is unknown.'],
    ['keeps the full stop that ends it', 'AWS_REGION is not set.', 'AWS_REGION is not set.'],
    ['keeps an exclamation mark that ends it', 'Unexpected end of input!', 'Unexpected end of input!'],
    ['keeps a question mark that ends it', 'Is the endpoint up?', 'Is the endpoint up?'],
  ])('gives any other error its own message: %s', (_, message, sentence) => {
    // Act
    const explained = explainFailure(new Error(message))

    // Assess
    expect(explained).toBe(sentence)
  })

  it('prints a thrown value that is not an Error as it is', () => {
    // Act
    const explained = [explainFailure('socket hang up'), explainFailure(null)]

    // Assess
    expect(explained).toEqual(['socket hang up.', 'null.'])
  })
})
