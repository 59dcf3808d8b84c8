// What the watched worker costs a run. `dmalab run` and each configuration of `dmalab check`
// execute on a worker thread (src/run-pool.ts) so that driver code which never returns can be
// stopped; that thread is started, imports dmalab and the miniport, and is ended once per
// command. The same run made in this thread is the limit: the difference is the worker's price.
//  - cold: a pool of one started, one run, the pool closed (what one `dmalab run` pays);
//  - warm: a further run on a pool already started (what each later run of `check` or a sweep
//    pays: the message round trip and the report's structured clone).
import { RunPool } from '../src/run-pool.js'
import { runScenario, type LoadableMiniport } from '../src/scenario.js'

const scenario = { packets: 100, size: 1500, rx: 0 }
const ROUNDS = 5

export interface WorkerCost {
  /** Milliseconds per run made in this thread. */
  inThreadMs: number
  /** Milliseconds per run through a fresh pool of one (start, import, run, close). */
  coldMs: number
  /** Milliseconds per run on a pool already started. */
  warmMs: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export async function workerCost(miniport: LoadableMiniport): Promise<WorkerCost> {
  runScenario(miniport, {}, scenario) // warm this thread's code paths, as the warm pool's are
  const inThread: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now()
    const { report } = runScenario(miniport, {}, scenario)
    inThread.push(performance.now() - t)
    if (report.outcome !== 'clean') throw new Error(`worker bench: the in-thread run was not clean (${report.findings[0]?.kind ?? report.outcome})`)
  }
  const task = { kind: 'report', file: miniport.file, name: miniport.name, config: {}, scenario } as const
  const cold: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now()
    const pool = new RunPool(1)
    try {
      const r = await pool.run(task)
      if (r.kind !== 'report' || r.report.outcome !== 'clean') throw new Error('worker bench: the worker run was not clean')
    } finally {
      await pool.close()
    }
    cold.push(performance.now() - t)
  }
  const warm: number[] = []
  const pool = new RunPool(1)
  try {
    await pool.run(task)
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now()
      await pool.run(task)
      warm.push(performance.now() - t)
    }
  } finally {
    await pool.close()
  }
  return { inThreadMs: median(inThread), coldMs: median(cold), warmMs: median(warm) }
}
