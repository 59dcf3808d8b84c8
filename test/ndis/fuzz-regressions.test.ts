// Bugs the shim fuzzer (test/fuzz, issue 9) found in the NDIS shims, one named test each,
// reduced to the smallest driver call that showed them.
import { describe, expect, it } from 'vitest'
import { loadTestMiniport, theFinding } from '../support/driver-fixture.js'

describe('NDIS fuzz regressions', () => {
  it('NdisMAllocateNetBufferSGList of a NET_BUFFER without an MDL is ndis-bad-argument and NDIS_STATUS_FAILURE, not a TypeError inside NDIS', () => {
    const { m, a, ndis } = loadTestMiniport()
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, null, 0, 100)!
    let status = 0
    expect(() => (status = ndis.NdisMAllocateNetBufferSGList(a.dmaHandle!, nbl.FirstNetBuffer!, null, 0, null, 0))).not.toThrow()
    expect(status).toBe(ndis.NDIS_STATUS_FAILURE)
    expect(theFinding(m, 'ndis-bad-argument').message).toMatch(/^NdisMAllocateNetBufferSGList: .*MDL/)
  })
})

describe('NDIS fuzz regressions: configuration space', () => {
  it('NdisMGetBusData and NdisMSetBusData at a negative offset are ndis-bad-argument and move no bytes, not a RangeError from the PCI model', () => {
    const { m, a, ndis } = loadTestMiniport()
    const before = m.pci.configRead32(m.nic.bdf, 0)
    let read: { bytesRead: number; buffer: Uint8Array } = { bytesRead: -1, buffer: new Uint8Array(1) }
    expect(() => (read = ndis.NdisMGetBusData(a.handle, 0, -4, 64))).not.toThrow()
    expect(read.bytesRead).toBe(0)
    let written = -1
    expect(() => (written = ndis.NdisMSetBusData(a.handle, 0, -4, new Uint8Array(8).fill(0xff), 8))).not.toThrow()
    expect(written).toBe(0)
    expect(m.pci.configRead32(m.nic.bdf, 0)).toBe(before)
    expect(m.findings.filter((f) => f.kind === 'ndis-bad-argument').map((f) => f.message)).toEqual([
      'NdisMGetBusData: Offset -4 and Length 64 must be byte counts (ULONG)',
      'NdisMSetBusData: Offset -4 and Length 8 must be byte counts (ULONG)',
    ])
  })
})

describe('NDIS fuzz regressions: messages about bad arguments', () => {
  it('NdisAllocateMemory with Length undefined and NDIS_MEMORY_CONTIGUOUS outside initialization is init-only-call and a failed allocation, not a TypeError while formatting the message', () => {
    const { m, ndis } = loadTestMiniport()
    let r = { status: 0, virtualAddress: -1 }
    expect(() => (r = ndis.NdisAllocateMemory(undefined as unknown as number, ndis.NDIS_MEMORY_CONTIGUOUS, -1))).not.toThrow()
    expect(r).toEqual({ status: ndis.NDIS_STATUS_FAILURE, virtualAddress: 0 })
    expect(theFinding(m, 'init-only-call').message).toMatch(/^NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS \(undefined bytes\) outside MiniportInitializeEx/)
  })
})

describe('NDIS fuzz regressions: chains that loop back end in a finding, not a hang of the emulator', () => {
  it('NdisMIndicateReceiveNetBufferLists of an NBL whose NET_BUFFER points back at itself is nbl-misuse', () => {
    const { m, a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 60)!
    nbl.FirstNetBuffer!.Next = nbl.FirstNetBuffer
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 1, ndis.NDIS_RECEIVE_FLAGS_RESOURCES)
    expect(m.findings.some((f) => f.kind === 'nbl-misuse' && /loops back/.test(f.message))).toBe(true)
  })

  it('NdisMIndicateReceiveNetBufferLists of an NBL chain that loops back is nbl-misuse', () => {
    const { m, a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 60)!
    nbl.Next = nbl
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 1, ndis.NDIS_RECEIVE_FLAGS_RESOURCES)
    expect(m.findings.some((f) => f.kind === 'nbl-misuse' && /loops back/.test(f.message))).toBe(true)
  })

  it('an indicated NBL whose Next the driver points at itself before it comes back is nbl-misuse, and goes back once', () => {
    // Shim fuzz, seed 223310568: the protocol walked the NBLs it held through their Next links.
    const { m, a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 60)!
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 1, 0)
    nbl.Next = nbl
    m.runUntilIdle()
    expect(theFinding(m, 'nbl-misuse').message).toMatch(/^a NET_BUFFER_LIST the miniport indicated had its Next changed before MiniportReturnNetBufferLists gave it back/)
    expect(nbl.Next).toBeNull()
  })

  it('an indicated NET_BUFFER over a loop of empty MDLs is a corrupted frame, not an endless read', () => {
    const { m, a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 60)!
    mdl.ByteCount = 0
    mdl.Next = mdl
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 1, ndis.NDIS_RECEIVE_FLAGS_RESOURCES)
    expect(m.report().traffic.dropped.rxCorrupt).toBe(1)
  })

  it('NdisAllocateNetBufferAndNetBufferList over a loop of empty MDLs does not walk it forever', () => {
    const { a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    mdl.ByteCount = 0
    mdl.Next = mdl
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 10, 60)
    expect(nbl?.FirstNetBuffer?.CurrentMdl).toBe(mdl)
  })
})

