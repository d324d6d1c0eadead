/**
 * How the bench scripts talk: progress on stderr while they run (what runs, how far, how long it took), and
 * the report on stdout, as aligned plain-text tables for a terminal or, with `--markdown`, as the markdown
 * README.md and docs/ are refreshed from. The report is written once, as markdown; this renders it.
 */
import { performance } from 'node:perf_hooks'

/** The `--markdown` switch: the report as markdown, for README.md and docs/. */
export function wantsMarkdown(argv: readonly string[]): boolean {
  const unknown = argv.find((arg) => arg !== '--markdown')
  if (unknown !== undefined) throw new Error(`Unknown option ${unknown}: use --markdown or nothing.`)
  return argv.includes('--markdown')
}

/** Numbered steps on stderr, each with the seconds it took, so a long run is never silent. */
export class BenchProgress {
  private step = 0
  private stepStarted = performance.now()

  constructor(
    private readonly total: number,
    private readonly write: (text: string) => void = (text) => process.stderr.write(text),
  ) {}

  /** Says up front what the run does and about how long it takes. */
  announce(what: string, expected: string): void {
    this.write(`${what}: ${this.total} steps, ${expected}. Progress below; the report follows at the end.\n`)
  }

  /** A new step begins; the previous one is done. */
  begin(title: string): void {
    this.finishStep()
    this.step += 1
    this.stepStarted = performance.now()
    this.write(`[${this.step}/${this.total}] ${title}\n`)
  }

  /** How far the current step is, on a line of its own. */
  detail(text: string): void {
    this.write(`      ${text}\n`)
  }

  /** The last step is done. */
  end(): void {
    this.finishStep()
  }

  private finishStep(): void {
    if (this.step === 0) return
    this.write(`      done in ${((performance.now() - this.stepStarted) / 1000).toFixed(1)} s\n`)
  }
}

/** The report as asked: the markdown itself, or rendered for a terminal. */
export function renderReport(markdown: string, asMarkdown: boolean): string {
  return asMarkdown ? markdown : forTerminal(markdown)
}

type Align = 'left' | 'right' | 'center'

/**
 * Markdown for a terminal: headings stand out, code marks go, and every table is laid out in columns padded to
 * their widest cell (aligned as its markdown says), with a rule under the header.
 */
export function forTerminal(markdown: string): string {
  const lines = markdown.split('\n')
  const out: string[] = []
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] ?? ''
    if (line.startsWith('|')) {
      const table: string[] = []
      while ((lines[index] ?? '').startsWith('|')) table.push(lines[index++] ?? '')
      index -= 1
      out.push(...alignTable(table))
      continue
    }
    const heading = /^(#+) (.*)$/.exec(line)
    if (heading) {
      const title = plain(heading[2] ?? '')
      out.push(title, (heading[1] === '#' ? '=' : '-').repeat(title.length))
      continue
    }
    out.push(plain(line))
  }
  return out.join('\n')
}

function alignTable(table: readonly string[]): string[] {
  const rows = table.map(cells)
  const separator = rows.findIndex((row) => row.length > 0 && row.every((cell) => /^:?-+:?$/.test(cell)))
  const aligns: Align[] = (rows[separator] ?? []).map((cell) =>
    cell.startsWith(':') && cell.endsWith(':') ? 'center' : cell.endsWith(':') ? 'right' : 'left',
  )
  const body = rows.filter((_, index) => index !== separator)
  const columns = Math.max(...body.map((row) => row.length))
  const widths = Array.from({ length: columns }, (_, column) =>
    Math.max(...body.map((row) => (row[column] ?? '').length)),
  )
  const render = (row: readonly string[]) =>
    widths
      .map((width, column) => pad(row[column] ?? '', width, aligns[column] ?? 'left'))
      .join('  ')
      .trimEnd()
  const rendered = body.map(render)
  if (separator < 0) return rendered
  const rule = widths.map((width) => '─'.repeat(width)).join('  ')
  return [...rendered.slice(0, separator), rule, ...rendered.slice(separator)]
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => plain(cell.trim()))
}

function pad(text: string, width: number, align: Align): string {
  const room = width - text.length
  if (align === 'right') return ' '.repeat(room) + text
  if (align === 'center') return ' '.repeat(Math.floor(room / 2)) + text + ' '.repeat(Math.ceil(room / 2))
  return text + ' '.repeat(room)
}

/** Markdown's inline marks a terminal shows literally. */
function plain(text: string): string {
  return text
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/^_(.*)_$/, '$1')
}
