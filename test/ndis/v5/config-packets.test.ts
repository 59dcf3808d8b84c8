// What MiniportInitialize reads and the descriptors it works with: the registry
// (NdisOpenConfiguration, NdisReadConfiguration, NdisReadNetworkAddress, NdisCloseConfiguration),
// NdisMQueryAdapterResources, NdisReadPciSlotInformation; packet and buffer pools and the
// packet routines (NdisAllocatePacketPool, NdisAllocatePacket, NdisChainBufferAtFront/Back,
// NdisQueryPacket, NdisRecalculatePacketCounts, NdisQueryBufferSafe), and NDIS 5 timers
// (NdisMInitializeTimer, NdisMSetTimer, NdisMSetPeriodicTimer, NdisMCancelTimer). NDIS 5.1
// reference pages of those names; NDIS Verifier "Displaying Warning Messages".
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import type { NdisHandle } from '../../../src/ndis/types.js'
import { ndis5Loop } from '../../support/miniports/ndis5-loop.js'

/** Runs `body` inside MiniportInitialize of a loop miniport (PASSIVE_LEVEL); returns the machine. */
function inInitialize(body: (ndis: NdisApi, handle: NdisHandle, cfg: NdisHandle) => void) {
  const m = createMachine({})
  m.load({ default: ndis5Loop({ hooks: { initialize: (ndis, handle, cfg) => body(ndis, handle, cfg) } }).DriverEntry as never }, 'ndis5-cfg')
  return m
}

