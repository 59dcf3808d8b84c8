// Assembles a Machine from a MachineConfig: the hardware (clock, RAM, system bus, PCI, the
// IOMMU, the NIC and its wire), the kernel on top of it, and the host API a test or the
// command line drives it with. The firmware step (BAR assignment, interrupt routing) happens
// here, when the machine is created; so does the OS's IOMMU bring-up when it is configured on.
import { PAGE_SIZE, asLogical, hexPlain } from './hw/address.js'
import { resolveConfig, type MachineConfig, type ResolvedConfig } from './config.js'
import { IommuDomains } from './dma/iommu-domains.js'
import { MachineIommu } from './dma/iommu-facade.js'
import { SystemBus } from './hw/bus.js'
import { Clock, type RunResult, type Timer } from './hw/clock.js'
import type { DeviceFinding } from './hw/finding.js'
import type { Finding } from './kernel/kinds.js'
import { Iommu } from './hw/iommu/iommu.js'
import { MMIO_HOLE_BASE, PhysicalMemory } from './hw/memory.js'
import { E1000 } from './hw/e1000/e1000.js'
import type { Nic } from './hw/nic.js'
import { PciBus, assignResources } from './hw/pci.js'
import { Wire } from './hw/wire.js'
import { Kernel } from './kernel/kernel.js'
import { archProfile } from './kernel/arch.js'
import { parseFaultSpecs } from './faults/spec.js'
import { DriverCaller } from './kernel/driver-call.js'
import { DmaVerifier } from './dma/verifier.js'
import { HalDma, createDeviceObject, type PhysicalDeviceObject } from './dma/api.js'
import type { DmaStats } from './dma/adapter.js'
import { NdisHost } from './ndis/host.js'
import type { MiniportModule, MiniportState } from './ndis/miniport.js'
import { importMiniport, resolveMiniport } from './driver/loader.js'
import { isCMiniport } from './driver/c/module.js'
import { NDIS_STATUS, statusName } from './ndis/constants.js'
import type { OidRequestOptions, OidResult } from './ndis/binding.js'
import { MAX_FRAME, MAX_JUMBO_FRAME, MIN_FRAME } from './ndis/frames.js'
import type { TrafficMix } from './ndis/protocol.js'
import type { NdisApi } from './ndis/api.js'
import type { DroppedFrames, Outcome, Report } from './report.js'
import { isBugCheck } from './kernel/bugcheck.js'

/** Where the NIC sits (DESIGN "The machine"). */
export const NIC_BDF = '00:03.0'
/** Firmware places BARs top-down below the I/O APIC and the local APIC at 0xFEC0_0000. */
export const PCI_MMIO_TOP = 0xfec0_0000
/** The ISA IRQ the firmware routes INTA# of slot 3 to (what SeaBIOS gives QEMU's e1000). */
export const NIC_IRQ_LINE = 11

/** Bare-metal access to physical addresses, as a device test drives the machine. */
export interface Cpu {
  read8(pa: number): number
  read16(pa: number): number
  read32(pa: number): number
  read64(pa: number): number
  write8(pa: number, value: number): void
  write16(pa: number, value: number): void
  write32(pa: number, value: number): void
  write64(pa: number, value: number): void
  readBytes(pa: number, length: number): Uint8Array
  writeBytes(pa: number, bytes: Uint8Array): void
}

/** What `m.load` returns: the miniport NDIS started, and how far it got. */
export interface LoadedMiniport {
  readonly name: string
  /** `running` after a clean start; `init-failed` or `crashed` otherwise. */
  readonly state: MiniportState
  /** The status DriverEntry or MiniportInitializeEx returned. */
  readonly initStatus: number
  readonly initStatusName: string
  /** The `ndis` object the driver was given. */
  readonly ndis: NdisApi
  /** The MiniportAdapterContext the driver registered. */
  readonly context: unknown
}

export interface TrafficOptions {
  readonly count: number
  /** Frame size in bytes, without FCS: uniform 60..16288 (default 1500), mixed 60..1514 (default: a LAN's mix of sizes). */
  readonly size?: number
  /**
   * `uniform` (default): test frames (EtherType 0x88B5) to this host, one size, one buffer per NBL. `mixed`: ARP,
   * UDP and TCP to this host, broadcast and groups (from the LAN also to other hosts), sizes
   * 60..1514, NBLs of several NET_BUFFERs of several MDLs in varied memory.
   */
  readonly traffic?: TrafficMix
}

