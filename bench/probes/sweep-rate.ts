// One process's steady sweep rate (e1000 init + 100 frames + halt, one failed call each, in
// this thread, after a warm-up sweep). The bench runs several of these at once to measure how
// far this machine scales the workload at all: the limit beside sweep-all-workers.
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'

const e1000 = await loadMiniport('e1000')
const scenario = { packets: 100, size: 1500, rx: 0 }
await sweep(e1000, { config: {}, scenario, jobs: 1 })
const start = performance.now()
const r = await sweep(e1000, { config: {}, scenario, jobs: 1 })
console.log(JSON.stringify({ scenariosPerSecond: r.runs.length / ((performance.now() - start) / 1000) }))
