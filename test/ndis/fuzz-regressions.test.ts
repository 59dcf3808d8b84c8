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
