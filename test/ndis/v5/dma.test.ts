// Bus-master DMA for NDIS 5 miniports: map registers (NdisMAllocateMapRegisters,
// NdisMStartBufferPhysicalMapping, NdisMCompleteBufferPhysicalMapping, NdisMFreeMapRegisters),
// scatter/gather DMA (NdisMInitializeScatterGatherDma and the per-packet
// ScatterGatherListPacketInfo), and shared memory (NdisMAllocateSharedMemory[Async],
// NdisMFreeSharedMemory). NDIS 5.1 reference pages of those names; Driver Verifier's DMA checks
// and bug check 0xE6 (debugger/bug-check-0xe6--driver-verifier-dma-violation) for the codes.
import { describe, expect, it } from 'vitest'
import { createMachine, type MachineConfig } from '../../../src/index.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NdisHandle } from '../../../src/ndis/types.js'
import type { NDIS_PACKET, NDIS_PHYSICAL_ADDRESS_UNIT, SCATTER_GATHER_LIST } from '../../../src/ndis/v5/types.js'
import { ndis5Loop, type LoopOptions } from '../../support/miniports/ndis5-loop.js'

const BUS_MASTER = 0x8
const FOUR_GIB = 2 ** 32

function loadLoop(options: LoopOptions, config: MachineConfig = {}) {
  const m = createMachine(config)
  m.load({ default: ndis5Loop(options).DriverEntry as never }, 'ndis5-dma')
  return m
}

/** A 1500-byte buffer in pool memory (above 4 GiB with high-first) and its buffer descriptor. */
function poolBuffer(ndis: NdisApi): { va: number; buffer: NonNullable<ReturnType<NdisApi['NdisAllocateBuffer']>['buffer']>; pool: NdisHandle } {
  const { virtualAddress } = ndis.NdisAllocateMemoryWithTag(1500, 'fuBT')
  const pool = ndis.NdisAllocateBufferPool(1).poolHandle!
  const { buffer } = ndis.NdisAllocateBuffer(pool, virtualAddress, 1500)
  return { va: virtualAddress, buffer: buffer!, pool }
}

function freePoolBuffer(ndis: NdisApi, b: ReturnType<typeof poolBuffer>): void {
  ndis.NdisFreeBuffer(b.buffer)
  ndis.NdisFreeBufferPool(b.pool)
  ndis.NdisFreeMemory(b.va, 1500, 0)
}

/** A loop miniport with map registers; `runtime` runs once from a DISPATCH_LEVEL handler. */
function withMapRegisters(runtime: (ndis: NdisApi, handle: NdisHandle) => void, config: MachineConfig = {}, free = true) {
  return loadLoop({
    attributes: BUS_MASTER,
    hooks: {
      initialize: (ndis, handle) => ndis.NdisMAllocateMapRegisters(handle, 0, ndis.NDIS_DMA_32BITS, 4, 4096),
      query: (ndis, handle, oid) => {
        if (oid === ndis.OID_GEN_LINK_SPEED) runtime(ndis, handle)
      },
      halt: (ndis, handle) => {
        if (free) ndis.NdisMFreeMapRegisters(handle)
      },
    },
  }, config)
}

