/**
 * The risks the plan's report (handlers/plan/plan-report.ts) names for each role, on hand-built facts: an egress
 * hidden behind a route, IMDSv1, a public EKS endpoint, a lock that spills into managed policies; each with the
 * instances it concerns and why it matters, in a fixed order.
 */
import { describe, expect, it } from 'vitest'
import { buildPlanReport } from '../../handlers/plan/plan-report.js'
import {
  cluster,
  DANNY,
  decision,
  facts,
  instance,
  JESSICA,
  LUKE,
  locked,
  MATT,
  PEERING_REASON,
  roleOf,
  skipped,
  TRANSIT_REASON,
  TRISH,
} from '../support/plan-facts.js'

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

  it('says when the lock spills into managed policies of its own, and counts them in the budget', () => {
    // Prepare
    const input = facts({
      decisions: [decision('web', { policyChars: 12_000, managedPolicies: 1, instances: [locked(LUKE)] })],
      otherInlineChars: new Map([['web', 2_000]]),
    })

    // Act
    const [role] = buildPlanReport(input).roles

    // Assess
    expect(role?.budgetChars).toBe(10_240 + 6_144)
    expect(role?.risks).toEqual([
      expect.objectContaining({
        kind: 'over-budget',
        finding:
          "The lock needs 12,000 characters, more than the inline policy holds beside the role's other inline " +
          'policies (2,000): the controller adds 1 managed policy of its own.',
      }),
    ])
  })
})
