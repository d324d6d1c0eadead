/** The statements of a lock, one plan each, before they are split and packed into documents. */
import { cidrSet } from '../addresses.js'
import {
  type AllowedSources,
  COMPACT_SID,
  type ConditionBlockSet,
  type FunctionSources,
  type FunctionsToLock,
  LAMBDA_SERVICE_ACTIONS,
  type LockedFunction,
  type LockedInstance,
  type LockForm,
  type LockSettings,
  type PolicyStatement,
  type StatementPlan,
  type Tombstone,
} from './facts.js'
import { tombstonePlans } from './tombstones.js'

const NO_FUNCTIONS: FunctionsToLock = { locked: [], tombstones: [] }
// Calls AWS services make with the instance's credentials come from the service's own addresses.
const NOT_VIA_AWS_SERVICE = { 'aws:ViaAWSService': 'false' }
/*
 * IAM refuses policy variables in IP operators, so the primary private IPv4 is compared as a string, the way AWS's
 * own data-perimeter examples do. The default value keeps the variable resolvable on the path where its key is
 * absent (no aws:VpcSourceIp on the public path, no aws:SourceIp through an endpoint), and 'absent' never equals an
 * address, so the comparison then says "not from its own address".
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: IAM policy variables, resolved by IAM.
const OWN_PRIMARY_ADDRESS = ["${aws:SourceIp, 'absent'}", "${aws:VpcSourceIp, 'absent'}"]
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by IAM.
const OWN_VPC = '${aws:EC2InstanceSourceVPC}'
/** Room kept free in every document so that rounding in the packing never pushes IAM over its quota. */

export function lockPlans(
  form: LockForm,
  locked: readonly LockedInstance[],
  tombstones: readonly Tombstone[],
  settings: LockSettings,
  exemptActions: readonly string[],
  functions: FunctionsToLock = NO_FUNCTIONS,
): StatementPlan[] {
  const trusted = settings.trustedVpcEndpoints ?? []
  return [
    ...tombstonePlans(
      'instance',
      tombstones.map(({ instanceId, ...entry }) => ({ id: instanceId, ...entry })),
    ),
    ...tombstonePlans(
      'function',
      functions.tombstones.map(({ functionName, ...entry }) => ({ id: functionName, ...entry })),
    ),
    ...vpcPlans(locked, trusted, exemptActions),
    ...functionEndpointPlans(functions.locked, trusted, exemptActions),
    ...(settings.refuseImdsV1 && locked.length > 0 ? [imdsV1Plan(locked)] : []),
    ...addressPlans(form, locked, exemptActions),
    ...functionAddressPlans(functions.locked, exemptActions),
  ]
}

/** Never the actions Lambda makes for the function from its own addresses, nor the role's exempt actions. */
function functionActions(exemptActions: readonly string[]): Pick<PolicyStatement, 'NotAction'> {
  return { NotAction: [...new Set([...LAMBDA_SERVICE_ACTIONS, ...exemptActions])].sort() }
}

/** Functions grouped by a key of their sources, groups and names in a stable order. */
function groupFunctions(
  locked: readonly LockedFunction[],
  key: (sources: FunctionSources) => string,
): { readonly sources: FunctionSources; readonly names: string[] }[] {
  const groups = new Map<string, { sources: FunctionSources; names: string[] }>()
  for (const { functionName, allowedFrom } of locked) {
    const group = groups.get(key(allowedFrom)) ?? { sources: allowedFrom, names: [] }
    group.names.push(functionName)
    groups.set(key(allowedFrom), group)
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group)
}

/**
 * A function's calls through a VPC endpoint must come through an endpoint of its own VPC (or a trusted shared
 * one). No policy variable names a function's VPC, so the statement names it.
 */
function functionEndpointPlans(
  locked: readonly LockedFunction[],
  trustedVpcEndpoints: readonly string[],
  exempt: readonly string[],
): StatementPlan[] {
  return groupFunctions(locked, (sources) => sources.vpcId).map(({ sources, names }) => {
    return {
      subject: 'function',
      ids: names,
      render: (match) =>
        endpointStatement(
          'FunctionEndpoint',
          functionActions(exempt),
          match,
          sources.vpcId,
          trustedVpcEndpoints,
        ),
    }
  })
}

/**
 * Refuses a function's credentials unless the call comes from its subnets' public egress (aws:SourceIp), from
 * its subnets' own addresses (aws:SourceIp of IAM-authenticated services inside the VPC, aws:VpcSourceIp through
 * an endpoint). The same shape as an instance's address statement.
 */
function functionAddressPlans(locked: readonly LockedFunction[], exempt: readonly string[]): StatementPlan[] {
  return groupFunctions(locked, (sources) => JSON.stringify(sources)).map(({ sources, names }) => ({
    subject: 'function',
    ids: names,
    render: (match) => ({
      Effect: 'Deny',
      ...functionActions(exempt),
      Resource: '*',
      Condition: {
        ...match,
        ...addressConditions(sources.publicCidrs, sources.privateCidrs),
        BoolIfExists: NOT_VIA_AWS_SERVICE,
      },
    }),
  }))
}

function actions(exemptActions: readonly string[]): Pick<PolicyStatement, 'Action' | 'NotAction'> {
  return exemptActions.length > 0 ? { NotAction: [...new Set(exemptActions)].sort() } : { Action: '*' }
}

