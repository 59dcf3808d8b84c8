// Shim fuzz counterexamples, shrunk by hand to the calls that matter and kept as programs (a
// replay path would name another input once the generators change). Each runs in a worker
// thread the test can stop, since the bug they found was a run that never returned.
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import type { ShimProgram } from './shim-ops.js'

/** Runs a program in a worker; 'hang' when it has not returned in `ms`. */
function runIsolated(program: ShimProgram, ms: number): Promise<{ calls: number } | { error: string } | 'hang'> {
  const run = new URL('./shim-run.ts', import.meta.url)
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `
    const { parentPort, workerData } = await import('node:worker_threads')
    const api = await import(${JSON.stringify(tsx)})
    api.register()
    const { runShimProgram } = await import(${JSON.stringify(run.href)})
    try { parentPort.postMessage({ calls: runShimProgram(workerData) }) } catch (e) { parentPort.postMessage({ error: String(e) }) }`
  const worker = new Worker(`(async () => {${boot}})()`, { eval: true, workerData: program })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate()
      resolve('hang')
    }, ms)
    worker.once('message', (m: { calls: number } | { error: string }) => {
      clearTimeout(timer)
      void worker.terminate()
      resolve(m)
    })
    worker.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
}

const CONFIG: ShimProgram['config'] = { mode: 'log', iommu: true, dma64: true, policy: 'random', memory: '8GiB', fragmentation: 0, specialPool: true, dmaGuard: false, faults: null, twice: false }

describe('shim fuzz counterexamples', () => {
  it('an NBL indicated from the send handler whose Next the DPC then points at itself: the run ends (the protocol walked its held chain through that Next forever)', async () => {
    // From `npm run fuzz -- --seconds 600` (seed 223310568, path 42): calls 4, 7 and 21 of 43.
    const program = {
      config: CONFIG,
      calls: [
        { where: 'init', call: { call: 'nbl-alloc', pool: 1, mdl: 4, offset: 0, bytes: 4097 } },
        { where: 'dpc', call: { call: 'nbl-scribble', pick: 1, field: 'Next', to: 7, value: 4096 } },
        { where: 'send', call: { call: 'nbl-indicate', pick: 1, count: 2 } },
      ],
      steps: [
        { step: 'send', count: 11, size: 1514 },
        { step: 'receive', count: 1, size: 2000 },
      ],
    } as unknown as ShimProgram
    const r = await runIsolated(program, 60_000)
    expect(r).not.toBe('hang')
    expect(r).not.toHaveProperty('error')
  }, 90_000)
})
