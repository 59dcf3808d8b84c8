// A minimal NDIS 6 miniport for the DMA and NDIS layer tests (not examples/e1000, which is the
// product's reference driver): one transmit ring fed by NdisMAllocateNetBufferSGList, one
// receive ring of 2 KiB buffers in one block of shared memory, an ISR that reads ICR and masks,
// a DPC that reaps, indicates and unmasks, a pause that pends while anything is outstanding,
// and a halt that stops the device before freeing anything.
//
// Tests see inside it: every handler records the IRQL it ran at (`irqls`), the adapter is
// reachable (`adapter`), and hooks run inside the handlers so a test can make the driver do
// something wrong at a chosen moment, on a driver line of its own (the finding's `site`).
//
// Assumptions that keep it small: one NET_BUFFER per NET_BUFFER_LIST (the protocol side sends
// that way), frames that fit one 2 KiB receive buffer. ProcessSGList never takes the adapter
// lock: it runs either inside NdisMAllocateNetBufferSGList (lock held by the caller) or inside
// NdisMFreeNetBufferSGList when a transfer waited for map registers (lock held by the DPC).
import type { NdisApi } from '../../src/ndis/api.js'
import type { MiniportModule } from '../../src/ndis/miniport.js'
import type {
  MDL, NdisHandle, NDIS_MINIPORT_INIT_PARAMETERS, NDIS_OID_REQUEST, NDIS_SPIN_LOCK, NET_BUFFER, NET_BUFFER_LIST, SCATTER_GATHER_LIST,
} from '../../src/ndis/types.js'

/** 82540EM registers and bits this driver uses (8254x manual 13.4), its own copy as a driver keeps. */
export const REG = {
  CTRL: 0x0000, STATUS: 0x0008, EERD: 0x0014, ICR: 0x00c0, ITR: 0x00c4, ICS: 0x00c8, IMS: 0x00d0, IMC: 0x00d8,
  RCTL: 0x0100, TCTL: 0x0400, RDBAL: 0x2800, RDBAH: 0x2804, RDLEN: 0x2808, RDH: 0x2810, RDT: 0x2818,
  TDBAL: 0x3800, TDBAH: 0x3804, TDLEN: 0x3808, TDH: 0x3810, TDT: 0x3818, RAL0: 0x5400, RAH0: 0x5404,
} as const
export const CTRL_SLU = 0x40
export const CTRL_RST = 1 << 26
export const ICR_TXDW = 0x01
export const ICR_LSC = 0x04
export const ICR_RXO = 0x40
export const ICR_RXT0 = 0x80
const IMS_ENABLE = ICR_TXDW | ICR_LSC | ICR_RXO | ICR_RXT0
const RCTL_EN = 0x2
const RCTL_BAM = 0x8000
const RCTL_SECRC = 1 << 26
const TCTL_EN = 0x2
const TCTL_PSP = 0x8
const TXD_EOP = 0x01
const TXD_IFCS = 0x02
const TXD_RS = 0x08
const DD = 0x01
const EOP = 0x02
export const DESC = 16
export const RX_BUFFER = 2048
/** ITR in 256 ns units: an interrupt at most every ~25 µs, a few frames per DPC at 1 Gbit/s. */
const ITR = 100
const TWO_POW_32 = 4294967296
/** Pool tag of the receive NBL pool ("TmpR" in a dump). */
export const NBL_POOL_TAG = 'RpmT'

/** Handlers whose IRQL the miniport records, by the names NDIS uses. */
export type HandlerName =
  | 'DriverEntry' | 'MiniportInitializeEx' | 'MiniportRestart' | 'MiniportPause' | 'MiniportHaltEx' | 'MiniportDriverUnload'
  | 'MiniportOidRequest' | 'MiniportSendNetBufferLists' | 'MiniportReturnNetBufferLists' | 'MiniportProcessSGList'
  | 'MiniportInterrupt' | 'MiniportInterruptDPC' | 'MiniportSharedMemoryAllocateComplete'
  | 'MiniportPause (spin lock held)' | 'MiniportPause (spin lock released)'

export interface TestMiniportOptions {
  /** NDIS_SG_DMA_64_BIT_ADDRESS in the registration (default false: a 32-bit bus master). */
  readonly dma64?: boolean
  /** MaximumPhysicalMapping (default 16 KiB: 5 map registers). */
  readonly maximumPhysicalMapping?: number
  readonly txDescriptors?: number
  readonly rxDescriptors?: number
  /**
   * Where the rings' device addresses come from: `shared-memory` (NdisMAllocateSharedMemory's
   * logical address, correct) or `contiguous-physical` (MmAllocateContiguousMemorySpecifyCache
   * below 4 GiB + MmGetPhysicalAddress: the S14 mistake).
   */
  readonly rings?: 'shared-memory' | 'contiguous-physical'
  readonly hooks?: TestMiniportHooks
}

