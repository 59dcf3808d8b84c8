// MiniportHaltEx frees the receive ring while the receiver still runs (dma-to-freed-memory).
//
// What is wrong: this MiniportHaltEx "stops" the NIC by masking its interrupts and turning the
// transmitter off, then frees everything — but RCTL.EN is still set and the NIC is never reset,
// so the receiver still owns the descriptors between RDH and RDT (8254x manual 3.2.6) and
// goes on reading the freed ring and writing frames into the freed receive buffers. A LAN does
// not stop talking because a driver halted: dmalab's m.halt() delivers two broadcast frames
// from the wire after MiniportHaltEx returns, as a real network would.
// What dmalab reports, with the IOMMU off (either memory policy): `dma-to-freed-memory`
// findings for the device's reads of the freed receive ring and writes into the freed receive
// buffers. With the IOMMU on, the freed buffers are unmapped from the NIC's domain, so the
// same accesses are `iommu-fault` findings instead. Traffic before the halt is normal.
// Everything else is the e1000's: the fix is to call stopDevice() first, as e1000's halt does.
import type { NdisApi } from '../../src/ndis/api.js'
import { readReg, writeReg, type Adapter } from '../e1000/adapter.js'
import { release } from '../e1000/halt.js'
import { REG } from '../e1000/hw.js'
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
  // BUG: only interrupts and the transmitter are stopped. RCTL.EN stays set and the NIC is not
  // reset, so the receiver keeps DMAing into the ring and buffers release() frees below.
  writeReg(a, REG.IMC, 0xffff_ffff)
  writeReg(a, REG.TCTL, 0)
  readReg(a, REG.ICR)
  completeChain(a, flushQueue(a, a.ndis.NDIS_STATUS_SEND_ABORTED), false)
  release(a)
}
