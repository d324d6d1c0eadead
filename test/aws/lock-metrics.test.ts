import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import { describe, expect, it, vi } from 'vitest'
import { addBatchMetrics } from '../../handlers/aws/lock-metrics.js'
import type { DecisionLine } from '../../handlers/aws/reconciler.js'

const NOW = new Date('2026-11-25T12:00:00.000Z')

function decision(changes: Partial<DecisionLine>): DecisionLine {
  return {
    roleName: 'web',
    action: 'put',
    form: 'precise',
    policyChars: 600,
    managedPolicies: 0,
    dryRun: false,
    reason: '',
    eventIds: [],
    instances: [],
    functions: [],
    ...changes,
  }
}

function sinks() {
  const addMetric = vi.fn()
  const info = vi.fn()
  return {
    deps: { metrics: { addMetric } as unknown as Metrics, logger: { info } as unknown as Logger },
    addMetric,
    info,
  }
}

describe('the resync totals', () => {
  it('count only the workloads a resync left locked, not those skipped, tombstoned or released', () => {
    // Prepare
    const { deps, info } = sinks()
    const line = decision({
      instances: [
        { instanceId: 'i-1', outcome: 'locked' },
        { instanceId: 'i-2', outcome: 'skipped', reason: 'egress unknown' },
        { instanceId: 'i-3', outcome: 'tombstoned', reason: 'terminated' },
      ] as unknown as DecisionLine['instances'],
      functions: [
        { functionName: 'a', outcome: 'locked' },
        { functionName: 'b', outcome: 'released', reason: 'not opted in' },
      ] as unknown as DecisionLine['functions'],
    })

    // Act
    addBatchMetrics(deps, [{ body: { id: 'e', 'detail-type': 'Scheduled Event', time: 'x' } }], [line], NOW)

    // Assess
    expect(info).toHaveBeenCalledWith('resync totals', {
      instancesLocked: 1,
      functionsLocked: 1,
      rolesDecided: 1,
    })
  })
})

describe('the decision latency', () => {
  it.each([
    ['no time', { id: 'e' }],
    ['a time that is not a date', { id: 'e', time: 'yesterday' }],
    ['no id', { time: '2026-11-25T11:59:58Z' }],
  ])('is not measured from an event with %s', (_, body) => {
    // Prepare
    const { deps, addMetric } = sinks()

    // Act
    addBatchMetrics(deps, [{ body }], [decision({ eventIds: ['e'] })], NOW)

    // Assess
    expect(addMetric).not.toHaveBeenCalled()
  })

  it('runs from the earliest event the write answered', () => {
    // Prepare
    const { deps, addMetric } = sinks()
    const delivered = [
      { recordId: 'r1', body: { id: 'late', time: '2026-11-25T11:59:59Z' } },
      { recordId: 'r2', body: { id: 'early', time: '2026-11-25T11:59:55Z' } },
    ]

    // Act
    addBatchMetrics(deps, delivered, [decision({ eventIds: ['late', 'early'] })], NOW)

    // Assess
    expect(addMetric).toHaveBeenCalledWith('DecisionLatency', 'Milliseconds', 5_000)
  })
})
