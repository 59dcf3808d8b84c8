// MiniportInitializeEx, in the order Microsoft recommends: adapter context and the driver's
// own tables (NdisAllocateMemoryWithTagPriority: NDIS 6 nonpaged memory), NBL pool, register window,
// scatter/gather DMA registration as a 32-bit bus master, rings and receive buffers in shared
// memory (falling back to smaller rings when a large allocation fails, S07), then the
// interrupt, then the hardware. Every failure unwinds what was done (release() in halt.ts).
// Memory comes and goes through the adapter's memory table (memory.ts).
import type { NdisApi } from '../../src/ndis/api.js'
import type { NdisHandle, NDIS_MINIPORT_INIT_PARAMETERS } from '../../src/ndis/types.js'
import { RING_SIZES, STATS_SIZE, TAG, TX_TABLE_ENTRY, RX_TABLE_ENTRY, ring, readReg, writeReg, type Adapter } from './adapter.js'
import {
  CTRL_SLU, DESC_ADDR_HI, DESC_ADDR_LO, IMS_ENABLE, ITR_COALESCE, RAH_AV, RCTL_BAM, RCTL_BSIZE_2048,
  RCTL_EN, RCTL_SECRC, REG, RX_BUFFER_SIZE, RXCSUM_IPOFLD, RXCSUM_TUOFLD, STATUS_LU, TCTL_CT_COLD, TCTL_EN, TCTL_PSP,
} from './hw.js'
import { offloadAttributes } from './offload.js'
import { interruptDpc, isr } from './interrupt.js'
import { release } from './halt.js'
import type { AdapterMemory } from './memory.js'
import { readMac, resetDevice } from './device.js'
import { allocateRxBlocks, rxBuffer } from './rx-blocks.js'

export function newAdapter(ndis: NdisApi, handle: NdisHandle, memory: AdapterMemory): Adapter {
  return {
    ndis, handle, memory, regs: 0, regsLength: 0, regsPhysical: 0, mac: new Uint8Array(6),
    dmaHandle: null, interruptHandle: null, nblPool: null, lock: null, stats: 0,
    txRing: 0, txRingLogical: 0, txCount: 0, txTable: 0, txNext: 0, txClean: 0, txFree: 0,
    txPackets: [], txQueue: [],
    rxRing: 0, rxRingLogical: 0, rxCount: 0, rxTable: 0, rxBlocks: [], rxNbls: [], rxMdls: [],
    rxNext: 0, rxIndicated: 0, rxTail: 0, pendingIcr: 0,
    paused: true, pausing: false, halting: false, linkUp: false, packetFilter: 0,
    offload: { txChecksum: true, rxChecksum: true, lso: true },
  }
}

export function initializeEx(ndis: NdisApi, handle: NdisHandle, _driverContext: unknown, params: NDIS_MINIPORT_INIT_PARAMETERS, memory: AdapterMemory): number {
  const a = newAdapter(ndis, handle, memory)
  const status = setUp(a, params)
  // The device was reset early in setUp and is started only by its last step, so on failure
  // there is no DMA to stop: give back what was allocated.
  if (status !== ndis.NDIS_STATUS_SUCCESS) release(a)
  return status
}

function setUp(a: Adapter, params: NDIS_MINIPORT_INIT_PARAMETERS): number {
  const ndis = a.ndis
  let status = ndis.NdisMSetMiniportAttributes(a.handle, {
    Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0 },
    MiniportAdapterContext: a,
    AttributeFlags: ndis.NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | ndis.NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER,
    CheckForHangTimeInSeconds: 0,
    InterfaceType: ndis.NDIS_INTERFACE_TYPE_PCI,
  })
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status

  a.stats = a.memory.allocateStatistics(a, STATS_SIZE)
  if (a.stats === 0) return ndis.NDIS_STATUS_RESOURCES

  const { spinLock } = ndis.NdisAllocateSpinLock()
  a.lock = spinLock

  a.nblPool = ndis.NdisAllocateNetBufferListPool(a.handle, {
    ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: TAG.nbl, DataSize: 0,
  })
  if (a.nblPool === null) return ndis.NDIS_STATUS_RESOURCES

  // The register window and the interrupt come from the PnP resources NDIS hands us.
  const memory = params.AllocatedResources.PartialDescriptors.find((d) => d.Type === ndis.CmResourceTypeMemory)
  if (memory?.u.Memory === undefined) return ndis.NDIS_STATUS_ADAPTER_NOT_FOUND
  const io = ndis.NdisMMapIoSpace(a.handle, memory.u.Memory.Start, memory.u.Memory.Length)
  if (io.status !== ndis.NDIS_STATUS_SUCCESS) return io.status
  a.regs = io.virtualAddress
  a.regsLength = memory.u.Memory.Length
  a.regsPhysical = memory.u.Memory.Start
  resetDevice(a)
  readMac(a, a.mac)

  status = a.memory.enableDma(a)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status

  status = allocateRings(a)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status
  status = allocateReceiveBuffers(a)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status

  const irq = ndis.NdisMRegisterInterruptEx(a.handle, a, {
    InterruptHandler: isr,
    InterruptDpcHandler: interruptDpc,
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
    SupportedPacketFilters: ndis.NDIS_PACKET_TYPE_DIRECTED | ndis.NDIS_PACKET_TYPE_BROADCAST | ndis.NDIS_PACKET_TYPE_MULTICAST,
  })
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status
  // What the NIC can offload (offload.ts); the default configuration has everything on.
  status = ndis.NdisMSetMiniportAttributes(a.handle, offloadAttributes(ndis))
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status

  startDevice(a)
  return ndis.NDIS_STATUS_SUCCESS
}

