/**
 * What one run of the stolen-credential canary concludes: whether the lock held against the canary instance's
 * credentials used from somewhere else, whether the instance itself still works, and how long the lock took
 * after a launch. Pure: the canary Lambda gathers the observation, this decides, the Lambda publishes.
 */

/** How the harmless call made with the canary instance's credentials, from outside its network, ended. */
export type CanaryCallOutcome =
  /** Refused by an explicit deny: what the lock is for. */
  | 'explicit-deny'
  /** Refused, but not by a deny statement (the role lost the permission): proves nothing about the lock. */
  | 'refused-otherwise'
  /** It worked: the stolen credentials are usable elsewhere. */
  | 'allowed'
  /** There was nothing to try: no parameter yet, or credentials already expired. */
  | 'untested'

export interface CanaryObservation {
  readonly outcome: CanaryCallOutcome
  /** The instance whose credentials were tried, as it wrote it into the parameter. */
  readonly instanceId: string | undefined
  /** When EC2 launched that instance; undefined when EC2 no longer knows it. */
  readonly launchedAt: Date | undefined
  /** When the instance last wrote the parameter with its own credentials; undefined when it never did. */
  readonly parameterWrittenAt: Date | undefined
  /** The instance whose first refusal was already measured (the canary's memory between runs). */
  readonly measuredInstanceId: string | undefined
  readonly now: Date
}

export interface CanarySettings {
  /** A parameter older than this means the instance's own calls fail (it writes every few minutes). */
  readonly staleAfterMs: number
  /** After a launch, calls allowed for this long are the lock still arriving; later, the lock does not hold. */
  readonly timeToLockLimitMs: number
}

export type CanaryVerdict = 'holds' | 'locking' | 'does-not-hold' | 'untested'

export interface CanaryDecision {
  readonly verdict: CanaryVerdict
  /** 1 or 0; absent when this run could not tell (nothing tested, or the lock is still arriving). */
  readonly lockHolds: 0 | 1 | undefined
  readonly ownCallsWork: 0 | 1
  /** Seconds from launch to the first refused call; only on the run that first sees this instance refused. */
  readonly timeToLockSeconds: number | undefined
  /** One sentence for the decision line. */
  readonly reason: string
}

export function decideCanary(observation: CanaryObservation, settings: CanarySettings): CanaryDecision {
  const ownCallsWork = ownCallsWorking(observation, settings)
  const base = { ownCallsWork, timeToLockSeconds: undefined }
  switch (observation.outcome) {
    case 'explicit-deny':
      return {
        ...base,
        verdict: 'holds',
        lockHolds: 1,
        timeToLockSeconds: firstRefusalSeconds(observation),
        reason: 'The canary credentials were refused by an explicit deny outside the instance.',
      }
    case 'refused-otherwise':
      return {
        ...base,
        verdict: 'does-not-hold',
        lockHolds: 0,
        reason:
          'The canary credentials were refused without an explicit deny: the canary role lost its permission, so ' +
          'the lock was not tested.',
      }
    case 'allowed':
      return allowedDecision(observation, settings, ownCallsWork)
    case 'untested':
      return {
        ...base,
        verdict: 'untested',
        lockHolds: undefined,
        reason: 'No usable canary credentials to try: the instance has not written fresh ones.',
      }
  }
}

function allowedDecision(
  observation: CanaryObservation,
  settings: CanarySettings,
  ownCallsWork: 0 | 1,
): CanaryDecision {
  const sinceLaunchMs =
    observation.launchedAt === undefined
      ? undefined
      : observation.now.getTime() - observation.launchedAt.getTime()
  const alreadyLocked = observation.measuredInstanceId === observation.instanceId
  if (!alreadyLocked && sinceLaunchMs !== undefined && sinceLaunchMs <= settings.timeToLockLimitMs) {
    return {
      verdict: 'locking',
      lockHolds: undefined,
      ownCallsWork,
      timeToLockSeconds: undefined,
      reason: `The canary instance launched ${Math.round(sinceLaunchMs / 1000)} s ago and is not locked yet.`,
    }
  }
  return {
    verdict: 'does-not-hold',
    lockHolds: 0,
    ownCallsWork,
    timeToLockSeconds: undefined,
    reason: alreadyLocked
      ? 'The canary credentials worked from outside the instance after they had been refused: the lock was lost.'
      : 'The canary credentials worked from outside the instance longer than the time-to-lock limit after launch.',
  }
}

/** The first refusal of a newly launched instance is the measurement; later ones are the lock still holding. */
function firstRefusalSeconds(observation: CanaryObservation): number | undefined {
  if (observation.launchedAt === undefined || observation.instanceId === undefined) return undefined
  if (observation.measuredInstanceId === observation.instanceId) return undefined
  return Math.max(0, Math.round((observation.now.getTime() - observation.launchedAt.getTime()) / 1000))
}

function ownCallsWorking(observation: CanaryObservation, settings: CanarySettings): 0 | 1 {
  if (observation.parameterWrittenAt === undefined) return 0
  return observation.now.getTime() - observation.parameterWrittenAt.getTime() <= settings.staleAfterMs ? 1 : 0
}
