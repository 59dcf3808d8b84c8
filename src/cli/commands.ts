// The dmalab commands. Each returns its exit code: 0 clean, 1 findings / bug check / failed
// init (sweep: not every run handled; check: not every configuration clean or the sweep not
// all handled). Usage errors (exit 2) are thrown as UsageError before anything runs.
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { MiniportLoadError, MiniportNotFound, buildMiniportSources, bundledMiniports, importMiniport, resolveMiniport } from '../driver/loader.js'
import { isCDriverPath } from '../driver/c/load.js'
import { isCMiniport } from '../driver/c/module.js'
import { RunPool, WorkerLost } from '../run-pool.js'
import type { RunResult, RunTask } from '../run-protocol.js'
import type { MachineConfig } from '../config.js'
import type { ScenarioOptions } from '../scenario.js'
import { defaultJobs, sweep, type SweepResult } from '../sweep.js'
import type { Report } from '../report.js'
import { UsageError, type CliOptions } from './args.js'
import { bold, formatReport, formatSweep, green, red, verdict } from './format.js'
import { progress } from './progress.js'
import { shardJson, sweepJson } from '../report/sweep-json.js'
import type { PicturedReport } from '../report/recording.js'
import { runHtml } from '../report/html/run.js'
import { sweepHtml } from '../report/html/sweep.js'
import { checkHtml, type CheckConfiguration } from '../report/html/check.js'
import { writeHtml } from './html.js'

/** Frames each sweep run sends unless --packets says otherwise (a sweep is one run per call). */
export const SWEEP_PACKETS = 100

/** The miniport a command runs: its file, the name reports use, and a C driver's build. */
export interface Target {
  readonly name: string
  readonly file: string
  /** A C driver, built here: the workers instantiate this module and never compile it again. */
  readonly wasm?: Uint8Array
}

/**
 * The miniport a command runs, found before anything runs (a name or path that is not one is a
 * usage error, exit 2). A TypeScript or JavaScript module is imported only in the run's worker,
 * never in this thread, so its top-level code cannot reach this process either. A C driver is
 * built here, since compiling runs none of its code: a compile error is exit 2 at clang's line,
 * what the command line asks of it is checked (forCDriver), and every worker gets this one build
 * (none compiles it again, under the driver timeout, whether the build cache is on or off).
 */
async function miniportFor(o: CliOptions): Promise<Target> {
  // Several .c files (`dmalab run a.c b.c`) are built together into one module first.
  const name = o.files.length > 0 ? o.files.join(' ') : o.miniport!
  let target: { name: string; file: string }
  let wasm: Uint8Array | undefined
  try {
    // Several files are named as given (`a.c b.c`), not by the temporary module they build.
    target = o.files.length > 0 ? { ...resolveMiniport(await buildMiniportSources(o.files)), name } : resolveMiniport(name)
    if (isCDriverPath(target.file)) {
      const module = await importMiniport(target.file, target.name)
      if (isCMiniport(module)) wasm = module.cDriver.wasm
    }
  } catch (error) {
    throw loadUsageError(name, error)
  }
  if (wasm === undefined) return target
  forCDriver(o)
  return { ...target, wasm }
}

/** A C driver runs on the 32-bit machine (its pointers are 32 bits): --arch x86 is its default. */
function forCDriver(o: CliOptions): void {
  if (o.machine.arch === 'x64') throw new UsageError('C drivers run on the 32-bit machine: --arch x86 (the default for them)')
  o.machine = { ...o.machine, arch: 'x86' }
}

function loadUsageError(name: string, error: unknown): unknown {
  if (error instanceof MiniportNotFound) return new UsageError(error.message)
  if (error instanceof MiniportLoadError) return new UsageError(`cannot load miniport "${name}": ${error.message.split('\n')[0]}`)
  return error
}

/** One run in a watched worker (run-pool.ts): its report, or a usage error if it cannot load. */
async function reportOf(pool: RunPool, task: Extract<RunTask, { kind: 'report' }>, asked: string): Promise<Report> {
  let r: RunResult
  try {
    r = await pool.run(task)
  } catch (error) {
    if (error instanceof WorkerLost) throw new WorkerLost(`${asked}: ${error.message}`)
    throw loadUsageError(asked, error)
  }
  if (r.kind === 'report') return r.report
  // The emulator itself failed in the worker: dmalab's own bug, said plainly.
  throw new Error(r.kind === 'summary' ? r.summary.findings.map((f) => f.message).join('; ') : 'unexpected result')
}

