// NDIS on one machine: builds the `ndis` object a miniport receives, and drives the miniport
// for the host API (m.load, m.traffic, m.halt).
import type { Clock } from '../hw/clock.js'
import type { DeviceMemoryReader, Nic } from '../hw/nic.js'
import type { Wire } from '../hw/wire.js'
import { KERNEL_CONSTANTS, kernelRoutines } from '../kernel/api.js'
import { DriverCaller } from '../kernel/driver-call.js'
import { BUGCHECK } from '../kernel/bugcheck.js'
import type { Kernel } from '../kernel/kernel.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL, irqlName } from '../kernel/irql.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import { tagValue } from '../kernel/tags.js'
import type { HalDma, PhysicalDeviceObject } from '../dma/api.js'
import { NDIS_CONSTANTS, type NdisApi } from './api.js'
import type { OidRequestOptions, OidResult } from './binding.js'
import type { DriverModel, UpperEdge } from './driver-model.js'
import { NDIS5_CONSTANTS } from './v5/api.js'
import { Ndis5 } from './v5/ndis5.js'
import { IoPorts } from './ports.js'
import type { NdisRoutines } from './api-types.js'
import { NDIS_OBJECT_TYPE, NDIS_REQUEST_TYPE, NDIS_STATUS, OID } from './constants.js'
import { NdisContext, type NblPoolHandle } from './context.js'
import { NdisDma } from './dma.js'
import { Interrupts } from './interrupt.js'
import { NdisMemory } from './memory.js'
import { Miniport, type MiniportModule } from './miniport.js'
import { NblPools } from './nbl.js'
import { Protocol } from './protocol.js'
import { reportVerdict } from './verdict.js'
import { DoorbellWatch } from './doorbells.js'
import { NDIS_OFFLOAD_CONSTANTS, indicateCurrentConfig } from './offload.js'
import { SpinLocks } from './spinlock.js'
import type { NDIS_OID_REQUEST } from './types.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { lookasideCalls } from '../kernel/ex-api.js'
import { NDIS_NB_CONSTANTS } from './constants.js'
import { DerivedNbls } from './nbl-derived.js'
import { NetBuffers } from './net-buffers.js'
import { TimerObjects } from './timer-objects.js'
import { IoWorkItems } from './work-items.js'

/** The kernel's, NDIS 6's and NDIS 5.1's constants (the names they share have the same values). */
const API_CONSTANTS = { ...KERNEL_CONSTANTS, ...NDIS_CONSTANTS, ...NDIS5_CONSTANTS }

export interface NdisHostParts {
  readonly kernel: Kernel
  readonly clock: Clock
  readonly hal: HalDma
  readonly caller: DriverCaller
  readonly nic: Nic
  readonly wire: Wire
  readonly pdo: PhysicalDeviceObject
  readonly seed: number
  /** Device memory as the NIC sees it, read without a DMA (for stall hints). */
  readonly readAsDevice: DeviceMemoryReader
}

export class NdisHost {
  readonly ctx: NdisContext
  readonly miniport: Miniport
  readonly protocol: Protocol
  readonly interrupts: Interrupts
  readonly nbls: NblPools
  /** The NDIS 5.1 driver model: it runs the driver when DriverEntry registers with NdisMRegisterMiniport. */
  readonly v5: Ndis5
  /** NdisMRegisterIoPortRange and the NdisRaw port routines, for either model. */
  readonly ports: IoPorts
  readonly api: NdisApi
  readonly doorbells: DoorbellWatch
  private readonly parts: NdisHostParts

