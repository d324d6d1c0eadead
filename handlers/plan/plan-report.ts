import { INLINE_POLICY_BUDGET, type LockForm, MANAGED_POLICY_BUDGET } from '../../policy/lock/index.js'
import { MissingPermissionError } from '../aws/errors.js'
import type { DecisionLine, LockAction } from '../aws/reconciler.js'

/** One instance as the plan's own read-only look-up sees it, beside what the controller decided. */
export interface PlanInstance {
  readonly instanceId: string
  readonly roleName: string | undefined
  /** Pending or running: its credentials are fresh. */
  readonly running: boolean
  /** Carries the opt-in tag. */
  readonly optedIn: boolean
  /**
   * A tag that misses the opt-in tag only by case or spaces, named for the report.
   * @default none
   */
  readonly optInNearMiss?: string | undefined
  /** Its metadata service answers without a session token (HttpTokens optional, endpoint enabled). */
  readonly imdsV1Allowed: boolean
  /** The EKS cluster its tags say it is a node of. */
  readonly eksClusterName: string | undefined
}

export interface EksCluster {
  readonly clusterName: string
  readonly publicEndpoint: boolean
  readonly publicAccessCidrs: readonly string[]
  /** Roles of its managed node groups. */
  readonly nodeRoleNames: readonly string[]
}

/** Everything the plan read: the controller's own dry-run decisions and the facts around them. */
export interface PlanFacts {
  readonly accountId: string
  readonly region: string
  readonly lockTag: { readonly key: string; readonly value: string }
  readonly everyInstanceOptedIn: boolean
  readonly decisions: readonly DecisionLine[]
  /** Roles the controller could not decide, with its error message. */
  readonly failures: readonly { readonly roleName: string; readonly message: string }[]
  readonly instances: readonly PlanInstance[]
  readonly clusters: readonly EksCluster[]
  /** Characters of each role's other inline policies, which share the budget with the lock. */
  readonly otherInlineChars: ReadonlyMap<string, number>
}

export type RiskKind = 'hidden-egress' | 'imds-v1' | 'public-eks-endpoint' | 'over-budget'

export interface Risk {
  readonly kind: RiskKind
  /** What the plan saw, in one sentence. */
  readonly finding: string
  /** Why it matters and what to do, in one sentence. */
  readonly why: string
  readonly instanceIds: readonly string[]
}

export interface RolePlan {
  readonly roleName: string
  /** What the controller would do; `failed` when it could not decide (see `error`). */
  readonly action: LockAction | 'failed'
  readonly form: LockForm | null
  readonly policyChars: number
  readonly otherInlineChars: number
  readonly budgetChars: number
  readonly locked: readonly {
    readonly instanceId: string
    readonly publicCidrs: readonly string[]
    readonly privateCidrs: readonly string[]
  }[]
  readonly tombstoned: readonly {
    readonly instanceId: string
    readonly since: string
    readonly reason: string
  }[]
  /** Running instances on the role whose credentials stay usable from anywhere, and why. */
  readonly unprotected: readonly { readonly instanceId: string; readonly reason: string }[]
  readonly risks: readonly Risk[]
  readonly error: string | null
}

export interface PlanReport {
  readonly accountId: string
  readonly region: string
  readonly lockTag: { readonly key: string; readonly value: string }
  readonly everyInstanceOptedIn: boolean
  /** Always true: the plan reads, never writes. */
  readonly dryRun: true
  readonly roles: readonly RolePlan[]
  readonly summary: {
    readonly roles: number
    readonly rolesToChange: number
    readonly rolesFailed: number
    readonly instancesLocked: number
    readonly instancesUnprotected: number
    readonly risks: number
  }
}

