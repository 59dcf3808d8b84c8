// A sweep worker: runs scenarios it is sent, one at a time, and posts back their summaries.
// Miniport modules are imported once per worker and reused.
import { parentPort } from 'node:worker_threads'
import { loadMiniport, runForSweep, type LoadableMiniport } from './scenario.js'
import { emulatorError, type WorkerTask } from './sweep.js'

const modules = new Map<string, Promise<LoadableMiniport>>()

parentPort?.on('message', (msg: { id: number; task: WorkerTask }) => {
  const { task } = msg
  let loading = modules.get(task.file)
  if (loading === undefined) modules.set(task.file, (loading = loadMiniport(task.file)))
  loading
    .then((miniport) => runForSweep({ ...miniport, name: task.name }, task.config, task.scenario))
    .catch((error: unknown) => emulatorError(error))
    .then((summary) => parentPort?.postMessage({ id: msg.id, summary }))
})
