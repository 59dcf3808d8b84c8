// Sweep throughput: scenarios per second for e1000 init + 100 frames + halt with one
// allocation call failed each, on one worker and on every core.
import type { LoadableMiniport } from '../src/scenario.js'
import { sweep } from '../src/sweep.js'

export async function sweepRate(miniport: LoadableMiniport, jobs: number): Promise<{ scenariosPerSecond: number; runs: number; handled: number }> {
  const start = performance.now()
  const r = await sweep(miniport, { config: {}, scenario: { packets: 100, size: 1500, rx: 0 }, jobs, inWorkers: true })
  const elapsed = (performance.now() - start) / 1000
  return { scenariosPerSecond: r.runs.length / elapsed, runs: r.runs.length, handled: r.summary.handled }
}
