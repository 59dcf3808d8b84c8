// Sweep throughput: scenarios per second for e1000 init + 100 frames + halt with one
// allocation call failed each, on one worker thread and on one per core. Each pool is warmed
// by a first sweep (every worker imports dmalab and compiles its hot code once, as in any long
// sweep), then the second is timed.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { LoadableMiniport } from '../src/scenario.js'
import { sweep, SweepPool } from '../src/sweep.js'

const scenario = { packets: 100, size: 1500, rx: 0 }

export async function sweepRate(miniport: LoadableMiniport, jobs: number): Promise<{ scenariosPerSecond: number; runs: number; handled: number }> {
  const pool = new SweepPool(jobs)
  try {
    await sweep(miniport, { config: {}, scenario, pool })
    const start = performance.now()
    const r = await sweep(miniport, { config: {}, scenario, pool })
    const elapsed = (performance.now() - start) / 1000
    return { scenariosPerSecond: r.runs.length / elapsed, runs: r.runs.length, handled: r.summary.handled }
  } finally {
    await pool.close()
  }
}

/**
 * How far this machine scales the sweep workload with no threads shared at all: `jobs`
 * independent processes sweeping at once, against one alone. Memory bandwidth and shared
 * caches, not dmalab, set this limit.
 */
export async function machineScaling(jobs: number): Promise<number> {
  const probe = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './probes/sweep-rate.ts' : './probes/sweep-rate.js', import.meta.url))
  const args = probe.endsWith('.ts') ? ['--import', 'tsx', probe] : [probe]
  const run = promisify(execFile)
  const rate = async (): Promise<number> => (JSON.parse((await run(process.execPath, args, { encoding: 'utf8' })).stdout.trim().split('\n').at(-1)!) as { scenariosPerSecond: number }).scenariosPerSecond
  const alone = await rate()
  const together = await Promise.all(Array.from({ length: jobs }, rate))
  return together.reduce((a, b) => a + b, 0) / alone
}