/** Code a test runs inside a handler. */
export interface TestMiniportHooks {
  /** End of MiniportInitializeEx, before the device starts. A status other than success fails the initialization. */
  initialize?(a: TestAdapter): number | void
  /** Start of MiniportSendNetBufferLists. */
  send?(a: TestAdapter, nbls: NET_BUFFER_LIST): void
  /** Start of MiniportProcessSGList, with the NET_BUFFER being mapped. */
  processSGList?(a: TestAdapter, sgl: SCATTER_GATHER_LIST, nb: NET_BUFFER): void
  /** MiniportInterrupt in place of the driver's own (which reads ICR and masks). */
  isr?(a: TestAdapter): { interruptRecognized: boolean; queueDefaultInterruptDpc: boolean }
  /** End of MiniportInterruptDPC. */
  dpc?(a: TestAdapter): void
  /** Start of MiniportOidRequest; a number is the request's status, undefined lets the driver answer. */
  oid?(a: TestAdapter, request: NDIS_OID_REQUEST): number | undefined
  /** Start of MiniportPause; a number is returned as the pause's status. */
  pause?(a: TestAdapter): number | undefined
  /** Start of MiniportHaltEx, before the device is stopped. */
  halt?(a: TestAdapter): void
  /** MiniportSharedMemoryAllocateComplete (default: keep the block, freed at halt). */
  sharedMemoryComplete?(a: TestAdapter, va: number, logical: number, length: number, context: unknown): void
}

/** A frame on the transmit ring: a send being mapped through an S/G list, or a raw one a test posted. */
interface InFlight {
  readonly nbl: NET_BUFFER_LIST | null
  readonly nb: NET_BUFFER | null
  readonly sgl: SCATTER_GATHER_LIST | null
  readonly last: number
  readonly descriptors: number
}

interface SendContext {
  readonly a: TestAdapter
  readonly nbl: NET_BUFFER_LIST
  readonly nb: NET_BUFFER
  readonly reserved: number
}

export interface TestAdapter {
  readonly ndis: NdisApi
  readonly handle: NdisHandle
  readonly options: TestMiniportOptions
  state: 'initializing' | 'paused' | 'running' | 'pausing' | 'halting'
  regs: number
  regsLength: number
  mac: Uint8Array
  lock: NDIS_SPIN_LOCK | null
  nblPool: NdisHandle | null
  dmaHandle: NdisHandle | null
  interruptHandle: NdisHandle | null
  /** Rings: VA, the device address the driver programs, and how they were allocated. */
  txRing: number
  txRingDevice: number
  rxRing: number
  rxRingDevice: number
  txCount: number
  rxCount: number
  txNext: number
  txFree: number
  readonly txQueue: NET_BUFFER_LIST[]
  readonly inFlight: InFlight[]
  rxBlock: number
  rxBlockLogical: number
  rxNext: number
  rxTail: number
  rxIndicated: number
  rxNbls: NET_BUFFER_LIST[]
  rxMdls: MDL[]
  pendingIcr: number
  /** Blocks that arrived through MiniportSharedMemoryAllocateComplete, freed at halt. */
  readonly asyncShared: Array<{ va: number; logical: number; length: number }>
  /** Statistics the OIDs report. */
  txOk: number
  rxOk: number
  /** Calls of NdisMAllocateNetBufferSGList whose ProcessSGList had not run when it returned. */
  deferredSgLists: number
  /** Set while NdisMAllocateNetBufferSGList is on the stack. */
  mapping: boolean
  /** OID requests the driver pended, completed by the DPC. */
  readonly pendingOids: NDIS_OID_REQUEST[]
  /** OID_GEN_CURRENT_PACKET_FILTER: nothing is indicated while it is 0. */
  packetFilter: number
}

export interface TestMiniport extends MiniportModule {
  /** Every IRQL each handler was observed at. */
  readonly irqls: Map<HandlerName, Set<number>>
  /** The adapter, once MiniportInitializeEx created it. */
  adapter: TestAdapter | null
}

