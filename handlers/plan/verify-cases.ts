/**
 * What `plan --verify` asks IAM's policy simulator about one locked role, and how it reads the answers. Pure: the
 * requests are built from what the account says, the answers are judged against what the lock intends.
 */
import type { ContextEntry, EvaluationResult, SimulatePrincipalPolicyCommandInput } from '@aws-sdk/client-iam'
import type { TombstoneEntry } from '../../policy/lock/index.js'

/** The harmless call every case asks about: the lock refuses it like any other; it takes only `*`. */
export const PROBE_ACTION = 'ec2:DescribeRegions'
/**
 * Added to the simulation so the verdict turns on the deny statements alone: without it a role that never
 * needed the probe action would be "implicitly denied" everywhere and no deny could be seen.
 */
export const NEUTRAL_ALLOW = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: PROBE_ACTION, Resource: '*' }],
})
/** A documentation address (TEST-NET-2, RFC 5737): never an instance's, a NAT's or a company's. */
export const OUTSIDE_ADDRESS = '198.51.100.23'
/** How many instances and tombstones of each role are asked about. */
export const SAMPLE_SIZE = 3
/** A policy variable with a default value, `${aws:VpcSourceIp, 'absent'}`: IAM's syntax, see judge(). */
const DEFAULTED_VARIABLE = /\$\{[^}]*,\s*'[^']*'\s*\}/

export interface VerifiedInstance {
  readonly instanceId: string
  readonly vpcId: string | undefined
  readonly primaryPrivateIpv4: string | undefined
  /** Its own public IPv4 addresses. */
  readonly publicIpv4s: readonly string[]
}

/** One policy of the role as IAM stores it: the simulator names it by `policyId` in its matched statements. */
export interface LockDocument {
  readonly policyId: string
  readonly document: string
}

export interface LockedRole {
  readonly roleName: string
  readonly roleArn: string
  readonly form: 'precise' | 'compact'
  /** The controller's own policies on the role (inline and managed parts). */
  readonly documents: readonly LockDocument[]
  /** The instances its lock names, as EC2 describes them now. */
  readonly instances: readonly VerifiedInstance[]
  readonly tombstones: ReadonlyMap<string, TombstoneEntry>
}

export type CasePath =
  | 'own public address'
  | 'own VPC endpoint'
  | 'outside address'
  | "sibling's address"
  | 'tombstoned credentials'

export interface VerifyCase {
  readonly roleName: string
  readonly instanceId: string
  readonly path: CasePath
  /** What the lock intends: the call allowed (not refused by the lock) or refused by an explicit deny. */
  readonly expected: 'allowed' | 'refused'
  /** Where the call comes from, for the table. */
  readonly from: string
  readonly request: SimulatePrincipalPolicyCommandInput
}

export type Judgement = 'as intended' | 'NOT AS INTENDED' | 'cannot judge'

export interface VerifyRow extends Omit<VerifyCase, 'request'> {
  readonly decision: string
  readonly judgement: Judgement
  readonly note: string | undefined
}

interface Scope {
  readonly partition: string
  readonly accountId: string
  readonly region: string
}

/** Every case of one role: for a sample of its instances and tombstones, each path the lock has a view on. */
export function casesFor(role: LockedRole, scope: Scope, now: Date): VerifyCase[] {
  const sample = [...role.instances]
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
    .slice(0, SAMPLE_SIZE)
  const cases = sample.flatMap((instance) => instanceCases(role, instance, scope, now))
  const tombstoned = [...role.tombstones.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, SAMPLE_SIZE)
  for (const [instanceId, entry] of tombstoned) cases.push(tombstoneCase(role, instanceId, entry, scope))
  return cases
}

