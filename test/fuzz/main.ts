// `npm run fuzz -- --seconds N`: the device and shim fuzzers for longer than CI runs them, from
// seeds CI never uses, on every core. Prints progress to stderr, each counterexample (target,
// seed, shrunk replay path, what broke, the shrunk input, the command that replays it) to
// stdout, and ends with exactly `fuzz: R runs, C counterexamples`; `--json` prints
// `{ "runs": R, "counterexamples": [ { "target", "seed", "path", "message" } ] }` instead.
//
// A run that does not finish within HANG_MS is a hang of the emulator: its worker is stopped
// and the hang is a counterexample naming the seed and the input (replay path) it was on. A
// worker that runs out of memory is one too. Exit status: 0 without counterexamples, 1 with,
// 2 for a bad command line (one line saying what is wrong).
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { TARGET_NAMES, inputAt, replayNamed, type BatchResult, type Counterexample, type TargetName } from './runner.js'
import { PROGRESS, type BatchTask } from './worker.js'

const HANG_MS = 30_000
const PROGRESS_MS = 5_000
/** Runs per batch: about a second of work each, so a deadline is met and progress is smooth. */
const BATCH_RUNS: Record<TargetName, number> = { device: 200, shim: 60 }
const WORKER_HEAP_MB = 2048

interface Options {
  readonly seconds: number
  readonly json: boolean
  readonly seed: number
  readonly targets: readonly TargetName[]
  readonly workers: number
  readonly replay: { readonly seed: number; readonly path: string } | null
}

class UsageError extends Error {}
/** --help: the usage on stdout, exit 0. */
class HelpRequest extends Error {}

const USAGE = 'usage: npm run fuzz -- [--seconds N] [--json] [--seed N] [--target device|shim|all] [--workers N] [--replay SEED:PATH --target device|shim]'

function parse(argv: readonly string[]): Options {
  let seconds = 60
  let json = false
  let seed = Date.now() % 1_000_000_007
  let target = 'all'
  let workers = Math.max(1, availableParallelism())
  let replay: Options['replay'] = null
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1]
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`)
    return v
  }
  const whole = (text: string, flag: string, min: number, max: number): number => {
    const n = Number(text)
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a whole number in ${min}..${max}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    switch (arg) {
      case '--seconds': {
        const text = value(i++, arg)
        const n = Number(text)
        if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > 7 * 24 * 3600) throw new UsageError(`--seconds ${JSON.stringify(text)} is not a number of seconds above 0`)
        seconds = n
        break
      }
      case '--json':
        json = true
        break
      case '--seed':
        seed = whole(value(i++, arg), arg, 0, 2 ** 31 - 1)
        break
      case '--target':
        target = value(i++, arg)
        if (target !== 'all' && !(TARGET_NAMES as readonly string[]).includes(target)) throw new UsageError(`--target ${JSON.stringify(target)} is not one of device, shim, all`)
        break
      case '--workers':
        workers = whole(value(i++, arg), arg, 1, 64)
        break
      case '--replay': {
        const text = value(i++, arg)
        const m = /^(\d+):(\d+(?::\d+)*)$/.exec(text)
        if (m === null) throw new UsageError(`--replay ${JSON.stringify(text)} is not SEED:PATH (as a counterexample prints it, e.g. 1234:5:0:2)`)
        replay = { seed: whole(m[1]!, '--replay seed', 0, 2 ** 31 - 1), path: m[2]! }
        break
      }
      case '--help':
      case '-h':
        throw new HelpRequest(USAGE)
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)} (${USAGE.replace('usage: ', '')})`)
    }
  }
  if (replay !== null && target === 'all') throw new UsageError('--replay needs --target device or --target shim')
  return { seconds, json, seed, targets: target === 'all' ? TARGET_NAMES : [target as TargetName], workers, replay }
}

/** A worker: from a checkout it registers tsx's loader first (Node 20 applies no --import to a worker's entry). */
function startWorker(progress: SharedArrayBuffer): Worker {
  const url = new URL('./worker.ts', import.meta.url)
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { eval: true, workerData: progress, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } })
}

interface Slot {
  worker: Worker
  readonly progress: Int32Array
  readonly buffer: SharedArrayBuffer
  task: BatchTask | null
  lastStarted: number
  lastChange: number
}

interface Totals {
  runs: number
  readonly byTarget: Record<TargetName, { runs: number; ops: number }>
  readonly counterexamples: Counterexample[]
}

