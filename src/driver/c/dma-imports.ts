// The HAL's DMA adapter for C drivers: NdisMGetDeviceProperty gives the physical device object,
// IoGetDmaAdapter a DMA_ADAPTER in emulated memory whose DmaOperations table holds function
// pointers into the driver's own function table (CDriverInstance.hostFunction), so the C code
// calls `Adapter->DmaOperations->AllocateCommonBuffer(Adapter, Length, &Logical, FALSE)`
// exactly as on Windows, and each call reaches the HAL routine a TypeScript driver calls.
//
// The common-buffer operations are filled now; the scatter/gather and map-register operations
// take MDLs and lists that live in emulated memory in the next stage (docs/DESIGN-c-drivers.md)
// and are NULL until then (wdm.h says so).
import type { DMA_ADAPTER } from '../../kernel/hal.js'
import type { CM_PARTIAL_RESOURCE_LIST } from '../../ndis/types.js'
import { byValue64, routine, write64, type CRoutines } from './imports.js'
import type { CDriverInstance } from './instance.js'
import { readField, writeField } from './layout.js'
import { writeResourceList } from './miniport.js'
import { CM_FULL_RESOURCE_DESCRIPTOR, CM_RESOURCE_LIST, DEVICE_DESCRIPTION, DMA_ADAPTER as ADAPTER, DMA_OPERATIONS } from './structs.js'

const u = (x: number): number => x >>> 0

/** INTERFACE_TYPE PCIBus (wdm.h): the bus of every resource list dmalab hands out. */
const PCI_BUS = 5

/** A CM_RESOURCE_LIST with one full descriptor (the PCI bus) around NDIS's partial list. */
function resourceList(c: CDriverInstance, partial: CM_PARTIAL_RESOURCE_LIST): number {
  const bytes = CM_RESOURCE_LIST.offset.List! + CM_FULL_RESOURCE_DESCRIPTOR.offset.PartialResourceList! + 8 + 16 * partial.PartialDescriptors.length
  const va = c.allocate(bytes)
  if (va === 0) return 0
  const m = c.kernel.memory
  m.write32(va, 1)
  const full = va + CM_RESOURCE_LIST.offset.List!
  writeField(m, full, CM_FULL_RESOURCE_DESCRIPTOR, 'InterfaceType', PCI_BUS)
  writeField(m, full, CM_FULL_RESOURCE_DESCRIPTOR, 'BusNumber', 0)
  writeResourceList(c, full + CM_FULL_RESOURCE_DESCRIPTOR.offset.PartialResourceList!, partial)
  return va
}

/** DEVICE_DESCRIPTION at `va` as IoGetDmaAdapter reads it. */
function deviceDescription(c: CDriverInstance, va: number): Parameters<CDriverInstance['ndis']['IoGetDmaAdapter']>[1] {
  const f = (name: string): number => readField(c.kernel.memory, va, DEVICE_DESCRIPTION, name)
  return {
    Version: f('Version'),
    Master: f('Master') !== 0,
    ScatterGather: f('ScatterGather') !== 0,
    DemandMode: f('DemandMode') !== 0,
    AutoInitialize: f('AutoInitialize') !== 0,
    Dma32BitAddresses: f('Dma32BitAddresses') !== 0,
    IgnoreCount: f('IgnoreCount') !== 0,
    Dma64BitAddresses: f('Dma64BitAddresses') !== 0,
    BusNumber: f('BusNumber'),
    DmaChannel: f('DmaChannel'),
    InterfaceType: f('InterfaceType'),
    DmaWidth: f('DmaWidth'),
    DmaSpeed: f('DmaSpeed'),
    MaximumLength: f('MaximumLength'),
    DmaPort: f('DmaPort'),
    ...(f('Version') >= 3 ? { DmaAddressWidth: f('DmaAddressWidth') } : {}),
  }
}

/** The DMA_OPERATIONS members a C driver can call; the others are NULL (the README lists these). */
export const DMA_OPERATION_NAMES = ['PutDmaAdapter', 'AllocateCommonBuffer', 'FreeCommonBuffer', 'GetDmaAlignment'] as const

