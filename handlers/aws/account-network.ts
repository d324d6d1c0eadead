/**
 * The account's network in one region, as the boot provider answers it: VPC IDs, VPC endpoint IDs and the
 * Elastic IPs (each read with one paginated Describe call; none of them takes a resource-level permission).
 */
import {
  DescribeAddressesCommand,
  type EC2Client,
  paginateDescribeVpcEndpoints,
  paginateDescribeVpcs,
} from '@aws-sdk/client-ec2'

export interface AccountNetwork {
  readonly vpcIds: readonly string[]
  readonly vpcEndpointIds: readonly string[]
  readonly elasticIps: readonly string[]
}

export async function readAccountNetwork(ec2: EC2Client): Promise<AccountNetwork> {
  const [vpcIds, vpcEndpointIds, elasticIps] = await Promise.all([
    collect(paginateDescribeVpcs({ client: ec2 }, {}), (page) => page.Vpcs?.map((vpc) => vpc.VpcId)),
    collect(paginateDescribeVpcEndpoints({ client: ec2 }, {}), (page) =>
      page.VpcEndpoints?.filter((endpoint) => endpoint.State?.toLowerCase() === 'available').map(
        (endpoint) => endpoint.VpcEndpointId,
      ),
    ),
    // DescribeAddresses is not paginated: one answer holds every address of the region.
    ec2
      .send(new DescribeAddressesCommand({}))
      .then((answer) => present(answer.Addresses?.map((address) => address.PublicIp))),
  ])
  return { vpcIds, vpcEndpointIds, elasticIps }
}

async function collect<Page>(
  pages: AsyncIterable<Page>,
  pick: (page: Page) => readonly (string | undefined)[] | undefined,
): Promise<string[]> {
  const found: (string | undefined)[] = []
  for await (const page of pages) found.push(...(pick(page) ?? []))
  return present(found)
}

function present(values: readonly (string | undefined)[] | undefined): string[] {
  return [...new Set((values ?? []).filter((value): value is string => Boolean(value)))].sort()
}