export function testMiniport(options: TestMiniportOptions = {}): TestMiniport {
  const hooks = options.hooks ?? {}
  const irqls = new Map<HandlerName, Set<number>>()
  let ndisApi: NdisApi | null = null
  const record = (name: HandlerName): void => {
    const level = ndisApi!.KeGetCurrentIrql()
    let set = irqls.get(name)
    if (set === undefined) irqls.set(name, (set = new Set()))
    set.add(level)
  }

  const module: TestMiniport = {
    irqls,
    adapter: null,
    default: ((ndis: NdisApi, registryPath?: string): number => {
      ndisApi = ndis
      record('DriverEntry')
      const driverObject = ndis.DriverObject
      const { status } = ndis.NdisMRegisterMiniportDriver(driverObject, registryPath ?? '', null, {
        MajorNdisVersion: 6,
        MinorNdisVersion: 20,
        InitializeHandlerEx: (handle, _context, params) => {
          record('MiniportInitializeEx')
          const a = newAdapter(ndis, handle, options)
          module.adapter = a
          const result = setUp(a, params, hooks, record)
          if (result !== ndis.NDIS_STATUS_SUCCESS) release(a)
          return result
        },
        HaltHandlerEx: (context) => {
          record('MiniportHaltEx')
          const a = context as TestAdapter
          hooks.halt?.(a)
          a.state = 'halting'
          stopDevice(a)
          abortInFlight(a)
          release(a)
        },
        UnloadHandler: () => {
          record('MiniportDriverUnload')
          ndis.NdisMDeregisterMiniportDriver(driverObject)
        },
        PauseHandler: (context) => {
          record('MiniportPause')
          const a = context as TestAdapter
          const forced = hooks.pause?.(a)
          if (forced !== undefined) return forced
          ndis.NdisAcquireSpinLock(a.lock!)
          record('MiniportPause (spin lock held)')
          a.state = 'pausing'
          const aborted = flushQueue(a, ndis.NDIS_STATUS_PAUSED)
          const idle = isIdle(a)
          if (idle) a.state = 'paused'
          ndis.NdisReleaseSpinLock(a.lock!)
          record('MiniportPause (spin lock released)')
          complete(a, aborted, false)
          return idle ? ndis.NDIS_STATUS_SUCCESS : ndis.NDIS_STATUS_PENDING
        },
        RestartHandler: (context) => {
          record('MiniportRestart')
          ;(context as TestAdapter).state = 'running'
          return ndis.NDIS_STATUS_SUCCESS
        },
        OidRequestHandler: (context, request) => {
          record('MiniportOidRequest')
          const a = context as TestAdapter
          return hooks.oid?.(a, request) ?? oidRequest(a, request)
        },
        SendNetBufferListsHandler: (context, nbls, _port, flags) => {
          record('MiniportSendNetBufferLists')
          const a = context as TestAdapter
          hooks.send?.(a, nbls)
          send(a, nbls, (flags & ndis.NDIS_SEND_FLAGS_DISPATCH_LEVEL) !== 0)
        },
        ReturnNetBufferListsHandler: (context, nbls, flags) => {
          record('MiniportReturnNetBufferLists')
          returnNbls(context as TestAdapter, nbls, (flags & ndis.NDIS_RETURN_FLAGS_DISPATCH_LEVEL) !== 0)
        },
      })
      return status
    }) as MiniportModule['default'],
  }

  function setUp(a: TestAdapter, params: NDIS_MINIPORT_INIT_PARAMETERS, h: TestMiniportHooks, rec: (n: HandlerName) => void): number {
    const ndis = a.ndis
    let status = ndis.NdisMSetMiniportAttributes(a.handle, {
      Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0 },
      MiniportAdapterContext: a,
      AttributeFlags: ndis.NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | ndis.NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER,
      CheckForHangTimeInSeconds: 0,
      InterfaceType: ndis.NDIS_INTERFACE_TYPE_PCI,
    })
    if (status !== ndis.NDIS_STATUS_SUCCESS) return status
    a.lock = ndis.NdisAllocateSpinLock().spinLock
    a.nblPool = ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: NBL_POOL_TAG, DataSize: 0 })
    if (a.nblPool === null) return ndis.NDIS_STATUS_RESOURCES

    const memory = params.AllocatedResources.PartialDescriptors.find((d) => d.Type === ndis.CmResourceTypeMemory)?.u.Memory
    if (memory === undefined) return ndis.NDIS_STATUS_ADAPTER_NOT_FOUND
    const io = ndis.NdisMMapIoSpace(a.handle, memory.Start, memory.Length)
    if (io.status !== ndis.NDIS_STATUS_SUCCESS) return io.status
    a.regs = io.virtualAddress
    a.regsLength = memory.Length
    resetDevice(a)
    readMac(a)

    const dma = ndis.NdisMRegisterScatterGatherDma(a.handle, {
      Flags: a.options.dma64 === true ? ndis.NDIS_SG_DMA_64_BIT_ADDRESS : 0,
      MaximumPhysicalMapping: a.options.maximumPhysicalMapping ?? 16 * 1024,
      ProcessSGListHandler: (_device, _reserved, sgl, context) => {
        rec('MiniportProcessSGList')
        processSGList(sgl, context as SendContext, h)
      },
      SharedMemAllocateCompleteHandler: (context, va, logical, length, userContext) => {
        rec('MiniportSharedMemoryAllocateComplete')
        const ad = context as TestAdapter
        if (h.sharedMemoryComplete !== undefined) h.sharedMemoryComplete(ad, va, logical, length, userContext)
        else if (va !== 0) ad.asyncShared.push({ va, logical, length })
      },
    })
    if (dma.status !== ndis.NDIS_STATUS_SUCCESS) return dma.status
    a.dmaHandle = dma.ndisMiniportDmaHandle

    status = allocateRings(a)
    if (status !== ndis.NDIS_STATUS_SUCCESS) return status
    status = allocateReceiveBuffers(a)
    if (status !== ndis.NDIS_STATUS_SUCCESS) return status

    const irq = ndis.NdisMRegisterInterruptEx(a.handle, a, {
      InterruptHandler: (context) => {
        rec('MiniportInterrupt')
        const ad = context as TestAdapter
        if (h.isr !== undefined) return h.isr(ad)
        const icr = readReg(ad, REG.ICR)
        if (icr === 0) return { interruptRecognized: false, queueDefaultInterruptDpc: false }
        ad.pendingIcr |= icr
        writeReg(ad, REG.IMC, 0xffff_ffff)
        return { interruptRecognized: true, queueDefaultInterruptDpc: true }
      },
      InterruptDpcHandler: (context) => {
        rec('MiniportInterruptDPC')
        dpc(context as TestAdapter, h)
      },
    })
    if (irq.status !== ndis.NDIS_STATUS_SUCCESS) return irq.status
    a.interruptHandle = irq.ndisInterruptHandle

    status = ndis.NdisMSetMiniportAttributes(a.handle, {
      Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, Revision: 2, Size: 0 },
      MediaType: ndis.NdisMedium802_3,
      MtuSize: 1500,
      MaxXmitLinkSpeed: 1_000_000_000,
      MaxRcvLinkSpeed: 1_000_000_000,
      MacAddressLength: 6,
      PermanentMacAddress: a.mac,
      CurrentMacAddress: a.mac,
    })
    if (status !== ndis.NDIS_STATUS_SUCCESS) return status
    const hooked = h.initialize?.(a)
    if (typeof hooked === 'number' && hooked !== ndis.NDIS_STATUS_SUCCESS) return hooked
    startDevice(a)
    a.state = 'paused'
    return ndis.NDIS_STATUS_SUCCESS
  }

  return module
}