/** Frames a LAN delivers after the driver halted (a broadcast, one to this host): a LAN does not stop for us. */
export const FRAMES_AFTER_HALT = 2
/** Frames a LAN delivers after the protocol unbound (packet filter zero) and before the pause. */
export const FRAMES_AFTER_UNBIND = 2

/** Frames the LAN puts on the wire at once (see lanBatch). */
export const LAN_BATCH = 64

export class Machine {
  readonly config: ResolvedConfig
  readonly clock: Clock
  readonly ram: PhysicalMemory
  readonly bus: SystemBus
  readonly kernel: Kernel
  readonly cpu: Cpu
  readonly pci: PciBus
  /** The NIC at 00:03.0 (an Intel 82540EM model), seen through the narrow NIC interface. */
  readonly nic: Nic
  /** The machine's facade over IOMMU domain programming; `m.iommu.hardware` is the unit itself. */
  readonly iommu: MachineIommu
  readonly wire: Wire
  /** Calls into driver code at the right IRQL, catching what it throws. */
  readonly caller: DriverCaller
  /** The HAL: DMA adapters, common buffers, S/G lists, bounce buffers. */
  readonly hal: HalDma
  readonly dmaVerifier: DmaVerifier
  readonly dmaStats: DmaStats = { commonBuffers: [], bounceBytes: 0, sgLists: 0, mapRegisterTransfers: 0, bouncedLists: 0, iommuMappedLists: 0 }
  /** The NIC's physical device object, as NdisMGetDeviceProperty hands it out. */
  readonly pdo: PhysicalDeviceObject
  /** NDIS and the miniport, once one is loaded. */
  ndis: NdisHost | null = null
  /** The LAN's frames after MiniportHaltEx, and how many found the receiver off (as they should). */
  afterHalt = { frames: 0, receiverOff: 0 }
  /** The LAN's frames toward the NIC not yet on the wire (m.traffic.receive), and their size. */
  private lanLeft = 0
  private lanSize: number | undefined = 0
  private lanMix: TrafficMix = 'uniform'
  /** A hardware source: the far end of the wire needs no CPU of this machine. */
  private readonly lanTimer: Timer
  /** Protocol-side traffic through the loaded miniport. */
  readonly traffic: {
    send(options: TrafficOptions): void
    receive(options: TrafficOptions): void
  }

  constructor(config: ResolvedConfig) {
    this.config = config
    this.clock = new Clock()
    this.lanTimer = this.clock.timer('LAN peer', () => this.lanBatch())
    this.ram = new PhysicalMemory(config.memory.size)
    this.bus = new SystemBus(this.ram)
    this.kernel = new Kernel(this.clock, this.bus, {
      arch: archProfile(config.arch),
      seed: config.seed,
      policy: config.memory.policy,
      fragmentation: config.memory.fragmentation,
      verifierMode: config.verifier.mode,
      specialPool: config.verifier.specialPool,
      dmaGuard: config.verifier.dmaGuard,
      faults: parseFaultSpecs(config.faults),
    })
    const bus = this.bus
    const log = this.kernel.log
    const verifier = new DmaVerifier(this.kernel)
    this.dmaVerifier = verifier
    // Devices and the IOMMU report what they see; the DMA layer adds whose memory a device
    // address was and which driver call handed it over (DESIGN: the report names the call).
    const deviceFindings = { report: (f: DeviceFinding) => log.report(verifier.explainDeviceFinding(f)) }
    const iommu = new Iommu(this.ram, deviceFindings, { iotlbEntries: config.iommu.iotlbEntries })
    this.iommu = new MachineIommu(new IommuDomains(this.kernel.frames, this.ram, iommu), iommu)
    this.wire = new Wire(this.clock, { mode: config.wire, linkMbps: config.nic.linkMbps })
    this.pci = new PciBus()
    this.nic = new E1000(this.clock, bus, iommu, this.wire, deviceFindings, {
      bdf: NIC_BDF,
      mac: config.nic.mac,
      dmaAddressBits: config.nic.dmaAddressBits,
      linkMbps: config.nic.linkMbps,
    })
    this.pci.add(this.nic.pci)
    // Firmware: BARs in the MMIO hole, memory decoding on, INTA# routed.
    assignResources(this.pci, { base: MMIO_HOLE_BASE, top: PCI_MMIO_TOP }, () => NIC_IRQ_LINE)
    // The OS turns DMA remapping on at boot and gives the NIC its own (empty) domain.
    if (config.iommu.enabled) {
      if (!this.iommu.domains.enable() || !this.iommu.domains.attach(this.nic.pci.requesterId)) {
        throw new RangeError('not enough memory for the IOMMU tables')
      }
    }
    this.caller = new DriverCaller(this.kernel)
    this.hal = new HalDma({ kernel: this.kernel, domains: this.iommu.domains, verifier: this.dmaVerifier, caller: this.caller, stats: this.dmaStats, iova: new Map() })
    this.pdo = { DeviceName: '\\Device\\NTPNP_PCI0003', bdf: NIC_BDF, requesterId: this.nic.pci.requesterId, address: 0 }
    this.traffic = {
      send: (o) => this.sendFrames(o),
      receive: (o) => this.receiveFrames(o),
    }
    this.cpu = {
      read8: (pa) => bus.read8(pa),
      read16: (pa) => bus.read16(pa),
      read32: (pa) => bus.read32(pa),
      read64: (pa) => bus.read64(pa),
      write8: (pa, v) => bus.write8(pa, v),
      write16: (pa, v) => bus.write16(pa, v),
      write32: (pa, v) => bus.write32(pa, v),
      write64: (pa, v) => bus.write64(pa, v),
      readBytes: (pa, length) => bus.readBytes(pa, length),
      writeBytes: (pa, bytes) => bus.writeBytes(pa, bytes),
    }
  }