describe('NDIS fuzz regressions: messages quote what the driver passed', () => {
  it('NdisMFreeSharedMemory of a NULL VirtualAddress is a finding that quotes it, not a TypeError while formatting the address', () => {
    const { m, a, ndis } = loadTestMiniport()
    expect(() => ndis.NdisMFreeSharedMemory(a.handle, 4096, true, null as unknown as number, null as unknown as number)).not.toThrow()
    expect(m.findings.map((f) => f.message).join('\n')).toMatch(/null/)
  })
})

describe('NDIS fuzz regressions: NET_BUFFER_LISTs and pools the driver gets wrong', () => {
  it('NdisAllocateNetBufferListPool with no parameters is nbl-misuse and NULL, not a TypeError inside NDIS', () => {
    const { m, a, ndis } = loadTestMiniport()
    let pool: unknown = 'unset'
    expect(() => (pool = ndis.NdisAllocateNetBufferListPool(a.handle, null as never))).not.toThrow()
    expect(pool).toBeNull()
    expect(theFinding(m, 'nbl-misuse').message).toMatch(/^NdisAllocateNetBufferListPool: /)
  })

  it('NdisAllocateNetBufferAndNetBufferList with an MdlChain that is not an MDL, or a DataLength that is not a byte count, is nbl-misuse and NULL', () => {
    const { m, a, ndis } = loadTestMiniport()
    for (const [mdl, length] of [[{}, 60], [undefined, 60], [null, Number.NaN]] as const) {
      let nbl: unknown = 'unset'
      expect(() => (nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl as never, 0, length))).not.toThrow()
      expect(nbl).toBeNull()
    }
    expect(m.findings.filter((f) => f.kind === 'nbl-misuse')).toHaveLength(3)
  })

  it('NdisMIndicateReceiveNetBufferLists of an object that is not an NBL from an NDIS pool is nbl-misuse, not a TypeError inside NDIS', () => {
    const { m, a, ndis } = loadTestMiniport()
    expect(() => ndis.NdisMIndicateReceiveNetBufferLists(a.handle, {} as never, 0, 1, 0)).not.toThrow()
    expect(theFinding(m, 'nbl-misuse').message).toMatch(/^NdisMIndicateReceiveNetBufferLists: .*not a NET_BUFFER_LIST/)
  })

  it('an indicated NET_BUFFER over an MDL whose ByteCount the driver set to NaN is a corrupted frame, not an endless read', () => {
    const { m, a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 60)!
    mdl.ByteCount = Number.NaN
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 1, ndis.NDIS_RECEIVE_FLAGS_RESOURCES)
    expect(m.report().traffic.dropped.rxCorrupt).toBe(1)
  })
})

describe('NDIS fuzz regressions: tags and callbacks that are not one', () => {
  it('NdisAllocateNetBufferListPool with an undefined PoolTag is nbl-misuse and NULL, not a TypeError inside the tag parser', () => {
    const { m, a, ndis } = loadTestMiniport()
    let pool: unknown = 'unset'
    expect(() => (pool = ndis.NdisAllocateNetBufferListPool(a.handle, { ProtocolId: 0, fAllocateNetBuffer: true, ContextSize: 0, PoolTag: undefined as never, DataSize: 0 }))).not.toThrow()
    expect(pool).toBeNull()
    expect(theFinding(m, 'nbl-misuse').message).toMatch(/PoolTag/)
  })
})

describe('NDIS fuzz regressions: NdisMSynchronizeWithInterruptEx', () => {
  it('a SynchronizeFunction that is not a function is ndis-bad-argument and FALSE, not a TypeError inside NDIS', () => {
    const { m, a, ndis } = loadTestMiniport()
    let r: unknown = 'unset'
    expect(() => (r = ndis.NdisMSynchronizeWithInterruptEx(a.interruptHandle!, 0, null as never, null))).not.toThrow()
    expect(r).toBe(false)
    expect(theFinding(m, 'ndis-bad-argument').message).toBe('NdisMSynchronizeWithInterruptEx: SynchronizeFunction is not a function (got NULL)')
  })
})

describe('NDIS fuzz regressions: send completions of something that is not an NBL', () => {
  it('NdisMSendNetBufferListsComplete of undefined is nbl-misuse, not a TypeError inside NDIS', () => {
    const { m, a, ndis } = loadTestMiniport()
    expect(() => ndis.NdisMSendNetBufferListsComplete(a.handle, undefined as never, 0)).not.toThrow()
    expect(theFinding(m, 'nbl-misuse').message).toMatch(/^NdisMSendNetBufferListsComplete of a NET_BUFFER_LIST the protocol did not send/)
  })
})

describe('NDIS fuzz regressions: a Next the driver set to undefined ends the chain', () => {
  it('NdisAllocateNetBufferAndNetBufferList past the end of an MDL whose Next is undefined keeps that MDL as CurrentMdl', () => {
    const { a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 2048)!
    mdl.Next = undefined as never
    expect(ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 5000, 60)?.FirstNetBuffer?.CurrentMdl).toBe(mdl)
  })

  it('an indicated frame whose MDL chain ends in an undefined Next is a corrupted frame, and a NET_BUFFER Next of undefined ends the NBL', () => {
    const { m, a, ndis } = loadTestMiniport()
    const mdl = ndis.NdisAllocateMdl(a.handle, a.rxBlock, 30)!
    const nbl = ndis.NdisAllocateNetBufferAndNetBufferList(a.nblPool!, 0, 0, mdl, 0, 60)!
    mdl.Next = undefined as never
    nbl.FirstNetBuffer!.Next = undefined as never
    expect(() => ndis.NdisMIndicateReceiveNetBufferLists(a.handle, nbl, 0, 1, ndis.NDIS_RECEIVE_FLAGS_RESOURCES)).not.toThrow()
    expect(m.report().traffic.dropped.rxCorrupt).toBe(1)
  })
})
