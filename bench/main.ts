// dmalab's performance figures, each printed beside its limit measured in the same run: these
// machines are noisy, so targets are ratios to the same run's limit, never absolute numbers,
// and nothing here is asserted by the unit tests. `npm run bench [-- --json]`, `dmalab bench`.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { loadMiniport } from '../src/scenario.js'
import { defaultJobs } from '../src/sweep.js'
import { copyLimit } from './copy-limit.js'
import { deviceLoopback } from './device.js'
import { fullPath, gbitPerSecond } from './full-path.js'
import { machineScaling, sweepRate } from './sweep.js'
import { workerCost } from './worker.js'

export interface BenchResult {
  name: string
  value: number
  unit: string
  limit?: number
  ratio?: number
  /** What the issue asks of the figure (printed, not asserted). */
  target?: string
  note?: string
}

const SECONDS = Number(process.env.DMALAB_BENCH_SECONDS ?? 2)

/** A difference with its sign: +3.2, −1.5. */
function signed(x: number): string {
  return `${x < 0 ? '−' : '+'}${Math.abs(x).toFixed(1)}`
}

function row(r: BenchResult): string {
  const fmt = (x: number | undefined): string => (x === undefined ? '' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2))
  return `${r.name.padEnd(24)}${fmt(r.value).padStart(13)} ${r.unit.padEnd(12)}${fmt(r.limit).padStart(13)}${(r.ratio === undefined ? '' : r.ratio.toFixed(2)).padStart(7)}  ${r.target ?? ''}${r.note ? `  ${r.note}` : ''}`
}

export async function runBench(options: { json: boolean }): Promise<number> {
  const results: BenchResult[] = []
  const say = (r: BenchResult): void => {
    results.push(r)
    if (!options.json) console.log(row(r))
  }
  if (!options.json) {
    console.log(`dmalab bench — ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version}, ${SECONDS} s per figure`)
    console.log(`${'name'.padEnd(24)}${'value'.padStart(13)} ${'unit'.padEnd(12)}${'limit'.padStart(13)}${'ratio'.padStart(7)}  target`)
  }
  const copy = new Map<number, number>()
  for (const size of [64, 1500]) {
    const v = copyLimit(size, SECONDS)
    copy.set(size, v)
    say({ name: `copy-limit-${size}`, value: v, unit: 'frames/s', note: 'raw TypedArray copies, TX → wire → RX, cold 64 MiB working set' })
  }
  const device = new Map<string, number>()
  for (const iommu of [false, true]) {
    for (const size of [64, 1500]) {
      const v = deviceLoopback(size, iommu, SECONDS).framesPerSecond
      device.set(`${size}-${iommu}`, v)
      const limit = copy.get(size)!
      say({
        name: `device-${size}-iommu-${iommu ? 'on' : 'off'}`,
        value: v,
        unit: 'frames/s',
        limit,
        ratio: v / limit,
        target: iommu ? `>= ${size === 1500 ? '0.6' : '0.4'} x copy; on/off ${(v / device.get(`${size}-false`)!).toFixed(2)} (>= 0.85)` : '',
      })
    }
  }
  const e1000 = await loadMiniport('e1000')
  const full = new Map<number, number>()
  for (const size of [64, 1500]) {
    const v = fullPath(e1000, size, SECONDS).framesPerSecond
    full.set(size, v)
    const limit = copy.get(size)!
    say({
      name: `full-path-${size}`,
      value: v,
      unit: 'frames/s',
      limit,
      ratio: v / limit,
      target: size === 1500 ? '>= 0.45 x copy' : '',
      note: `${gbitPerSecond(v, size).toFixed(2)} Gbit/s emulated (10 GbE line rate: 812,744 frames/s of 1518 bytes)`,
    })
  }
  // The same path with the C e1000 (built once, or found in the build cache, before the clock starts).
  const cE1000 = await loadMiniport('c/e1000')
  const c1500 = fullPath(cE1000, 1500, SECONDS, 'x86').framesPerSecond
  say({
    name: 'full-path-c-1500',
    value: c1500,
    unit: 'frames/s',
    limit: full.get(1500)!,
    ratio: c1500 / full.get(1500)!,
    note: 'x full-path-1500: examples/c/e1000, every C load and store a host call through the page tables',
  })
  const one = await sweepRate(e1000, 1)
  say({ name: 'sweep-1-worker', value: one.scenariosPerSecond, unit: 'scenarios/s', target: '>= 1,000', note: `${one.runs} runs, ${one.handled} handled` })
  const jobs = defaultJobs()
  const all = await sweepRate(e1000, jobs)
  const scaling = await machineScaling(jobs)
  say({
    name: 'sweep-all-workers',
    value: all.scenariosPerSecond,
    unit: 'scenarios/s',
    limit: one.scenariosPerSecond,
    ratio: all.scenariosPerSecond / one.scenariosPerSecond,
    target: '>= 1.7 x one worker',
    note: `${jobs} workers; ${jobs} independent processes reach ${scaling.toFixed(2)} x one on this machine`,
  })

  const cost = await workerCost(e1000)
  say({
    name: 'run-worker-cold-ms',
    value: cost.coldMs,
    unit: 'ms/run',
    limit: cost.inThreadMs,
    ratio: cost.coldMs / cost.inThreadMs,
    note: `dmalab run's watched worker: ${signed(cost.coldMs - cost.inThreadMs)} ms a command (start, import, close; e1000, 100 frames, limit = the same run in this thread)`,
  })
  say({
    name: 'run-worker-warm-ms',
    value: cost.warmMs,
    unit: 'ms/run',
    limit: cost.inThreadMs,
    ratio: cost.warmMs / cost.inThreadMs,
    note: `each further run on a started worker (check, sweep): ${signed(cost.warmMs - cost.inThreadMs)} ms`,
  })
  say({
    name: 'run-worker-frame-us',
    value: cost.workerFrameUs,
    unit: 'us/frame',
    limit: cost.inThreadFrameUs,
    ratio: cost.workerFrameUs / cost.inThreadFrameUs,
    note: 'a long run (e1000, 20,000 frames of 64 B, report included) in the warm worker, whose built-ins are guarded; limit = the same run in this thread',
  })

  const probe = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './probes/memory-probe.ts' : './probes/memory-probe.js', import.meta.url))
  const args = probe.endsWith('.ts') ? ['--expose-gc', '--import', 'tsx', probe] : ['--expose-gc', probe]
  const mem = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').at(-1)!) as { createUs: number; rssMiB: number }
  say({ name: 'machine-create-8gib-us', value: mem.createUs, unit: 'us', target: '<= 200' })
  say({ name: 'rss-1tib-mib', value: mem.rssMiB, unit: 'MiB', target: '<= 64', note: '1 TiB machine, 10,000 scattered pages written' })

  if (options.json) console.log(JSON.stringify({ results: results.map(({ name, value, unit, limit, ratio }) => ({ name, value, unit, ...(limit === undefined ? {} : { limit }), ...(ratio === undefined ? {} : { ratio }) })) }, null, 2))
  return 0
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void runBench({ json: process.argv.includes('--json') }).then((code) => {
    process.exitCode = code
  })
}
