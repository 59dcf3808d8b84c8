// NDIS scatter/gather DMA as the WDK pages say:
//  - NdisMAllocateNetBufferSGList: "the scatter/gather list is generated from the network data
//    starting at the beginning of the MDL that is specified at the CurrentMdl member ... The start
//    of the network data in the SG list is offset from the beginning of the SG list by the value
//    specified in the CurrentMdlOffset member"; Flags NDIS_SG_LIST_WRITE_TO_DEVICE "indicates the
//    direction of the DMA transfer is from the NET_BUFFER to the device. If ... clear, the
//    transfer is from the device"; NDIS_STATUS_RESOURCES when it cannot be mapped (map registers);
//  - NdisMRegisterScatterGatherDma: NDIS_STATUS_NOT_SUPPORTED "because the miniport driver did not
//    specify that its NIC is a bus-master DMA device" (NdisMSetMiniportAttributes), and
//    NDIS_STATUS_BAD_VERSION for a Header.Revision NDIS does not support;
//  - NdisMGetDmaAlignment: "A miniport driver must have already called NdisMRegisterScatterGatherDma".
import { describe, expect, it } from 'vitest'
import { DMA_STATUS } from '../../src/hw/dma-engine.js'
import type { NdisApi } from '../../src/ndis/api.js'
import type { NdisHandle, SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { createMachine } from '../../src/index.js'
import { bareMiniport, kinds, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const PAGE = 4096

/** A NET_BUFFER whose data starts `offset` bytes into a one-MDL buffer of `length` + `offset` bytes, and that buffer. */
function netBuffer(l: Loaded, offset: number, length: number): { va: number; nb: NonNullable<ReturnType<NdisApi['NdisAllocateNetBufferAndNetBufferList']>>['FirstNetBuffer'] } {
  const va = l.ndis.ExAllocatePoolWithTag(l.ndis.NonPagedPoolNx, offset + length, 'fuBN')
  const mdl = l.ndis.NdisAllocateMdl(l.a.handle, va, offset + length)!
  const nbl = l.ndis.NdisAllocateNetBufferAndNetBufferList(l.a.nblPool!, 0, 0, mdl, offset, length)!
  return { va, nb: nbl.FirstNetBuffer }
}

/** NdisMAllocateNetBufferSGList at DISPATCH_LEVEL; the list ProcessSGList received (the test miniport's handler is bypassed). */
function allocate(l: Loaded, nb: ReturnType<typeof netBuffer>['nb'], flags: number): { status: number; sgl: SCATTER_GATHER_LIST | null } {
  let sgl: SCATTER_GATHER_LIST | null = null
  const reg = l.m.ndis!.ctx.sgDma!
  const handler = reg.description.ProcessSGListHandler
  reg.description.ProcessSGListHandler = (_d, _r, s) => (sgl = s)
  const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
  const status = l.ndis.NdisMAllocateNetBufferSGList(l.a.dmaHandle!, nb!, null, flags, null, 0)
  l.ndis.KeLowerIrql(oldIrql)
  reg.description.ProcessSGListHandler = handler
  return { status, sgl }
}

describe('NdisMAllocateNetBufferSGList (ndis.h, NdisMAllocateNetBufferSGList page)', () => {
  it('lists from the first byte of CurrentMdl: the data starts CurrentMdlOffset bytes into the list', () => {
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } })
    const { va, nb } = netBuffer(l, 100, 300)
    expect(nb!.CurrentMdlOffset).toBe(100)
    const { status, sgl } = allocate(l, nb, l.ndis.NDIS_SG_LIST_WRITE_TO_DEVICE)
    expect(status).toBe(l.ndis.NDIS_STATUS_SUCCESS)
    expect(sgl!.Elements.reduce((n, e) => n + e.Length, 0)).toBe(100 + 300)
    // No IOMMU, below 4 GiB: the logical address is the physical address of the MDL's first byte.
    expect(sgl!.Elements[0]!.Address).toBe(l.ndis.MmGetPhysicalAddress(va))
    l.ndis.NdisMFreeNetBufferSGList(l.a.dmaHandle!, sgl!, nb!)
    expect(l.m.findings).toEqual([])
  })

  it('Flags selects the direction: with NDIS_SG_LIST_WRITE_TO_DEVICE the IOMMU maps the list read-only, without it write-only', () => {
    const l = loadTestMiniport({ iommu: true })
    expect(l.ndis.NDIS_SG_LIST_WRITE_TO_DEVICE).toBe(0x1)
    const send = allocate(l, netBuffer(l, 0, 200).nb, l.ndis.NDIS_SG_LIST_WRITE_TO_DEVICE).sgl!
    const receive = allocate(l, netBuffer(l, 0, 200).nb, 0).sgl!
    const bytes = new Uint8Array(8)
    expect(l.m.nic.dma.read(send.Elements[0]!.Address, bytes, 0, 8)).toBe(DMA_STATUS.ok)
    expect(l.m.nic.dma.write(send.Elements[0]!.Address, bytes, 0, 8)).toBe(DMA_STATUS.iommuFault)
    expect(l.m.nic.dma.write(receive.Elements[0]!.Address, bytes, 0, 8)).toBe(DMA_STATUS.ok)
    expect(l.m.nic.dma.read(receive.Elements[0]!.Address, bytes, 0, 8)).toBe(DMA_STATUS.iommuFault)
    expect(l.m.iommu.faults.map((f) => f.access)).toEqual(['write', 'read'])
  })

  it('a NET_BUFFER needing more map registers than MaximumPhysicalMapping gave is NDIS_STATUS_RESOURCES and 0xE6/0x0C, even below 4 GiB', () => {
    // 4 KiB of MaximumPhysicalMapping: two map registers. The list covers the 100 bytes before the
    // data too: 8,292 bytes from a page-aligned MDL, three pages.
    const l = loadTestMiniport({ iommu: false, memory: { policy: 'low-first' } }, { maximumPhysicalMapping: PAGE })
    expect(l.m.ndis!.ctx.sgDma!.adapter.mapRegisters).toBe(2)
    const { status, sgl } = allocate(l, netBuffer(l, 100, 2 * PAGE).nb, l.ndis.NDIS_SG_LIST_WRITE_TO_DEVICE)
    expect(status).toBe(l.ndis.NDIS_STATUS_RESOURCES)
    expect(sgl).toBeNull()
    expect(theFinding(l.m, 'dma-too-many-map-registers').params).toEqual([0x0c, 3, 2, 0])
  })
})

