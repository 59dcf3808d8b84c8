// Bugs the shim fuzzer (test/fuzz, issue 9) found in the kernel shims, one named test each,
// reduced to the smallest driver call that showed them.
import { describe, expect, it } from 'vitest'
import { PAGE_SIZE } from '../../src/hw/address.js'
import { bugCheckOf, fixture } from './kernel-fixture.js'

describe('kernel fuzz regressions', () => {
  describe('ndis.memory with a length beyond what is mapped faults at the first unmapped page, before it allocates host memory', () => {
    it('readBytes of 8 GiB from a one-page block is a page fault, not a RangeError from a typed array', () => {
      const { m, k } = fixture({ memory: { size: '64MiB' } })
      const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, PAGE_SIZE, 'tseT')
      const b = bugCheckOf(() => m.kernel.memory.readBytes(va, 2 ** 33))
      expect(b.kind).toBe('page-fault')
      expect(m.findings.at(-1)?.details?.address).toBe(va + PAGE_SIZE)
    })

    it('copy (NdisMoveMemory) of 2 GiB from a one-page block faults without allocating 2 GiB first', () => {
      const { m, k } = fixture({ memory: { size: '64MiB' } })
      const src = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, PAGE_SIZE, 'tseT')
      const dst = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, PAGE_SIZE, 'tseT')
      const before = process.memoryUsage().arrayBuffers
      const b = bugCheckOf(() => m.kernel.memory.copy(dst, src, 2 ** 31))
      expect(b.kind).toBe('page-fault')
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
    })

    it('a length that is not a number of bytes (negative, fractional, NaN) is the driver\'s TypeError naming the accessor', () => {
      const { m, k } = fixture({ memory: { size: '64MiB' } })
      const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
      for (const length of [-1, 1.5, Number.NaN]) {
        expect(() => m.kernel.memory.readBytes(va, length)).toThrow(/^memory\.readBytes: .* is not a number of bytes/)
        expect(() => m.kernel.memory.copy(va, va, length)).toThrow(/^memory\.copy: .* is not a number of bytes/)
        expect(() => m.kernel.memory.fill(va, length, 0)).toThrow(/^memory\.fill: .* is not a number of bytes/)
      }
    })
  })
})

describe('kernel fuzz regressions: ndis.memory given a buffer that is not one', () => {
  it('writeBytes of a plain array, null or undefined is the driver\'s TypeError naming writeBytes, not a TypeError from inside RAM', () => {
    const { m, k } = fixture({ memory: { size: '64MiB' } })
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'tseT')
    for (const bytes of [Array.from({ length: 40 }, () => 1), null, undefined]) {
      expect(() => m.kernel.memory.writeBytes(va, bytes as unknown as Uint8Array)).toThrow(/^memory\.writeBytes: the bytes must be a Uint8Array/)
    }
  })

  it('readInto and writeFrom beyond the end of the driver\'s buffer are a RangeError naming the accessor, before any byte moves', () => {
    const { m, k } = fixture({ memory: { size: '64MiB' } })
    const va = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 256, 'tseT')
    expect(() => m.kernel.memory.readInto(va, new Uint8Array(4), 0, 100)).toThrow(/^memory\.readInto: 100 bytes at offset 0 do not fit the 4-byte buffer/)
    expect(() => m.kernel.memory.writeFrom(va, new Uint8Array(4), 2, 4)).toThrow(/^memory\.writeFrom: 4 bytes at offset 2 do not fit the 4-byte buffer/)
  })
})

describe('kernel fuzz regressions: MDL field macros given no MDL', () => {
  it('MmGetMdlByteCount, MmGetMdlByteOffset, MmGetMdlVirtualAddress and MmGetMdlPfnArray of NULL are the driver\'s TypeError naming the macro', () => {
    const { k } = fixture({ memory: { size: '64MiB' } })
    const macros = ['MmGetMdlByteCount', 'MmGetMdlByteOffset', 'MmGetMdlVirtualAddress', 'MmGetMdlPfnArray'] as const
    for (const name of macros) {
      expect(() => (k[name] as (m: unknown) => unknown)(null)).toThrow(new RegExp(`^${name}: the argument is not an MDL \\(got NULL\\)`))
    }
  })
})

describe('kernel fuzz regressions: bug checks quote what the driver passed', () => {
  it('a page fault on a NULL (not 0) address bug-checks with the parameter quoted, not a TypeError while formatting it', () => {
    const { m } = fixture({ memory: { size: '64MiB' } })
    const b = bugCheckOf(() => m.kernel.memory.read32(null as unknown as number))
    expect(b.kind).toBe('page-fault')
    expect(b.message).toMatch(/null/)
  })
})

describe('kernel fuzz regressions: MmAllocateMappingAddress beyond what can be reserved', () => {
  it('a reservation larger than an MDL can describe (4 GiB) returns NULL, not a RangeError from the address space (or 1 TiB of page tables)', () => {
    const { m, k } = fixture({ memory: { size: '64MiB' } })
    for (const bytes of [2 ** 33, 2 ** 40, 2 ** 44]) expect(k.MmAllocateMappingAddress(bytes, 'tseT')).toBe(0)
    expect(m.findings).toEqual([])
  })

  it('reservations stop at the machine\'s system PTEs (4 GiB of VA): the next one is NULL until one is freed', () => {
    const { k } = fixture({ memory: { size: '64MiB' } })
    const big = k.MmAllocateMappingAddress(2 ** 32 - 4096, 'tseT')
    expect(big).not.toBe(0)
    expect(k.MmAllocateMappingAddress(4096, 'tseT')).not.toBe(0)
    expect(k.MmAllocateMappingAddress(4096, 'tseT')).toBe(0)
    k.MmFreeMappingAddress(big, 'tseT')
    expect(k.MmAllocateMappingAddress(4096, 'tseT')).not.toBe(0)
  })
})

describe('kernel fuzz regressions: MmAllocatePagesForMdl with a range that is not one', () => {
  it('NaN LowAddress, HighAddress or SkipBytes is mdl-misuse and NULL, not a retry loop that runs for minutes', () => {
    const { m, k } = fixture({ memory: { size: '64MiB', policy: 'random' } })
    const started = performance.now()
    expect(k.MmAllocatePagesForMdl(Number.NaN, Number.NaN, Number.NaN, 4096)).toBeNull()
    expect(performance.now() - started).toBeLessThan(1000)
    expect(m.findings.map((f) => f.kind)).toEqual(['mdl-misuse'])
  })

  it('SkipBytes that is not a multiple of PAGE_SIZE is mdl-misuse and NULL, not a window sliding a byte at a time', () => {
    const { m, k } = fixture({ memory: { size: '64MiB' } })
    expect(k.MmAllocatePagesForMdl(0, 0xfff, 1, 0x10_0000)).toBeNull()
    expect(m.findings.map((f) => f.kind)).toEqual(['mdl-misuse'])
  })
})

describe('kernel fuzz regressions: tags that are neither a ULONG nor a string', () => {
  it('ExAllocatePoolWithTag with an undefined or object tag is the driver\'s TypeError naming the routine, not one from inside the tag parser', () => {
    const { k } = fixture({ memory: { size: '64MiB' } })
    for (const tag of [undefined, {}, null]) {
      expect(() => k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, tag as never)).toThrow(/^ExAllocatePoolWithTag: .* is not a pool tag/)
    }
  })
})
