// One IRQL precondition helper (src/kernel/irql-checks.ts) for the kernel, HAL DMA and NDIS
// routines: one message format, and each bug check's parameter layout as its reference page
// gives it (0xC4: parameter 2 is the current IRQL; 0xE6/0x13: 0x01 or 0x02, the expected
// IRQL, the current IRQL).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { irqlMessage, requireDmaIrql, requireIrql, requireIrqlExactly } from '../../src/kernel/irql-checks.js'
import { fixture } from './kernel-fixture.js'

describe('IRQL preconditions', () => {
  it('word every violation alike', () => {
    expect(irqlMessage('GetScatterGatherList', 5, 2, false)).toBe('GetScatterGatherList at DIRQL(5): it must be called at DISPATCH_LEVEL or below')
    expect(irqlMessage('IoGetDmaAdapter', 2, 0, false)).toBe('IoGetDmaAdapter at DISPATCH_LEVEL: it must be called at PASSIVE_LEVEL')
    expect(irqlMessage('NdisDprAcquireSpinLock', 0, 2, true)).toBe('NdisDprAcquireSpinLock at PASSIVE_LEVEL: it must be called at DISPATCH_LEVEL')
  })

  it('lay parameters out as the bug check pages do, and let a legal call pass silently', () => {
    const { m } = fixture()
    const k = m.kernel
    expect(requireIrql(k, 'A', 2)).toBe(false)
    k.irql = 5
    expect(requireIrql(k, 'A', 2)).toBe(true)
    expect(requireIrql(k, 'B', 2, 0x02, 512, 64)).toBe(true)
    expect(requireDmaIrql(k, 'C', 2)).toBe(true)
    expect(requireIrqlExactly(k, 'D', 2, 0x40)).toBe(true)
    k.irql = 0
    expect(m.findings.map((f) => [f.kind, f.code, f.params])).toEqual([
      ['irql-violation', 0xc4, [0xe5, 5, 0, 0]],
      ['irql-violation', 0xc4, [0x02, 5, 512, 64]],
      ['irql-violation', 0xe6, [0x13, 0x02, 2, 5]],
      ['irql-violation', 0xc4, [0x40, 5, 0, 0]],
    ])
  })

  it('is the only place a routine\'s IRQL precondition is reported (a handler\'s return IRQL, KeRaise/LowerIrql\'s argument and pageable memory at DISPATCH_LEVEL are other rules)', () => {
    const root = new URL('../../src/', import.meta.url).pathname
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
    const reporting = files(root).filter((f) => f.endsWith('.ts') && /kind: 'irql-violation'|violation\('irql-violation'/.test(readFileSync(f, 'utf8'))).map((f) => f.slice(root.length)).sort()
    expect(reporting).toEqual(['kernel/driver-call.ts', 'kernel/driver-memory.ts', 'kernel/irql-checks.ts', 'kernel/kernel.ts'])
  })
})