  constructor(parts: NdisHostParts, driverName: string) {
    this.parts = parts
    const k = parts.kernel
    const ctx = new NdisContext(k, parts.hal, parts.caller, parts.nic, parts.pdo, new SpinLocks(k))
    this.ctx = ctx
    this.interrupts = new Interrupts(ctx, parts.clock)
    this.nbls = new NblPools(ctx)
    this.miniport = new Miniport(ctx, this.interrupts, this.nbls, driverName)
    this.protocol = new Protocol(ctx, this.miniport, this.nbls, parts.seed)
    this.protocol.mac = parts.nic.mac.slice()
    this.protocol.loopback = parts.wire.mode === 'loopback'
    this.miniport.outstandingSends = () => this.protocol.inFlight
    this.v5 = new Ndis5(ctx, this.miniport.driverObject, () => this.miniport.resources(), parts.seed)
    this.ports = new IoPorts(ctx)
    this.miniport.afterDriverEntry = (entry) => {
      if (!this.v5.claimed) return false
      this.v5.takeOver(entry)
      return true
    }
    this.doorbells = new DoorbellWatch(parts.nic)
    this.protocol.sendStack = () => this.doorbells.stack('transmit')
    this.api = this.buildApi()
  }

  /** The miniport as the machine drives it, whichever NDIS version it registered with. */
  get driver(): DriverModel {
    return this.v5.active ? this.v5.miniport : this.miniport
  }

  /** The protocol bound above it. */
  get upper(): UpperEdge {
    return this.v5.active ? this.v5.protocol : this.protocol
  }

  /**
   * One OID request the user asked for (`m.oid`, `--oid`), to the model the driver registered
   * with: NDIS 6 through MiniportOidRequest (binding.ts), NDIS 5.1 through
   * MiniportQueryInformation / MiniportSetInformation (v5/user-requests.ts).
   */
  userOid(options: OidRequestOptions): OidResult {
    if (this.v5.active) return this.v5.userRequests.issue(options)
    const r = this.protocol.binding.user(options)
    this.protocol.syncBuilder()
    return r
  }

  /** The user's requests so far, for the report. */
  get userRequests(): readonly OidResult[] {
    return this.v5.active ? this.v5.userRequests.done : this.protocol.binding.userRequests
  }

  /** How a driver model waits for a completion: runs the clock until `done()` or `ns` pass (set by the machine). */
  set runUntil(fn: (done: () => boolean, ns: number) => void) {
    this.miniport.runUntil = fn
    this.v5.requests.runUntil = fn
  }

  /** DriverEntry + MiniportInitializeEx + MiniportRestart, then the protocol binds. */
  start(module: MiniportModule): void {
    this.miniport.start(module.default, this.api)
    if (this.miniport.state === 'running') this.protocol.bind()
  }

  /**
   * TCP/IP unbinds from an NDIS 6 miniport: the packet filter goes to zero, then the LAN sends
   * `frames` more (ARP) that must not be indicated. False for an NDIS 5 driver (its protocol
   * keeps its own bind).
   */
  unbind(frames: number, inject: (frame: Uint8Array, length: number) => void): boolean {
    if (this.v5.active || this.miniport.state !== 'running') return false
    this.protocol.unbind()
    this.protocol.injectArp(frames, inject)
    return true
  }

  /**
   * After the traffic, before the pause: the run's verdict on the frames the protocol sent and
   * the LAN offered (verdict.ts).
   */
  verdict(): void {
    reportVerdict(this.ctx, this.protocol, this.parts.nic, this.doorbells, this.parts.readAsDevice)
  }