const WHY: Readonly<Record<RiskKind, string>> = {
  'hidden-egress':
    'The controller cannot see the public address such a route leaves from, so it leaves the instance unlocked ' +
    "rather than lock it out: declare that network's egress addresses (knownEgress) to lock it.",
  'imds-v1':
    "IMDSv1 hands the role's credentials to any server-side request forgery without a session token, the usual " +
    'way they are stolen: require IMDSv2 (HttpTokens=required).',
  'public-eks-endpoint':
    'Stolen node credentials still log in to a public EKS endpoint through a presigned sts:GetCallerIdentity, ' +
    'which no IAM deny can stop: make the endpoint private or narrow its publicAccessCidrs.',
  'over-budget':
    'IAM allows a role 10,240 characters of inline policies in all: beyond them the controller writes managed ' +
    "policies of its own, which count against the role's quota of attached managed policies (10 by default); " +
    'instances that fit nowhere stay unprotected and alarm.',
}

/** Puts each role's decision beside what else the plan saw about that role. Pure. */
export function buildPlanReport(facts: PlanFacts): PlanReport {
  const roleNames = new Set([
    ...facts.decisions.map((d) => d.roleName),
    ...facts.failures.map((f) => f.roleName),
  ])
  const roles = [...roleNames].sort().map((roleName) => planRole(facts, roleName))
  return {
    accountId: facts.accountId,
    region: facts.region,
    lockTag: facts.lockTag,
    everyInstanceOptedIn: facts.everyInstanceOptedIn,
    dryRun: true,
    roles,
    summary: {
      roles: roles.length,
      rolesToChange: roles.filter((r) => r.action === 'put' || r.action === 'remove').length,
      rolesFailed: roles.filter((r) => r.action === 'failed').length,
      instancesLocked: roles.reduce((sum, r) => sum + r.locked.length, 0),
      instancesUnprotected: roles.reduce((sum, r) => sum + r.unprotected.length, 0),
      risks: roles.reduce((sum, r) => sum + r.risks.length, 0),
    },
  }
}

function planRole(facts: PlanFacts, roleName: string): RolePlan {
  const decision = facts.decisions.find((d) => d.roleName === roleName)
  const failure = facts.failures.find((f) => f.roleName === roleName)
  const outcomes = decision?.instances ?? []
  const locked = outcomes.flatMap((o) =>
    o.outcome === 'locked'
      ? [{ instanceId: o.instanceId, publicCidrs: o.publicCidrs, privateCidrs: o.privateCidrs }]
      : [],
  )
  const tombstoned = outcomes.flatMap((o) =>
    o.outcome === 'tombstoned' ? [{ instanceId: o.instanceId, since: o.since, reason: o.reason }] : [],
  )
  const skipped = outcomes.flatMap((o) =>
    o.outcome === 'skipped' ? [{ instanceId: o.instanceId, reason: o.reason }] : [],
  )
  // Left out because the role's policy budget is full: the controller's own reason says what to do.
  const overBudget = outcomes.flatMap((o) =>
    o.outcome === 'unprotected' ? [{ instanceId: o.instanceId, reason: o.reason }] : [],
  )
  const onRole = facts.instances.filter((i) => i.roleName === roleName && i.running)
  const accountedFor = new Set([...locked, ...skipped, ...overBudget].map((i) => i.instanceId))
  const unprotected = [
    ...skipped,
    ...overBudget,
    ...onRole
      .filter((i) => !accountedFor.has(i.instanceId))
      .map((i) => ({ instanceId: i.instanceId, reason: unlockedReason(facts, i, failure) })),
  ].sort((a, b) => a.instanceId.localeCompare(b.instanceId))
  const otherInlineChars = facts.otherInlineChars.get(roleName) ?? 0
  const policyChars = decision?.policyChars ?? 0
  const risks = [
    hiddenEgressRisk(skipped),
    imdsV1Risk(onRole),
    ...eksRisks(facts, roleName, locked.length > 0),
    overBudgetRisk(decision, otherInlineChars, overBudget),
  ].flatMap((risk) => (risk ? [risk] : []))
  return {
    roleName,
    action: failure ? 'failed' : (decision?.action ?? 'unchanged'),
    form: decision?.form ?? null,
    policyChars,
    otherInlineChars,
    budgetChars: INLINE_POLICY_BUDGET + (decision?.managedPolicies ?? 0) * MANAGED_POLICY_BUDGET,
    locked,
    tombstoned,
    unprotected,
    risks,
    error: failure?.message ?? null,
  }
}

