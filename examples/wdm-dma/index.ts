// The e1000 miniport with its device memory taken from the HAL's DMA interface directly —
// IoGetDmaAdapter, AllocateCommonBuffer, GetScatterGatherList / PutScatterGatherList,
// PutDmaAdapter (dma.ts) — instead of NDIS's scatter/gather DMA helpers, as drivers outside
// NDIS do. Everything else (registers, rings, receive path, interrupts, halt order) is the
// e1000's. Like the e1000, it is clean in every configuration of `dmalab check` and `handled`
// for every call of its sweep: together they exercise both shims the product is named for,
// NdisAllocateMemory and AllocateCommonBuffer.
import type { NdisApi } from '../../src/ndis/api.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { halAdapterMemory } from './dma.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, halAdapterMemory))
}
