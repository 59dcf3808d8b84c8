// MiniportHaltEx never frees the statistics block (pool-leak at unload).
//
// What is wrong: this MiniportHaltEx gives back the interrupt, the receive buffers, the rings,
// DMA, the register window and the NBL pool, but never frees the statistics block that
// MiniportInitializeEx allocated (NdisAllocateMemoryWithTag, tag 'Sk1E', which a pool dump
// shows as "E1kS"). Pool stays allocated until it is freed (seed 002; S23), so every
// load/unload cycle loses it.
// What dmalab reports, in every configuration: one `pool-leak` finding at unload (Driver
// Verifier's bug check 0xC4 with parameter 1 = 0x62) naming tag E1kS, 48 bytes and the
// allocating line (examples/e1000/memory.ts), and pool.byTag.E1kS has 48 bytes outstanding.
// Frames flow normally. Everything else is the e1000's.
import type { NdisApi } from '../../src/ndis/api.js'
import type { Adapter } from '../e1000/adapter.js'
import { releaseInterrupt, releaseNblPool, releaseReceiveBuffers, releaseRegisters, releaseRings, stopDevice } from '../e1000/halt.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory } from '../e1000/memory.js'
import { completeChain, flushQueue } from '../e1000/send.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, {
    ...miniportCharacteristics(ndis, () => ndisAdapterMemory),
    HaltHandlerEx: (context, action) => haltEx(context as Adapter, action),
  })
}

function haltEx(a: Adapter, _haltAction: number): void {
  a.halting = true
  stopDevice(a)
  completeChain(a, flushQueue(a, a.ndis.NDIS_STATUS_SEND_ABORTED), false)
  releaseInterrupt(a)
  releaseReceiveBuffers(a)
  releaseRings(a)
  a.memory.disableDma(a)
  releaseRegisters(a)
  releaseNblPool(a)
  // BUG: releaseStatistics(a) is missing — a.stats (48 bytes, 'Sk1E') is never freed.
}
