// An NDIS 5.1 e1000 that never completes its map-register mappings (map-register-leak when it frees the registers).
//
// What is wrong: when the NIC has sent a frame, this e1000-ndis5 variant completes the packet
// but never completes the buffer's mapping, and never puts the map register back on its free
// list. The NDIS 5.1 reference: the ranges NdisMStartBufferPhysicalMapping returns are valid
// until NdisMCompleteBufferPhysicalMapping, which also copies bounced data back and releases the
// register; NdisMFreeMapRegisters must not be called while registers are still mapped.
// What dmalab reports, in every configuration: at halt, a `map-register-leak` (Driver Verifier
// 0xE6/0x10: map registers freed while some are still mapped) counting every frame sent, up to
// the 64 registers it reserved. Once all 64 are held, sends stop: in a run of more frames than
// that, the rest wait in the driver's queue until the protocol unbinds and cancels them. A packet
// it completed goes back to the protocol, which may send its buffer again while the first
// mapping of it is still live: that second mapping is a `dma-double-map` (0xE6/0x1D).
import type { NdisApi } from '../../../src/ndis/api.js'
import { driverEntry } from '../../e1000-ndis5/index.js'
import { defaultHooks } from '../../e1000-ndis5/memory.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return driverEntry(ndis, registryPath, {
    ...defaultHooks,
    // BUG: neither NdisMCompleteBufferPhysicalMapping nor the register back on the free list.
    completeMapping: () => {},
  })
}