function unlockedReason(
  facts: PlanFacts,
  instance: PlanInstance,
  failure: PlanFacts['failures'][number] | undefined,
): string {
  if (failure) return 'its role could not be locked (see the error)'
  if (!instance.optedIn && !facts.everyInstanceOptedIn) {
    return instance.optInNearMiss === undefined ? 'not opted in' : `not opted in: ${instance.optInNearMiss}`
  }
  return 'the controller did not lock it'
}

/** The lock skips an opted-in instance only when it cannot see where its calls leave: each reason names the route. */
function hiddenEgressRisk(skipped: readonly { instanceId: string; reason: string }[]): Risk | undefined {
  if (skipped.length === 0) return undefined
  return {
    kind: 'hidden-egress',
    finding: skipped.map((s) => `${s.instanceId}: ${s.reason}`).join(' '),
    why: WHY['hidden-egress'],
    instanceIds: skipped.map((s) => s.instanceId),
  }
}

function imdsV1Risk(running: readonly PlanInstance[]): Risk | undefined {
  const open = running.filter((i) => i.imdsV1Allowed)
  if (open.length === 0) return undefined
  return {
    kind: 'imds-v1',
    finding: `IMDSv1 is allowed on ${ids(open)}.`,
    why: WHY['imds-v1'],
    instanceIds: open.map((i) => i.instanceId),
  }
}

/** Only a role that would be locked: an unlocked one has no false sense of safety to warn about. */
function eksRisks(facts: PlanFacts, roleName: string, wouldBeLocked: boolean): Risk[] {
  if (!wouldBeLocked) return []
  return facts.clusters.flatMap((cluster) => {
    const nodes = facts.instances.filter(
      (i) => i.roleName === roleName && i.eksClusterName === cluster.clusterName,
    )
    const isNodeRole = cluster.nodeRoleNames.includes(roleName) || nodes.length > 0
    if (!cluster.publicEndpoint || !isNodeRole) return []
    const openTo = cluster.publicAccessCidrs.length > 0 ? cluster.publicAccessCidrs.join(', ') : '0.0.0.0/0'
    return [
      {
        kind: 'public-eks-endpoint' as const,
        finding: `EKS cluster ${cluster.clusterName} uses this role for its nodes and has a public endpoint open to ${openTo}.`,
        why: WHY['public-eks-endpoint'],
        instanceIds: nodes.map((i) => i.instanceId),
      },
    ]
  })
}

function overBudgetRisk(
  decision: DecisionLine | undefined,
  otherInlineChars: number,
  left: readonly { instanceId: string }[],
): Risk | undefined {
  if (decision?.form === undefined && left.length > 0) {
    return {
      kind: 'over-budget',
      finding: `No lock fits beside the role's own policies, so ${ids(left)} ${left.length === 1 ? 'stays' : 'stay'} unlocked.`,
      why: WHY['over-budget'],
      instanceIds: left.map((i) => i.instanceId),
    }
  }
  if (decision === undefined || decision.managedPolicies === 0) return undefined
  const parts =
    decision.managedPolicies === 1 ? '1 managed policy' : `${decision.managedPolicies} managed policies`
  return {
    kind: 'over-budget',
    finding:
      `The lock needs ${count(decision.policyChars)} characters, more than the inline policy holds beside the ` +
      `role's other inline policies (${count(otherInlineChars)}): the controller adds ${parts} of its own.`,
    why: WHY['over-budget'],
    instanceIds: [],
  }
}

function ids(instances: readonly { instanceId: string }[]): string {
  return instances.map((i) => i.instanceId).join(', ')
}

function count(value: number): string {
  return value.toLocaleString('en-US')
}