  /** Everything the verifier and the devices reported, in order. */
  get findings(): readonly Finding[] {
    return this.kernel.log.findings
  }

  /** Findings of severity `info` (notes): reported, but never a fault. */
  get notes(): readonly Finding[] {
    return this.kernel.log.notes
  }

  /** Runs virtual time forward by `ns` nanoseconds. */
  run(options: { ns: number }): RunResult {
    if (!(options.ns >= 0)) throw new RangeError(`run: ns must be a number >= 0, got ${options.ns}`)
    return this.afterRun(this.clock.run(options.ns, this.config.maxEvents))
  }

  /** Runs until no event is pending (or the event bound is hit, which is a `hang` finding). */
  runUntilIdle(): RunResult {
    return this.afterRun(this.clock.runUntilIdle(this.config.maxEvents))
  }

  private afterRun(result: RunResult): RunResult {
    if (result.boundHit) {
      this.kernel.log.report({
        kind: 'hang',
        message: `the machine was still busy after ${result.events} events (${this.clock.pending} pending, next "${this.nextEventName()}"): a device or driver that never goes idle`,
        details: { events: result.events, pending: this.clock.pending },
      })
    }
    this.throwIfCrashed()
    return result
  }

  private nextEventName(): string {
    return this.clock.nextEventAt() === Infinity ? 'none' : 'timer'
  }

  // ---- with a driver ---------------------------------------------------------------------------

  /**
   * DriverEntry + MiniportInitializeEx (+ MiniportRestart): a module object loads at once; a
   * path or bundled name (`e1000`) is imported first, so the result is a promise.
   */
  load(miniport: MiniportModule, name?: string): LoadedMiniport
  load(miniport: string): Promise<LoadedMiniport>
  load(miniport: MiniportModule | string, name?: string): LoadedMiniport | Promise<LoadedMiniport> {
    if (typeof miniport === 'string') {
      const found = resolveMiniport(miniport)
      return importMiniport(found.file, found.name).then((mod) => this.load(mod, found.name))
    }
    if (this.ndis !== null) throw new Error('a miniport is already loaded on this machine (one NIC, one driver)')
    const cDriver = isCMiniport(miniport) ? miniport.cDriver : null
    // A C driver's pointers are 32 bits: it runs on the x86 machine, its image and stack in
    // this machine's kernel memory (driver/c/module.ts).
    if (cDriver !== null && this.config.arch !== 'x86') throw new Error(`${cDriver.name} is a C driver: it runs on the 32-bit machine, createMachine({ arch: 'x86' })`)
    if (cDriver === null && typeof miniport?.default !== 'function') throw new TypeError('a miniport module needs a default export DriverEntry(ndis, registryPath)')
    createDeviceObject(this.kernel, this.dmaVerifier, this.pdo)
    const host = new NdisHost({ kernel: this.kernel, clock: this.clock, hal: this.hal, caller: this.caller, nic: this.nic, wire: this.wire, pdo: this.pdo, seed: this.config.seed, readAsDevice: (logical, length) => this.readAsDevice(logical, length) }, name ?? 'miniport')
    this.ndis = host
    // The C driver is bound to this machine's kernel and to NDIS's pools, whose blocks hold the NBLs it sees.
    const module = cDriver === null ? miniport : cDriver.bind(this.kernel, host.nbls, host.v5.packets)
    host.runUntil = (done, ns) => this.runUntil(done, ns)
    // From now on every device access is checked against the live DMA mappings.
    this.nic.dma.observer = { onAccess: (requester, logical, pa, length, access) => this.dmaVerifier.deviceAccess(requester, logical, pa, length, access) }
    this.step(() => host.start(module))
    return this.loaded()
  }

