// One scenario, as `dmalab run`, `check` and `sweep` run it: create the machine, load the
// miniport (DriverEntry + MiniportInitializeEx), send and receive frames, halt, report.
import { createMachine, type Machine } from './machine.js'
import type { MachineConfig } from './config.js'
import type { MiniportModule } from './ndis/miniport.js'
import { importMiniport, resolveMiniport } from './driver/loader.js'
import { isCMiniport } from './driver/c/module.js'
import type { Report } from './report.js'
import type { ScenarioSummary } from './faults/sweep.js'
import { FaultInjector } from './faults/injector.js'
import { isBugCheck } from './kernel/bugcheck.js'
import { FRAGMENTATION_STEPS, FRAGMENTATION_STEP_NS } from './kernel/fragmentation.js'
import { parseFaultSpecs } from './faults/spec.js'
import type { OidRequestOptions } from './ndis/binding.js'
import type { TrafficMix } from './ndis/protocol.js'

export interface ScenarioOptions {
  /** Frames the protocol sends (default 1000). */
  readonly packets: number
  /** Frame size in bytes without FCS; uniform traffic defaults to 1500, mixed traffic to a LAN's mix of sizes. */
  readonly size?: number
  /** Frames injected from the wire besides the loopback (default 0). */
  readonly rx: number
  /** The traffic's mix (machine.ts TrafficOptions): `uniform` unless given; the command line runs `mixed`. */
  readonly traffic?: TrafficMix
  /** OID requests issued once TCP/IP has bound, before the traffic (`--oid`). */
  readonly oids?: readonly OidRequestOptions[]
}

export const DEFAULT_SCENARIO: ScenarioOptions = { packets: 1000, size: 1500, rx: 0 }

/** A miniport ready to load: its module and the name reports use. */
export interface LoadableMiniport {
  readonly module: MiniportModule
  readonly name: string
  readonly file: string
}

export async function loadMiniport(nameOrPath: string): Promise<LoadableMiniport> {
  const found = resolveMiniport(nameOrPath)
  return { module: await importMiniport(found.file, found.name), name: found.name, file: found.file }
}

export interface RunHooks {
  /** Called with the machine right after creation (sweeps set up call enumeration here). */
  readonly onMachine?: (m: Machine) => void
}

/**
 * Runs one scenario to its report. The wire is looped back so every sent frame returns to the
 * receive side (DESIGN "Command line": rxFrames equals txFrames in a clean run). Never throws
 * for anything the driver does; in crash mode a BugCheck would, so callers that must not
 * throw pass `verifier.mode: 'log'`.
 */
export function runScenario(miniport: LoadableMiniport, config: MachineConfig, options: ScenarioOptions = DEFAULT_SCENARIO, hooks: RunHooks = {}): { machine: Machine; report: Report } {
  // A C driver's pointers are 32 bits: it runs on the x86 machine unless told otherwise.
  const arch = config.arch ?? (isCMiniport(miniport.module) ? 'x86' : undefined)
  const m = createMachine({ ...config, wire: 'loopback', ...(arch === undefined ? {} : { arch }) })
  hooks.onMachine?.(m)
  try {
    const loaded = m.load(miniport.module, miniport.name)
    // Traffic starts once the system has been up a while: with fragmentation configured, the
    // other kernel components have fragmented memory by then (S06), as at real runtime.
    if (loaded.state === 'running' && m.config.memory.fragmentation > 0) m.run({ ns: FRAGMENTATION_STEPS * FRAGMENTATION_STEP_NS })
    if (loaded.state === 'running') {
      for (const oid of options.oids ?? []) m.oid(oid)
      const traffic = { ...(options.size === undefined ? {} : { size: options.size }), ...(options.traffic === undefined ? {} : { traffic: options.traffic }) }
      if (options.packets > 0) m.traffic.send({ count: options.packets, ...traffic })
      if (options.rx > 0) m.traffic.receive({ count: options.rx, ...traffic })
    }
    m.halt()
  } catch (error) {
    // Crash mode throws the BugCheck to the host caller; a scenario reports it instead.
    if (!isBugCheck(error)) throw error
  }
  return { machine: m, report: m.report() }
}

/** What a sweep keeps of a report. */
export function summarize(report: Report): ScenarioSummary {
  return {
    outcome: report.outcome,
    findings: report.findings.map((f) => ({ kind: f.kind, message: f.message, ...(f.site === undefined ? {} : { site: f.site }), ...(f.stack === undefined ? {} : { stack: f.stack }) })),
    bugcheck: report.bugcheck === null ? null : { code: report.bugcheck.code, name: report.bugcheck.name },
  }
}

/**
 * One sweep run: without call sites first (fast), and again with them when the run is not
 * handled, so its findings name the driver lines. Both runs are the same run (determinism).
 */
export function runForSweep(miniport: LoadableMiniport, config: MachineConfig, options: ScenarioOptions, hooks: RunHooks = {}): ScenarioSummary {
  const quick = summarize(runScenario(miniport, config, options, {
    onMachine: (m) => {
      m.kernel.calls.captureSites = false
      hooks.onMachine?.(m)
    },
  }).report)
  if (quick.outcome === 'clean' || (quick.outcome === 'init-failed' && quick.findings.length === 0)) return quick
  return summarize(runScenario(miniport, config, options, hooks).report)
}

/** Makes a machine count (and optionally trace the stacks of) every allocation call. */
export function enumerateCalls(m: Machine, stacks: boolean): void {
  m.kernel.calls.injector = new FaultInjector(parseFaultSpecs(m.config.faults), m.config.seed, { enumerate: true })
  m.kernel.calls.captureStacks = stacks
}
