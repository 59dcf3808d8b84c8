// The kernel's state: one emulated CPU (its IRQL), physical memory as the OS sees it (the PFN
// database), the kernel address space, the verifier's findings log, and the phase the driver
// is in. Every kernel, DMA and NDIS routine is a function of this object; nothing is global,
// so many machines can run in one process.
import type { Clock } from '../hw/clock.js'
import type { SystemBus } from '../hw/bus.js'
import type { PhysicalMemory, RamRange } from '../hw/memory.js'
import { Random } from '../hw/random.js'
import { FaultInjector } from '../faults/injector.js'
import type { FaultSpec } from '../faults/spec.js'
import { KernelAddressSpace } from './address-space.js'
import { X64, type ArchProfile } from './arch.js'
import { DriverMemory } from './driver-memory.js'
import { FindingsLog, type VerifierMode } from './findings.js'
import { FrameDatabase, type FramePolicy } from './frames.js'
import { Fragmenter } from './fragmentation.js'
import { DriverCalls } from './calls.js'
import { BUGCHECK } from './bugcheck.js'
import { HIGH_LEVEL, PASSIVE_LEVEL, irqlName, type Irql } from './irql.js'
import { siteHere } from './sites.js'
import { MemoryManager } from './mm.js'
import { Pool } from './pool.js'
import { ContiguousMemory } from './mm-contiguous.js'
import { MdlService } from './mdl.js'
import { MdlPages } from './mdl-pages.js'
import { MappingAddresses } from './mapping-address.js'
import { LookasideLists } from './lookaside.js'
import { IoSpace } from './io-space.js'
import { checkLeaks, type LeakSummary } from './leaks.js'
import { CpuTime } from './cpu-time.js'

/** Where the driver is in its life; fault specs filter on it (`phase=init|runtime|halt`). */
export type Phase = 'boot' | 'init' | 'runtime' | 'halt'

export interface KernelOptions {
  readonly seed: number
  readonly policy: FramePolicy
  readonly fragmentation: number
  readonly verifierMode: VerifierMode
  readonly specialPool: boolean
  readonly dmaGuard: boolean
  /** Parsed fault specs (validated before the machine is built). */
  readonly faults: readonly FaultSpec[]
  /** The machine's architecture (arch.ts): x64 unless given. */
  readonly arch?: ArchProfile
}

/** The first megabyte the firmware keeps (1 MiB), never handed out by the PFN database. */
export const FIRMWARE_BYTES = 0x10_0000

/**
 * RAM the OS may hand out. The first megabyte stays the firmware's, as on a PC: the real-mode
 * interrupt table and BIOS data area in page 0, the EBDA, the VGA and option-ROM windows and
 * the BIOS. Above all no allocation is ever physical address 0, which a device takes for "no
 * buffer" (a null descriptor address moves no data: REFERENCE §1, ring rules).
 */
export function osUsableRanges(ranges: readonly RamRange[]): RamRange[] {
  const out: RamRange[] = []
  for (const r of ranges) {
    const base = Math.max(r.base, FIRMWARE_BYTES)
    const end = r.base + r.size
    if (end > base) out.push({ base, size: end - base })
  }
  return out
}

export class Kernel {
  readonly options: KernelOptions
  readonly clock: Clock
  readonly bus: SystemBus
  readonly ram: PhysicalMemory
  readonly frames: FrameDatabase
  readonly space: KernelAddressSpace
  readonly log: FindingsLog
  /** `ndis.memory`: translated, checked driver access to memory. */
  readonly memory: DriverMemory
  readonly fragmenter: Fragmenter
  /** The one hook every driver-facing allocation routine calls (fault decisions, call sites). */
  readonly calls: DriverCalls
  /** Mm's internal services: frames mapped at kernel VAs (mm.ts). */
  readonly mm: MemoryManager
  /** The paged and nonpaged pools, pool tracking and special pool (pool.ts). */
  readonly pool: Pool
  /** Contiguous and noncached memory handed out by VA (mm-contiguous.ts). */
  readonly contiguous: ContiguousMemory
  /** MDLs: creation, building, locking, system mappings (mdl.ts). */
  readonly mdl: MdlService
  /** MmAllocatePagesForMdl[Ex] pages (mdl-pages.ts). */
  readonly mdlPages: MdlPages
  /** MmAllocateMappingAddress reservations (mapping-address.ts). */
  readonly mappingAddresses: MappingAddresses
  readonly lookaside: LookasideLists
  /** Virtual time driver code spends waiting on the bus or stalling, and the handler watchdog. */
  readonly cpuTime: CpuTime
  /** MmMapIoSpace[Ex] mappings (io-space.ts). */
  readonly ioSpace: IoSpace
  irql: Irql = PASSIVE_LEVEL
  phase: Phase = 'boot'