  loaded(): LoadedMiniport {
    const host = this.requireDriver('loaded')
    const mp = host.driver
    return { name: host.ctx.driverName, state: mp.state, initStatus: mp.initStatus, initStatusName: statusName(mp.initStatus), ndis: host.api, context: host.ctx.adapterContext }
  }

  /** MiniportPause, MiniportHaltEx, the driver's unload and the leak checks. */
  halt(): void {
    const host = this.requireDriver('halt')
    const mp = host.driver
    const inject = (frame: Uint8Array, length: number): void => this.wire.injectFrom(frame, 0, length)
    this.step(() => {
      host.upper.stop()
      if (mp.state === 'running' || mp.state === 'paused') {
        this.idle()
        // TCP/IP unbinds (NDIS 6): the packet filter goes to zero, and the LAN's frames that
        // follow (a broadcast, one to this host) must not be indicated. Then the verdict.
        if (host.unbind(FRAMES_AFTER_UNBIND, inject)) {
          this.idle()
          host.verdict()
        }
        if (mp.pauseAndHalt()) {
          // The LAN does not stop talking because the driver halted: a NIC left receiving DMAs
          // these frames into whatever its rings point at.
          const ignored = this.nic.counters.rx.ignored
          host.protocol.injectArp(FRAMES_AFTER_HALT, inject)
          this.idle()
          this.afterHalt = { frames: FRAMES_AFTER_HALT, receiverOff: this.nic.counters.rx.ignored - ignored }
          mp.unload()
        }
      }
      this.idle()
    })
  }

  private sendFrames(options: TrafficOptions): void {
    const host = this.requireDriver('traffic.send')
    const count = checkCount(options.count)
    const mix = trafficMix(options.traffic)
    const size = frameSize(options.size, mix)
    this.step(() => {
      host.upper.queueSend(count, size, mix)
      this.idle(count)
    })
  }

  private receiveFrames(options: TrafficOptions): void {
    this.requireDriver('traffic.receive')
    const count = checkCount(options.count)
    const mix = trafficMix(options.traffic)
    const size = frameSize(options.size, mix)
    this.step(() => {
      this.lanLeft += count
      this.lanSize = size
      this.lanMix = mix
      if (count > 0 && !this.lanTimer.armed) this.clock.armAfter(this.lanTimer, 0)
      this.idle(count)
    })
  }

  /** Frames the LAN has yet to put on the wire toward the NIC. */
  get lanPending(): number {
    return this.lanLeft
  }

  /**
   * The LAN's frames go on the wire a batch at a time, each batch before the last one has
   * finished arriving, so the link stays as busy as if all had been queued at once (the same
   * arrival times) while only a batch is ever held: `--rx 4000000` costs what `--rx 64` does.
   */
  private lanBatch(): void {
    const host = this.ndis
    if (host === null) return
    const n = Math.min(LAN_BATCH, this.lanLeft)
    host.upper.injectFromWire(n, this.lanSize, this.lanMix, (frame, length) => this.wire.injectFrom(frame, 0, length))
    this.lanLeft -= n
    // A mixed batch's sizes vary: timed as full-size frames, the next batch starts no later.
    if (this.lanLeft > 0) this.clock.arm(this.lanTimer, this.wire.rxFreeAt - (LAN_BATCH / 2) * this.wire.frameTimeNs(this.lanSize ?? MAX_FRAME))
  }