describe('NDIS 5 configuration and resources', () => {
  it('NDIS supplies NdisVersion and BusType; an absent keyword reads as NDIS_STATUS_FAILURE; handles are closed', () => {
    const read: Array<[number, number | undefined]> = []
    const m = inInitialize((ndis, _h, cfg) => {
      const { configurationHandle } = ndis.NdisOpenConfiguration(cfg)
      for (const k of ['NdisVersion', 'BusType', 'NoSuchKeyword']) {
        const r = ndis.NdisReadConfiguration(configurationHandle, k, ndis.NdisParameterInteger)
        read.push([r.status, r.parameterValue?.ParameterData.IntegerData])
      }
      ndis.NdisCloseConfiguration(configurationHandle)
    })
    expect(read).toEqual([[0, 0x0005_0001], [0, 5], [0xc000_0001, undefined]])
    expect(m.findings).toEqual([])
  })

  it('NdisReadNetworkAddress returns the "NetworkAddress" keyword when the adapter\'s key has one (NdisWriteConfiguration), and fails without it', () => {
    const results: Array<[number, number[]]> = []
    inInitialize((ndis, _h, cfg) => {
      const { configurationHandle } = ndis.NdisOpenConfiguration(cfg)
      const before = ndis.NdisReadNetworkAddress(configurationHandle)
      results.push([before.status, [...(before.networkAddress ?? [])]])
      ndis.NdisWriteConfiguration(configurationHandle, 'NetworkAddress', { ParameterType: ndis.NdisParameterString, ParameterData: { StringData: '02-11-22-33-44-55' } })
      const after = ndis.NdisReadNetworkAddress(configurationHandle)
      results.push([after.status, [...(after.networkAddress ?? [])]])
      ndis.NdisCloseConfiguration(configurationHandle)
    })
    expect(results).toEqual([[0xc000_0001, []], [0, [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]]])
  })

  it('a configuration handle left open when MiniportInitialize returns is a resource leak', () => {
    const m = inInitialize((ndis, _h, cfg) => {
      ndis.NdisOpenConfiguration(cfg)
    })
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-resource-leak'])
    expect(m.findings[0]!.message).toMatch(/NdisCloseConfiguration/)
  })

  it('NdisMQueryAdapterResources says how big a buffer it needs, then lists the register window and the interrupt', () => {
    const sizes: number[] = []
    let types: number[] = []
    inInitialize((ndis, _h, cfg) => {
      const first = ndis.NdisMQueryAdapterResources(cfg, 0)
      sizes.push(first.status, first.bufferSize)
      const second = ndis.NdisMQueryAdapterResources(cfg, first.bufferSize)
      types = second.resourceList!.PartialDescriptors.map((d) => d.Type)
    })
    expect(sizes[0]).toBe(0xc000_009a) // NDIS_STATUS_RESOURCES
    expect(sizes[1]).toBeGreaterThan(8)
    expect(types).toContain(3) // CmResourceTypeMemory
    expect(types).toContain(2) // CmResourceTypeInterrupt
  })

  it('NdisMQueryAdapterResources outside MiniportInitialize is a call-order finding (its WrapperConfigurationContext is MiniportInitialize\'s)', () => {
    let cfg: NdisHandle | null = null
    let api: NdisApi | null = null
    const m = createMachine({})
    // MiniportPnPEventNotify runs at PASSIVE_LEVEL after MiniportInitialize returned.
    m.load({ default: ndis5Loop({ hooks: {
      initialize: (ndis, _h, c) => {
        api = ndis
        cfg = c
      },
      characteristics: (c) => ({ ...c, PnPEventNotifyHandler: () => void api!.NdisMQueryAdapterResources(cfg!, 4096) }),
    } }).DriverEntry as never }, 'ndis5-late-resources')
    expect(m.findings.map((f) => [f.kind, f.message])).toEqual([['ndis-call-order', expect.stringMatching(/NdisMQueryAdapterResources outside MiniportInitialize/)]])
  })

  // NDIS Verifier, "Displaying Warning Messages": "Drivers that use reserved keywords instead of
  // NdisMQueryAdapterResources to get assigned resources".
  it('reading a resource keyword (IoBaseAddress, InterruptNumber ...) instead of NdisMQueryAdapterResources gets the NDIS Verifier warning, once a keyword', () => {
    const m = inInitialize((ndis, _h, cfg) => {
      const { configurationHandle } = ndis.NdisOpenConfiguration(cfg)
      ndis.NdisReadConfiguration(configurationHandle, 'IoBaseAddress', ndis.NdisParameterHexInteger)
      ndis.NdisReadConfiguration(configurationHandle, 'IoBaseAddress', ndis.NdisParameterHexInteger)
      ndis.NdisReadConfiguration(configurationHandle, 'InterruptNumber', ndis.NdisParameterInteger)
      ndis.NdisReadConfiguration(configurationHandle, 'NdisVersion', ndis.NdisParameterInteger)
      ndis.NdisCloseConfiguration(configurationHandle)
    })
    expect(m.findings.map((f) => [f.kind, f.message])).toEqual([
      ['ndis-verifier-warning', expect.stringMatching(/"IoBaseAddress"/)],
      ['ndis-verifier-warning', expect.stringMatching(/"InterruptNumber"/)],
    ])
  })

  it('NdisReadPciSlotInformation reads the function\'s configuration space; a SlotNumber other than 0 gets the NDIS Verifier warning', () => {
    let id: number[] = []
    const m = inInitialize((ndis, handle) => {
      id = [...ndis.NdisReadPciSlotInformation(handle, 0, 0, 4).buffer]
      ndis.NdisReadPciSlotInformation(handle, 3, 0, 4)
    })
    expect(id).toEqual([0x86, 0x80, 0x0e, 0x10])
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-verifier-warning'])
  })
})

