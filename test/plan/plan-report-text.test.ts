/**
 * The plan's report (handlers/plan/plan-report.ts) as a person reads it, on hand-built facts: the text with one
 * block per role, and the one sentence printed when the plan cannot run.
 */
import { describe, expect, it } from 'vitest'
import { MissingPermissionError } from '../../handlers/aws/errors.js'
import type { DecisionLine } from '../../handlers/aws/reconciler.js'
import {
  buildPlanReport,
  explainFailure,
  type PlanInstance,
  renderPlanText,
} from '../../handlers/plan/plan-report.js'
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
  skipped,
  TRANSIT_REASON,
  TRISH,
  tombstoned,
} from '../support/plan-facts.js'

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

  it('lists roles with nothing to write and nothing unprotected on one line', () => {
    // Prepare
    const quiet = { action: 'unchanged', form: undefined, policyChars: 0, instances: [] } as const
    const input = facts({ decisions: [decision('ci', quiet), decision('build', quiet)] })

    // Act
    const text = renderPlanText(buildPlanReport(input))

    // Assess
    expect(text).toContain('\nNothing to write and nothing running unprotected: build, ci\n')
    expect(text).not.toContain('build:')
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

  it('explains a missing permission in one sentence naming the action', () => {
    // Prepare
    const error = new MissingPermissionError('eks:ListClusters', '*', { cause: new Error('AccessDenied') })

    // Act
    const sentence = explainFailure(error)

    // Assess
    expect(sentence).toBe(
      'You are not allowed to call eks:ListClusters on *: run the plan with credentials that can read ' +
        'EC2, IAM and EKS (e.g. the ReadOnlyAccess policy).',
    )
  })
})
