import { describe, expect, it } from 'vitest'
import { BenchProgress, forTerminal, renderReport, wantsMarkdown } from '../support/bench-output.js'

const REPORT = [
  '## 4. Bundled handler size',
  '',
  '`index.js` bundled by esbuild.',
  '',
  '| file | bytes | goal < 307,200 |',
  '| :--- | ---: | :---: |',
  '| index.js | 98,304 | ✓ |',
  '| index.js.map | 412,001 | |',
].join('\n')

describe('the bench report in a terminal', () => {
  it('lays every table out in aligned columns, as its markdown aligns them, with a rule under the header', () => {
    // Act
    const text = forTerminal(REPORT)

    // Assess
    expect(text.split('\n')).toEqual([
      '4. Bundled handler size',
      '-----------------------',
      '',
      'index.js bundled by esbuild.',
      '',
      'file            bytes  goal < 307,200',
      '────────────  ───────  ──────────────',
      'index.js       98,304        ✓',
      'index.js.map  412,001',
    ])
  })

  it('is the markdown itself, unchanged, with --markdown', () => {
    // Act
    const markdown = renderReport(REPORT, wantsMarkdown(['--markdown']))

    // Assess
    expect(markdown).toBe(REPORT)
  })

  it('refuses an option it does not know, naming the one it does', () => {
    // Act
    const parsing = () => wantsMarkdown(['--md'])

    // Assess
    expect(parsing).toThrowError('Unknown option --md: use --markdown or nothing.')
  })
})

describe('the bench progress', () => {
  it('says up front how long the run takes, then numbers each step and says how long it took', () => {
    // Prepare
    const written: string[] = []
    const progress = new BenchProgress(2, (text) => written.push(text))

    // Act
    progress.announce('npm run bench', 'about 4 minutes on 2 cores')
    progress.begin('AWS calls per event kind')
    progress.detail('chapter 3 of 14')
    progress.begin('Policy size per fleet')
    progress.end()

    // Assess
    expect(written.join('')).toMatch(
      new RegExp(
        [
          '^npm run bench: 2 steps, about 4 minutes on 2 cores\\. Progress below; the report follows at the end\\.',
          '\\[1/2\\] AWS calls per event kind',
          ' {6}chapter 3 of 14',
          ' {6}done in \\d+\\.\\d s',
          '\\[2/2\\] Policy size per fleet',
          ' {6}done in \\d+\\.\\d s',
          '$',
        ].join('\n'),
      ),
    )
  })
})