function newAdapter(ndis: NdisApi, handle: NdisHandle, options: TestMiniportOptions): TestAdapter {
  return {
    ndis, handle, options, state: 'initializing', regs: 0, regsLength: 0, mac: new Uint8Array(6), lock: null, nblPool: null,
    dmaHandle: null, interruptHandle: null, txRing: 0, txRingDevice: 0, rxRing: 0, rxRingDevice: 0,
    txCount: options.txDescriptors ?? 64, rxCount: options.rxDescriptors ?? 128, txNext: 0, txFree: 0, txQueue: [], inFlight: [],
    rxBlock: 0, rxBlockLogical: 0, rxNext: 0, rxTail: 0, rxIndicated: 0, rxNbls: [], rxMdls: [], pendingIcr: 0, asyncShared: [],
    txOk: 0, rxOk: 0, deferredSgLists: 0, mapping: false, pendingOids: [], packetFilter: 0,
  }
}

export function readReg(a: TestAdapter, offset: number): number {
  return a.ndis.NdisReadRegisterUlong(a.regs + offset)
}

export function writeReg(a: TestAdapter, offset: number, value: number): void {
  a.ndis.NdisWriteRegisterUlong(a.regs + offset, value >>> 0)
}

function allocateRing(a: TestAdapter, bytes: number): { va: number; device: number } {
  const ndis = a.ndis
  if (a.options.rings === 'contiguous-physical') {
    // The S14 mistake: contiguous memory below 4 GiB, its CPU physical address given to the device.
    const va = ndis.MmAllocateContiguousMemorySpecifyCache(bytes, 0, 0xffff_ffff, 0, ndis.MmCached)
    return { va, device: va === 0 ? 0 : ndis.MmGetPhysicalAddress(va) }
  }
  const shared = ndis.NdisMAllocateSharedMemory(a.handle, bytes, false)
  return { va: shared.virtualAddress, device: shared.physicalAddress }
}

function freeRing(a: TestAdapter, bytes: number, va: number, device: number): void {
  if (va === 0) return
  if (a.options.rings === 'contiguous-physical') a.ndis.MmFreeContiguousMemorySpecifyCache(va, bytes, a.ndis.MmCached)
  else a.ndis.NdisMFreeSharedMemory(a.handle, bytes, false, va, device)
}

function allocateRings(a: TestAdapter): number {
  const ndis = a.ndis
  const tx = allocateRing(a, a.txCount * DESC)
  if (tx.va === 0) return ndis.NDIS_STATUS_RESOURCES
  a.txRing = tx.va
  a.txRingDevice = tx.device
  const rx = allocateRing(a, a.rxCount * DESC)
  if (rx.va === 0) return ndis.NDIS_STATUS_RESOURCES
  a.rxRing = rx.va
  a.rxRingDevice = rx.device
  ndis.NdisZeroMemory(a.txRing, a.txCount * DESC)
  ndis.NdisZeroMemory(a.rxRing, a.rxCount * DESC)
  a.txFree = a.txCount
  return ndis.NDIS_STATUS_SUCCESS
}