function poolOptions(o: CliOptions): { timeoutMs?: number } {
  return o.driverTimeoutMs === undefined ? {} : { timeoutMs: o.driverTimeoutMs }
}

function scenarioOf(o: CliOptions, packets = o.packets): ScenarioOptions {
  return { packets, ...(o.size === undefined ? {} : { size: o.size }), rx: o.rx, traffic: o.traffic, ...(o.oids.length === 0 ? {} : { oids: o.oids }) }
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`)
}

/**
 * The --pcap file, opened before anything runs: a path that cannot be written is a usage
 * error naming it, never a stack trace after the run with the report lost.
 */
function openPcap(file: string): number {
  try {
    return openSync(file, 'w')
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new UsageError(`--pcap ${file}: cannot write it (${typeof code === 'string' ? code : 'not writable'})`)
  }
}

export async function run(o: CliOptions): Promise<number> {
  const mp = await miniportFor(o)
  const fd = o.pcap === undefined ? undefined : openPcap(o.pcap)
  const pool = new RunPool(1, poolOptions(o))
  let report: Report
  try {
    // The capture is streamed to the file by the worker as it fills: memory stays bounded; the
    // picture for --html is recorded there too, only when it was asked for.
    report = await reportOf(pool, { kind: 'report', ...mp, config: o.machine, scenario: scenarioOf(o), picture: o.html !== undefined, ...(fd === undefined ? {} : { pcapFd: fd }) }, o.miniport!)
    if (o.html !== undefined) writeHtml(o.html, () => runHtml(report as PicturedReport))
  } finally {
    await pool.close()
    if (fd !== undefined) closeSync(fd)
  }
  print(o.json, report, () => formatReport(report) + (o.pcap !== undefined ? `\nframes written to ${o.pcap} (libpcap, Ethernet)\n` : ''))
  return report.outcome === 'clean' ? 0 : 1
}

export const MATRIX = [
  { iommu: false, policy: 'high-first' },
  { iommu: false, policy: 'low-first' },
  { iommu: true, policy: 'high-first' },
  { iommu: true, policy: 'low-first' },
] as const

export async function check(o: CliOptions): Promise<number> {
  const mp = await miniportFor(o)
  const matrix: Array<{ iommu: boolean; policy: string; report: Report }> = []
  const pictured: CheckConfiguration[] = []
  const bar = progress(`check ${mp.name}: configurations`, { quiet: o.json, unit: 'configurations' })
  const pool = new RunPool(Math.min(MATRIX.length, o.jobs ?? defaultJobs()), poolOptions(o))
  try {
    let done = 0
    const reports = await Promise.all(MATRIX.map(async (c) => {
      const config: MachineConfig = { ...o.machine, iommu: c.iommu, memory: { ...o.machine.memory, policy: c.policy } }
      const report = await reportOf(pool, { kind: 'report', ...mp, config, scenario: scenarioOf(o), picture: o.html !== undefined }, o.miniport!)
      bar.update(++done, MATRIX.length)
      return report
    }))
    for (const [i, c] of MATRIX.entries()) {
      matrix.push({ iommu: c.iommu, policy: c.policy, report: reports[i]! })
      if (o.html !== undefined) pictured.push({ iommu: c.iommu, policy: c.policy, report: reports[i]! as PicturedReport })
    }
  } finally {
    await pool.close()
    bar.end()
  }
  const swept = await sweepWithProgress(o, mp, `check ${mp.name}: sweep`)
  const clean = matrix.every((m) => m.report.outcome === 'clean')
  const handled = swept.summary.handled === swept.runs.length
  const json = {
    miniport: mp.name,
    matrix: matrix.map((m) => ({ iommu: m.iommu, policy: m.policy, outcome: m.report.outcome, traffic: m.report.traffic, findings: m.report.findings })),
    sweep: sweepJson(swept),
    clean: clean && handled,
  }
  writeHtml(o.html, () => checkHtml(mp.name, pictured, sweepJson(swept), clean && handled))
  print(o.json, json, () => {
    const lines = [`${bold(`dmalab check ${mp.name}`)} — ${clean && handled ? green('clean in every configuration, every allocation failure handled') : red('not clean')}`]
    for (const m of matrix) lines.push(`  IOMMU ${m.iommu ? 'on ' : 'off'}  ${m.policy.padEnd(10)}  ${verdict(m.report)}`)
    lines.push(`  sweep (${swept.runs.length} runs)     handled ${swept.summary.handled}, leak ${swept.summary.leak}, finding ${swept.summary.finding}, bugcheck ${swept.summary.bugcheck}, hang ${swept.summary.hang}`)
    for (const m of matrix.filter((x) => x.report.outcome !== 'clean')) {
      lines.push('', formatReport(m.report, `check (IOMMU ${m.iommu ? 'on' : 'off'}, ${m.policy})`))
    }
    if (!handled) lines.push('', formatSweep(swept))
    return lines.join('\n')
  })
  return clean && handled ? 0 : 1
}

/** The sweep `check` and `sweep` run: the command's options, a progress line on a terminal. */
async function sweepWithProgress(o: CliOptions, mp: Target, label: string): Promise<SweepResult> {
  const bar = progress(label, { quiet: o.json })
  try {
    return await sweep(mp, {
      config: o.machine,
      scenario: scenarioOf(o, o.packetsGiven ? o.packets : SWEEP_PACKETS),
      mode: o.mode,
      jobs: o.jobs ?? defaultJobs(),
      // Both phases in watched workers, --jobs 1 too: no driver can hang the command.
      inWorkers: true,
      ...(o.driverTimeoutMs === undefined ? {} : { runTimeoutMs: o.driverTimeoutMs }),
      onProgress: (done, total) => bar.update(done, total),
      ...(o.shard === undefined ? {} : { shard: o.shard }),
    })
  } catch (error) {
    // A worker that cannot import the miniport stops the sweep: a usage error, not a driver bug.
    throw loadUsageError(o.miniport ?? mp.name, error)
  } finally {
    bar.end()
  }
}

export async function sweepCommand(o: CliOptions): Promise<number> {
  const mp = await miniportFor(o)
  const label = o.shard === undefined ? `sweep ${mp.name}` : `sweep ${mp.name} shard ${o.shard.index}/${o.shard.count}`
  const r = await sweepWithProgress(o, mp, label)
  writeHtml(o.html, () => sweepHtml(sweepJson(r)))
  print(o.json, r.shard === undefined ? sweepJson(r) : shardJson({ ...r, shard: r.shard }), () => formatSweep(r))
  return r.summary.handled === r.runs.length ? 0 : 1
}

/** The first comment paragraph of a miniport's source: what it is (and, for buggy ones, what is wrong). */
function describe(file: string): string {
  let text: string
  // A C miniport is a folder of .c files: its description opens the first one.
  if (existsSync(file) && statSync(file).isDirectory()) {
    const first = readdirSync(file).filter((f) => f.endsWith('.c')).sort()[0]
    if (first === undefined) return ''
    file = path.join(file, first)
  }
  try {
    // Compiled examples lose their header comment; the package ships the TypeScript beside them.
    text = readFileSync(file.replace(`${path.sep}dist${path.sep}examples${path.sep}`, `${path.sep}examples${path.sep}`).replace(/\.js$/, '.ts'), 'utf8')
  } catch {
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return ''
    }
  }
  const lines: string[] = []
  for (const line of text.split('\n')) {
    // `// ...` lines, or the ` * ...` lines of a C block comment.
    const m = /^\s*(?:\/\/|\/\*|\*(?!\/))\s?(.*)$/.exec(line)
    if (m === null) break
    if (m[1]!.trim() === '' && lines.length > 0) break
    lines.push(m[1]!.trim())
  }
  const s = lines.join(' ')
  const first = /^(.*?[.:])(\s|$)/.exec(s)?.[1] ?? s
  return first.length > 140 ? `${first.slice(0, 137)}...` : first
}

export function examples(o: CliOptions): number {
  const list = bundledMiniports().map((m) => ({ name: m.name, description: describe(m.file) }))
  print(o.json, list, () => {
    const width = Math.max(...list.map((m) => m.name.length))
    return [bold('bundled miniports'), ...list.map((m) => `  ${m.name.padEnd(width)}  ${m.description}`), '', 'run one with: dmalab run <name>   (or dmalab check / dmalab sweep <name>)'].join('\n')
  })
  return 0
}

/**
 * The benchmarks measure the compiled JavaScript an installed dmalab runs: from a checkout that
 * is dist/ (built by `npm ci`, `npm run build`), because the TypeScript loader adds its own cost
 * to every function.
 */
export async function bench(o: CliOptions): Promise<number> {
  const compiled = new URL(import.meta.url.endsWith('.ts') ? '../../dist/bench/main.js' : '../../bench/main.js', import.meta.url)
  if (!existsSync(fileURLToPath(compiled))) throw new UsageError('bench needs the compiled code: run `npm run build` first (or `npm run bench`)')
  const mod = (await import(compiled.href)) as { runBench: (options: { json: boolean }) => Promise<number> }
  return mod.runBench({ json: o.json })
}
