// The progress line of long sweeps and checks: on a terminal, runs done of total, the rate and
// the time left, redrawn in place and cleared at the end; nothing at all with --json or when
// stderr is not a terminal (CI logs, pipes).
import { describe, expect, it } from 'vitest'
import { clock, progress, progressLine } from '../../src/cli/progress.js'

function fakeTerminal(isTTY: boolean): { isTTY: boolean; text: string; write: (t: string) => void } {
  const s = { isTTY, text: '', write: (t: string) => void (s.text += t) }
  return s
}

describe('progress line', () => {
  it('says done of total, the rate and the time left', () => {
    expect(progressLine('sweep e1000', 300, 1200, 50)).toBe('sweep e1000  300/1,200 runs (25%)  50 runs/s  about 0:18 left')
    expect(progressLine('sweep e1000', 3, 100, 1.5)).toBe('sweep e1000  3/100 runs (3%)  1.5 runs/s  about 1:05 left')
    expect(progressLine('sweep e1000', 0, 100, 0)).toBe('sweep e1000  0/100 runs (0%)')
    expect(clock(3725)).toBe('1:02:05')
  })

  it('on a terminal: redrawn in place at most ten times a second, the final count always, cleared at the end', () => {
    const tty = fakeTerminal(true)
    let t = 0
    const bar = progress('sweep x', { quiet: false, stream: tty, now: () => t })
    bar.update(0, 10)
    t = 50
    bar.update(1, 10) // within 100 ms of the last draw: skipped
    t = 1000
    bar.update(5, 10)
    t = 2000
    bar.update(10, 10)
    bar.end()
    const draws = tty.text.split('\r\x1b[K').filter((x) => x !== '')
    expect(draws).toEqual(['sweep x  0/10 runs (0%)', 'sweep x  5/10 runs (50%)  5.0 runs/s  about 0:01 left', 'sweep x  10/10 runs (100%)  5.0 runs/s'])
    expect(tty.text.endsWith('\r\x1b[K')).toBe(true)
  })

  it('writes nothing with --json, nor when stderr is not a terminal', () => {
    for (const [isTTY, quiet] of [
      [true, true],
      [false, false],
    ] as const) {
      const s = fakeTerminal(isTTY)
      const bar = progress('sweep x', { quiet, stream: s, now: () => 0 })
      bar.update(1, 2)
      bar.end()
      expect(s.text).toBe('')
    }
  })
})