describe('NDIS 5 map registers', () => {
  it('a buffer above 4 GiB is bounced below it for the 32-bit NIC (IOMMU off); the mapping is one logical range', () => {
    const units: NDIS_PHYSICAL_ADDRESS_UNIT[] = []
    let size = 0
    const m = withMapRegisters((ndis, handle) => {
      const b = poolBuffer(ndis)
      size = ndis.NdisMStartBufferPhysicalMapping(handle, b.buffer, 0, true, units).arraySize
      ndis.NdisMCompleteBufferPhysicalMapping(handle, b.buffer, 0)
      freePoolBuffer(ndis, b)
    })
    expect(size).toBe(1)
    expect(units[0]!.Length).toBe(1500)
    expect(units[0]!.PhysicalAddress + 1500).toBeLessThanOrEqual(FOUR_GIB)
    expect(m.dmaStats.bounceBytes).toBe(1500)
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('with the IOMMU on the same buffer gets an I/O virtual address and no bounce', () => {
    const units: NDIS_PHYSICAL_ADDRESS_UNIT[] = []
    const m = withMapRegisters((ndis, handle) => {
      const b = poolBuffer(ndis)
      ndis.NdisMStartBufferPhysicalMapping(handle, b.buffer, 1, true, units)
      ndis.NdisMCompleteBufferPhysicalMapping(handle, b.buffer, 1)
      freePoolBuffer(ndis, b)
    }, { iommu: true })
    expect(units).toHaveLength(1)
    expect(m.dmaStats.bounceBytes).toBe(0)
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('starting a mapping on a register that still maps a buffer is Driver Verifier 0xE6/0x1D', () => {
    const m = withMapRegisters((ndis, handle) => {
      const b = poolBuffer(ndis)
      ndis.NdisMStartBufferPhysicalMapping(handle, b.buffer, 2, true, [])
      expect(ndis.NdisMStartBufferPhysicalMapping(handle, b.buffer, 2, true, []).arraySize).toBe(0)
      ndis.NdisMCompleteBufferPhysicalMapping(handle, b.buffer, 2)
      freePoolBuffer(ndis, b)
    })
    const f = m.findings[0]!
    expect([f.kind, f.code, f.params?.[0]]).toEqual(['map-register-misuse', 0xe6, 0x1d])
  })

  it('completing a mapping that was never started is Driver Verifier 0xE6/0x20', () => {
    const m = withMapRegisters((ndis, handle) => {
      const b = poolBuffer(ndis)
      ndis.NdisMCompleteBufferPhysicalMapping(handle, b.buffer, 3)
      freePoolBuffer(ndis, b)
    })
    expect(m.findings.map((f) => [f.kind, f.params?.[0]])).toEqual([['map-register-misuse', 0x20]])
  })

  it('a buffer longer than MaximumPhysicalMapping is not mapped (0xE6/0x0C)', () => {
    const m = withMapRegisters((ndis, handle) => {
      const { virtualAddress } = ndis.NdisAllocateMemoryWithTag(8192, 'fuBT')
      const pool = ndis.NdisAllocateBufferPool(1).poolHandle!
      const { buffer } = ndis.NdisAllocateBuffer(pool, virtualAddress, 8192)
      expect(ndis.NdisMStartBufferPhysicalMapping(handle, buffer!, 0, true, []).arraySize).toBe(0)
      ndis.NdisFreeBuffer(buffer!)
      ndis.NdisFreeBufferPool(pool)
      ndis.NdisFreeMemory(virtualAddress, 8192, 0)
    })
    expect(m.findings.map((f) => [f.kind, f.params?.[0]])).toEqual([['dma-too-many-map-registers', 0x0c]])
  })

  it('NdisMFreeMapRegisters with a mapping never completed is a map-register leak (0xE6/0x10)', () => {
    let buffer: ReturnType<typeof poolBuffer> | null = null
    const m = withMapRegisters((ndis, handle) => {
      buffer = poolBuffer(ndis)
      ndis.NdisMStartBufferPhysicalMapping(handle, buffer.buffer, 0, true, [])
    })
    m.halt()
    const f = m.findings.find((x) => x.kind === 'map-register-leak')!
    expect([f.code, f.params?.[0], f.params?.[1]]).toEqual([0xe6, 0x10, 1])
    expect(buffer).not.toBeNull()
  })

  it('halting without NdisMFreeMapRegisters leaves the registers held (0xE6/0x09)', () => {
    const m = withMapRegisters(() => {}, {}, false)
    m.halt()
    expect(m.findings.map((f) => [f.kind, f.params?.[0]])).toEqual([['map-register-leak', 0x09]])
  })

  it('map registers for an adapter that is not a bus master: NDIS reserves nothing (a call-order finding)', () => {
    let status = 0
    const m = loadLoop({ hooks: { initialize: (ndis, handle) => {
      status = ndis.NdisMAllocateMapRegisters(handle, 0, ndis.NDIS_DMA_32BITS, 4, 4096)
    } } })
    expect(status).toBe(0xc000_00bb)
    expect(m.findings[0]!.message).toMatch(/did not set NDIS_ATTRIBUTE_BUS_MASTER/)
  })
})

describe('NDIS 5 scatter/gather DMA', () => {
  it('NDIS maps every packet before MiniportSendPackets (ScatterGatherListPacketInfo) and frees the list when the send completes', () => {
    const lists: SCATTER_GATHER_LIST[] = []
    let pending: NDIS_PACKET[] = []
    let h: NdisHandle = {}
    const loop = ndis5Loop({
      attributes: BUS_MASTER,
      loopback: 'none',
      hooks: {
        initialize: (ndis, handle) => ndis.NdisMInitializeScatterGatherDma(handle, false, 64 * 1024),
        characteristics: (c) => ({
          ...c,
          SendPacketsHandler: (_ctx, packets, n) => {
            for (let i = 0; i < n; i++) {
              const sgl = packets[i]!.Extension.NdisPacketInfo[5] as SCATTER_GATHER_LIST
              lists.push(sgl)
              pending.push(packets[i]!)
            }
          },
          CheckForHangHandler: () => false,
        }),
        query: (_ndis, handle) => {
          h = handle
        },
      },
    })
    const m = createMachine({})
    const loaded = m.load({ default: loop.DriverEntry as never }, 'ndis5-sg')
    m.traffic.send({ count: 6, size: 1000 })
    expect(lists).toHaveLength(6)
    expect(lists.every((l) => l.NumberOfElements === 1 && l.Elements[0]!.Address + 1000 <= FOUR_GIB)).toBe(true)
    for (const p of pending) loaded.ndis.NdisMSendComplete(h, p, 0)
    pending = []
    m.halt()
    expect(m.report().traffic.txFrames).toBe(6)
    expect(m.findings).toEqual([])
  })
})

describe('NDIS 5 shared memory', () => {
  it('NdisMAllocateSharedMemory before the adapter set up its DMA is a call-order finding', () => {
    let va = -1
    const m = loadLoop({ attributes: BUS_MASTER, hooks: { initialize: (ndis, handle) => {
      va = ndis.NdisMAllocateSharedMemory(handle, 4096, false).virtualAddress
    } } })
    expect(va).toBe(0)
    expect(m.findings[0]!.message).toMatch(/before NdisMAllocateMapRegisters or NdisMInitializeScatterGatherDma/)
  })

  it('NdisMAllocateSharedMemoryAsync completes through MiniportAllocateComplete at DISPATCH_LEVEL; the memory is the NIC\'s to reach', () => {
    const got: Array<{ va: number; pa: number; irql: number; context: unknown }> = []
    const loop = ndis5Loop({
      attributes: BUS_MASTER,
      hooks: {
        initialize: (ndis, handle) => ndis.NdisMAllocateMapRegisters(handle, 0, ndis.NDIS_DMA_32BITS, 2, 2048),
        query: (ndis, handle, oid) => {
          if (oid === ndis.OID_GEN_LINK_SPEED) expect(ndis.NdisMAllocateSharedMemoryAsync(handle, 8192, true, 'ctx')).toBe(ndis.NDIS_STATUS_PENDING)
        },
        halt: (ndis, handle) => {
          for (const g of got) ndis.NdisMFreeSharedMemory(handle, 8192, true, g.va, g.pa)
          ndis.NdisMFreeMapRegisters(handle)
        },
        characteristics: (c) => ({ ...c, AllocateCompleteHandler: (_ctx, va, pa, _len, context) => got.push({ va, pa, irql: m.kernel.irql, context }) }),
      },
    })
    const m = createMachine({})
    m.load({ default: loop.DriverEntry as never }, 'ndis5-async')
    m.runUntilIdle()
    expect(got).toHaveLength(1)
    expect(got[0]!.va).not.toBe(0)
    expect(got[0]!.pa + 8192).toBeLessThanOrEqual(FOUR_GIB)
    expect([got[0]!.irql, got[0]!.context]).toEqual([2, 'ctx'])
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('shared memory still allocated when MiniportHalt returns is a common-buffer leak when NDIS releases the adapter', () => {
    const m = loadLoop({
      attributes: BUS_MASTER,
      hooks: {
        initialize: (ndis, handle) => {
          ndis.NdisMAllocateMapRegisters(handle, 0, ndis.NDIS_DMA_32BITS, 2, 2048)
          ndis.NdisMAllocateSharedMemory(handle, 4096, false)
        },
        halt: (ndis, handle) => ndis.NdisMFreeMapRegisters(handle),
      },
    })
    m.halt()
    expect(m.findings.map((f) => f.kind)).toEqual(['common-buffer-leak'])
  })

  // Bug check 0x7C reference, 0x03 NDIS_BUGCHECK_FREE_INVALID_SHARED_MEM: "A miniport driver called
  // NdisMFreeSharedMemory (Async) with a shared memory address that had already been freed".
  it('NdisMFreeSharedMemory of shared memory already freed is NDIS\'s own bug check 0x7C/0x03, as for NDIS 6', () => {
    let va = 0
    const m = loadLoop({
      attributes: BUS_MASTER,
      hooks: {
        initialize: (ndis, handle) => {
          ndis.NdisMAllocateMapRegisters(handle, 0, ndis.NDIS_DMA_32BITS, 2, 2048)
          const shared = ndis.NdisMAllocateSharedMemory(handle, 4096, false)
          va = shared.virtualAddress
          ndis.NdisMFreeSharedMemory(handle, 4096, false, shared.virtualAddress, shared.physicalAddress)
          ndis.NdisMFreeSharedMemory(handle, 4096, false, shared.virtualAddress, shared.physicalAddress)
        },
      },
    })
    expect(m.findings.map((f) => f.kind)).toEqual(['common-buffer-double-free'])
    expect(m.report().bugcheck).toMatchObject({ code: 0x7c, params: [0x03, 0, expect.any(Number), va] })
  })
})