function instanceCases(role: LockedRole, instance: VerifiedInstance, scope: Scope, now: Date): VerifyCase[] {
  const session = sessionKeys(scope, instance, now)
  const make = (path: CasePath, expected: VerifyCase['expected'], from: string, pathKeys: ContextEntry[]) =>
    caseOf(role, instance.instanceId, path, expected, from, [...session, ...pathKeys])
  const cases: VerifyCase[] = []
  const ownPublic = instance.publicIpv4s[0]
  if (ownPublic !== undefined) {
    cases.push(make('own public address', 'allowed', ownPublic, [ip('aws:SourceIp', ownPublic)]))
  }
  if (instance.vpcId !== undefined && instance.primaryPrivateIpv4 !== undefined) {
    cases.push(
      make('own VPC endpoint', 'allowed', `${instance.primaryPrivateIpv4} in ${instance.vpcId}`, [
        text('aws:SourceVpc', instance.vpcId),
        text('aws:SourceVpce', 'vpce-0000000000000000v'),
        ip('aws:VpcSourceIp', instance.primaryPrivateIpv4),
      ]),
    )
  }
  cases.push(make('outside address', 'refused', OUTSIDE_ADDRESS, [ip('aws:SourceIp', OUTSIDE_ADDRESS)]))
  // Compact locks let every instance of the role use the role's addresses: only the precise form tells siblings apart.
  const sibling =
    role.form === 'precise'
      ? role.instances
          .flatMap((other) => other.publicIpv4s)
          .find((address) => !instance.publicIpv4s.includes(address))
      : undefined
  if (sibling !== undefined) {
    cases.push(make("sibling's address", 'refused', sibling, [ip('aws:SourceIp', sibling)]))
  }
  return cases
}

/**
 * Credentials issued before the tombstone, used from the instance's own address when it still has one (so that
 * only the tombstone can refuse them), else from outside.
 */
function tombstoneCase(
  role: LockedRole,
  instanceId: string,
  entry: TombstoneEntry,
  scope: Scope,
): VerifyCase {
  const issuedAt = new Date((entry.issuedBefore ?? entry.since).getTime() - 60_000)
  const running = role.instances.find((instance) => instance.instanceId === instanceId)
  const from = running?.publicIpv4s[0] ?? OUTSIDE_ADDRESS
  const keys = running
    ? sessionKeys(scope, running, issuedAt)
    : [
        text('ec2:SourceInstanceARN', instanceArnOf(scope, instanceId)),
        date('aws:TokenIssueTime', issuedAt),
        ...common(),
      ]
  return caseOf(
    role,
    instanceId,
    'tombstoned credentials',
    'refused',
    `${from}, issued ${issuedAt.toISOString()}`,
    [...keys, ip('aws:SourceIp', from)],
  )
}

function caseOf(
  role: LockedRole,
  instanceId: string,
  path: CasePath,
  expected: VerifyCase['expected'],
  from: string,
  contextEntries: ContextEntry[],
): VerifyCase {
  return {
    roleName: role.roleName,
    instanceId,
    path,
    expected,
    from,
    request: {
      PolicySourceArn: role.roleArn,
      ActionNames: [PROBE_ACTION],
      ResourceArns: ['*'],
      PolicyInputList: [NEUTRAL_ALLOW],
      ContextEntries: contextEntries,
    },
  }
}

/** The keys every call signed with this instance's role credentials carries, wherever it is made from. */
function sessionKeys(scope: Scope, instance: VerifiedInstance, issuedAt: Date): ContextEntry[] {
  return [
    text('ec2:SourceInstanceARN', instanceArnOf(scope, instance.instanceId)),
    ...(instance.vpcId === undefined ? [] : [text('aws:EC2InstanceSourceVPC', instance.vpcId)]),
    ...(instance.primaryPrivateIpv4 === undefined
      ? []
      : [ip('aws:EC2InstanceSourcePrivateIPv4', instance.primaryPrivateIpv4)]),
    date('aws:TokenIssueTime', issuedAt),
    ...common(),
  ]
}

/** Called by the instance itself, with credentials IMDSv2 delivered. */
function common(): ContextEntry[] {
  return [
    { ContextKeyName: 'aws:ViaAWSService', ContextKeyType: 'boolean', ContextKeyValues: ['false'] },
    { ContextKeyName: 'ec2:RoleDelivery', ContextKeyType: 'numeric', ContextKeyValues: ['2.0'] },
  ]
}

function instanceArnOf(scope: Scope, instanceId: string): string {
  return `arn:${scope.partition}:ec2:${scope.region}:${scope.accountId}:instance/${instanceId}`
}

