// A fuzz worker (`npm run fuzz` runs one per core): runs the batches it is sent and posts back
// their results. Before every run it stores, in memory the main thread shares, how many runs it
// has started, which input it is on and whether it is shrinking, so the main thread can tell a
// run that never ends (a hang in the emulator) and name the seed and input that caused it.
import { parentPort, workerData } from 'node:worker_threads'
import { runNamed, type TargetName } from './runner.js'

export interface BatchTask {
  readonly batch: number
  readonly target: TargetName
  readonly seed: number
  readonly numRuns: number
}

/** Slots of the shared progress array. */
export const PROGRESS = { started: 0, generated: 1, shrinking: 2 } as const

const progress = new Int32Array(workerData as SharedArrayBuffer)

parentPort?.on('message', (task: BatchTask) => {
  const result = runNamed(task.target, task.seed, task.numRuns, (generated, shrinking) => {
    Atomics.add(progress, PROGRESS.started, 1)
    Atomics.store(progress, PROGRESS.generated, generated)
    Atomics.store(progress, PROGRESS.shrinking, shrinking ? 1 : 0)
  })
  parentPort?.postMessage({ batch: task.batch, result })
})
