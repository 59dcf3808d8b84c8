import { describe, expect, it } from 'vitest'
import { BugCheck, createMachine } from '../../src/index.js'
import { PTE } from '../../src/kernel/address-space.js'
import type { Machine } from '../../src/machine.js'

/** Maps `pages` fresh frames at a new VA, as the Mm routines will. */
function mapPages(m: Machine, pages: number, flags: number = PTE.WRITE, guardAfter = 0): number {
  const k = m.kernel
  const va = k.space.reserve(pages, 0, guardAfter)
  const owner = k.frames.newOwner('pool', 'test pages', true)
  for (let i = 0; i < pages; i++) k.space.map(va + i * 4096, k.frames.allocate(owner) * 4096, flags)
  return va
}

function faultOf(m: Machine, access: () => unknown): BugCheck {
  let caught: unknown
  try {
    access()
  } catch (e) {
    caught = e
  }
  expect(caught).toBeInstanceOf(BugCheck)
  return caught as BugCheck
}

describe('driver memory access through the kernel page tables', () => {
  it('translates every width and bulk access, across pages that are not physically adjacent', () => {
    const m = createMachine()
    const mem = m.kernel.memory
    const va = mapPages(m, 3)
    const pa0 = m.kernel.space.translate(va)
    const pa1 = m.kernel.space.translate(va + 4096)
    expect(pa1).not.toBe(pa0 + 4096) // high-first hands out descending frames
    mem.write64(va + 4092, 0x000a_0b0c_0d0e_0f10)
    expect(mem.read64(va + 4092)).toBe(0x000a_0b0c_0d0e_0f10)
    expect(m.cpu.read32(pa0 + 4092)).toBe(0x0d0e_0f10)
    expect(m.cpu.read32(pa1)).toBe(0x000a_0b0c)
    const bytes = Uint8Array.from({ length: 9000 }, (_, i) => (i * 7) & 0xff)
    mem.writeBytes(va + 100, bytes)
    expect(mem.readBytes(va + 100, 9000)).toEqual(bytes)
    mem.fill(va, 12288, 0xab)
    expect(mem.read32(va + 8000)).toBe(0xabab_abab)
    mem.write32(va, 0x11223344)
    mem.copy(va + 2, va, 8)
    expect(mem.read16(va + 2)).toBe(0x3344)
  })

  it('NULL: bug check 0x50 with the address and read/write in the parameters', () => {
    const m = createMachine()
    const b = faultOf(m, () => m.kernel.memory.read32(8))
    expect(b.code).toBe(0x50)
    expect(b.name).toBe('PAGE_FAULT_IN_NONPAGED_AREA')
    // Bug check 0x50 reference: p4 0x2, no valid PTE for the address.
    expect(b.params).toEqual([8, 0, 0, 2])
    const f = m.findings.at(-1)!
    expect(f).toMatchObject({ kind: 'page-fault', severity: 'fatal', code: 0x50 })
    expect(f.message).toMatch(/NULL pointer dereference/)
    expect(f.site).toMatch(/^test\/kernel\/driver-memory\.test\.ts:\d+$/)
  })

  // Bug check 0x50 reference: on x64 Windows 10 (1507) and later parameter 2 is 0 for a read,
  // 2 for a write (10 to execute); parameter 4 is 0x2 when no valid PTE maps the address.
  it('unmapped kernel VA: 0x50 on a write, with p2 = 2 as x64 Windows 10 encodes it, p4 = 0x2', () => {
    const m = createMachine()
    const va = mapPages(m, 1)
    const b = faultOf(m, () => m.kernel.memory.write8(va + 10 * 4096, 1))
    expect(b.params).toEqual([va + 10 * 4096, 2, 0, 2])
    expect(m.findings.at(-1)!.message).toMatch(/never mapped/)
  })

  it('freed memory: the fault says it was freed and what it was', () => {
    const m = createMachine()
    const va = mapPages(m, 2)
    m.kernel.memory.write32(va, 1)
    m.kernel.space.unmap(va, 2, PTE.FREED, { what: "pool block 'Test' (8192 bytes)", site: 'examples/x.ts:1', freedAt: 'examples/x.ts:9' })
    const b = faultOf(m, () => m.kernel.memory.read32(va + 4096 + 16))
    expect(b.code).toBe(0x50)
    // 0x50 reference, parameter 4 0x0: NONPAGED_BUGCHECK_FREED_PTE, the PTE is marked free.
    expect(b.params).toEqual([va + 4096 + 16, 0, 0, 0])
    expect(m.findings.at(-1)!.message).toMatch(/freed memory \(pool block 'Test' \(8192 bytes\), allocated at examples\/x\.ts:1, freed at examples\/x\.ts:9\)/)
  })

  it('guard page after an allocation: running off the end faults, even by one byte of a wide access', () => {
    const m = createMachine()
    const va = mapPages(m, 1, PTE.WRITE, 1)
    m.kernel.memory.write32(va + 4092, 7)
    const b = faultOf(m, () => m.kernel.memory.write32(va + 4094, 7))
    expect(b.code).toBe(0x50)
    expect(b.params[0]).toBe(va + 4096)
    expect(m.findings.at(-1)!.details).toMatchObject({ state: 'guard', access: 'write' })
  })

  it('at DISPATCH_LEVEL a fault is 0xD1 with the IRQL and read/write in the parameters', () => {
    const m = createMachine()
    m.kernel.irql = 2
    const b = faultOf(m, () => m.kernel.memory.write16(0, 1))
    expect(b.code).toBe(0xd1)
    expect(b.name).toBe('DRIVER_IRQL_NOT_LESS_OR_EQUAL')
    expect(b.params).toEqual([0, 2, 1, 0])
  })

  it('a reserved-but-unmapped VA faults until something is mapped there', () => {
    const m = createMachine()
    const va = m.kernel.space.reserve(2)
    m.kernel.space.unmap(va, 2, PTE.RESERVED, { what: 'mapping address reserved with tag Test' })
    faultOf(m, () => m.kernel.memory.read8(va))
    expect(m.findings.at(-1)!.message).toMatch(/reserved but not mapped/)
  })

  it('pageable memory touched at DISPATCH_LEVEL is an IRQL violation (log mode goes on, crash mode stops)', () => {
    for (const mode of ['log', 'crash'] as const) {
      const m = createMachine({ verifier: { mode } })
      const va = mapPages(m, 1, PTE.WRITE | PTE.PAGED)
      m.kernel.memory.write32(va, 5) // PASSIVE_LEVEL: fine
      m.kernel.irql = 2
      if (mode === 'log') {
        expect(m.kernel.memory.read32(va)).toBe(5)
        expect(m.findings.at(-1)).toMatchObject({ kind: 'irql-violation', code: 0xd1, severity: 'violation' })
        expect(m.kernel.log.stopped).toBe(false)
      } else {
        const b = faultOf(m, () => m.kernel.memory.read32(va))
        expect(b.kind).toBe('irql-violation')
        expect(b.params).toEqual([va, 2, 0, 0])
      }
    }
  })

  it('once the machine has stopped, every further access is refused', () => {
    const m = createMachine()
    const va = mapPages(m, 1)
    m.kernel.memory.write32(va, 1)
    faultOf(m, () => m.kernel.memory.read8(0))
    faultOf(m, () => m.kernel.memory.readBytes(va, 4))
    faultOf(m, () => m.kernel.memory.read32(va))
    faultOf(m, () => m.kernel.memory.write32(va, 2))
  })
})