function allocateReceiveBuffers(a: TestAdapter): number {
  const ndis = a.ndis
  const block = ndis.NdisMAllocateSharedMemory(a.handle, a.rxCount * RX_BUFFER, true)
  if (block.virtualAddress === 0) return ndis.NDIS_STATUS_RESOURCES
  a.rxBlock = block.virtualAddress
  a.rxBlockLogical = block.physicalAddress
  for (let i = 0; i < a.rxCount; i++) {
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock + i * RX_BUFFER, RX_BUFFER)
    if (mdl === null) return ndis.NDIS_STATUS_RESOURCES
    a.rxMdls.push(mdl)
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 0)
    if (nbl === null) return ndis.NDIS_STATUS_RESOURCES
    nbl.MiniportReserved[0] = i
    a.rxNbls.push(nbl)
    const logical = a.rxBlockLogical + i * RX_BUFFER
    ndis.memory.write32(a.rxRing + i * DESC, logical >>> 0)
    ndis.memory.write32(a.rxRing + i * DESC + 4, Math.floor(logical / TWO_POW_32))
  }
  return ndis.NDIS_STATUS_SUCCESS
}

function resetDevice(a: TestAdapter): void {
  writeReg(a, REG.IMC, 0xffff_ffff)
  writeReg(a, REG.CTRL, readReg(a, REG.CTRL) | CTRL_RST)
  writeReg(a, REG.IMC, 0xffff_ffff)
  readReg(a, REG.ICR)
}

function readMac(a: TestAdapter): void {
  for (let word = 0; word < 3; word++) {
    writeReg(a, REG.EERD, (word << 8) | 1)
    const v = readReg(a, REG.EERD)
    a.mac[word * 2] = (v >>> 16) & 0xff
    a.mac[word * 2 + 1] = (v >>> 24) & 0xff
  }
}

function startDevice(a: TestAdapter): void {
  const m = a.mac
  writeReg(a, REG.CTRL, readReg(a, REG.CTRL) | CTRL_SLU)
  writeReg(a, REG.RAL0, m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24))
  writeReg(a, REG.RAH0, m[4]! | (m[5]! << 8) | 0x8000_0000)
  writeReg(a, REG.TDBAL, a.txRingDevice >>> 0)
  writeReg(a, REG.TDBAH, Math.floor(a.txRingDevice / TWO_POW_32))
  writeReg(a, REG.TDLEN, a.txCount * DESC)
  writeReg(a, REG.TDH, 0)
  writeReg(a, REG.TDT, 0)
  writeReg(a, REG.TCTL, TCTL_EN | TCTL_PSP)
  writeReg(a, REG.RDBAL, a.rxRingDevice >>> 0)
  writeReg(a, REG.RDBAH, Math.floor(a.rxRingDevice / TWO_POW_32))
  writeReg(a, REG.RDLEN, a.rxCount * DESC)
  writeReg(a, REG.RDH, 0)
  a.rxTail = a.rxCount - 1
  writeReg(a, REG.RDT, a.rxTail)
  writeReg(a, REG.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC)
  writeReg(a, REG.ITR, ITR)
  writeReg(a, REG.IMS, IMS_ENABLE)
}

function stopDevice(a: TestAdapter): void {
  if (a.regs === 0) return
  writeReg(a, REG.IMC, 0xffff_ffff)
  writeReg(a, REG.RCTL, 0)
  writeReg(a, REG.TCTL, 0)
  writeReg(a, REG.CTRL, readReg(a, REG.CTRL) | CTRL_RST)
  readReg(a, REG.ICR)
}

/** Gives back whatever a prefix of the set-up acquired, in reverse order. */
function release(a: TestAdapter): void {
  const ndis = a.ndis
  if (a.interruptHandle !== null) {
    stopDevice(a)
    ndis.NdisMDeregisterInterruptEx(a.interruptHandle)
    a.interruptHandle = null
  }
  for (const nbl of a.rxNbls) ndis.NdisFreeNetBufferList(nbl)
  for (const mdl of a.rxMdls) ndis.NdisFreeMdl(mdl)
  a.rxNbls = []
  a.rxMdls = []
  if (a.rxBlock !== 0) ndis.NdisMFreeSharedMemory(a.handle, a.rxCount * RX_BUFFER, true, a.rxBlock, a.rxBlockLogical)
  a.rxBlock = 0
  for (const b of a.asyncShared.splice(0)) ndis.NdisMFreeSharedMemory(a.handle, b.length, true, b.va, b.logical)
  freeRing(a, a.rxCount * DESC, a.rxRing, a.rxRingDevice)
  freeRing(a, a.txCount * DESC, a.txRing, a.txRingDevice)
  a.rxRing = a.txRing = 0
  if (a.dmaHandle !== null) ndis.NdisMDeregisterScatterGatherDma(a.dmaHandle)
  a.dmaHandle = null
  if (a.regs !== 0) ndis.NdisMUnmapIoSpace(a.handle, a.regs, a.regsLength)
  a.regs = 0
  if (a.nblPool !== null) ndis.NdisFreeNetBufferListPool(a.nblPool)
  a.nblPool = null
  if (a.lock !== null) ndis.NdisFreeSpinLock(a.lock)
  a.lock = null
}

