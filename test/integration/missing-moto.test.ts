import { execFile } from 'node:child_process'
import { delimiter } from 'node:path'
import { promisify, stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'
import { motoServerOnPath } from '../support/moto.js'
import { MOTO_MISSING_FOR_TESTS } from '../support/moto-global-setup.js'

const run = promisify(execFile)
const VITEST = new URL('../../node_modules/vitest/vitest.mjs', import.meta.url).pathname

describe('npm test on a machine without moto_server', () => {
  it('stops at once with the one sentence that says how to install it and how to run the rest', async () => {
    // Prepare: this machine's PATH without the directories that hold moto_server.
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((directory) => !motoServerOnPath(directory))
      .join(delimiter)
    // Without moto hidden, the child would run the whole suite, this file included.
    expect(motoServerOnPath(path)).toBe(false)

    // Act
    const { code, output } = await run(process.execPath, [VITEST, 'run'], {
      env: { ...process.env, PATH: path, NO_COLOR: '1' },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        output: error.stdout + error.stderr,
      }),
    )

    // Assess: vitest's own heading, then the sentence; no "No test files found", no code frame.
    expect(code).toBe(1)
    const lines = stripVTControlCharacters(output)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('RUN '))
    expect(lines).toEqual([MOTO_MISSING_FOR_TESTS])
    expect(MOTO_MISSING_FOR_TESTS).toBe(
      "moto_server is not on PATH: install it with pip install 'moto[server]', or run npm run test:unit " +
        'for the tests that need no moto_server.',
    )
  })
})