export function dmaRoutines(c: CDriverInstance): CRoutines {
  const m = c.kernel.memory
  /** The DMA_ADAPTER objects behind the adapters handed to C, by address. */
  const adapters = new Map<number, DMA_ADAPTER>()
  const adapterAt = (va: number): DMA_ADAPTER => {
    const a = adapters.get(u(va))
    // A pointer that is not an adapter: the HAL would read garbage through it. NDIS-side checks
    // see it as no adapter at all.
    if (a === undefined) throw new Error(`0x${u(va).toString(16)} is not a DMA_ADAPTER IoGetDmaAdapter returned`)
    return a
  }
  let operations = 0
  /** DMA_OPERATIONS in emulated memory, shared by every adapter of this driver (as the HAL's is). */
  const operationsTable = (): number => {
    if (operations !== 0) return operations
    operations = c.allocate(DMA_OPERATIONS.size)
    if (operations === 0) return 0
    writeField(m, operations, DMA_OPERATIONS, 'Size', DMA_OPERATIONS.size)
    const put = (field: (typeof DMA_OPERATION_NAMES)[number], params: string, result: '' | 'i', fn: (...args: never[]) => unknown): void => {
      writeField(m, operations, DMA_OPERATIONS, field, c.hostFunction(fn, { params, result }))
    }
    put('PutDmaAdapter', 'i', '', (adapter: number) => {
      const a = adapterAt(adapter)
      a.DmaOperations.PutDmaAdapter(a)
    })
    // PVOID AllocateCommonBuffer(PDMA_ADAPTER, ULONG Length, PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled)
    put('AllocateCommonBuffer', 'iiii', 'i', (adapter: number, length: number, logical: number, cached: number) => {
      const a = adapterAt(adapter)
      const { virtualAddress, logicalAddress } = a.DmaOperations.AllocateCommonBuffer(a, u(length), (cached & 0xff) !== 0)
      write64(c, u(logical), virtualAddress === 0 ? 0 : logicalAddress)
      return virtualAddress
    })
    // void FreeCommonBuffer(PDMA_ADAPTER, ULONG Length, PHYSICAL_ADDRESS LogicalAddress, PVOID VirtualAddress, BOOLEAN CacheEnabled)
    put('FreeCommonBuffer', 'iiiii', '', (adapter: number, length: number, logical: number, va: number, cached: number) => {
      const a = adapterAt(adapter)
      a.DmaOperations.FreeCommonBuffer(a, u(length), byValue64(c, u(logical)), u(va), (cached & 0xff) !== 0)
    })
    put('GetDmaAlignment', 'i', 'i', (adapter: number) => {
      const a = adapterAt(adapter)
      return a.DmaOperations.GetDmaAlignment(a)
    })
    return operations
  }

  return {
    NdisMGetDeviceProperty: routine('iiiiii', '', (handle: number, pdo: number, fdo: number, next: number, resources: number, translated: number) => {
      const p = c.ndis.NdisMGetDeviceProperty(c.object(handle) as never)
      if (pdo !== 0) m.write32(u(pdo), c.handle(p.physicalDeviceObject))
      if (fdo !== 0) m.write32(u(fdo), c.handle(p.functionalDeviceObject))
      if (next !== 0) m.write32(u(next), c.handle(p.nextDeviceObject))
      if (resources !== 0) m.write32(u(resources), resourceList(c, p.allocatedResources))
      if (translated !== 0) m.write32(u(translated), resourceList(c, p.allocatedResourcesTranslated))
    }),
    // PDMA_ADAPTER IoGetDmaAdapter(PDEVICE_OBJECT, PDEVICE_DESCRIPTION, PULONG NumberOfMapRegisters)
    IoGetDmaAdapter: routine('iii', 'i', (pdo: number, description: number, mapRegisters: number) => {
      const { dmaAdapter, numberOfMapRegisters } = c.ndis.IoGetDmaAdapter(c.object(pdo) as object, deviceDescription(c, u(description)))
      m.write32(u(mapRegisters), dmaAdapter === null ? 0 : numberOfMapRegisters)
      if (dmaAdapter === null) return 0
      const table = operationsTable()
      const va = c.allocate(ADAPTER.size)
      if (table === 0 || va === 0) return 0
      writeField(m, va, ADAPTER, 'Version', dmaAdapter.Version)
      writeField(m, va, ADAPTER, 'Size', ADAPTER.size)
      writeField(m, va, ADAPTER, 'DmaOperations', table)
      adapters.set(va, dmaAdapter)
      return va
    }),
  }
}