function acquire(a: TestAdapter, dpr: boolean): void {
  if (dpr) a.ndis.NdisDprAcquireSpinLock(a.lock!)
  else a.ndis.NdisAcquireSpinLock(a.lock!)
}

function releaseLock(a: TestAdapter, dpr: boolean): void {
  if (dpr) a.ndis.NdisDprReleaseSpinLock(a.lock!)
  else a.ndis.NdisReleaseSpinLock(a.lock!)
}

function send(a: TestAdapter, nbls: NET_BUFFER_LIST, dpr: boolean): void {
  const ndis = a.ndis
  acquire(a, dpr)
  let failed: NET_BUFFER_LIST | null = null
  for (let nbl: NET_BUFFER_LIST | null = nbls, next: NET_BUFFER_LIST | null; nbl !== null; nbl = next) {
    next = nbl.Next
    nbl.Next = null
    if (a.state !== 'running') {
      nbl.Status = ndis.NDIS_STATUS_PAUSED
      nbl.Next = failed
      failed = nbl
    } else {
      a.txQueue.push(nbl)
    }
  }
  const done = drain(a)
  releaseLock(a, dpr)
  complete(a, failed, dpr)
  complete(a, done, dpr)
}

/**
 * Maps queued sends while descriptors last. Descriptors for the worst case (one per page the
 * frame touches) are set aside before mapping, because ProcessSGList may run later, after a
 * Put frees map registers. Returns NBLs that failed to map. Lock held.
 */
function drain(a: TestAdapter): NET_BUFFER_LIST | null {
  const ndis = a.ndis
  let failed: NET_BUFFER_LIST | null = null
  while (a.txQueue.length > 0) {
    const nbl = a.txQueue[0]!
    const nb = nbl.FirstNetBuffer!
    const reserve = Math.ceil(nb.DataLength / 4096) + 1
    if (a.txFree - reserve < 1) break
    a.txQueue.shift()
    a.txFree -= reserve
    const context: SendContext = { a, nbl, nb, reserved: reserve }
    a.mapping = true
    nbl.MiniportReserved[0] = null
    // To the device; the list starts at CurrentMdl's first byte, the data CurrentMdlOffset in.
    const status = ndis.NdisMAllocateNetBufferSGList(a.dmaHandle!, nb, context, ndis.NDIS_SG_LIST_WRITE_TO_DEVICE, null, 0)
    a.mapping = false
    if (status !== ndis.NDIS_STATUS_SUCCESS) {
      a.txFree += reserve
      nbl.Status = status
      nbl.Next = failed
      failed = nbl
    } else if (nbl.MiniportReserved[0] !== 'mapped') {
      a.deferredSgLists++
    }
  }
  return failed
}

/** MiniportProcessSGList (DISPATCH_LEVEL): one descriptor per element, EOP and RS on the last. */
function processSGList(sgl: SCATTER_GATHER_LIST, context: SendContext, hooks: TestMiniportHooks): void {
  const { a, nbl, nb } = context
  hooks.processSGList?.(a, sgl, nb)
  const m = a.ndis.memory
  nbl.MiniportReserved[0] = 'mapped'
  a.txFree += context.reserved
  // Skip the CurrentMdlOffset bytes before the frame (NdisMAllocateNetBufferSGList's list starts at CurrentMdl).
  let first = 0
  let skip = nb.CurrentMdlOffset
  while (first < sgl.NumberOfElements && skip >= sgl.Elements[first]!.Length) skip -= sgl.Elements[first++]!.Length
  const n = sgl.NumberOfElements - first
  let index = a.txNext
  for (let i = 0; i < n; i++) {
    const e = sgl.Elements[first + i]!
    const cut = i === 0 ? skip : 0
    const d = a.txRing + index * DESC
    m.write32(d, (e.Address + cut) >>> 0)
    m.write32(d + 4, Math.floor((e.Address + cut) / TWO_POW_32))
    m.write32(d + 8, (e.Length - cut) & 0xffff)
    m.write8(d + 11, TXD_IFCS | (i === n - 1 ? TXD_EOP | TXD_RS : 0))
    m.write32(d + 12, 0)
    if (i < n - 1) index = (index + 1) % a.txCount
  }
  a.inFlight.push({ nbl, nb, sgl, last: index, descriptors: n })
  a.txFree -= n
  a.txNext = (index + 1) % a.txCount
  writeReg(a, REG.TDT, a.txNext)
}