export function renderPlanJson(report: PlanReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

const LABEL_WIDTH = 12

/** The report as a person reads it: one block per role with something to say, quiet roles on one line. */
export function renderPlanText(report: PlanReport): string {
  const lines = [
    `credential-lock plan for account ${report.accountId} in ${report.region}, ` +
      `opt-in tag ${report.lockTag.key}=${report.lockTag.value}`,
    report.everyInstanceOptedIn
      ? 'What if every instance with an instance profile opted in (--all). Read-only: nothing was written.'
      : 'Read-only: nothing was written.',
  ]
  const quiet: string[] = []
  for (const role of report.roles) {
    if (isQuiet(role)) {
      quiet.push(role.roleName)
      continue
    }
    lines.push('', `${role.roleName}: ${actionText(role)}`)
    for (const locked of role.locked) {
      const endpoints = `through VPC endpoints from ${locked.privateCidrs.join(', ')}`
      const from = locked.publicCidrs.length > 0 ? `from ${locked.publicCidrs.join(', ')}; ` : ''
      lines.push(row('locked', `${locked.instanceId}  ${from}${endpoints}`))
    }
    for (const { instanceId, since, reason } of role.tombstoned) {
      lines.push(row('tombstoned', `${instanceId}  ${reason}, credentials issued before ${since} refused`))
    }
    for (const { instanceId, reason } of role.unprotected)
      lines.push(row('unprotected', `${instanceId}  ${reason}`))
    for (const risk of role.risks) lines.push(row('risk', risk.finding), row('', `Why: ${risk.why}`))
  }
  if (quiet.length > 0)
    lines.push('', `Nothing to write and nothing running unprotected: ${quiet.join(', ')}`)
  const { summary } = report
  lines.push(
    '',
    `${plural(summary.rolesToChange, 'role')} to change, ${plural(summary.instancesLocked, 'instance')} locked, ` +
      `${summary.instancesUnprotected} unprotected, ${plural(summary.risks, 'risk')}` +
      (summary.rolesFailed > 0 ? `, ${plural(summary.rolesFailed, 'role')} failed.` : '.'),
  )
  return `${lines.join('\n')}\n`
}

function isQuiet(role: RolePlan): boolean {
  return (
    role.action === 'unchanged' &&
    role.locked.length + role.tombstoned.length + role.unprotected.length + role.risks.length === 0
  )
}

function actionText(role: RolePlan): string {
  if (role.action === 'failed') return `cannot be locked: ${role.error}`
  if (role.action === 'remove') return 'would remove its lock'
  if (role.form === null) {
    return role.risks.some((risk) => risk.kind === 'over-budget')
      ? 'no lock, none fits'
      : 'no lock, none needed'
  }
  const verb = role.action === 'put' ? `would write the ${role.form} lock` : `keeps its ${role.form} lock`
  const others = role.otherInlineChars > 0 ? ` (other inline policies: ${count(role.otherInlineChars)})` : ''
  return `${verb}, ${count(role.policyChars)} of ${count(role.budgetChars)} characters${others}`
}

function row(label: string, text: string): string {
  return `  ${label.padEnd(LABEL_WIDTH)} ${text}`
}

function plural(value: number, noun: string): string {
  return `${value} ${noun}${value === 1 ? '' : 's'}`
}

/** The one sentence a person reads when the plan cannot run. */
export function explainFailure(error: unknown): string {
  if (error instanceof MissingPermissionError) {
    return (
      `You are not allowed to call ${error.action} on ${error.resource}: ` +
      'run the plan with credentials that can read EC2, IAM and EKS (e.g. the ReadOnlyAccess policy).'
    )
  }
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    return 'No AWS credentials were found: configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID) and run the plan again.'
  }
  if (error instanceof Error && CREDENTIALS_REFUSED.has(error.name)) {
    return `AWS refused the credentials (${error.name}): refresh them and run the plan again.`
  }
  const message = error instanceof Error ? error.message : String(error)
  return /[.!?]$/.test(message) ? message : `${message}.`
}

const CREDENTIALS_REFUSED = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
])