  constructor(clock: Clock, bus: SystemBus, options: KernelOptions) {
    this.options = options
    this.clock = clock
    this.bus = bus
    this.ram = bus.memory
    this.frames = new FrameDatabase(osUsableRanges(this.ram.ranges), options.policy, this.random('frames'))
    this.space = new KernelAddressSpace(options.arch ?? X64)
    this.log = new FindingsLog(clock, options.verifierMode)
    this.log.onStop(() => clock.requestStop())
    this.cpuTime = new CpuTime(clock, bus, this.log, () => this.irql)
    this.memory = new DriverMemory(this.space, this.ram, bus, this.log, this)
    this.fragmenter = new Fragmenter(this.frames, clock, this.random('fragmentation'), options.fragmentation)
    this.calls = new DriverCalls(clock, () => this.phase, new FaultInjector(options.faults, options.seed))
    this.mm = new MemoryManager(this)
    this.pool = new Pool(this)
    this.contiguous = new ContiguousMemory(this)
    this.mdl = new MdlService(this)
    this.mdlPages = new MdlPages(this, this.mdl)
    this.mappingAddresses = new MappingAddresses(this, this.mdl)
    this.lookaside = new LookasideLists(this)
    this.ioSpace = new IoSpace(this)
  }

  /**
   * The unload check (S23): one `pool-leak` finding per pool block the driver still holds and
   * a `memory-leak` per other allocation, with bug check 0xC4/0x62. Crash mode throws.
   */
  checkLeaks(driverName: string): LeakSummary {
    return checkLeaks(this, driverName)
  }

  /** An independent seeded stream for one purpose; the same label always gives the same stream. */
  random(label: string): Random {
    return new Random(this.options.seed, label)
  }

  /**
   * KeRaiseIrql: the new level must not be below the current one. Driver Verifier reports a
   * lowering "raise" as 0xC4/0x30 (current, requested); the level is left as it was.
   * Returns the previous level, as KeRaiseIrql's OldIrql.
   */
  raiseIrql(newIrql: Irql): Irql {
    const old = this.irql
    if (!Number.isInteger(newIrql) || newIrql < old || newIrql > HIGH_LEVEL) {
      this.irqlViolation(0x30, newIrql, `KeRaiseIrql to ${irqlName(newIrql)} from ${irqlName(old)}: a raise must not lower the IRQL`)
      return old
    }
    this.irql = newIrql
    return old
  }

  /** KeLowerIrql: the new level must not be above the current one (0xC4/0x31). */
  lowerIrql(newIrql: Irql): void {
    if (!Number.isInteger(newIrql) || newIrql > this.irql || newIrql < PASSIVE_LEVEL) {
      this.irqlViolation(0x31, newIrql, `KeLowerIrql to ${irqlName(newIrql)} from ${irqlName(this.irql)}: a lower must not raise the IRQL`)
      return
    }
    this.irql = newIrql
  }

  /** Records an irql-violation for a driver call made at the wrong level (0xC4/p1). */
  irqlViolation(p1: number, requested: number, message: string): void {
    const site = siteHere()
    this.log.violation({
      kind: 'irql-violation',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [p1, this.irql, requested, 0],
      message,
      ...(site === undefined ? {} : { site }),
      details: { irql: this.irql, requested },
    })
  }

  /** The driver's initialization is over: the system runs on, and memory starts to fragment. */
  enterRuntime(): void {
    this.phase = 'runtime'
    this.fragmenter.start()
  }
}