function text(name: string, value: string): ContextEntry {
  return { ContextKeyName: name, ContextKeyType: 'string', ContextKeyValues: [value] }
}

function ip(name: string, value: string): ContextEntry {
  return { ContextKeyName: name, ContextKeyType: 'ip', ContextKeyValues: [value] }
}

function date(name: string, value: Date): ContextEntry {
  return { ContextKeyName: name, ContextKeyType: 'date', ContextKeyValues: [value.toISOString()] }
}

/**
 * Reads the simulator's answer against the lock's intent. AWS documents that the simulator evaluates the role's
 * identity policies with the context entries given, and lists keys it lacked in MissingContextValues; it does not
 * document how it resolves a policy variable with a default (`${aws:VpcSourceIp, 'absent'}`), which the lock uses
 * where a key is absent on one path. Where the deciding statement uses one, or a policy the controller did not
 * write decides, the row says "cannot judge" instead of guessing.
 */
export function judge(
  verifyCase: VerifyCase,
  result: EvaluationResult | undefined,
  role: LockedRole,
): VerifyRow {
  const { request: _request, ...row } = verifyCase
  const decision = result?.EvalDecision ?? 'no answer'
  const at = (judgement: Judgement, note?: string): VerifyRow => ({ ...row, decision, judgement, note })
  const missing = result?.MissingContextValues ?? []
  const ours = ownStatements(result, role)
  if (decision === 'explicitDeny') {
    if (verifyCase.expected === 'refused') return at('as intended')
    if (ours.length === 0) return at('cannot judge', 'refused by a policy the controller did not write')
    const defaulted = ours.flatMap((statement) => DEFAULTED_VARIABLE.exec(statement)?.[0] ?? [])[0]
    return defaulted === undefined
      ? at('NOT AS INTENDED', 'the lock refuses the instance its own path')
      : at(
          'cannot judge',
          `the deciding statement uses ${defaulted}, which the simulator is not documented to resolve`,
        )
  }
  if (decision === 'implicitDeny') {
    return at(
      'cannot judge',
      'refused without a deny statement (a permissions boundary?): the lock is not what decided',
    )
  }
  if (decision !== 'allowed') return at('cannot judge', 'the simulator gave no verdict')
  if (verifyCase.expected === 'allowed') return at('as intended')
  if (missing.length > 0) return at('cannot judge', `the simulator lacked ${missing.join(', ')}`)
  const defaulted = namingStatements(role, verifyCase.instanceId).find((statement) =>
    DEFAULTED_VARIABLE.test(statement),
  )
  if (defaulted !== undefined) {
    return at(
      'cannot judge',
      `its statement uses ${DEFAULTED_VARIABLE.exec(defaulted)?.[0]}, which the simulator is not documented to resolve`,
    )
  }
  return at('NOT AS INTENDED', 'the lock lets these credentials work from there')
}

/** The text of each matched statement that is one of the controller's own, found by the simulator's positions. */
function ownStatements(result: EvaluationResult | undefined, role: LockedRole): string[] {
  return (result?.MatchedStatements ?? []).flatMap((matched) => {
    const own = role.documents.find((each) => each.policyId === matched.SourcePolicyId)
    if (own === undefined) return []
    const start = matched.StartPosition
    const end = matched.EndPosition
    if (
      start?.Line === undefined ||
      start.Column === undefined ||
      end?.Line === undefined ||
      end.Column === undefined
    ) {
      return [own.document]
    }
    const lines = own.document.split('\n')
    const offset = (line: number, column: number) =>
      lines.slice(0, line - 1).reduce((total, each) => total + each.length + 1, 0) + column - 1
    const text = own.document.slice(offset(start.Line, start.Column), offset(end.Line, end.Column) + 1)
    return [text === '' ? own.document : text]
  })
}

/** The statements of the lock that name this instance's credentials, as text. */
function namingStatements(role: LockedRole, instanceId: string): string[] {
  return role.documents.flatMap(({ document }) => {
    try {
      const statements = (JSON.parse(document) as { Statement?: unknown[] }).Statement ?? []
      return statements
        .map((statement) => JSON.stringify(statement))
        .filter((statement) => statement.includes(instanceId))
    } catch {
      return []
    }
  })
}
