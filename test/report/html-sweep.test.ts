// The HTML reports of a sweep (every run a cell, call number x outcome, with its replay spec),
// of a merge of its shards (the same page as the unsharded sweep), and of `check` (the
// configuration matrix and each configuration's report), parsed and checked against the JSON.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseHTML } from 'linkedom'
import { describe, expect, it } from 'vitest'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { mergeShards, shardJson, sweepJson } from '../../src/report/sweep-json.js'
import { sweepHtml } from '../../src/report/html/sweep.js'

const dom = (html: string): ReturnType<typeof parseHTML>['document'] => parseHTML(html).document
const scenario = { packets: 2, size: 200, rx: 0 }

describe('HTML sweep report', async () => {
  const mp = await loadMiniport('buggy/leak-on-halt')
  const whole = sweepJson(await sweep(mp, { config: {}, scenario, jobs: 1, mode: 'stack' }))
  const html = sweepHtml(whole)
  const doc = dom(html)

  it('has every run as a cell in the row of its outcome at its call number, and as a row with its replay spec', () => {
    expect(whole.summary.leak).toBeGreaterThan(0)
    const grid = doc.querySelector('svg#sweep-grid')!
    whole.runs.forEach((r, i) => {
      const cell = grid.querySelector(`rect[data-ref="run-${i}"]`)!
      expect(cell.getAttribute('data-call')).toBe(String(r.call))
      expect(cell.getAttribute('data-outcome')).toBe(r.outcome)
      expect(cell.getAttribute('class')).toContain(r.outcome)
      expect(cell.getAttribute('data-tip')).toContain(`replay: --fail ${r.replay}`)
      const row = doc.getElementById(`run-${i}`)!
      expect(row.getAttribute('data-replay')).toBe(r.replay)
      expect(row.querySelector('button.copy')!.getAttribute('data-copy')).toBe(`--fail ${r.replay}`)
      for (const f of r.findings) expect(row.textContent).toContain(f.message)
    })
    // Cells later in the call order sit further right.
    const xs = whole.runs.map((_, i) => Number(grid.querySelector(`rect[data-ref="run-${i}"]`)!.getAttribute('x')))
    for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThanOrEqual(xs[i - 1]!)
    expect(doc.querySelectorAll('.cells button.cell')).toHaveLength(whole.runs.length)
  })

  it('a merge of the shards gives the same page, byte for byte', async () => {
    const parts = []
    for (const index of [1, 2, 3]) {
      const r = await sweep(mp, { config: {}, scenario, jobs: 1, mode: 'stack', shard: { index, count: 3 } })
      parts.push({ file: `part-${index}.json`, json: JSON.parse(JSON.stringify(shardJson({ ...r, shard: r.shard! }))) as unknown })
    }
    expect(sweepHtml(mergeShards(parts))).toBe(html)
  })
})

describe('dmalab check --html and run --html from the command line', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-html-'))
  const dmalab = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }

  it('check: the configuration matrix, each configuration with its own map, ids unique across the page', () => {
    const file = path.join(dir, 'check.html')
    const r = dmalab('check', 'test/support/miniports/tiny.ts', '--packets', '3', '--jobs', '1', '--json', '--html', file)
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout) as { matrix: Array<{ iommu: boolean; policy: string; outcome: string }>; sweep: { runs: unknown[] } }
    const doc = dom(readFileSync(file, 'utf8'))
    for (const m of json.matrix) {
      const cell = doc.querySelector(`td[data-config="iommu-${m.iommu ? 'on' : 'off'}-${m.policy}"]`)!
      expect(cell.getAttribute('data-outcome')).toBe(m.outcome)
      expect(doc.querySelector(`svg#iommu-${m.iommu ? 'on' : 'off'}-${m.policy}-map`)).not.toBeNull()
    }
    expect(doc.querySelectorAll('tr[data-replay]')).toHaveLength(json.sweep.runs.length)
    const ids = [...doc.querySelectorAll('[id]')].map((e) => e.id)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('run --html --json: the JSON carries what the page draws; without --html it carries nothing new', () => {
    const file = path.join(dir, 'run.html')
    const withHtml = JSON.parse(dmalab('run', 'e1000', '--packets', '10', '--json', '--html', file).stdout) as Record<string, unknown>
    expect(withHtml).toHaveProperty('memoryMap.buffers')
    expect(withHtml).toHaveProperty('timeline.timesNs')
    expect(readFileSync(file, 'utf8')).toMatch(/^<!doctype html>/)
    const plain = JSON.parse(dmalab('run', 'e1000', '--packets', '10', '--json').stdout) as Record<string, unknown>
    expect(Object.keys(plain)).toEqual(Object.keys(withHtml).filter((k) => k !== 'memoryMap' && k !== 'timeline'))
    const { memoryMap: _m, timeline: _t, ...rest } = withHtml
    expect(rest).toEqual(plain)
  })

  it('a file that cannot be written is one line naming it, exit 2', () => {
    const r = dmalab('run', 'test/support/miniports/tiny.ts', '--packets', '1', '--html', path.join(dir, 'no-such-dir', 'x.html'))
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^dmalab: cannot write the HTML report to .*x\.html \(ENOENT\)$/)
  })
})
