// The e1000 with its device memory from the HAL's DMA interface directly (AllocateCommonBuffer, GetScatterGatherList).
//
// IoGetDmaAdapter, AllocateCommonBuffer, GetScatterGatherList / PutScatterGatherList and
// PutDmaAdapter (dma.ts) take the place of NDIS's scatter/gather DMA helpers, as in drivers
// outside NDIS. Everything else (registers, rings, receive path, interrupts, halt order) is
// the e1000's. Like the e1000, it is clean in every configuration of `dmalab check` and `handled`
// for every call of its sweep: together they exercise both shims the product is named for,
// NdisAllocateMemory and AllocateCommonBuffer.
import type { NdisApi } from '../../src/ndis/api.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { halAdapterMemory } from './dma.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, halAdapterMemory))
}
