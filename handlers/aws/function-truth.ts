import { DescribeSubnetsCommand, type EC2Client } from '@aws-sdk/client-ec2'
import { type LambdaClient, ListTagsCommand, paginateListFunctions } from '@aws-sdk/client-lambda'
import type { KnownEgress } from '../../policy/environment.js'
import { type FunctionFacts, isOptedIn } from '../../policy/lock/index.js'
import { mapLimited } from './concurrency.js'
import { egressByWorkload } from './ec2-truth.js'
import { asPermitted } from './errors.js'

/** A function as ListFunctions shows it: enough to know its role and its subnets, not yet its tags. */
export interface ListedFunction {
  readonly functionName: string
  readonly functionArn: string
  readonly roleName: string
  /** Its subnets; none when it is not attached to a VPC. */
  readonly subnetIds: readonly string[]
  /** It may send IPv6 from dual-stack subnets. */
  readonly ipv6: boolean
}

/** ListTags calls in flight at once during a resync: gentle on Lambda's control plane. */
const TAG_READS_IN_FLIGHT = 8

/** Every function in the region: one paginated pass (50 functions a page). */
export async function listFunctions(lambda: LambdaClient): Promise<ListedFunction[]> {
  const functions: ListedFunction[] = []
  await asPermitted('lambda:ListFunctions', '*', async () => {
    for await (const page of paginateListFunctions({ client: lambda }, {})) {
      for (const fn of page.Functions ?? []) {
        // A role ARN may carry a path: the role name is its last segment.
        const roleName = fn.Role?.split('/').pop()
        if (!fn.FunctionName || !fn.FunctionArn || !roleName) continue
        functions.push({
          functionName: fn.FunctionName,
          functionArn: fn.FunctionArn,
          roleName,
          subnetIds: fn.VpcConfig?.SubnetIds ?? [],
          ipv6: fn.VpcConfig?.Ipv6AllowedForDualStack === true,
        })
      }
    }
  })
  return functions
}

/** The names of the functions among `functions` that carry the lock tag: one ListTags call each. */
export async function optedInFunctions(
  lambda: LambdaClient,
  functions: readonly ListedFunction[],
  lockTag: { readonly key: string; readonly value: string },
): Promise<Set<string>> {
  const tagged = await mapLimited(functions, TAG_READS_IN_FLIGHT, async (fn) => {
    const output = await asPermitted('lambda:ListTags', fn.functionArn, () =>
      lambda.send(new ListTagsCommand({ Resource: fn.functionArn })),
    )
    const tags = Object.entries(output.Tags ?? {}).map(([Key, Value]) => ({ Key, Value }))
    return isOptedIn(tags, lockTag)
  })
  return new Set(functions.filter((_, index) => tagged[index]).map((fn) => fn.functionName))
}

/** A subnet's VPC and address ranges. */
interface SubnetFacts {
  readonly vpcId: string
  readonly cidrs: readonly string[]
  readonly ipv6: boolean
}

/**
 * The facts the policy engine needs about each function: for those opted in and attached to a VPC, the VPC and
 * ranges of their subnets (one DescribeSubnets call: Lambda's own VpcId is not trusted, it is derived from the
 * subnets) and the egress of their subnets' routes (the same route logic as instances, one pass for all).
 */
export async function functionFacts(
  ec2: EC2Client,
  functions: readonly ListedFunction[],
  optedIn: ReadonlySet<string>,
  knownEgress: KnownEgress,
): Promise<FunctionFacts[]> {
  const inVpc = functions.filter((fn) => optedIn.has(fn.functionName) && fn.subnetIds.length > 0)
  const subnets = await describeSubnets(ec2, [...new Set(inVpc.flatMap((fn) => fn.subnetIds))])
  const interfacesOf = (fn: ListedFunction) =>
    fn.subnetIds.flatMap((subnetId) => {
      const subnet = subnets.get(subnetId)
      return subnet ? [{ subnetId, vpcId: subnet.vpcId, ipv4: true, ipv6: fn.ipv6 && subnet.ipv6 }] : []
    })
  const egress = await egressByWorkload(
    ec2,
    inVpc.map((fn) => ({ key: fn.functionName, interfaces: interfacesOf(fn) })),
    knownEgress,
  )
  return functions.map((fn): FunctionFacts => {
    const own = fn.subnetIds.flatMap((subnetId) => subnets.get(subnetId) ?? [])
    if (own.length < fn.subnetIds.length && optedIn.has(fn.functionName)) {
      throw new Error(
        `Function ${fn.functionName} uses subnets EC2 did not describe (${fn.subnetIds.join(', ')}): they were ` +
          'probably deleted a moment ago; the event will be retried.',
      )
    }
    return {
      functionName: fn.functionName,
      roleName: fn.roleName,
      optedIn: optedIn.has(fn.functionName),
      vpcId: own[0]?.vpcId,
      subnetCidrs: own.flatMap((subnet) => subnet.cidrs),
      ...(egress.get(fn.functionName) ?? { egressIps: [] }),
    }
  })
}

async function describeSubnets(
  ec2: EC2Client,
  subnetIds: readonly string[],
): Promise<Map<string, SubnetFacts>> {
  if (subnetIds.length === 0) return new Map()
  const output = await asPermitted('ec2:DescribeSubnets', '*', () =>
    ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: [...subnetIds] }] })),
  )
  const subnets = new Map<string, SubnetFacts>()
  for (const subnet of output.Subnets ?? []) {
    if (!subnet.SubnetId || !subnet.VpcId) continue
    const ipv6 = (subnet.Ipv6CidrBlockAssociationSet ?? []).flatMap((association) =>
      association.Ipv6CidrBlock && association.Ipv6CidrBlockState?.State === 'associated'
        ? [association.Ipv6CidrBlock]
        : [],
    )
    subnets.set(subnet.SubnetId, {
      vpcId: subnet.VpcId,
      cidrs: [...(subnet.CidrBlock ? [subnet.CidrBlock] : []), ...ipv6],
      ipv6: ipv6.length > 0,
    })
  }
  return subnets
}
