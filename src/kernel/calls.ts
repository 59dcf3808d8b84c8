// The one hook every driver-facing allocation routine calls, once, at its entry: it counts the
// call, asks the fault injector whether to fail it, and captures the driver's call site.
// Shims that call other shims internally call the internal functions, never this hook, so a
// driver call is decided exactly once (DESIGN "Fault injection").
//
// Call sites. Capturing one is a V8 stack walk: ~1.5 µs one frame deep, ~6 µs from inside the
// API, tens of µs from deep in a DPC (measured: bench/probes/site-cost.ts). That is nothing at
// initialization and far too much per packet, so routines drivers call per packet
// (the perPacket column of faults/routines.ts) capture their first 16 calls and then the calls
// numbered by powers of two; an unsampled call carries its routine's most recent sampled
// site, marked `sampled`, which in practice is exact (a driver allocates its per-packet
// resources from one or two places). When the fault policy needs sites (a `site=` term, a
// sweep enumerating calls), every call captures.
import { FaultInjector, type FaultDecision } from '../faults/injector.js'
import { isPerPacketRoutine, type AllocationRoutine } from '../faults/routines.js'
import type { Clock } from '../hw/clock.js'
import { captureSite, resolveSite, stackOf, type SiteToken } from './sites.js'
import type { Phase } from './kernel.js'

export interface CallSite {
  readonly token: SiteToken
  /** True when this call was not itself captured and carries its routine's last sampled site. */
  readonly sampled: boolean
}

export interface AllocationContext {
  /** The fault policy says this call fails: return what Windows returns on failure. */
  readonly fail: boolean
  /** MmAllocatePagesForMdl[Ex] only: return a short MDL rather than NULL. */
  readonly partial: boolean
  readonly site: CallSite | undefined
}

const SAMPLE_FIRST = 16

/** Resolves a call site to `file:line` (with "(sampled)" when it was inherited). */
export function siteText(site: CallSite | undefined): string | undefined {
  const s = resolveSite(site?.token)
  return s === undefined ? undefined : site!.sampled ? `${s} (sampled)` : s
}

export class DriverCalls {
  injector: FaultInjector
  /** When true, every call captures its full driver stack (stack-mode sweeps). */
  captureStacks = false
  /**
   * When false, calls capture no site unless a fault filter needs one. Sweeps run so (a
   * capture is a stack walk, the largest cost of a scenario) and re-run the few runs that are
   * not handled with sites on: the machine is deterministic, so the re-run is the same run.
   */
  captureSites = true
  private readonly clock: Clock
  private readonly phase: () => Phase
  private readonly perRoutine = new Map<string, PerRoutine>()
  private readonly none: AllocationContext = { fail: false, partial: false, site: undefined }

  constructor(clock: Clock, phase: () => Phase, injector: FaultInjector) {
    this.clock = clock
    this.phase = phase
    this.injector = injector
  }

  /**
   * Called once at the entry of a driver-facing allocation routine, with its WDK name, the
   * size asked for and the tag (reading order) when it has one.
   */
  allocation(routine: AllocationRoutine, size: number, tag?: string): AllocationContext {
    const needsSites = this.injector.needsSites || this.captureStacks
    // The common per-packet case: nothing to decide, the routine's shared sampled context.
    if (this.injector.inert && !needsSites && this.captureSites && isPerPacketRoutine(routine)) {
      const r = this.sampled(routine)
      return r.site !== undefined && !r.site.sampled ? { fail: false, partial: false, site: r.site } : r.context
    }
    const site = needsSites || this.captureSites ? this.site(routine, needsSites) : undefined
    if (this.injector.inert) return site === undefined ? this.none : { fail: false, partial: false, site }
    const phase = this.phase()
    const decision: FaultDecision = this.injector.decide({
      routine,
      tag,
      size,
      phase: phase === 'boot' ? 'init' : phase,
      site: needsSites ? resolveSite(site?.token) : undefined,
      timeNs: this.clock.now,
    })
    if (this.captureStacks && this.injector.enumerated !== null) {
      const last = this.injector.enumerated.at(-1)
      if (last !== undefined) last.stack = stackOf(site?.token)
    }
    if (decision !== 'pass') {
      // Every injected failure names the driver line it failed (resolved now: failures are rare).
      const injected = this.injector.injected
      const last = injected[injected.length - 1]
      if (last !== undefined && last.site === null && site !== undefined) injected[injected.length - 1] = { ...last, site: siteText(site) ?? null }
    }
    return { fail: decision !== 'pass', partial: decision === 'partial', site }
  }

  private site(routine: string, always: boolean): CallSite | undefined {
    if (always || !isPerPacketRoutine(routine)) return { token: captureSite(), sampled: false }
    return this.sampled(routine).site
  }

  /**
   * A per-packet routine's site: captured on its first calls and then at every power of two,
   * so a million packets cost about twenty captures; between captures every call carries the
   * last one, marked sampled, in one shared context object (contexts are read-only).
   */
  private sampled(routine: string): PerRoutine {
    let r = this.perRoutine.get(routine)
    if (r === undefined) this.perRoutine.set(routine, (r = { calls: 0, site: undefined, context: this.none }))
    const n = ++r.calls
    if (n <= SAMPLE_FIRST || (n & (n - 1)) === 0) {
      const token = captureSite()
      r.site = { token, sampled: true }
      r.context = { fail: false, partial: false, site: r.site }
      return { calls: n, site: { token, sampled: false }, context: this.none }
    }
    return r
  }
}

interface PerRoutine {
  calls: number
  /** The last captured site, as unsampled calls carry it. */
  site: CallSite | undefined
  /** The passing context with that site, shared by every call until the next capture. */
  context: AllocationContext
}
