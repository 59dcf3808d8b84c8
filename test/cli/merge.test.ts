// The command line of sharded sweeps: `sweep --shard I/N --json` on each machine of a CI
// matrix, then `merge` of the parts gives what the unsharded sweep prints; a merge that cannot
// be right is a one-line usage error, exit 2 (docs/ci-sweep.md relies on both).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

function dmalab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('dmalab sweep --shard and dmalab merge', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-merge-'))
  const sweepArgs = ['sweep', 'buggy/leak-on-halt', '--mode', 'stack', '--packets', '2', '--jobs', '1', '--json']
  const part = (i: number): string => path.join(dir, `part-${i}.json`)

  it('merging the shards of a buggy example prints the unsharded sweep and writes its HTML page, exit 1 as it does', () => {
    for (const i of [1, 2]) {
      const r = dmalab(...sweepArgs, '--shard', `${i}/2`)
      expect(r.stderr).toBe('') // --json: no progress line, nothing else
      writeFileSync(part(i), r.stdout)
      expect(JSON.parse(r.stdout)).toHaveProperty('shard.index', i)
    }
    const whole = dmalab(...sweepArgs, '--html', path.join(dir, 'whole.html'))
    expect(whole.code).toBe(1) // the example leaks when some allocations fail
    const merged = dmalab('merge', part(2), part(1), '--json', '--html', path.join(dir, 'merged.html'))
    expect(merged.stderr).toBe('')
    expect(merged.code).toBe(1)
    expect(merged.stdout).toBe(whole.stdout)
    expect(readFileSync(path.join(dir, 'merged.html'), 'utf8')).toBe(readFileSync(path.join(dir, 'whole.html'), 'utf8'))
    const text = dmalab('merge', part(1), part(2))
    expect(text.stdout).toMatch(/^dmalab sweep buggy\/leak-on-halt — \d+ of \d+ runs not handled/)
  })

  it('a missing shard, a duplicated one, an unreadable or foreign file: one line naming it, exit 2', () => {
    writeFileSync(path.join(dir, 'not.json'), '{"hello":')
    const cases: Array<[string[], RegExp]> = [
      [[part(1)], /^dmalab: shard 2\/2 is missing \(given: 1\)$/],
      [[part(1), part(1), part(2)], /^dmalab: shard 1\/2 is given twice/],
      [[part(1), path.join(dir, 'nope.json')], /^dmalab: cannot read .*nope\.json: no such file$/],
      [[path.join(dir, 'not.json')], /^dmalab: .*not\.json is not JSON/],
      [[], /^dmalab: merge needs the shard reports to merge/],
      [[part(1), '--iommu', 'on'], /^dmalab: --iommu does not apply to merge/],
    ]
    for (const [args, message] of cases) {
      const r = dmalab('merge', ...args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(message)
      expect(r.stdout).toBe('')
    }
  })

  it('--shard takes I/N, for sweep only', () => {
    expect(dmalab('sweep', 'e1000', '--shard', '3').stderr).toMatch(/^dmalab: --shard takes I\/N/)
    expect(dmalab('sweep', 'e1000', '--shard', '5/4').stderr).toMatch(/^dmalab: --shard 5\/4 is outside/)
    const r = dmalab('run', 'e1000', '--shard', '1/2')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^dmalab: --shard applies to sweep only/)
  })
})
