/**
 * Reading a lock back (policy/lock/read.ts): every locked instance and tombstone with its dates, documents that
 * are not the controller's read as empty, split tombstone statements, malformed documents the controller may
 * find, and the compact form told from the precise one.
 */
import { describe, expect, it } from 'vitest'
import { INLINE_POLICY_BUDGET, instanceArn, isCompactLock, readLock } from '../../../policy/lock/index.js'
import { carried, decide, LIVE, NODE, put, V6_ONLY, WEB, WORKER, WORKER_2 } from '../../support/lock-fleet.js'
import * as numbered from '../../support/lock-numbered.js'
import { ACCOUNT, at, HOUR, NO_LOCK, REGION, SECOND, SETTINGS } from '../../support/lock-scene.js'
import * as single from '../../support/lock-single.js'

describe('the documents read back', () => {
  it('read back every locked instance and tombstone, with its dates', () => {
    // Prepare
    const locked = put(decide({ instances: LIVE }))
    const stopped = LIVE.map((facts) =>
      facts === WEB.facts ? { ...facts, state: 'stopped' as const } : facts,
    )

    // Act
    const current = carried(
      put(decide({ instances: stopped, current: carried(locked), now: at(HOUR + 500) })),
    )

    // Assess
    expect([...current.locked].sort()).toEqual(
      [WORKER, WORKER_2, V6_ONLY, NODE].map((machine) => machine.facts.instanceId).sort(),
    )
    expect(current.tombstones.get(WEB.facts.instanceId)).toEqual({
      since: at(HOUR + SECOND),
      issuedBefore: at(HOUR + SECOND),
    })
  })

  it('read as empty when they are not the controller’s', () => {
    // Prepare / Act / Assess
    for (const document of [undefined, 'not json', '{"Statement":"nope"}', '{"Statement":[1,null]}']) {
      expect(readLock(document)).toEqual({
        locked: new Set(),
        tombstones: new Map(),
        functions: { locked: new Set(), tombstones: new Map() },
      })
    }
  })
})

describe('documents the controller may find, read back, and the compact form told from the precise one', () => {
  it.each([
    ['no document', undefined],
    ['text that is not JSON', 'not json'],
    ['JSON null', 'null'],
    ['a Statement that is not a list', '{"Statement":{"Sid":"Compact"}}'],
  ])('%s holds nothing and is not compact', (_, document) => {
    // Act
    const current = readLock(document)

    // Assess
    expect(current).toEqual({
      locked: new Set(),
      tombstones: new Map(),
      functions: { locked: new Set(), tombstones: new Map() },
    })
    expect(isCompactLock([document])).toBe(false)
  })

  it('skips statements that are not objects or carry no condition, and reads the rest of every document', () => {
    // Prepare
    const arn = instanceArn(SETTINGS, single.INSTANCE)
    const other = 'i-0a1b2c3d4e5f60719'
    const document = JSON.stringify({
      Statement: [
        null,
        5,
        'Compact',
        { Sid: 'NoCondition' },
        { Condition: { StringEquals: { 'ec2:SourceInstanceARN': arn } } },
      ],
    })
    const second = JSON.stringify({
      Statement: [{ Condition: { StringLike: { 'ec2:SourceInstanceARN': [instanceArn(SETTINGS, other)] } } }],
    })

    // Act
    const current = readLock([document, undefined, second])

    // Assess
    expect(current.locked).toEqual(new Set([single.INSTANCE, other]))
    expect(current.tombstones).toEqual(new Map())
    expect(isCompactLock([document, second])).toBe(false)
  })

  it.each([
    ['a junk prefix', `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/x${single.INSTANCE}`],
    ['a junk suffix', `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${single.INSTANCE}zz`],
  ])('ignores an instance ID with %s', (_, arn) => {
    // Prepare
    const document = JSON.stringify({
      Statement: [{ Condition: { StringEquals: { 'ec2:SourceInstanceARN': arn } } }],
    })

    // Act
    const current = readLock(document)

    // Assess
    expect(current.locked.size).toBe(0)
  })

  it.each(['XTombstone1748851200', 'Tombstone1748851200y'])(
    'reads a statement with the Sid %s as a live lock',
    (sid) => {
      // Prepare
      const arn = instanceArn(SETTINGS, single.INSTANCE)
      const document = JSON.stringify({
        Statement: [{ Sid: sid, Condition: { StringEquals: { 'ec2:SourceInstanceARN': arn } } }],
      })

      // Act
      const current = readLock(document)

      // Assess
      expect(current.locked).toEqual(new Set([single.INSTANCE]))
      expect(current.tombstones).toEqual(new Map())
    },
  )

  it('tells the compact form from the precise one', () => {
    // Prepare: two instances with their own addresses fit only as one role-wide statement in a tight budget.
    const two = [
      single.facts(),
      single.facts({ instanceId: 'i-0a1b2c3d4e5f60719', publicIps: ['198.51.100.11'] }),
    ]
    const precise = single.decide(two)
    const preciseChars = precise.action === 'put' ? (precise.chars[0] ?? 0) : 0
    const compact = single.decide(two, NO_LOCK, {
      otherInlineChars: INLINE_POLICY_BUDGET - preciseChars + 1,
      managedPolicies: 0,
    })

    // Act
    const forms = [precise, compact].map((decision) =>
      isCompactLock(decision.action === 'put' ? decision.documents : []),
    )

    // Assess
    expect(compact).toMatchObject({ action: 'put', form: 'compact' })
    expect(forms).toEqual([false, true])
  })
})

describe('a tombstone whose statement was split, read back with both its dates', () => {
  it('reads a tombstone whose statement was split, with both its dates', () => {
    // Prepare
    const document = JSON.stringify({
      Statement: [
        {
          Sid: 'Tombstone1748851200Before1748851300x12',
          Condition: {
            StringEquals: {
              'ec2:SourceInstanceARN': `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${numbered.INSTANCE}`,
            },
          },
        },
      ],
    })

    // Act
    const current = readLock([document])

    // Assess
    expect(current.locked.size).toBe(0)
    expect(current.tombstones.get(numbered.INSTANCE)).toEqual({
      since: new Date(1748851200 * 1000),
      issuedBefore: new Date(1748851300 * 1000),
    })
  })
})