/** Rings and the driver's tracking tables, trying smaller rings when memory is short (S07). */
function allocateRings(a: Adapter): number {
  const ndis = a.ndis
  const mem = a.memory
  for (const count of RING_SIZES) {
    const tx = mem.allocateShared(a, ring(count), false)
    if (tx.virtualAddress === 0) continue
    const rx = mem.allocateShared(a, ring(count), false)
    if (rx.virtualAddress === 0) {
      mem.freeShared(a, ring(count), false, tx.virtualAddress, tx.logicalAddress)
      continue
    }
    a.txRing = tx.virtualAddress
    a.txRingLogical = tx.logicalAddress
    a.rxRing = rx.virtualAddress
    a.rxRingLogical = rx.logicalAddress
    a.txCount = count
    a.rxCount = count
    break
  }
  if (a.txCount === 0) return ndis.NDIS_STATUS_RESOURCES
  ndis.NdisZeroMemory(a.txRing, ring(a.txCount))
  ndis.NdisZeroMemory(a.rxRing, ring(a.rxCount))
  a.txFree = a.txCount
  a.txPackets = new Array(a.txCount).fill(null)

  a.txTable = mem.allocateTable(a, a.txCount * TX_TABLE_ENTRY)
  if (a.txTable === 0) return ndis.NDIS_STATUS_RESOURCES
  ndis.NdisZeroMemory(a.txTable, a.txCount * TX_TABLE_ENTRY)
  a.rxTable = mem.allocateTable(a, a.rxCount * RX_TABLE_ENTRY)
  if (a.rxTable === 0) return ndis.NDIS_STATUS_RESOURCES
  return ndis.NDIS_STATUS_SUCCESS
}

/**
 * Receive buffers: one shared-memory block for all of them if the system has it, else a page
 * (two buffers) at a time — the smaller-blocks fallback of S07. Each buffer gets an MDL and a
 * pre-built NBL for indications.
 */
function allocateReceiveBuffers(a: Adapter): number {
  const ndis = a.ndis
  if (!allocateRxBlocks(a.rxBlocks, a.rxCount, ndis.PAGE_SIZE, (length) => a.memory.allocateShared(a, length, true))) return ndis.NDIS_STATUS_RESOURCES
  a.rxNbls = new Array(a.rxCount).fill(null)
  a.rxMdls = new Array(a.rxCount).fill(null)
  for (let i = 0; i < a.rxCount; i++) {
    const { va, logical } = rxBuffer(a.rxBlocks, i)
    ndis.memory.write64(a.rxTable + i * RX_TABLE_ENTRY, va)
    ndis.memory.write64(a.rxTable + i * RX_TABLE_ENTRY + 8, logical)
    const mdl = ndis.NdisAllocateMdl(a.handle, va, RX_BUFFER_SIZE)
    if (mdl === null) return ndis.NDIS_STATUS_RESOURCES
    a.rxMdls[i] = mdl
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 0)
    if (nbl === null) return ndis.NDIS_STATUS_RESOURCES
    nbl.MiniportReserved[0] = i
    a.rxNbls[i] = nbl
    // Post the buffer: the descriptor holds its logical address; status 0 = owned by hardware.
    const d = a.rxRing + i * 16
    ndis.memory.write32(d + DESC_ADDR_LO, logical >>> 0)
    ndis.memory.write32(d + DESC_ADDR_HI, Math.floor(logical / 4294967296))
  }
  return ndis.NDIS_STATUS_SUCCESS
}

function startDevice(a: Adapter): void {
  const m = a.mac
  writeReg(a, REG.CTRL, readReg(a, REG.CTRL) | CTRL_SLU)
  writeReg(a, REG.RAL0, (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0)
  writeReg(a, REG.RAH0, (m[4]! | (m[5]! << 8) | RAH_AV) >>> 0)
  for (let i = 0; i < 128; i++) writeReg(a, REG.MTA + i * 4, 0)

  writeReg(a, REG.TDBAL, a.txRingLogical >>> 0)
  writeReg(a, REG.TDBAH, Math.floor(a.txRingLogical / 4294967296))
  writeReg(a, REG.TDLEN, ring(a.txCount))
  writeReg(a, REG.TDH, 0)
  writeReg(a, REG.TDT, 0)
  writeReg(a, REG.TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD)

  writeReg(a, REG.RDBAL, a.rxRingLogical >>> 0)
  writeReg(a, REG.RDBAH, Math.floor(a.rxRingLogical / 4294967296))
  writeReg(a, REG.RDLEN, ring(a.rxCount))
  writeReg(a, REG.RDH, 0)
  // All but one descriptor to the hardware: head == tail means empty.
  a.rxTail = a.rxCount - 1
  writeReg(a, REG.RDT, a.rxTail)
  // Receive checksum offload (3.2.9), written while the receiver is off.
  writeReg(a, REG.RXCSUM, RXCSUM_IPOFLD | RXCSUM_TUOFLD)
  writeReg(a, REG.RCTL, RCTL_EN | RCTL_BAM | RCTL_BSIZE_2048 | RCTL_SECRC)

  writeReg(a, REG.ITR, ITR_COALESCE)
  writeReg(a, REG.IMS, IMS_ENABLE)
  a.linkUp = (readReg(a, REG.STATUS) & STATUS_LU) !== 0
}
