/** The boot provider's Lambda entry: the only module that builds the EC2 client. */
import { EC2Client } from '@aws-sdk/client-ec2'
import { readAccountNetwork } from '../aws/account-network.js'
import { bootAnswerer } from './boot-answer.js'

const ec2 = new EC2Client({})

export const handler = bootAnswerer({ readNetwork: () => readAccountNetwork(ec2), now: () => new Date() })