describe('NDIS 5 packets and buffers', () => {
  it('a packet pool hands out NumberOfDescriptors packets and then NDIS_STATUS_RESOURCES', () => {
    const statuses: number[] = []
    inInitialize((ndis) => {
      const pool = ndis.NdisAllocatePacketPool(2, 16).poolHandle
      const got = [ndis.NdisAllocatePacket(pool), ndis.NdisAllocatePacket(pool), ndis.NdisAllocatePacket(pool)]
      statuses.push(...got.map((g) => g.status))
      for (const g of got) if (g.packet !== null) ndis.NdisFreePacket(g.packet)
      ndis.NdisFreePacketPool(pool)
    })
    expect(statuses).toEqual([0, 0, 0xc000_009a])
  })

  it('chaining buffers front and back; NdisQueryPacket counts them, pages and bytes; a length change needs NdisRecalculatePacketCounts', () => {
    const seen: number[][] = []
    const m = inInitialize((ndis) => {
      const { virtualAddress: va } = ndis.NdisAllocateMemoryWithTag(8192, 'tfuB')
      const bp = ndis.NdisAllocateBufferPool(3).poolHandle
      const pp = ndis.NdisAllocatePacketPool(1, 0).poolHandle
      const { packet } = ndis.NdisAllocatePacket(pp)
      const a = ndis.NdisAllocateBuffer(bp, va, 100).buffer!
      const b = ndis.NdisAllocateBuffer(bp, va + 4000, 200).buffer! // crosses a page boundary
      ndis.NdisChainBufferAtBack(packet!, b)
      ndis.NdisChainBufferAtFront(packet!, a)
      const q = ndis.NdisQueryPacket(packet!)
      seen.push([q.bufferCount, q.physicalBufferCount, q.totalPacketLength, q.firstBuffer === a ? 1 : 0])
      ndis.NdisAdjustBufferLength(a, 50)
      seen.push([ndis.NdisQueryPacket(packet!).totalPacketLength])
      ndis.NdisRecalculatePacketCounts(packet!)
      seen.push([ndis.NdisQueryPacket(packet!).totalPacketLength])
      const first = ndis.NdisGetFirstBufferFromPacketSafe(packet!, ndis.NormalPagePriority)
      seen.push([first.firstBufferVA === va ? 1 : 0, first.firstBufferLength, first.totalBufferLength])
      ndis.NdisUnchainBufferAtBack(packet!)
      ndis.NdisUnchainBufferAtBack(packet!)
      seen.push([ndis.NdisQueryPacket(packet!).bufferCount])
      ndis.NdisFreeBuffer(a)
      ndis.NdisFreeBuffer(b)
      ndis.NdisFreePacket(packet!)
      ndis.NdisFreePacketPool(pp)
      ndis.NdisFreeBufferPool(bp)
      ndis.NdisFreeMemory(va, 8192, 0)
    })
    expect(seen).toEqual([[2, 3, 300, 1], [300], [250], [1, 50, 250], [0]])
    expect(m.findings).toEqual([])
  })

  it('freeing a pool with descriptors still allocated from it is a finding', () => {
    const m = inInitialize((ndis) => {
      const pp = ndis.NdisAllocatePacketPool(4, 0).poolHandle
      ndis.NdisAllocatePacket(pp)
      ndis.NdisFreePacketPool(pp)
    })
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-resource-leak'])
  })

  it('a packet pool the driver never frees is reported at halt, and its memory as a pool leak at unload', () => {
    const m = inInitialize((ndis) => {
      ndis.NdisAllocatePacketPool(4, 0)
    })
    m.halt()
    expect(m.findings.map((f) => f.kind).sort()).toEqual(['ndis-resource-leak', 'pool-leak'])
    expect(m.findings.find((f) => f.kind === 'pool-leak')!.message).toMatch(/NDpp/)
  })
})

