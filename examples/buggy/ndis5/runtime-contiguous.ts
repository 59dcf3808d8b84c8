// An NDIS 5.1 e1000 asking for NDIS_MEMORY_CONTIGUOUS in MiniportSend (init-only-call; sends fail once memory is fragmented).
//
// What is wrong: this e1000-ndis5 variant copies every frame into a copy area — a 16 KiB slot per
// ring descriptor, the largest frame one 82540EM descriptor carries, 4 MiB for a 256-entry ring —
// and allocates the area on the first send instead of in MiniportInitialize: NdisAllocateMemory
// with NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED from MiniportSend (it registers MiniportSend,
// one packet a call, rather than MiniportSendPackets), at DISPATCH_LEVEL. Seed 000: "Only miniport drivers can set the MemoryFlags with either or both
// of the NDIS_MEMORY_XXX when they make initialization-time calls to NdisAllocateMemory ...
// Attempts to allocate either of these types of memory except during driver initialization are
// a programming error. Such an attempt is unlikely to be successful because system-space memory
// becomes fragmented"; and "NIC drivers that allocate contiguous and/or noncached memory must be
// running at IRQL PASSIVE_LEVEL during initialization".
// What dmalab reports, in every configuration: `init-only-call` and `irql-violation` for the
// runtime NdisAllocateMemory. When memory is fragmented before the first send (the machine has
// been up a while: `memory.fragmentation` 0.5 leaves no free run longer than 2 MiB), the 4 MiB
// request fails, the driver tries again on every send, and every frame completes with
// NDIS_STATUS_RESOURCES.
import type { NdisApi } from '../../../src/ndis/api.js'
import { STAGING_SLOTS, STAGING_SLOT_BYTES, type Adapter } from '../../e1000-ndis5/adapter.js'
import { driverEntry } from '../../e1000-ndis5/index.js'
import { HIGHEST_32BIT, defaultHooks, stagingFlags } from '../../e1000-ndis5/memory.js'

/** A 16 KiB copy slot per ring descriptor. */
const SLOT_BYTES = 16 * 1024

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return driverEntry(ndis, registryPath, {
    ...defaultHooks,
    sendEntry: 'MiniportSend',
    // Nothing at initialization: the area is allocated when the first frame needs it.
    allocateStaging: () => true,
    stage: () => true,
    beforeSend(a) {
      if (a.stagingBlocks.length === 0) allocateCopyArea(a)
    },
  })
}

function allocateCopyArea(a: Adapter): void {
  const ndis = a.ndis
  const length = a.txPackets.length * SLOT_BYTES
  // BUG: contiguous, noncached memory asked for outside MiniportInitialize, at DISPATCH_LEVEL.
  const { status, virtualAddress } = ndis.NdisAllocateMemory(length, stagingFlags(ndis), HIGHEST_32BIT)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return
  a.stagingBlocks.push({ va: virtualAddress, length, flags: stagingFlags(ndis) })
  for (let i = 0; i < STAGING_SLOTS; i++) {
    const { buffer } = ndis.NdisAllocateBuffer(a.bufferPool, virtualAddress + i * SLOT_BYTES, STAGING_SLOT_BYTES)
    if (buffer === null) return
    a.freeSlots.push(a.staging.length)
    a.staging.push({ va: virtualAddress + i * SLOT_BYTES, buffer })
  }
}
