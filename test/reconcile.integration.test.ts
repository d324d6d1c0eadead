import { beforeAll, describe, expect, inject, it } from 'vitest'
import { controllerUnderTest } from './support/controller-under-test.js'
import {
  type Chapter,
  defendersStory,
  foreignPolicyDocument,
  runChapter,
  type StoryDeps,
} from './support/story.js'
import { buildDefendersWorld } from './support/world.js'

describe('the Defenders story against moto, judged by iam-simulate', () => {
  let deps: StoryDeps
  let chapters: Chapter[]
  let foreignPolicy: string

  beforeAll(async () => {
    const controller = controllerUnderTest(inject('motoEndpoint'))
    const world = await buildDefendersWorld(controller)
    deps = { ...controller, world }
    chapters = defendersStory(deps)
    foreignPolicy = await foreignPolicyDocument(controller.iam, world)
  })

  it('tells every chapter with the expected verdicts, never touching the foreign policy', async () => {
    for (const chapter of chapters) {
      // Prepare + Act: the chapter changes the world and the controller receives what AWS would deliver.
      const result = await runChapter(deps, chapter, foreignPolicy)

      // Assess
      const table = result.results.map(({ who, from, expected, actual }) => ({ who, from, expected, actual }))
      expect.soft(table, chapter.title).toEqual(table.map((row) => ({ ...row, actual: row.expected })))
      expect.soft(result.foreignPolicyUntouched, `${chapter.title}: foreign policy`).toBe(true)
      expect.soft(result.failedRecords, `${chapter.title}: failed records`).toBe(0)
    }
  })
})