  private buildApi(): NdisApi {
    const ctx = this.ctx
    const k = ctx.kernel
    const memory = new NdisMemory(ctx)
    const dma = new NdisDma(ctx)
    const mp = this.miniport
    const hal = ctx.hal
    const locks = ctx.spinLocks
    const nbls = this.nbls
    const interrupts = this.interrupts
    const protocol = this.protocol
    const nbs = new NetBuffers(ctx)
    const derived = new DerivedNbls(nbls, nbs)
    const timers = new TimerObjects(ctx)
    const workItems = new IoWorkItems(ctx)
    const lookaside = lookasideCalls(k)
    ctx.heldAtUnload.push(() => derived.leftovers(), () => nbs.leftovers(), () => timers.leftovers(), () => workItems.leftovers())
    const irqlAtMost = (routine: string, maximum: number): void => void requireIrql(k, routine, maximum)
    // Offset and Length are ULONGs: a value that is not one is the driver's mistake. Beyond the
    // 256 bytes of configuration space there is nothing to read or write (0 bytes, as NDIS).
    const busRange = (routine: string, offset: number, length: number): boolean => {
      if (Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0) return true
      ctx.violation('ndis-bad-argument', `${routine}: Offset ${offset} and Length ${length} must be byte counts (ULONG)`)
      return false
    }
    const routines: NdisRoutines = {
      DriverObject: mp.driverObject,
      memory: k.memory,

      NdisMRegisterMiniportDriver: (d, r, c, chars) => mp.NdisMRegisterMiniportDriver(d, r, c, chars),
      NdisMDeregisterMiniportDriver: (h) => mp.NdisMDeregisterMiniportDriver(h),
      NdisMSetMiniportAttributes: (h, a) => mp.NdisMSetMiniportAttributes(h, a),
      NdisMGetDeviceProperty: (h) => {
        ctx.checkHandle('NdisMGetDeviceProperty', h)
        const resources = mp.resources()
        return { physicalDeviceObject: ctx.pdo, functionalDeviceObject: { DeviceName: `\\Device\\${ctx.driverName}` }, nextDeviceObject: ctx.pdo, allocatedResources: resources, allocatedResourcesTranslated: resources }
      },
      NdisMPauseComplete: (h) => mp.NdisMPauseComplete(h),
      NdisMOidRequestComplete: (h, r, s) => mp.NdisMOidRequestComplete(h, r as NDIS_OID_REQUEST, s),

      NdisMMapIoSpace: (h, pa, len) => mp.NdisMMapIoSpace(h, pa, len),
      NdisMUnmapIoSpace: (h, va, len) => mp.NdisMUnmapIoSpace(h, va, len),
      NdisReadRegisterUlong: (r) => k.memory.read32(r),
      NdisWriteRegisterUlong: (r, v) => k.memory.write32(r, v),
      NdisReadRegisterUshort: (r) => k.memory.read16(r),
      NdisWriteRegisterUshort: (r, v) => k.memory.write16(r, v),
      NdisReadRegisterUchar: (r) => k.memory.read8(r),
      NdisWriteRegisterUchar: (r, v) => k.memory.write8(r, v),
      NdisMGetBusData: (h, _space, offset, length) => {
        ctx.checkHandle('NdisMGetBusData', h)
        if (!busRange('NdisMGetBusData', offset, length)) return { bytesRead: 0, buffer: new Uint8Array(0) }
        const buffer = new Uint8Array(Math.max(0, Math.min(length, 256 - offset)))
        for (let i = 0; i < buffer.length; i++) buffer[i] = (ctx.nic.pci.configRead32((offset + i) & ~3) >>> (((offset + i) & 3) * 8)) & 0xff
        return { bytesRead: buffer.length, buffer }
      },
      NdisMSetBusData: (h, _space, offset, buffer, length) => {
        ctx.checkHandle('NdisMSetBusData', h)
        if (!busRange('NdisMSetBusData', offset, length)) return 0
        const n = Math.max(0, Math.min(length, buffer.length, 256 - offset))
        for (let i = 0; i < n; i++) {
          const at = (offset + i) & ~3
          const shift = ((offset + i) & 3) * 8
          const old = ctx.nic.pci.configRead32(at)
          ctx.nic.pci.configWrite32(at, ((old & ~(0xff << shift)) | (buffer[i]! << shift)) >>> 0)
        }
        return n
      },

      NdisAllocateMemory: (len, flags, highest) => memory.NdisAllocateMemory(len, flags, highest),
      NdisAllocateMemoryWithTag: (len, tag) => memory.NdisAllocateMemoryWithTag(len, tag),
      NdisAllocateMemoryWithTagPriority: (h, len, tag, p) => memory.NdisAllocateMemoryWithTagPriority(h, len, tag, p),
      NdisFreeMemory: (va, len, flags) => memory.NdisFreeMemory(va, len, flags),
      NdisFreeMemoryWithTagPriority: (h, va, tag) => memory.NdisFreeMemoryWithTagPriority(h, va, tag),
      NdisZeroMemory: (va, len) => k.memory.fill(va, len, 0),
      NdisMoveMemory: (dst, src, len) => k.memory.copy(dst, src, len),
      NdisFillMemory: (va, len, fill) => k.memory.fill(va, len, fill),

      NdisMRegisterScatterGatherDma: (h, d) => dma.NdisMRegisterScatterGatherDma(h, d),
      NdisMDeregisterScatterGatherDma: (h) => dma.NdisMDeregisterScatterGatherDma(h),
      NdisMAllocateSharedMemory: (h, len, cached) => dma.NdisMAllocateSharedMemory(h, len, cached),
      NdisMFreeSharedMemory: (h, len, cached, va, pa) => dma.NdisMFreeSharedMemory(h, len, cached, va, pa),
      NdisMAllocateSharedMemoryAsyncEx: (h, len, cached, c) => dma.NdisMAllocateSharedMemoryAsyncEx(h, len, cached, c),
      NdisMAllocateNetBufferSGList: (h, nb, c, f, b, s) => dma.NdisMAllocateNetBufferSGList(h, nb, c, f, b, s),
      NdisMFreeNetBufferSGList: (h, sgl, nb) => dma.NdisMFreeNetBufferSGList(h, sgl, nb),
      NdisMGetDmaAlignment: (h) => dma.NdisMGetDmaAlignment(h),

      NdisMRegisterInterruptEx: (h, c, chars) => {
        k.log.throwIfStopped()
        if (!ctx.checkHandle('NdisMRegisterInterruptEx', h)) return { status: NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER, ndisInterruptHandle: null }
        irqlAtMost('NdisMRegisterInterruptEx', PASSIVE_LEVEL)
        const handle = interrupts.register(c, chars)
        return handle === null ? { status: NDIS_STATUS.NDIS_STATUS_FAILURE, ndisInterruptHandle: null } : { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, ndisInterruptHandle: handle }
      },
      NdisMDeregisterInterruptEx: (h) => interrupts.deregister(h),
      NdisMSynchronizeWithInterruptEx: (h, _id, fn, c) => interrupts.synchronize(h, fn, c),

      NdisAllocateSpinLock: () => locks.allocate(),
      NdisFreeSpinLock: (l) => locks.free(l),
      NdisAcquireSpinLock: (l) => locks.acquire(l, false),
      NdisReleaseSpinLock: (l) => locks.release(l, false),
      NdisDprAcquireSpinLock: (l) => locks.acquire(l, true),
      NdisDprReleaseSpinLock: (l) => locks.release(l, true),
      // Time passes as asked and the device progresses meanwhile (kernel/cpu-time.ts).
      NdisStallExecution: (us) => k.cpuTime.stall('NdisStallExecution', us),
      NdisMSleep: (us) => {
        irqlAtMost('NdisMSleep', PASSIVE_LEVEL)
        k.cpuTime.stall('NdisMSleep', us)
      },

      NdisAllocateNetBufferListPool: (h, params) => {
        k.log.throwIfStopped()
        irqlAtMost('NdisAllocateNetBufferListPool', DISPATCH_LEVEL)
        const call = k.calls.allocation('NdisAllocateNetBufferListPool', 0)
        if (call.fail) return null
        return nbls.allocatePool(params, call.site)
      },
      NdisFreeNetBufferListPool: (p) => nbls.freePool(p as NblPoolHandle),
      NdisAllocateNetBufferAndNetBufferList: (p, _cs, _bf, mdl, off, len) => {
        k.log.throwIfStopped()
        const call = k.calls.allocation('NdisAllocateNetBufferAndNetBufferList', len)
        if (call.fail) return null
        return nbls.allocate(p as NblPoolHandle, mdl, off, len, true, call.site)
      },
      NdisFreeNetBufferList: (nbl) => nbls.free(nbl),
      NdisAllocateMdl: (h, va, len) => {
        k.log.throwIfStopped()
        irqlAtMost('NdisAllocateMdl', DISPATCH_LEVEL)
        const call = k.calls.allocation('NdisAllocateMdl', len)
        if (call.fail) return null
        const mdl = k.mdl.create(va, len, call.site === undefined ? {} : { site: call.site })
        if (mdl !== null) k.mdl.buildForNonPagedPool(mdl)
        return mdl
      },
      NdisFreeMdl: (mdl) => k.mdl.free(mdl, 'NdisFreeMdl'),
      NdisAllocateNetBufferList: (p, contextSize, backFill) => {
        k.log.throwIfStopped()
        const call = k.calls.allocation('NdisAllocateNetBufferList', contextSize)
        // NdisAllocateNetBufferList: both "must be a multiple of the value defined by MEMORY_ALLOCATION_ALIGNMENT".
        const align = NDIS_NB_CONSTANTS.MEMORY_ALLOCATION_ALIGNMENT
        if (!Number.isSafeInteger(contextSize) || !Number.isSafeInteger(backFill) || contextSize % align !== 0 || backFill % align !== 0 || contextSize < 0 || backFill < 0) {
          nbs.misuse(`NdisAllocateNetBufferList: ContextSize ${String(contextSize)} and ContextBackFill ${String(backFill)} must be multiples of MEMORY_ALLOCATION_ALIGNMENT (${align})`)
          return null
        }
        if (call.fail) return null
        return nbls.allocate(p as NblPoolHandle, null, 0, 0, false, call.site)
      },
      NdisAllocateNetBufferPool: (h, params) => nbs.NdisAllocateNetBufferPool(h, params),
      NdisFreeNetBufferPool: (p) => nbs.NdisFreeNetBufferPool(p),
      NdisAllocateNetBuffer: (p, mdl, off, len) => nbs.NdisAllocateNetBuffer(p, mdl, off, len),
      NdisFreeNetBuffer: (nb) => nbs.NdisFreeNetBuffer(nb),
      NdisRetreatNetBufferDataStart: (nb, delta, backFill, handler) => nbs.NdisRetreatNetBufferDataStart(nb, delta, backFill, handler),
      NdisAdvanceNetBufferDataStart: (nb, delta, freeMdl, handler) => nbs.NdisAdvanceNetBufferDataStart(nb, delta, freeMdl, handler),
      NdisGetDataBuffer: (nb, bytes, storage, multiple, offset) => nbs.NdisGetDataBuffer(nb, bytes, storage, multiple, offset),
      NdisQueryNetBufferPhysicalCount: (nb) => nbs.NdisQueryNetBufferPhysicalCount(nb),
      NdisAllocateCloneNetBufferList: (o, nblPool, nbPool, flags) => derived.NdisAllocateCloneNetBufferList(o, nblPool as NblPoolHandle | null, nbPool, flags),
      NdisFreeCloneNetBufferList: (c, flags) => derived.NdisFreeCloneNetBufferList(c, flags),
      NdisAllocateFragmentNetBufferList: (o, nblPool, nbPool, start, max, delta, backFill, flags) => derived.NdisAllocateFragmentNetBufferList(o, nblPool as NblPoolHandle | null, nbPool, start, max, delta, backFill, flags),
      NdisFreeFragmentNetBufferList: (f, delta, flags) => derived.NdisFreeFragmentNetBufferList(f, delta, flags),

      // NDIS's lookaside lists are the kernel's nonpaged ones (NDIS_LOOKASIDE is an NPAGED_LOOKASIDE_LIST).
      NdisInitializeNPagedLookasideList: (l, a, f, flags, size, tag, depth) => lookaside.initialize('NdisInitializeNPagedLookasideList', 'npaged', l, a, f, flags, size, tag, depth),
      NdisDeleteNPagedLookasideList: (l) => lookaside.delete('NdisDeleteNPagedLookasideList', 'npaged', l),
      NdisAllocateFromNPagedLookasideList: (l) => lookaside.allocate('NdisAllocateFromNPagedLookasideList', 'npaged', l),
      NdisFreeToNPagedLookasideList: (l, e) => lookaside.free('NdisFreeToNPagedLookasideList', 'npaged', l, e),

      NdisAllocateIoWorkItem: (h) => workItems.NdisAllocateIoWorkItem(h),
      NdisQueueIoWorkItem: (w, routine, c) => workItems.NdisQueueIoWorkItem(w, routine, c),
      NdisFreeIoWorkItem: (w) => workItems.NdisFreeIoWorkItem(w),
      NdisAllocateTimerObject: (h, chars) => timers.NdisAllocateTimerObject(h, chars),
      NdisSetTimerObject: (t, due, period, c) => timers.NdisSetTimerObject(t, due, period, c),
      NdisCancelTimerObject: (t) => timers.NdisCancelTimerObject(t),
      NdisFreeTimerObject: (t) => timers.NdisFreeTimerObject(t),
      NdisMSendNetBufferListsComplete: (h, nbls_, _flags) => {
        if (!ctx.checkHandle('NdisMSendNetBufferListsComplete', h)) return
        irqlAtMost('NdisMSendNetBufferListsComplete', DISPATCH_LEVEL)
        protocol.sendComplete(nbls_)
      },
      NdisMIndicateReceiveNetBufferLists: (h, nbls_, _port, count, flags) => {
        if (!ctx.checkHandle('NdisMIndicateReceiveNetBufferLists', h)) return
        irqlAtMost('NdisMIndicateReceiveNetBufferLists', DISPATCH_LEVEL)
        protocol.indicate(nbls_, count, flags)
      },
      NdisMIndicateStatusEx: (h, indication) => {
        if (!ctx.checkHandle('NdisMIndicateStatusEx', h)) return
        if (indication?.StatusCode === NDIS_OFFLOAD_CONSTANTS.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG) indicateCurrentConfig(ctx, indication.StatusBuffer)
      },

      IoGetDmaAdapter: (pdo, desc) => hal.IoGetDmaAdapter(pdo, desc),
      KeFlushIoBuffers: (mdl, read, dmaOperation) => hal.KeFlushIoBuffers(mdl, read, dmaOperation),
    }
    // NDIS 5.1 routines beside them; the two that both models name alike dispatch on the model
    // the driver registered with.
    const v5 = this.v5.routines()
    const v5dma = this.v5.dma
    const shared = {
      NdisMAllocateSharedMemory: (h: unknown, len: number, cached: boolean) => (ctx.model === 'ndis5' ? v5dma.NdisMAllocateSharedMemory(h, len, cached) : dma.NdisMAllocateSharedMemory(h, len, cached)),
      NdisMFreeSharedMemory: (h: unknown, len: number, cached: boolean, va: number, pa: number) => (ctx.model === 'ndis5' ? v5dma.NdisMFreeSharedMemory(h, len, cached, va, pa) : dma.NdisMFreeSharedMemory(h, len, cached, va, pa)),
    }
    // One copy of the constants, then the routines assigned in: spreading ~550 names into a
    // literal built a hidden class per name, 0.4 MB and a tenth of a short sweep run's time.
    // V8 keeps the result as a hash table; every machine's then shares one map, so a driver's
    // call sites stay monomorphic across a sweep's machines (a fixed layout per machine, made by
    // making the object a prototype, cost sweeps more than it saved a long run: measured).
    return Object.assign({ ...API_CONSTANTS }, kernelRoutines(k), routines, v5, this.ports.routines(), shared) as NdisApi
  }
}