describe('NDIS 5 cancel IDs', () => {
  // NdisGeneratePartialCancelId (NDIS 5.1 reference): a value for the high byte of the cancel
  // IDs a driver marks its sends with (NDIS_SET_PACKET_CANCEL_ID), distinct between callers.
  it('NdisGeneratePartialCancelId gives 1..255 and then starts again; a packet carries the ID it was marked with', () => {
    const m = createMachine({})
    let api: NdisApi | null = null
    m.load({ default: ndis5Loop({ hooks: { initialize: (ndis) => {
      api = ndis
    } } }).DriverEntry as never }, 'ndis5-cancel-id')
    const ndis = api!
    const first = ndis.NdisGeneratePartialCancelId()
    const ids = [first, ...Array.from({ length: 255 }, () => ndis.NdisGeneratePartialCancelId())]
    expect(ids.every((i) => i >= 1 && i <= 255)).toBe(true)
    expect(new Set(ids.slice(0, 255)).size).toBe(255)
    expect(ids[255]).toBe(first)
    const { poolHandle } = ndis.NdisAllocatePacketPool(1, 0)
    const { packet } = ndis.NdisAllocatePacket(poolHandle)
    expect(ndis.NDIS_GET_PACKET_CANCEL_ID(packet!)).toBe(null)
    ndis.NDIS_SET_PACKET_CANCEL_ID(packet!, (first << 24) | 7)
    expect(ndis.NDIS_GET_PACKET_CANCEL_ID(packet!)).toBe((first << 24) | 7)
    ndis.NdisFreePacket(packet!)
    ndis.NdisFreePacketPool(poolHandle)
    m.halt()
    expect(m.findings).toEqual([])
  })
})

describe('NDIS 5 timers', () => {
  it('a periodic timer fires at DISPATCH_LEVEL as virtual time passes, without keeping the machine busy, until NdisMCancelTimer', () => {
    const fired: Array<[number, number]> = []
    let timer: ReturnType<NdisApi['NdisMInitializeTimer']>['timer'] = null
    const m = createMachine({})
    m.load({ default: ndis5Loop({ hooks: {
      initialize: (ndis, handle) => {
        timer = ndis.NdisMInitializeTimer(handle, () => fired.push([m.clock.now, m.kernel.irql]), null).timer
        ndis.NdisMSetPeriodicTimer(timer!, 100)
      },
      halt: (ndis) => {
        expect(ndis.NdisMCancelTimer(timer!).timerCancelled).toBe(true)
      },
    } }).DriverEntry as never }, 'ndis5-timer')
    expect(m.runUntilIdle().boundHit).toBe(false)
    m.run({ ns: 350_000_000 })
    expect(fired.map(([t]) => t / 1e6)).toEqual([100, 200, 300])
    expect(fired.every(([, irql]) => irql === 2)).toBe(true)
    m.halt()
    expect(m.findings).toEqual([])
  })
  // NdisInitializeTimer (NDIS 5.1 reference): "Callers of NdisInitializeTimer run at IRQL =
  // PASSIVE_LEVEL"; MiniportInitialize calls NdisMInitializeTimer, at PASSIVE_LEVEL too.
  it('initializing a timer at DISPATCH_LEVEL (from MiniportSetInformation) is an IRQL violation; setting one there is not', () => {
    let irqlSeen = -1
    const m = createMachine({})
    m.load({ default: ndis5Loop({ hooks: {
      set: (ndis, handle, oid) => {
        if (oid !== ndis.OID_GEN_CURRENT_PACKET_FILTER) return
        irqlSeen = m.kernel.irql
        const { timer } = ndis.NdisMInitializeTimer(handle, () => {}, null)
        ndis.NdisMSetTimer(timer!, 10)
      },
    } }).DriverEntry as never }, 'ndis5-timer-irql')
    expect(irqlSeen).toBe(2)
    const f = m.findings.filter((x) => x.kind === 'irql-violation')
    expect(f).toHaveLength(1)
    expect(f[0]!.message).toMatch(/NdisMInitializeTimer/)
    m.run({ ns: 20_000_000 })
    m.halt()
  })

  it('a periodic timer still set at halt is named periodic in the 0x7C/0x09 finding', () => {
    const m = createMachine({})
    m.load({ default: ndis5Loop({ hooks: { halt: (ndis, handle) => {
      const { timer } = ndis.NdisMInitializeTimer(handle, () => {}, null)
      ndis.NdisMSetPeriodicTimer(timer!, 1000)
    } } }).DriverEntry as never }, 'ndis5-timer-periodic')
    m.halt()
    const f = m.findings.find((x) => x.kind === 'timer-not-cancelled')!
    expect(f.params?.[0]).toBe(0x09)
    expect(f.message).toMatch(/NdisMInitializeTimer; periodic/)
  })
})
