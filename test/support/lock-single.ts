/**
 * One opted-in instance with a public address of its own, for the lock-engine tests in test/policy/lock/ that
 * need nothing more: its facts with a change, deciding for it, its credential, and the role's policies once a
 * decision is applied.
 */
import {
  type CurrentLock,
  decideLock,
  type InstanceFacts,
  type LockBudget,
  type LockDecision,
} from '../../policy/lock/index.js'
import { ACCOUNT, APP_VPC, INLINE_ONLY, NO_LOCK, REGION, SETTINGS, T0 } from './lock-scene.js'
import type { InstanceCredentials, SimulatedRequest } from './simulate.js'

export { rolePolicies } from './lock-documents.js'

export const ROLE = 'app-server'
export const OWN_IP = '198.51.100.10'
export const PRIVATE_IP = '10.0.1.10'
export const INSTANCE = 'i-0a1b2c3d4e5f60718'

export function facts(change: Partial<InstanceFacts> = {}): InstanceFacts {
  return {
    instanceId: INSTANCE,
    state: 'running',
    roleName: ROLE,
    optedIn: true,
    publicIps: [OWN_IP],
    egressIps: [],
    privateIps: [PRIVATE_IP],
    ...change,
  }
}

export function decide(
  instances: readonly InstanceFacts[],
  current: CurrentLock = NO_LOCK,
  budget: LockBudget = INLINE_ONLY,
): LockDecision {
  return decideLock({ roleName: ROLE, instances, current, budget }, SETTINGS, T0)
}

export const credentials: InstanceCredentials = {
  accountId: ACCOUNT,
  region: REGION,
  roleName: ROLE,
  instanceId: INSTANCE,
  vpcId: APP_VPC,
  privateIpv4: PRIVATE_IP,
}

/** The same request without aws:ViaAWSService: some calls carry no such key at all. */
export function withoutViaAwsService(request: SimulatedRequest): SimulatedRequest {
  const { 'aws:ViaAWSService': _, ...context } = request.context
  return { ...request, context }
}
