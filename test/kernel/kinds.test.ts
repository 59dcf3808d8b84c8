// The table of finding kinds (src/kernel/kinds.ts): every code it gives is either one a
// Microsoft bug check reference page documents for that bug check, or in dmalab's own range,
// which no page documents; the README lists the table as it is.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BUGCHECK } from '../../src/kernel/bugcheck.js'
import { kindsMarkdown } from '../../src/kernel/kinds-doc.js'
import { DMALAB_P1, DMALAB_P1_RANGE, FINDING_KINDS, isDmalabP1, type KindBugCheck, type KindInfo } from '../../src/kernel/kinds.js'
import type { DeviceFindingKind } from '../../src/hw/finding.js'

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Parameter 1 values bug check 0xC4's reference page (DRIVER_VERIFIER_DETECTED_VIOLATION) documents. */
const C4_DOCUMENTED = new Set([
  0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, ...range(0x30, 0x42), 0x51, 0x52, 0x53, 0x54, 0x59, 0x60, 0x61, 0x62,
  ...range(0x6f, 0x83), 0x85, 0x89, 0x91, 0xa0, 0xa1, 0xa2, ...range(0xb0, 0xb9), 0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xca, 0xcb, 0xcc, 0xcd,
  0xd0, 0xd1, 0xd2, 0xd5, 0xd6, 0xd7, 0xda, 0xdb, 0xdc, 0xdd, 0xdf, ...range(0xe0, 0xe6), 0xea, 0xeb, 0xf0, 0xf5, 0xf6, 0xf7, 0xfa, 0xfb, 0xfc,
  0x105, 0x10a, 0x10b, 0x110, 0x111, 0x115, 0x11a, 0x11b, 0x120, 0x121, 0x122, 0x123, 0x130, 0x131, 0x135, ...range(0x13a, 0x141),
  ...range(0x1000, 0x1005), ...range(0x1007, 0x100b), ...range(0x1010, 0x1013), ...range(0x2000, 0x2005), ...range(0xa001, 0xa00e),
])
/** The highest parameter 1 the 0xC4 page documents (its DDI compliance and NDIS/WiFi rule IDs). */
const C4_HIGHEST_DOCUMENTED = 0x0009_400c
/** Bug check 0xE6 DRIVER_VERIFIER_DMA_VIOLATION reference: 0x00–0x11, 0x13–0x16, 0x18, 0x19, 0x1B, 0x1D–0x26. */
const E6_DOCUMENTED = new Set([...range(0x00, 0x11), ...range(0x13, 0x16), 0x18, 0x19, 0x1b, ...range(0x1d, 0x26)])
/** Bug check 0x7C BUGCODE_NDIS_DRIVER reference: 0x01–0x17, 0x1B–0x25. */
const NDIS_DOCUMENTED = new Set([...range(0x01, 0x17), ...range(0x1b, 0x25)])
/** SYSTEM_PTE_MISUSE (0xDA) reference. */
const DA_DOCUMENTED = new Set([...range(0x01, 0x11), ...range(0x100, 0x105), ...range(0x107, 0x10c), 0x200, 0x201, 0x202, ...range(0x300, 0x306), 0x400])
/** BAD_POOL_CALLER (0xC2) reference. */
const C2_DOCUMENTED = new Set([0x00, 0x01, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x40, 0x41, 0x42, 0x43, 0x44, 0x46, 0x47, 0x48, 0x50, 0x60, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x41286])

const DOCUMENTED = new Map<number, Set<number>>([
  [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, C4_DOCUMENTED],
  [BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION, E6_DOCUMENTED],
  [BUGCHECK.BUGCODE_NDIS_DRIVER, NDIS_DOCUMENTED],
  [BUGCHECK.SYSTEM_PTE_MISUSE, DA_DOCUMENTED],
  [BUGCHECK.BAD_POOL_CALLER, C2_DOCUMENTED],
])

const rows = Object.entries(FINDING_KINDS) as Array<[string, KindInfo]>

describe('the table of finding kinds', () => {
  it('dmalab\'s own range is documented by no bug check page: above every documented 0xC4, 0xE6 and 0x7C parameter 1', () => {
    expect(DMALAB_P1_RANGE[0]).toBeGreaterThan(C4_HIGHEST_DOCUMENTED)
    for (const set of DOCUMENTED.values()) for (const p1 of set) expect(isDmalabP1(p1)).toBe(false)
    for (const p1 of Object.values(DMALAB_P1)) expect(isDmalabP1(p1)).toBe(true)
    expect(new Set(Object.values(DMALAB_P1)).size).toBe(Object.values(DMALAB_P1).length)
  })

  it('every sub-code is documented for its bug check, or in dmalab\'s own range', () => {
    const invented: string[] = []
    for (const [kind, info] of rows) {
      for (const b of info.bugchecks as readonly KindBugCheck[]) {
        if (b.p1 === null || isDmalabP1(b.p1)) continue
        const documented = DOCUMENTED.get(b.code)
        if (documented !== undefined && !documented.has(b.p1)) invented.push(`${kind}: 0x${b.code.toString(16)}/0x${b.p1.toString(16)}`)
      }
    }
    expect(invented).toEqual([])
  })

  it('each own-range parameter 1 belongs to one kind, so it names the rule', () => {
    const owner = new Map<number, string>()
    for (const [kind, info] of rows) {
      for (const b of info.bugchecks as readonly KindBugCheck[]) {
        if (b.p1 === null || !isDmalabP1(b.p1)) continue
        expect(owner.get(b.p1) ?? kind, `0x${b.p1.toString(16)}`).toBe(kind)
        owner.set(b.p1, kind)
      }
    }
  })

  it('covers every kind the hardware reports, and leaks are a column, not a naming convention', () => {
    const device: Record<DeviceFindingKind, true> = { 'iommu-fault': true, 'bus-master-disabled': true, 'dma-address-truncated': true, 'device-error': true }
    for (const kind of Object.keys(device)) expect(FINDING_KINDS).toHaveProperty([kind])
    expect(FINDING_KINDS['interrupt-not-deregistered'].leak).toBe(true)
    expect(FINDING_KINDS['lookaside-leak'].leak).toBe(true)
    for (const [kind] of rows) expect(kind).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/)
  })

  it('reserves the kinds the second round\'s contract names, so other layers only use them', () => {
    for (const kind of ['frames-lost', 'packet-filter-ignored', 'bad-return-value', 'async-driver-code', 'hang']) expect(FINDING_KINDS).toHaveProperty([kind])
    // Bug check 0x133 DPC_WATCHDOG_VIOLATION reference: a hang spinning at DISPATCH_LEVEL or above.
    expect(FINDING_KINDS.hang.bugchecks.map((b) => b.code)).toContain(0x133)
  })

  it('the README lists the table as it is', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const section = readme.split('<!-- finding-kinds:begin -->\n')[1]?.split('\n<!-- finding-kinds:end -->')[0]
    expect(section).toBe(kindsMarkdown())
  })
})