/** MiniportInterruptDPC: reap sends, map what waited, indicate receives, finish a pause, unmask. */
function dpc(a: TestAdapter, hooks: TestMiniportHooks): void {
  const ndis = a.ndis
  const m = ndis.memory
  const icr = a.pendingIcr
  a.pendingIcr = 0
  ndis.NdisDprAcquireSpinLock(a.lock!)
  let done: NET_BUFFER_LIST | null = null
  while (a.inFlight.length > 0 && (m.read8(a.txRing + a.inFlight[0]!.last * DESC + 12) & DD) !== 0) {
    const p = a.inFlight.shift()!
    a.txFree += p.descriptors
    if (p.nbl === null) continue
    ndis.NdisMFreeNetBufferSGList(a.dmaHandle!, p.sgl!, p.nb!)
    a.txOk++
    p.nbl.Status = ndis.NDIS_STATUS_SUCCESS
    p.nbl.Next = done
    done = p.nbl
  }
  const failed = a.state === 'running' ? drain(a) : null
  ndis.NdisDprReleaseSpinLock(a.lock!)
  complete(a, done, true)
  complete(a, failed, true)
  indicateReceives(a)
  const oids = a.pendingOids.splice(0)
  for (const request of oids) ndis.NdisMOidRequestComplete(a.handle, request, oidRequest(a, request))
  finishPause(a)
  hooks.dpc?.(a)
  if ((icr & ICR_LSC) !== 0) readReg(a, REG.STATUS)
  if (a.state !== 'halting') writeReg(a, REG.IMS, IMS_ENABLE)
}

function indicateReceives(a: TestAdapter): void {
  const ndis = a.ndis
  const m = ndis.memory
  let head: NET_BUFFER_LIST | null = null
  let tail: NET_BUFFER_LIST | null = null
  let count = 0
  let recycled = false
  for (;;) {
    const i = a.rxNext
    const d = a.rxRing + i * DESC
    const status = m.read8(d + 12)
    if ((status & DD) === 0) break
    a.rxNext = (i + 1) % a.rxCount
    if ((status & EOP) === 0 || m.read8(d + 13) !== 0 || a.state !== 'running' || a.packetFilter === 0) {
      m.write8(d + 12, 0)
      a.rxTail = i
      recycled = true
      continue
    }
    const nbl = a.rxNbls[i]!
    const nb = nbl.FirstNetBuffer!
    nb.DataLength = m.read16(d + 8)
    nb.DataOffset = 0
    nb.CurrentMdlOffset = 0
    nbl.Status = ndis.NDIS_STATUS_SUCCESS
    nbl.Next = null
    if (tail === null) head = nbl
    else tail.Next = nbl
    tail = nbl
    count++
  }
  if (recycled) writeReg(a, REG.RDT, a.rxTail)
  if (head === null) return
  a.rxIndicated += count
  a.rxOk += count
  ndis.NdisMIndicateReceiveNetBufferLists(a.handle, head, ndis.NDIS_DEFAULT_PORT_NUMBER, count, ndis.NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL)
}

function returnNbls(a: TestAdapter, nbls: NET_BUFFER_LIST, dpr: boolean): void {
  const m = a.ndis.memory
  acquire(a, dpr)
  for (let nbl: NET_BUFFER_LIST | null = nbls; nbl !== null; ) {
    const next: NET_BUFFER_LIST | null = nbl.Next
    nbl.Next = null
    const i = nbl.MiniportReserved[0] as number
    m.write8(a.rxRing + i * DESC + 12, 0)
    a.rxIndicated--
    a.rxTail = i
    nbl = next
  }
  if (a.state !== 'halting') writeReg(a, REG.RDT, a.rxTail)
  releaseLock(a, dpr)
  finishPause(a)
}

function isIdle(a: TestAdapter): boolean {
  return a.inFlight.length === 0 && a.rxIndicated === 0 && a.txQueue.length === 0
}

function finishPause(a: TestAdapter): void {
  if (a.state !== 'pausing' || !isIdle(a)) return
  a.state = 'paused'
  a.ndis.NdisMPauseComplete(a.handle)
}

/** Halt, device stopped: sends it never finished give their S/G lists back and complete as aborted. */
function abortInFlight(a: TestAdapter): void {
  const ndis = a.ndis
  let chain = flushQueue(a, ndis.NDIS_STATUS_SEND_ABORTED)
  for (const p of a.inFlight.splice(0)) {
    a.txFree += p.descriptors
    if (p.nbl === null) continue
    ndis.NdisMFreeNetBufferSGList(a.dmaHandle!, p.sgl!, p.nb!)
    p.nbl.Status = ndis.NDIS_STATUS_SEND_ABORTED
    p.nbl.Next = chain
    chain = p.nbl
  }
  complete(a, chain, false)
}

