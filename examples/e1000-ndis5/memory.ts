// Where the adapter's memory comes from, as seed document 000 and the NDIS 5.1 reference say:
//  - the context area: NdisAllocateMemory, flags 0 (any NDIS driver may), handed to
//    NdisMSetAttributesEx (init.ts);
//  - the descriptor rings and the receive buffers, which the NIC reads and writes while the
//    driver does: shared memory, NdisMAllocateSharedMemory ("allocates and maps a host memory
//    range so that the memory range is simultaneously accessible from both the host system and
//    a DMA NIC"). Memory from NdisAllocateMemory reaches the NIC only through map registers,
//    one transfer in one direction at a time, so a ring cannot live there;
//  - the transmit staging area: NdisAllocateMemory(NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED)
//    inside MiniportInitialize (the only time the flags are legal), bounded by
//    HighestAcceptableAddress to the NIC's 32 address lines, falling back to smaller blocks when
//    a large one fails (S04, S07, S02). A frame copied there is mapped through a map register
//    like any other buffer, and needs no bounce buffer because it is below 4 GiB.
// Every allocation falls back or fails cleanly; halt.ts gives everything back.
import type { NdisApi } from '../../src/ndis/api.js'
import { CONTEXT_BYTES, COPY_BELOW, MAX_DIRECT_BUFFERS, STAGING_SLOTS, STAGING_SLOT_BYTES, type Adapter, type Hooks, type TxMapping } from './adapter.js'

/** NDIS_PHYSICAL_ADDRESS_CONST(-1, 0): the highest address a device with 32 address lines reaches. */
export const HIGHEST_32BIT = 0xffff_ffff
/** NDIS_PHYSICAL_ADDRESS_CONST(-1, -1): no limit (memory only the CPU touches). */
export const ANY_ADDRESS = -1
export const CONTEXT_FLAGS = 0

/** The memory flags of the staging area. */
export function stagingFlags(ndis: NdisApi): number {
  return ndis.NDIS_MEMORY_CONTIGUOUS | ndis.NDIS_MEMORY_NONCACHED
}

export const defaultHooks: Hooks = {
  allocateContext(ndis) {
    const { status, virtualAddress } = ndis.NdisAllocateMemory(CONTEXT_BYTES, CONTEXT_FLAGS, ANY_ADDRESS)
    return status === ndis.NDIS_STATUS_SUCCESS ? virtualAddress : 0
  },
  allocateStaging: allocateStagingArea,
  mapStaged(a, slot, length) {
    const s = a.staging[slot]!
    a.ndis.NdisAdjustBufferLength(s.buffer, length)
    return mapBuffer(a, s.buffer)
  },
  completeMapping(a, m) {
    a.ndis.NdisMCompleteBufferPhysicalMapping(a.handle, m.buffer, m.register)
    a.freeRegisters.push(m.register)
  },
  // Many small buffers, or a short frame: one copy is cheaper than a mapping per buffer.
  stage: (_a, bufferCount, totalLength) => bufferCount > MAX_DIRECT_BUFFERS || totalLength < COPY_BELOW,
  requestIsr: true,
  sendEntry: 'MiniportSendPackets',
  beforeSend() {},
}


/**
 * The staging area: one block if the system has it, else blocks half the size, down to one
 * page (S07: "a NIC driver can attempt to allocate one or more smaller blocks of contiguous
 * and/or noncached memory, rather than failing to initialize if it cannot allocate a large
 * block"). Every page is below 4 GiB (S02), so the NIC reaches it without a bounce buffer.
 */
export function allocateStagingArea(a: Adapter): boolean {
  const ndis = a.ndis
  const total = STAGING_SLOTS * STAGING_SLOT_BYTES
  let block = total
  let have = 0
  while (have < total) {
    const length = Math.min(block, total - have)
    const { status, virtualAddress } = ndis.NdisAllocateMemory(length, stagingFlags(ndis), HIGHEST_32BIT)
    if (status !== ndis.NDIS_STATUS_SUCCESS) {
      if (block <= ndis.PAGE_SIZE) return false
      block = Math.max(ndis.PAGE_SIZE, block / 2)
      continue
    }
    a.stagingBlocks.push({ va: virtualAddress, length, flags: stagingFlags(ndis) })
    have += length
  }
  return carveSlots(a)
}

/** One slot per STAGING_SLOT_BYTES of the blocks, each with the buffer descriptor that maps it. */
export function carveSlots(a: Adapter): boolean {
  const ndis = a.ndis
  for (const b of a.stagingBlocks) {
    for (let off = 0; off + STAGING_SLOT_BYTES <= b.length; off += STAGING_SLOT_BYTES) {
      const { status, buffer } = ndis.NdisAllocateBuffer(a.bufferPool, b.va + off, STAGING_SLOT_BYTES)
      if (status !== ndis.NDIS_STATUS_SUCCESS || buffer === null) return false
      a.freeSlots.push(a.staging.length)
      a.staging.push({ va: b.va + off, buffer })
    }
  }
  return true
}

/** Gives the staging area back: its buffer descriptors, then its blocks with the flags they were allocated with. */
export function freeStagingArea(a: Adapter): void {
  const ndis = a.ndis
  for (const s of a.staging) ndis.NdisFreeBuffer(s.buffer)
  a.staging = []
  a.freeSlots = []
  for (const b of a.stagingBlocks) ndis.NdisFreeMemory(b.va, b.length, b.flags)
  a.stagingBlocks = []
}

/** Maps one buffer for the NIC on a free map register (to the device). Null when no register is free. */
export function mapBuffer(a: Adapter, buffer: TxMapping['buffer']): { units: Array<{ PhysicalAddress: number; Length: number }>; mapping: TxMapping } | null {
  const register = a.freeRegisters.pop()
  if (register === undefined) return null
  const units: Array<{ PhysicalAddress: number; Length: number }> = []
  const { arraySize } = a.ndis.NdisMStartBufferPhysicalMapping(a.handle, buffer, register, true, units)
  if (arraySize === 0) {
    a.freeRegisters.push(register)
    return null
  }
  return { units: units.slice(0, arraySize), mapping: { register, buffer } }
}

/** Shared memory for the rings and receive buffers; `virtualAddress` 0 when there is none. */
export function allocateShared(a: Adapter, length: number, cached: boolean): { virtualAddress: number; logicalAddress: number } {
  const { virtualAddress, physicalAddress } = a.ndis.NdisMAllocateSharedMemory(a.handle, length, cached)
  return { virtualAddress, logicalAddress: physicalAddress }
}
