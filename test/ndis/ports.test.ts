// Port I/O through NDIS: NdisMRegisterIoPortRange / NdisMDeregisterIoPortRange and the NdisRaw
// port routines, for NDIS 5.1 and NDIS 6 miniports, against the 82540EM's I/O BAR (IOADDR at
// offset 0, IODATA at 4: 8254x manual 13.2.2). Reference pages of those names: registration from
// MiniportInitialize[Ex] only, at PASSIVE_LEVEL; NDIS_STATUS_RESOURCE_CONFLICT for ports that are
// not the NIC's; the raw routines only on a registered range.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import type { NdisApi } from '../../src/ndis/api.js'
import type { NdisHandle } from '../../src/ndis/types.js'
import { ndis5Loop } from '../support/miniports/ndis5-loop.js'
import { testMiniport } from '../support/test-miniport.js'
import { e1000 } from '../support/e1000-driver.js'

const IOADDR = 0
const IODATA = 4
const STATUS = 0x8

/** The NIC's port resource, as NdisMQueryAdapterResources gives it. */
function portResource(ndis: NdisApi, configurationContext: NdisHandle): { Start: number; Length: number } {
  const sized = ndis.NdisMQueryAdapterResources(configurationContext, 0)
  const res = ndis.NdisMQueryAdapterResources(configurationContext, sized.bufferSize)
  return res.resourceList!.PartialDescriptors.find((d) => d.Type === ndis.CmResourceTypePort)!.u.Port!
}

describe('I/O ports for NDIS 5.1 miniports', () => {
  it('e1000-ndis5 claims its I/O BAR in MiniportInitialize, resets the NIC through it and gives it back at halt', async () => {
    const m = createMachine({})
    await m.load('e1000-ndis5')
    const ranges = [...m.ndis!.ctx.ioPortRanges]
    expect(ranges).toHaveLength(1)
    expect(ranges[0]![1]).toBe(8)
    m.traffic.send({ count: 20, size: 600 })
    m.halt()
    expect(m.ndis!.ctx.ioPortRanges.size).toBe(0)
    expect(m.findings).toEqual([])
  })

  it('the raw routines reach the registered window: IOADDR selects a register, IODATA reads it', () => {
    let seen: { address: number; status: number; buffer: number[] } | null = null
    let range = { start: 0, count: 0, offset: 0 }
    const loop = ndis5Loop({ hooks: {
      initialize: (ndis, handle, cfg) => {
        const port = portResource(ndis, cfg)
        const r = ndis.NdisMRegisterIoPortRange(handle, port.Start, port.Length)
        expect(r.status).toBe(ndis.NDIS_STATUS_SUCCESS)
        range = { start: port.Start, count: port.Length, offset: r.portOffset }
        ndis.NdisRawWritePortUlong(r.portOffset + IOADDR, STATUS)
        const address = ndis.NdisRawReadPortUlong(r.portOffset + IOADDR)
        const status = ndis.NdisRawReadPortUlong(r.portOffset + IODATA)
        const { virtualAddress } = ndis.NdisAllocateMemoryWithTag(8, 'troP')
        ndis.NdisRawReadPortBufferUshort(r.portOffset + IOADDR, virtualAddress, 2)
        seen = { address, status, buffer: [ndis.memory.read16(virtualAddress), ndis.memory.read16(virtualAddress + 2)] }
        ndis.NdisFreeMemory(virtualAddress, 8, 0)
      },
      halt: (ndis, handle) => ndis.NdisMDeregisterIoPortRange(handle, range.start, range.count, range.offset),
    } })
    const m = createMachine({})
    m.load({ default: loop.DriverEntry as never }, 'ports')
    expect(seen!.address).toBe(STATUS)
    expect(seen!.status).toBe(e1000(m).mmioRead32(STATUS))
    expect(seen!.buffer).toEqual([STATUS, STATUS]) // a 16-bit read of IOADDR takes its low half, each time
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('ports that are not the NIC\'s are NDIS_STATUS_RESOURCE_CONFLICT; a raw access to an unregistered port does nothing and is a finding', () => {
    const statuses: number[] = []
    const loop = ndis5Loop({ hooks: {
      initialize: (ndis, handle, cfg) => {
        const port = portResource(ndis, cfg)
        statuses.push(ndis.NdisMRegisterIoPortRange(handle, 0x3f8, 8).status) // COM1's
        statuses.push(ndis.NdisMRegisterIoPortRange(handle, port.Start, port.Length + 8).status)
        statuses.push(ndis.NdisRawReadPortUlong(port.Start + IOADDR))
      },
    } })
    const m = createMachine({})
    m.load({ default: loop.DriverEntry as never }, 'ports')
    expect(statuses).toEqual([0xc001_001e, 0xc001_001e, 0xffff_ffff])
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument', 'ndis-bad-argument', 'ndis-bad-argument'])
    expect(m.findings[0]!.message).toMatch(/not within the I\/O ports PnP assigned the NIC/)
    expect(m.findings[2]!.message).toMatch(/no port range is registered/)
  })

  it('NdisMRegisterIoPortRange outside MiniportInitialize is an init-only call (and from a DISPATCH_LEVEL handler an IRQL violation); a range left registered at halt is a resource leak', () => {
    let cfgPort = { Start: 0, Length: 0 }
    const loop = ndis5Loop({ hooks: {
      initialize: (ndis, handle, cfg) => {
        cfgPort = portResource(ndis, cfg)
        ndis.NdisMRegisterIoPortRange(handle, cfgPort.Start, cfgPort.Length)
      },
      query: (ndis, handle, oid) => {
        if (oid === ndis.OID_GEN_LINK_SPEED) ndis.NdisMRegisterIoPortRange(handle, cfgPort.Start, 4)
      },
    } })
    const m = createMachine({})
    m.load({ default: loop.DriverEntry as never }, 'ports')
    m.halt()
    expect(m.findings.map((f) => f.kind)).toEqual(['irql-violation', 'init-only-call', 'ndis-resource-leak']) // a query runs at DISPATCH_LEVEL
    expect(m.findings[2]!.message).toMatch(/I\/O ports 0x\S+ \(\+8\) registered \(NdisMDeregisterIoPortRange not called\)/)
  })
})

describe('I/O ports for NDIS 6 miniports', () => {
  it('the same routines serve MiniportInitializeEx', () => {
    let address = -1
    const m = createMachine({})
    const bar = m.nic.pci.bars.find((b) => b.space === 'io')!
    const mp = testMiniport({ hooks: {
      initialize: (a) => {
        const r = a.ndis.NdisMRegisterIoPortRange(a.handle, m.nic.pci.barAddress(bar.index), bar.size)
        a.ndis.NdisRawWritePortUlong(r.portOffset + IOADDR, STATUS)
        address = a.ndis.NdisRawReadPortUlong(r.portOffset + IOADDR)
      },
    } })
    m.load(mp, 'ports6')
    expect(address).toBe(STATUS)
    m.halt()
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-resource-leak'])
    expect(m.findings[0]!.message).toMatch(/MiniportHaltEx returned with the I\/O ports/)
  })
})
