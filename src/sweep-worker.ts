// A sweep worker: runs scenarios it is sent, one at a time, and posts back their summaries.
// Miniport modules are imported once per worker and reused. A module this worker cannot import
// is posted back as a load error (the sweep stops: a usage problem, not a run of the driver).
import { parentPort } from 'node:worker_threads'
import { loadMiniport, runForSweep, type LoadableMiniport } from './scenario.js'
import { emulatorError, type WorkerReply, type WorkerTask } from './sweep.js'

const modules = new Map<string, Promise<LoadableMiniport>>()

parentPort?.on('message', (msg: { id: number; task: WorkerTask }) => {
  const { task } = msg
  let loading = modules.get(task.file)
  if (loading === undefined) modules.set(task.file, (loading = loadMiniport(task.file)))
  const post = (reply: WorkerReply): void => parentPort?.postMessage(reply)
  loading.then(
    (miniport) => {
      let reply: WorkerReply
      try {
        reply = { id: msg.id, summary: runForSweep({ ...miniport, name: task.name }, task.config, task.scenario) }
      } catch (error) {
        reply = { id: msg.id, summary: emulatorError(error) }
      }
      post(reply)
    },
    (error: unknown) => post({ id: msg.id, loadError: error instanceof Error ? error.message : String(error) }),
  )
})
