import { describe, expect, it } from 'vitest'
import { mapLimited } from '../../handlers/aws/concurrency.js'

describe('mapLimited: results in order, never more in flight than the limit', () => {
  it('keeps the order of the results and never exceeds the limit in flight', async () => {
    // Prepare
    let inFlight = 0
    let mostInFlight = 0
    const slowDouble = async (n: number) => {
      inFlight += 1
      mostInFlight = Math.max(mostInFlight, inFlight)
      await new Promise((resolve) => setTimeout(resolve, (n % 3) * 2))
      inFlight -= 1
      return n * 2
    }

    // Act
    const results = await mapLimited(
      Array.from({ length: 25 }, (_, n) => n),
      4,
      slowDouble,
    )

    // Assess
    expect(results).toEqual(Array.from({ length: 25 }, (_, n) => n * 2))
    expect(mostInFlight).toBe(4)
  })

  it('returns nothing for nothing', async () => {
    // Act / Assess
    expect(await mapLimited([], 8, async () => 1)).toEqual([])
  })
})