/** A bare miniport registering scatter/gather DMA with these attribute flags and this description Header. */
function register(attributeFlags: (ndis: NdisApi) => number, header?: { Type: number; Revision: number; Size: number }): { status: number; findings: string[]; messages: string[] } {
  let status = -1
  const m = createMachine()
  m.load(bareMiniport((ndis: NdisApi, handle: NdisHandle) => {
    ndis.NdisMSetMiniportAttributes(handle, {
      Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0 },
      MiniportAdapterContext: {},
      AttributeFlags: attributeFlags(ndis),
      CheckForHangTimeInSeconds: 0,
      InterfaceType: ndis.NDIS_INTERFACE_TYPE_PCI,
    })
    const r = ndis.NdisMRegisterScatterGatherDma(handle, {
      ...(header === undefined ? {} : { Header: header }),
      Flags: 0,
      MaximumPhysicalMapping: PAGE,
      ProcessSGListHandler: () => {},
    })
    status = r.status
    if (r.ndisMiniportDmaHandle !== null) ndis.NdisMDeregisterScatterGatherDma(r.ndisMiniportDmaHandle)
    return ndis.NDIS_STATUS_FAILURE // nothing else to set up: fail init cleanly
  }), 'sg-register')
  return { status, findings: kinds(m), messages: m.findings.map((f) => f.message) }
}

describe('NdisMRegisterScatterGatherDma (NdisMRegisterScatterGatherDma page, Return value)', () => {
  it('a miniport that did not set NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER gets NDIS_STATUS_NOT_SUPPORTED, and a finding that says why', () => {
    const refused = register((ndis) => ndis.NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE)
    expect(refused.status).toBe(0xc000_00bb)
    expect(refused.findings).toEqual(['ndis-bad-argument'])
    expect(refused.messages[0]).toContain('did not set NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER')
    const accepted = register((ndis) => ndis.NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | ndis.NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER)
    expect(accepted.status).toBe(0)
    expect(accepted.findings).toEqual([])
  })

  it('checks the description Header: revision 1 or 2 (NDIS 6.85) is accepted, another revision is NDIS_STATUS_BAD_VERSION, another Type NDIS_STATUS_INVALID_PARAMETER', () => {
    const busMaster = (ndis: NdisApi): number => ndis.NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER
    const SG = 0x83 // NDIS_OBJECT_TYPE_SG_DMA_DESCRIPTION
    expect(register(busMaster, { Type: SG, Revision: 1, Size: 0 }).status).toBe(0)
    expect(register(busMaster, { Type: SG, Revision: 2, Size: 0 }).status).toBe(0)
    const bad = register(busMaster, { Type: SG, Revision: 3, Size: 0 })
    expect(bad.status).toBe(0xc001_0004)
    expect(bad.findings).toEqual(['ndis-bad-argument'])
    expect(register(busMaster, { Type: 0x80, Revision: 1, Size: 0 }).status).toBe(0xc000_000d)
  })
})

describe('NdisMGetDmaAlignment', () => {
  it('reports the HAL\'s DMA alignment (1 on x64) after registration; before NdisMRegisterScatterGatherDma it is a call out of order', () => {
    const l = loadTestMiniport()
    expect(l.ndis.NdisMGetDmaAlignment(l.a.handle)).toBe(1)
    expect(l.m.findings).toEqual([])
    const m = createMachine()
    let alignment = 0
    m.load(bareMiniport((ndis, handle) => {
      alignment = ndis.NdisMGetDmaAlignment(handle)
      return ndis.NDIS_STATUS_FAILURE
    }), 'early')
    expect(alignment).toBe(1)
    expect(kinds(m)).toEqual(['ndis-call-order'])
  })
})
