import {
  type CurrentLock,
  decideLock,
  type InstanceFacts,
  type LockBudget,
  type LockDecision,
  lockPolicyName,
} from '../../policy/lock/index.js'
import { ACCOUNT, APP_VPC, INLINE_ONLY, NO_LOCK, REGION, SETTINGS, T0 } from './lock-scene.js'
import { ALLOW_ALL, type InstanceCredentials, type RolePolicy, type SimulatedRequest } from './simulate.js'

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

/** The role's policies once the decision is applied. */
export function rolePolicies(decision: LockDecision): RolePolicy[] {
  const own = decision.action === 'put' ? decision.documents : []
  return [
    ALLOW_ALL,
    ...own.map((document, index) => ({
      name: index === 0 ? lockPolicyName(REGION) : `part-${index}`,
      document,
    })),
  ]
}

/** The same request without aws:ViaAWSService: some calls carry no such key at all. */
export function withoutViaAwsService(request: SimulatedRequest): SimulatedRequest {
  const { 'aws:ViaAWSService': _, ...context } = request.context
  return { ...request, context }
}
