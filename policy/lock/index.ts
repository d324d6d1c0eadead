/**
 * The lock engine's public surface: what callers import. The parts: facts.ts (what a lock is decided from and
 * what it decides), judge-instances.ts and judge-functions.ts (each workload's outcome), statements.ts (the
 * statements a lock says), tombstones.ts (refusing a gone workload's old credentials), pack.ts (fitting them
 * into IAM's quotas), read.ts (reading a lock back) and decide.ts (the whole decision).
 */
export { functionArn, instanceArn } from './arns.js'
export { decideLock } from './decide.js'
export {
  ACTIVE_STATES,
  type AllowedSources,
  type CurrentLock,
  type FunctionFacts,
  type FunctionLock,
  type FunctionOutcome,
  type FunctionSources,
  type FunctionsToLock,
  type FunctionTombstone,
  INLINE_POLICY_BUDGET,
  type InstanceFacts,
  type InstanceOutcome,
  type InstanceState,
  isOptedIn,
  LAMBDA_SERVICE_ACTIONS,
  type LockBudget,
  type LockDecision,
  type LockedFunction,
  type LockForm,
  type LockScope,
  type LockSettings,
  lockPolicyName,
  MANAGED_POLICY_BUDGET,
  type PolicyDocument,
  type PolicyStatement,
  type RoleFacts,
  type TombstoneEntry,
} from './facts.js'
export { OUTSIDE_VPC_REASON } from './judge-functions.js'
export { policyChars } from './pack.js'
export { isCompactLock, readLock, readPlacement } from './read.js'