function printCounterexample(c: Counterexample, json: boolean): void {
  if (json) return
  const lines = [
    `counterexample: ${c.target} seed ${c.seed} path ${c.path}`,
    ...c.message.split('\n').slice(0, 12).map((l) => `  ${l}`),
    `  input: ${c.input.length > 2000 ? `${c.input.slice(0, 2000)}…` : c.input}`,
    `  replay: npm run fuzz -- --target ${c.target} --replay ${c.seed}:${c.path}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}

async function fuzz(o: Options): Promise<Totals> {
  const totals: Totals = { runs: 0, byTarget: { device: { runs: 0, ops: 0 }, shim: { runs: 0, ops: 0 } }, counterexamples: [] }
  const started = Date.now()
  const deadline = started + o.seconds * 1000
  let nextBatch = 0
  const nextTask = (): BatchTask => {
    const batch = nextBatch++
    const target = o.targets[batch % o.targets.length]!
    return { batch, target, seed: (o.seed + batch) % 2 ** 31, numRuns: BATCH_RUNS[target] }
  }
  if (!o.json) process.stderr.write(`fuzz: ${o.seconds}s on ${o.workers} worker${o.workers === 1 ? '' : 's'}, targets ${o.targets.join(', ')}, seeds from ${o.seed}\n`)
  return new Promise<Totals>((resolve) => {
    const slots: Slot[] = []
    let finished = false
    const finishIfIdle = (): void => {
      if (finished || slots.some((s) => s.task !== null)) return
      finished = true
      clearInterval(watchdog)
      clearInterval(reporter)
      for (const s of slots) void s.worker.terminate()
      resolve(totals)
    }
    const assign = (slot: Slot): void => {
      if (Date.now() >= deadline) {
        slot.task = null
        finishIfIdle()
        return
      }
      slot.task = nextTask()
      slot.lastChange = Date.now()
      slot.worker.postMessage(slot.task)
    }
    const record = (c: Counterexample): void => {
      totals.counterexamples.push(c)
      printCounterexample(c, o.json)
    }
    const spawn = (slot: Slot): void => {
      const w = startWorker(slot.buffer)
      slot.worker = w
      w.on('message', (msg: { batch: number; result: BatchResult }) => {
        const task = slot.task
        if (task === null || msg.batch !== task.batch) return
        totals.runs += msg.result.runs
        totals.byTarget[task.target].runs += msg.result.runs
        totals.byTarget[task.target].ops += msg.result.ops
        if (msg.result.counterexample !== null) record(msg.result.counterexample)
        assign(slot)
      })
      w.on('error', (error) => lost(slot, `the worker failed: ${error.message}`))
      w.on('exit', (code) => {
        if (slot.worker === w && slot.task !== null) lost(slot, `the worker exited with code ${code}`)
      })
    }
    /** The worker died or hung on its task: a counterexample at the input it was on; a new worker goes on. */
    const lost = (slot: Slot, why: string): void => {
      const task = slot.task
      if (task === null) return
      const generated = Atomics.load(slot.progress, PROGRESS.generated)
      const shrinking = Atomics.load(slot.progress, PROGRESS.shrinking) === 1
      totals.runs += generated + 1
      totals.byTarget[task.target].runs += generated + 1
      const path = String(generated)
      record({ target: task.target, seed: task.seed, path, message: `${why}${shrinking ? ' while shrinking the failure of this input' : ''} (not shrunk: the run did not return)`, input: inputAt(task.target, task.seed, path) })
      slot.task = null
      const old = slot.worker
      old.removeAllListeners()
      void old.terminate()
      Atomics.store(slot.progress, PROGRESS.started, 0)
      spawn(slot)
      assign(slot)
    }
    for (let i = 0; i < o.workers; i++) {
      const buffer = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT)
      const slot: Slot = { worker: null as unknown as Worker, progress: new Int32Array(buffer), buffer, task: null, lastStarted: 0, lastChange: Date.now() }
      slots.push(slot)
      spawn(slot)
      assign(slot)
    }
    const watchdog = setInterval(() => {
      const now = Date.now()
      for (const slot of slots) {
        if (slot.task === null) continue
        const started = Atomics.load(slot.progress, PROGRESS.started)
        if (started !== slot.lastStarted) {
          slot.lastStarted = started
          slot.lastChange = now
        } else if (now - slot.lastChange > HANG_MS) {
          lost(slot, `hang: one run did not finish in ${HANG_MS / 1000} s`)
        }
      }
    }, 1000)
    const reporter = setInterval(() => {
      if (o.json) return
      const elapsed = Math.round((Date.now() - started) / 1000)
      const t = totals.byTarget
      process.stderr.write(`fuzz: ${elapsed}s, ${totals.runs} runs (device ${t.device.runs} runs / ${t.device.ops} ops, shim ${t.shim.runs} runs / ${t.shim.ops} calls), ${totals.counterexamples.length} counterexamples\n`)
    }, PROGRESS_MS)
  })
}

async function main(): Promise<number> {
  let options: Options
  try {
    options = parse(process.argv.slice(2))
  } catch (error) {
    if (error instanceof HelpRequest) {
      process.stdout.write(`${error.message}\n`)
      return 0
    }
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`fuzz: ${error.message}\n`)
    return 2
  }
  if (options.replay !== null) {
    const [target] = options.targets
    try {
      replayNamed(target!, options.replay.seed, options.replay.path)
      process.stdout.write(`fuzz: ${target} seed ${options.replay.seed} path ${options.replay.path} passes\n`)
      return 0
    } catch (error) {
      process.stdout.write(`${error instanceof Error ? error.message : String(error)}\n`)
      return 1
    }
  }
  const started = Date.now()
  const totals = await fuzz(options)
  const seconds = (Date.now() - started) / 1000
  const c = totals.counterexamples
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ runs: totals.runs, counterexamples: c.map((x) => ({ target: x.target, seed: x.seed, path: x.path, message: x.message })) })}\n`)
  } else {
    const t = totals.byTarget
    process.stderr.write(
      `fuzz: ${seconds.toFixed(0)}s, ${(totals.runs / seconds).toFixed(1)} runs/s; device ${t.device.runs} runs / ${t.device.ops} ops, shim ${t.shim.runs} runs / ${t.shim.ops} calls\n`,
    )
    process.stdout.write(`fuzz: ${totals.runs} runs, ${c.length} counterexamples\n`)
  }
  return c.length === 0 ? 0 : 1
}

process.exitCode = await main()