  /**
   * One OID request to the miniport, as NDIS issues it, pended or not (NDIS 6: MiniportOidRequest
   * at PASSIVE_LEVEL; NDIS 5.1: MiniportQueryInformation / MiniportSetInformation at DISPATCH_LEVEL):
   * `m.oid({ request: 'query', oid: 'OID_GEN_LINK_SPEED' })`,
   * `m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x20 })`. A set of the
   * packet filter or the multicast list the miniport accepts is what the protocol expects from
   * then on.
   */
  oid(options: OidRequestOptions): OidResult {
    const host = this.requireDriver('oid')
    if (options.request !== 'query' && options.request !== 'set') throw new RangeError(`oid: request must be 'query' or 'set', got ${String(options.request)}`)
    let result: OidResult | undefined
    this.step(() => {
      result = host.userOid(options)
    })
    return result ?? { request: options.request, oid: 0, name: '', status: NDIS_STATUS.NDIS_STATUS_FAILURE, statusName: 'NDIS_STATUS_FAILURE', bytesWritten: 0, bytesRead: 0, bytesNeeded: 0 }
  }

  /**
   * One host-API step. The driver's own code is called through the DriverCaller, which catches
   * what it throws; NDIS's and the HAL's code can meet a fatal finding too (a pool header the
   * driver overwrote, found when NDIS frees its own buffer) and unwind with the BugCheck. The
   * machine has stopped either way; the caller hears of it only in crash mode (DESIGN
   * "Findings and bug checks").
   */
  private step(fn: () => void): void {
    try {
      fn()
    } catch (error) {
      if (!isBugCheck(error) || !this.kernel.log.stopped) throw error
    }
    this.throwIfCrashed()
  }

  /** Runs until idle with an event bound that grows with the traffic asked for. */
  private idle(frames = 0): void {
    const result = this.clock.runUntilIdle(this.config.maxEvents + frames * 64)
    if (result.boundHit) this.afterRun(result)
  }

  /** Runs events until `done()`, the machine stops, nothing is pending, or `ns` pass. */
  private runUntil(done: () => boolean, ns: number): void {
    const end = this.clock.now + ns
    let events = 0
    while (!done() && !this.kernel.log.stopped) {
      const next = this.clock.nextEventAt()
      if (next === Infinity || next > end) break
      events += this.clock.run(next - this.clock.now, this.config.maxEvents).events
      if (events > this.config.maxEvents) {
        this.afterRun({ events, completed: false, boundHit: true, stopped: false })
        break
      }
    }
  }