function flushQueue(a: TestAdapter, status: number): NET_BUFFER_LIST | null {
  let chain: NET_BUFFER_LIST | null = null
  for (const nbl of a.txQueue.splice(0)) {
    nbl.Status = status
    nbl.Next = chain
    chain = nbl
  }
  return chain
}

function complete(a: TestAdapter, chain: NET_BUFFER_LIST | null, dpr: boolean): void {
  if (chain === null) return
  a.ndis.NdisMSendNetBufferListsComplete(a.handle, chain, dpr ? a.ndis.NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0)
}

function oidRequest(a: TestAdapter, request: NDIS_OID_REQUEST): number {
  const ndis = a.ndis
  const m = ndis.memory
  const data = request.DATA
  const answer = (bytes: number, write: (va: number) => void): number => {
    if (data.InformationBufferLength < bytes) {
      data.BytesNeeded = bytes
      return ndis.NDIS_STATUS_BUFFER_TOO_SHORT
    }
    write(data.InformationBuffer)
    data.BytesWritten = bytes
    return ndis.NDIS_STATUS_SUCCESS
  }
  if (request.RequestType === ndis.NdisRequestQueryInformation || request.RequestType === ndis.NdisRequestQueryStatistics) {
    switch (data.Oid) {
      case ndis.OID_802_3_CURRENT_ADDRESS:
      case ndis.OID_802_3_PERMANENT_ADDRESS:
        return answer(6, (va) => m.writeBytes(va, a.mac))
      case ndis.OID_GEN_LINK_SPEED:
        return answer(4, (va) => m.write32(va, 10_000_000)) // 1 Gbit/s in units of 100 bit/s
      case ndis.OID_GEN_XMIT_OK:
        return answer(8, (va) => m.write64(va, a.txOk))
      case ndis.OID_GEN_RCV_OK:
        return answer(8, (va) => m.write64(va, a.rxOk))
      case ndis.OID_802_3_MAXIMUM_LIST_SIZE:
        return answer(4, (va) => m.write32(va, 32))
      default:
        return ndis.NDIS_STATUS_NOT_SUPPORTED
    }
  }
  // The sets TCP/IP makes when it binds: the filter is applied in software (nothing indicated
  // while it is 0); the NIC takes broadcasts and the station address throughout.
  switch (data.Oid) {
    case ndis.OID_GEN_CURRENT_PACKET_FILTER:
      a.packetFilter = m.read32(data.InformationBuffer)
      data.BytesRead = 4
      return ndis.NDIS_STATUS_SUCCESS
    case ndis.OID_802_3_MULTICAST_LIST:
    case ndis.OID_GEN_CURRENT_LOOKAHEAD:
      data.BytesRead = data.InformationBufferLength
      return ndis.NDIS_STATUS_SUCCESS
  }
  return ndis.NDIS_STATUS_NOT_SUPPORTED
}

/**
 * Puts `length` bytes at `deviceAddress` on the transmit ring as one frame, the way a driver
 * that hands the device a raw address would (S14, S26, S27 tests): no S/G list, no NBL.
 */
export function transmitRaw(a: TestAdapter, deviceAddress: number, length: number): void {
  const ndis = a.ndis
  const m = ndis.memory
  ndis.NdisAcquireSpinLock(a.lock!)
  const index = a.txNext
  const d = a.txRing + index * DESC
  m.write32(d, deviceAddress >>> 0)
  m.write32(d + 4, Math.floor(deviceAddress / TWO_POW_32))
  m.write32(d + 8, length & 0xffff)
  m.write8(d + 11, TXD_IFCS | TXD_EOP | TXD_RS)
  m.write32(d + 12, 0)
  a.inFlight.push({ nbl: null, nb: null, sgl: null, last: index, descriptors: 1 })
  a.txFree -= 1
  a.txNext = (index + 1) % a.txCount
  writeReg(a, REG.TDT, a.txNext)
  ndis.NdisReleaseSpinLock(a.lock!)
}

/** Points the receive descriptor the device fills next at `deviceAddress` (a raw address). */
export function receiveIntoRaw(a: TestAdapter, deviceAddress: number): void {
  const m = a.ndis.memory
  const d = a.rxRing + readReg(a, REG.RDH) * DESC
  m.write32(d, deviceAddress >>> 0)
  m.write32(d + 4, Math.floor(deviceAddress / TWO_POW_32))
}

/** Pends an OID until the next DPC, which answers it and calls NdisMOidRequestComplete. */
export function pendOid(a: TestAdapter, request: NDIS_OID_REQUEST): number {
  a.pendingOids.push(request)
  writeReg(a, REG.ICS, ICR_LSC)
  return a.ndis.NDIS_STATUS_PENDING
}
