/** The boot provider's EC2 reads against moto: VPCs, available VPC endpoints and Elastic IPs of the region. */
import {
  AllocateAddressCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  EC2Client,
} from '@aws-sdk/client-ec2'
import { describe, expect, inject, it } from 'vitest'
import { readAccountNetwork } from '../../handlers/aws/account-network.js'
import { useMotoAccount } from '../support/moto.js'

describe("the account's network", () => {
  it('lists every VPC, every available endpoint and every Elastic IP of the region', async () => {
    // Prepare
    const ec2 = new EC2Client({ endpoint: inject('motoEndpoint'), region: 'eu-west-1' })
    useMotoAccount(ec2)
    const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))
    const { VpcEndpoint } = await ec2.send(
      new CreateVpcEndpointCommand({ VpcId: Vpc?.VpcId, ServiceName: 'com.amazonaws.eu-west-1.s3' }),
    )
    const { PublicIp } = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))

    // Act
    const network = await readAccountNetwork(ec2)

    // Assess
    expect(network.vpcIds).toContain(Vpc?.VpcId)
    expect(network.vpcEndpointIds).toEqual([VpcEndpoint?.VpcEndpointId])
    expect(network.elasticIps).toEqual([PublicIp])
  })
})