  /**
   * `length` bytes at a device address as the NIC would read them: through the IOMMU's tables
   * when translation is on, else as a physical address; null where nothing is mapped. No DMA
   * happens (no fault, no finding): for diagnoses.
   */
  private readAsDevice(logical: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length)
    for (let done = 0; done < length; ) {
      const at = logical + done
      const chunk = Math.min(length - done, PAGE_SIZE - (at % PAGE_SIZE))
      const pa = this.iommu.domains.translationEnabled ? this.iommu.domains.lookup(this.nic.pci.requesterId, asLogical(at)) : at
      if (pa < 0) return null
      this.ram.readInto(pa, out, done, chunk)
      done += chunk
    }
    return out
  }

  private requireDriver(what: string): NdisHost {
    if (this.ndis === null) throw new Error(`${what}: no miniport is loaded (m.load first)`)
    return this.ndis
  }

  /** The run report (DESIGN's --json schema). */
  report(): Report {
    const log = this.kernel.log
    const host = this.ndis
    const initFailed = host !== null && host.driver.state === 'init-failed'
    const outcome: Outcome = log.stopped ? 'bugcheck' : initFailed ? 'init-failed' : log.findings.length > 0 ? 'findings' : 'clean'
    const counters = host?.upper.counters
    const dropped = this.droppedFrames()
    const initStatus = host?.driver.initStatus ?? 0
    // Initialization that bug-checked never returned a status: say so rather than "success".
    const crashedIn = host?.driver.crashedIn
    const initCrashed = host !== null && (crashedIn === 'DriverEntry' || crashedIn === 'MiniportInitializeEx' || crashedIn === 'MiniportInitialize') && log.bugcheck !== null
    return {
      miniport: host?.ctx.driverName ?? '',
      config: this.config,
      outcome,
      init: initCrashed ? { status: `${crashedIn} did not return: bug check ${hexPlain(log.bugcheck!.code)}`, code: log.bugcheck!.code } : { status: statusName(initStatus), code: initStatus },
      bugcheck: log.bugcheck === null ? null : { code: log.bugcheck.code, name: log.bugcheck.name, params: log.bugcheck.params },
      findings: [...log.findings],
      notes: [...log.notes],
      findingsSuppressed: Object.fromEntries(log.suppressed),
      traffic: { txFrames: counters?.txFrames ?? 0, rxFrames: counters?.rxFrames ?? 0, txRequested: counters?.txRequested ?? 0, rxOffered: counters?.rxInjected ?? 0, dropped, afterHalt: { ...this.afterHalt } },
      oids: [...(host?.userRequests ?? [])],
      pool: { byTag: this.kernel.pool.tracker.byTag() },
      dma: {
        commonBuffers: this.dmaStats.commonBuffers.map((b) => ({ ...b })),
        bounceBytes: this.dmaStats.bounceBytes,
        scatterGatherLists: this.dmaStats.sgLists,
        mapRegisterTransfers: this.dmaStats.mapRegisterTransfers,
        bouncedLists: this.dmaStats.bouncedLists,
        iommuFaults: [...this.iommu.faults],
      },
      faults: {
        injected: this.kernel.calls.injector.injected.map((f) => ({ routine: f.routine, tag: f.tag, size: f.size, site: f.site, phase: f.phase, call: f.call, timeNs: f.timeNs, replay: f.replay })),
      },
    }
  }

  /** Frames lost so far, by where and why (the report's `traffic.dropped`). */
  droppedFrames(): DroppedFrames {
    const counters = this.ndis?.upper.counters
    const { rx, tx } = this.nic.counters
    return {
      txFailed: counters?.txFailed ?? 0,
      rxCorrupt: counters?.rxCorrupt ?? 0,
      rxForeign: counters?.rxForeign ?? 0,
      rxFiltered: counters?.rxFiltered ?? 0,
      nicNoBuffer: rx.noBuffers,
      nicWaiting: rx.waiting,
      nicFiltered: rx.filtered,
      nicUndersize: rx.undersize,
      nicOversize: rx.oversize,
      nicRefused: rx.refused,
      // Arrived with the link down or RCTL.EN clear (the frames a LAN sends after the halt).
      nicReceiverOff: rx.ignored,
      nicDmaErrors: rx.dmaErrors + tx.dmaErrors,
      nicTxDropped: tx.dropped,
    }
  }

  /** In crash mode, a stopped machine throws its BugCheck to the host caller. */
  throwIfCrashed(): void {
    if (this.kernel.log.stopped && this.config.verifier.mode === 'crash') throw this.kernel.log.bugCheckError()
  }
}

function checkCount(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`traffic: count must be a whole number >= 0, got ${count}`)
  return count
}

/**
 * A frame size: uniform traffic takes 60..16288 bytes (jumbo frames, which a NIC set for a
 * 1514-byte MTU drops), mixed traffic a LAN's 60..1514 (and may leave the size to the mix).
 */
function frameSize(size: number | undefined, mix: TrafficMix): number | undefined {
  if (size === undefined) return mix === 'uniform' ? 1500 : undefined
  const max = mix === 'uniform' ? MAX_JUMBO_FRAME : MAX_FRAME
  if (!Number.isInteger(size) || size < MIN_FRAME || size > max) throw new RangeError(`traffic: size must be a whole number of bytes in ${MIN_FRAME}..${max}${mix === 'uniform' ? '' : ' for mixed traffic'}, got ${size}`)
  return size
}

function trafficMix(mix: TrafficMix | undefined): TrafficMix {
  if (mix === undefined || mix === 'uniform' || mix === 'mixed') return mix ?? 'uniform'
  throw new RangeError(`traffic: traffic must be 'uniform' or 'mixed', got ${String(mix)}`)
}

export function createMachine(config: MachineConfig = {}): Machine {
  return new Machine(resolveConfig(config))
}