/**
 * Refuses the credentials unless the call comes from one of the instance's addresses: aws:SourceIp on the public
 * path (its own public addresses and egress, and its private addresses for IAM-authenticated services reached
 * inside the VPC: RDS, EFS, MSK, ...), aws:VpcSourceIp through a VPC endpoint. Each key is absent on the other
 * path, and a negated operator is true for an absent key, so one statement covers every path.
 */
function addressPlans(
  form: LockForm,
  locked: readonly LockedInstance[],
  exempt: readonly string[],
): StatementPlan[] {
  const byId = new Map(locked.map((instance) => [instance.instanceId, instance.allowedFrom]))
  const groups = new Map<string, string[]>()
  for (const { instanceId, allowedFrom } of locked) {
    // Precise: instances with the same addresses (a fleet behind one NAT, each with only its primary address)
    // share a statement. Compact: every instance shares the one of its kind.
    const { privateCidrs, ...shared } = allowedFrom
    const key =
      form === 'compact'
        ? String(allowedFrom.onlyPrimary)
        : JSON.stringify(allowedFrom.onlyPrimary ? shared : allowedFrom)
    groups.set(key, [...(groups.get(key) ?? []), instanceId])
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, ids]) => ({
      subject: 'instance',
      ids,
      render: (match, named) => {
        const sources = named.map((id) => byId.get(id) as AllowedSources)
        const union = (list: (each: AllowedSources) => readonly string[]) =>
          cidrSet(sources.flatMap(list), 'Address')
        // One instance's own address is shorter to list than IAM's variable; a fleet's addresses are not.
        const viaVariable = sources.length > 1 && sources.every((each) => each.onlyPrimary)
        return {
          ...(form === 'compact' ? { Sid: COMPACT_SID } : {}),
          Effect: 'Deny',
          ...actions(exempt),
          Resource: '*',
          Condition: {
            ...match,
            ...addressConditions(
              union((each) => each.publicCidrs),
              viaVariable ? 'primary' : union((each) => each.privateCidrs),
            ),
            BoolIfExists: NOT_VIA_AWS_SERVICE,
          },
        }
      },
    }))
}

function addressConditions(
  publicCidrs: readonly string[],
  privateCidrs: readonly string[] | 'primary',
): ConditionBlockSet {
  if (privateCidrs === 'primary') {
    return {
      ...(publicCidrs.length > 0 ? { NotIpAddress: { 'aws:SourceIp': publicCidrs } } : {}),
      StringNotEquals: { 'aws:EC2InstanceSourcePrivateIPv4': OWN_PRIMARY_ADDRESS },
    }
  }
  return {
    NotIpAddress: {
      'aws:SourceIp': cidrSet([...publicCidrs, ...privateCidrs], 'Address'),
      'aws:VpcSourceIp': privateCidrs,
    },
  }
}

/**
 * A private address is only the instance's own inside its own VPC (or a VPC it has a second interface in, or
 * through a trusted shared-services endpoint): refuse endpoints of any other VPC.
 */
function vpcPlans(
  locked: readonly LockedInstance[],
  trustedVpcEndpoints: readonly string[],
  exempt: readonly string[],
): StatementPlan[] {
  const groups = new Map<string, string[]>()
  for (const { instanceId, allowedFrom } of locked) {
    const key = allowedFrom.otherVpcIds.join(',')
    groups.set(key, [...(groups.get(key) ?? []), instanceId])
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([otherVpcs, ids]) => {
      const vpcs = [OWN_VPC, ...(otherVpcs === '' ? [] : otherVpcs.split(','))]
      return {
        subject: 'instance',
        ids,
        render: (match) =>
          endpointStatement(
            'Endpoint',
            actions(exempt),
            match,
            vpcs.length === 1 ? OWN_VPC : vpcs,
            trustedVpcEndpoints,
          ),
      }
    })
}

/**
 * Refuses endpoint calls through any VPC but `vpcs` (or a trusted shared-services endpoint); the `Null` guard keeps
 * it off the public path, where aws:SourceVpc is absent.
 */
function endpointStatement(
  sid: string,
  actions: Pick<PolicyStatement, 'Action' | 'NotAction'>,
  match: ConditionBlockSet,
  vpcs: string | readonly string[],
  trustedVpcEndpoints: readonly string[],
): PolicyStatement {
  const notFrom: Record<string, string | readonly string[]> = { 'aws:SourceVpc': vpcs }
  if (trustedVpcEndpoints.length > 0) notFrom['aws:SourceVpce'] = [...new Set(trustedVpcEndpoints)].sort()
  return {
    Sid: sid,
    Effect: 'Deny',
    ...actions,
    Resource: '*',
    Condition: {
      ...match,
      StringNotEquals: notFrom,
      Null: { 'aws:SourceVpc': 'false' },
      BoolIfExists: NOT_VIA_AWS_SERVICE,
    },
  }
}

/** AWS's own example: refuse credentials the instance metadata service delivered without a session token. */
function imdsV1Plan(locked: readonly LockedInstance[]): StatementPlan {
  return {
    subject: 'instance',
    ids: locked.map((instance) => instance.instanceId),
    render: (match) => ({
      Sid: 'ImdsV1',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { ...match, NumericLessThan: { 'ec2:RoleDelivery': '2.0' } },
    }),
  }
}
