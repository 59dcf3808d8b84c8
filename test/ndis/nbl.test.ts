// NET_BUFFER_LIST pools and NBLs, the register window, and what NDIS says when a miniport
// misuses them: pools freed with NBLs still out, NBLs freed twice, completions of NBLs the
// protocol never sent, an indication whose count is wrong, resources left at halt.
import { describe, expect, it } from 'vitest'
import { BUGCHECK } from '../../src/index.js'
import type { NET_BUFFER_LIST } from '../../src/ndis/types.js'
import { kinds, lineHere, loadTestMiniport, theFinding } from '../support/driver-fixture.js'
import { NDIS_BUGCHECK } from '../../src/ndis/context.js'

describe('NET_BUFFER_LIST pools', () => {
  it('an NBL\'s memory is a pool block charged to its pool\'s tag, freed with it', () => {
    const { m, a, ndis } = loadTestMiniport()
    const pool = ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'lbNT', DataSize: 0 })!
    const before = m.report().pool.byTag['TNbl']!.allocs
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null, 0, 0)!
    expect(nbl.FirstNetBuffer).not.toBeNull()
    expect(m.report().pool.byTag['TNbl']!.allocs).toBe(before + 1)
    ndis.NdisFreeNetBufferList(nbl)
    ndis.NdisFreeNetBufferListPool(pool)
    expect(m.report().pool.byTag['TNbl']!.bytesOutstanding).toBe(0)
    expect(m.findings).toEqual([])
  })

  it('freeing a pool with NBLs still allocated, or an NBL twice, is nbl-misuse (0x7C) at the calling line', () => {
    const { m, a, ndis } = loadTestMiniport()
    const pool = ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'lbNT', DataSize: 0 })!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null, 0, 0)!
    ndis.NdisFreeNetBufferList(nbl)
    const twice = lineHere(1)
    ndis.NdisFreeNetBufferList(nbl)
    const kept = ndis.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null, 0, 0)!
    const early = lineHere(1)
    ndis.NdisFreeNetBufferListPool(pool)
    void kept
    expect(kinds(m)).toEqual(['nbl-misuse', 'nbl-misuse'])
    expect(m.findings[0]).toMatchObject({ code: BUGCHECK.BUGCODE_NDIS_DRIVER, params: [NDIS_BUGCHECK.nblMisuse, 0, 0, 0], site: twice })
    expect(m.findings[0]!.message).toBe('NdisFreeNetBufferList: the NET_BUFFER_LIST was not allocated from an NDIS pool, or was already freed')
    expect(m.findings[1]).toMatchObject({ site: early, message: "NdisFreeNetBufferListPool of pool 'TNbl' with 1 NET_BUFFER_LISTs still allocated from it" })
  })

  it('a pool left at halt is reported by NDIS, and its blocks by the unload\'s leak check', () => {
    let site = ''
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          site = lineHere(1)
          a.ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'tfeL', DataSize: 0 })
        },
      },
    })
    m.halt()
    expect(kinds(m)).toEqual(['ndis-resource-leak', 'pool-leak'])
    expect(m.findings[0]!.message).toBe("MiniportHaltEx returned with NET_BUFFER_LIST pool 'Left' allocated (NdisFreeNetBufferListPool not called) still held")
    expect(theFinding(m, 'pool-leak').site).toBe(site)
  })
})

describe('send completions and receive indications', () => {
  it('completing an NBL the protocol never sent is nbl-misuse', () => {
    const { m, a, ndis } = loadTestMiniport()
    const pool = ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: 'lbNT', DataSize: 0 })!
    const mine = ndis.NdisAllocateNetBufferAndNetBufferList(pool, 0, 0, null, 0, 0)!
    const site = lineHere(1)
    ndis.NdisMSendNetBufferListsComplete(a.handle, mine, 0)
    const f = theFinding(m, 'nbl-misuse')
    expect(f.site).toBe(site)
    expect(f.message).toBe('NdisMSendNetBufferListsComplete of a NET_BUFFER_LIST the protocol did not send (or completed twice)')
  })

  it('an indication whose NumberOfNetBufferLists differs from the chain is nbl-misuse', () => {
    const { m, a, ndis } = loadTestMiniport()
    const nbl: NET_BUFFER_LIST = a.rxNbls[0]!
    nbl.FirstNetBuffer!.DataLength = 60
    nbl.Next = null
    const { oldIrql } = ndis.KeRaiseIrql(ndis.DISPATCH_LEVEL)
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 3, ndis.NDIS_RECEIVE_FLAGS_RESOURCES)
    ndis.KeLowerIrql(oldIrql)
    expect(theFinding(m, 'nbl-misuse').message).toBe('NdisMIndicateReceiveNetBufferLists: NumberOfNetBufferLists is 3 but the chain holds 1')
  })
})

describe('the register window', () => {
  it('NdisMMapIoSpace outside the adapter\'s memory resource is refused; a window left mapped at halt is reported', () => {
    const { m, a, ndis } = loadTestMiniport()
    const site = lineHere(1)
    const bad = ndis.NdisMMapIoSpace(a.handle, m.nic.bar0 + 0x1f000, 0x2000)
    expect(bad).toEqual({ status: ndis.NDIS_STATUS_FAILURE, virtualAddress: 0 })
    expect(theFinding(m, 'ndis-bad-argument')).toMatchObject({ site })
    const extra = ndis.NdisMMapIoSpace(a.handle, m.nic.bar0, 0x100)
    expect(extra.status).toBe(ndis.NDIS_STATUS_SUCCESS)
    // The window reads the device: STATUS has link up once the driver set CTRL.SLU.
    expect(ndis.NdisReadRegisterUlong(extra.virtualAddress + 0x8) & 0x2).toBe(0x2)
    m.halt()
    expect(kinds(m)).toEqual(['ndis-bad-argument', 'ndis-resource-leak'])
    expect(m.findings[1]!.message).toMatch(/^MiniportHaltEx returned with the register window at 0x[0-9a-f_]+ \(256 bytes\) mapped \(NdisMUnmapIoSpace not called\) still held$/)
  })

  it('a register access after NdisMUnmapIoSpace is a page fault at that line', () => {
    const { m, a, ndis } = loadTestMiniport()
    const extra = ndis.NdisMMapIoSpace(a.handle, m.nic.bar0, 0x100)
    ndis.NdisMUnmapIoSpace(a.handle, extra.virtualAddress, 0x100)
    let site = ''
    m.caller.call('test driver code', ndis.PASSIVE_LEVEL, () => {
      site = lineHere(1)
      ndis.NdisReadRegisterUlong(extra.virtualAddress + 0x8)
    })
    const f = theFinding(m, 'page-fault')
    expect(f.site).toBe(site)
    expect(f.code).toBe(BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA)
    expect(f.message).toContain('the adapter register window (unmapped by NdisMUnmapIoSpace)')
  })
})
