// The progress line of long commands (sweep, check): runs done of total, the rate, the time
// left, redrawn in place on a terminal at most ten times a second and cleared at the end.
// Nothing is written when stderr is not a terminal (a CI log, a pipe) or when --json asked for
// machine-readable output only.

/** Where the line goes: process.stderr, or a test's stand-in. */
export interface ProgressStream {
  readonly isTTY?: boolean
  write(text: string): unknown
}

export interface Progress {
  /** `done` of `total` units finished; `label` can change between phases. */
  update(done: number, total: number, label?: string): void
  /** Clears the line (a no-op when nothing was drawn). */
  end(): void
}

const REDRAW_MS = 100

/** `m:ss` or `h:mm:ss`. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`
}

/**
 * The line itself: `sweep e1000  312/1,040 runs (30%)  41 runs/s  about 0:18 left`; `rate` is
 * units per second, 0 while unknown.
 */
export function progressLine(label: string, done: number, total: number, rate: number, unit = 'runs'): string {
  const n = (x: number): string => x.toLocaleString('en-US')
  const pct = Math.floor((100 * done) / Math.max(1, total))
  const head = `${label}  ${n(done)}/${n(total)} ${unit} (${pct}%)`
  if (!(rate > 0)) return head
  const left = done >= total ? '' : `  about ${clock((total - done) / rate)} left`
  return `${head}  ${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} ${unit}/s${left}`
}

/**
 * A progress line for `label`, or one that does nothing when `quiet` (--json) or the stream is
 * not a terminal. `now` is injectable so tests need not wait.
 */
export function progress(label: string, options: { quiet: boolean; stream?: ProgressStream; now?: () => number; unit?: string }): Progress {
  const stream = options.stream ?? process.stderr
  if (options.quiet || stream.isTTY !== true) return { update: () => {}, end: () => {} }
  const now = options.now ?? Date.now
  let start = -1
  let startDone = 0
  let last = -Infinity
  let drawn = false
  let current = label
  return {
    update(done, total, newLabel) {
      const t = now()
      if (newLabel !== undefined && newLabel !== current) {
        // A new phase: its rate starts afresh.
        current = newLabel
        start = -1
      }
      if (start < 0) {
        start = t
        startDone = done
      }
      if (t - last < REDRAW_MS && done < total) return
      last = t
      // The rate counts only what finished since this phase began to be timed.
      const rate = t > start ? (1000 * (done - startDone)) / (t - start) : 0
      stream.write(`\r\x1b[K${progressLine(current, done, total, rate, options.unit)}`)
      drawn = true
    },
    end() {
      if (drawn) stream.write('\r\x1b[K')
      drawn = false
    },
  }
}
