import { describe, expect, it } from 'vitest'
import { type CurrentLock, decideLock, type InstanceFacts, readLock } from '../policy/lock.js'

const SETTINGS = {
  partition: 'aws',
  region: 'us-east-1',
  accountId: '123456789012',
  tombstoneRetentionMs: 12 * 3_600_000,
}
const START = new Date('2026-11-25T00:00:00Z').getTime()
const id = (n: number) => `i-0${n.toString(16).padStart(16, '0')}`

function running(n: number): InstanceFacts {
  return {
    instanceId: id(n),
    state: 'running',
    roleName: 'workers',
    optedIn: true,
    publicIps: [],
    egressIps: ['198.51.100.7'],
    privateIps: [`10.0.${n >> 8}.${n & 255}`],
    primaryPrivateIpv4: `10.0.${n >> 8}.${n & 255}`,
    otherVpcIds: [],
  }
}

describe('an autoscaling group churning through instances', () => {
  it('keeps every tombstone for the retention yet stays far inside the budget', () => {
    // Prepare: 10 workers always running and locked; one is replaced every 5 minutes for 12 hours.
    let current: CurrentLock = readLock(undefined)
    let document = ''
    let next = 0
    let fleet = Array.from({ length: 10 }, () => running(next++))

    // Act
    for (let minute = 0; minute <= 12 * 60; minute += 5) {
      if (minute > 0) fleet = [...fleet.slice(1), running(next++)]
      const decision = decideLock(
        { roleName: 'workers', instances: fleet, current, otherInlineChars: 0 },
        SETTINGS,
        new Date(START + minute * 60_000),
      )
      if (decision.action !== 'put') throw new Error('the workers must stay locked')
      document = decision.document
      current = readLock(document)
    }

    // Assess
    const tombstoneStatements = (JSON.parse(document).Statement as { Sid?: string }[]).filter((statement) =>
      statement.Sid?.startsWith('Tombstone'),
    )
    expect(current.tombstones.size).toBe(144)
    expect(tombstoneStatements.length).toBeLessThanOrEqual(13)
    expect(document.length).toBeLessThan(10_240)
  })
})
