// Each examples/c/buggy miniport (the C e1000 with one entry of its memory table wrong), in the
// configuration that shows its mistake: caught at the C line marked BUG, named by file:line, with
// what its header comment says, and with the C call stack (innermost first, file:line and the C
// function of each frame, nothing of dmalab's or of the WebAssembly glue) in the report --json
// prints and, shortened, in the text report. One build per example (the disk cache keeps it
// across runs).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadMiniport } from '../../src/scenario.js'
import { formatFinding, formatSweep, shortStack } from '../../src/cli/format.js'
import type { Finding } from '../../src/kernel/kinds.js'
import type { SweepFinding } from '../../src/faults/sweep.js'
import { sweep } from '../../src/sweep.js'
import { runExample } from './run.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const X86 = { arch: 'x86' } as const

/** `examples/c/buggy/<name>/<name>.c:<line>` of the line holding `text` (default: the BUG comment). */
function site(name: string, text = '/* BUG'): string {
  const file = `examples/c/buggy/${name}/${name}.c`
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n')
  const i = lines.findIndex((l) => l.includes(text))
  expect(i, `${file} has a line with ${text}`).toBeGreaterThanOrEqual(0)
  return `${file}:${i + 1}`
}

/** The frame of C function `fn` at the line of `file` (under examples/c) holding `text`. */
function frame(fn: string, file: string, text: string): { file: string; line: number; function: string } {
  const at = file.startsWith('buggy/') ? site(path.basename(file, '.c'), text) : line(`examples/c/${file}`, text)
  const colon = at.lastIndexOf(':')
  return { file: at.slice(0, colon), line: Number(at.slice(colon + 1)), function: fn }
}

function line(file: string, text: string): string {
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n')
  const i = lines.findIndex((l) => l.includes(text))
  expect(i, `${file} has a line with ${text}`).toBeGreaterThanOrEqual(0)
  expect(lines.findIndex((l, j) => j > i && l.includes(text)), `${file} has one line with ${text}`).toBe(-1)
  return `${file}:${i + 1}`
}

/**
 * The finding's stack is exactly `frames` (the handler NDIS called is the last), in the report
 * and in the text report's short form (four frames at most).
 */
function expectStack(f: Finding | SweepFinding, frames: ReadonlyArray<{ file: string; line: number; function: string }>): void {
  expect(f.stack).toEqual(frames)
  const short = frames.slice(0, 4).map((x) => `${x.function} (${x.file}:${x.line})`).join(' ← ') + (frames.length > 4 ? ` ← … ${frames.length - 4} more` : '')
  expect(shortStack(f)).toBe(short)
  // A run's finding as the text report prints it (a sweep's, formatSweep, in the test below).
  // Colour codes, if the test runs on a terminal, are not part of what this checks.
  if ('severity' in f) expect(formatFinding(f, 0).map(plain)).toContain(`     stack: ${short}`)
}

function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '')
}

describe('c/buggy/use-after-free', () => {
  // ExFreePoolWithTag: "The caller must not access the memory after it is freed". Bug check 0x50
  // PAGE_FAULT_IN_NONPAGED_AREA: "invalid system memory has been referenced". The tables are
  // larger than a page, so their pages go back with the free (and special pool, which takes only
  // blocks smaller than a page, does not change that).
  it('the clear after the free is a page fault 0x50 at its C line, naming the freed block and where it was allocated and freed', async () => {
    const { report } = await runExample('c/buggy/use-after-free', { config: X86, send: 10 })
    expect(report.traffic.rxFrames).toBe(10)
    expect(report.outcome).toBe('bugcheck')
    const f = report.findings.find((x) => x.kind === 'page-fault')!
    expect(f).toMatchObject({ code: 0x50, site: site('use-after-free') })
    expect(f.message).toContain(`freed nonpaged pool block 'E1kT' (6144 bytes), allocated at ${site('use-after-free', 'ExAllocatePoolWithTag(')}, freed at ${site('use-after-free', 'ExFreePoolWithTag(Table')}`)
  })

  it('the page fault carries the C call stack from the faulting line out to MiniportHaltEx', async () => {
    const { report } = await runExample('c/buggy/use-after-free', { config: X86, send: 2 })
    expectStack(report.findings.find((x) => x.kind === 'page-fault')!, [
      frame('FreeTableThenClear', 'buggy/use-after-free.c', '/* BUG'),
      frame('ReleaseRings', 'e1000/halt.c', 'mem->FreeTable(Adapter, Adapter->RxTable'),
      frame('E1000Release', 'e1000/halt.c', '    ReleaseRings(Adapter);'),
      frame('E1000HaltEx', 'e1000/halt.c', '    E1000Release(adapter);'),
    ])
  })
})

describe('c/buggy/overrun', () => {
  // Bug check 0xD6 DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION: "the driver accessed memory beyond
  // the end of its pool allocation" (special pool places the block at the end of its page).
  it('under special pool the write one byte past the block is pool-overrun 0xD6 at the loop\'s line, in MiniportInitializeEx', async () => {
    const { report, loaded } = await runExample('c/buggy/overrun', { config: { ...X86, verifier: { specialPool: true } } })
    expect(loaded.state).not.toBe('running')
    expect(report.outcome).toBe('bugcheck')
    const f = report.findings.find((x) => x.kind === 'pool-overrun')!
    expect(f).toMatchObject({ code: 0xd6, site: site('overrun') })
    expect(f.params?.[1]).toBe(1) // a write
    expect(f.message).toMatch(/write of 1 bytes? at .*special pool block 'E1kS' \(48 bytes\)/)
    expectStack(f, [
      frame('AllocateStatisticsOffByOne', 'buggy/overrun.c', '/* BUG'),
      frame('SetUp', 'e1000/init.c', 'Adapter->Stats = Adapter->Memory->AllocateStatistics('),
      frame('E1000InitializeEx', 'e1000/init.c', 'status = SetUp(adapter, MiniportInitParameters);'),
    ])
  })

  it('without special pool nothing notices at once (why Driver Verifier has special pool)', async () => {
    const { report } = await runExample('c/buggy/overrun', { config: X86, send: 10 })
    expect(report.findings.filter((x) => x.kind === 'pool-overrun')).toEqual([])
    expect(report.traffic.rxFrames).toBe(10)
  })
})

describe('c/buggy/pool-dma-above-4g', () => {
  it('IOMMU off, high-first: every send is dma-address-truncated, naming the pool block and its C allocation line; no frame arrives', async () => {
    const { report, kinds } = await runExample('c/buggy/pool-dma-above-4g', { config: { ...X86, iommu: false, memory: { policy: 'high-first' } }, send: 20 })
    const truncated = report.findings.filter((f) => f.kind === 'dma-address-truncated')
    expect(truncated).toHaveLength(20)
    expect(truncated.every((f) => f.site === site('pool-dma-above-4g', 'ExAllocatePoolWithTag('))).toBe(true)
    expect(truncated[0]!.message).toMatch(/beyond its 32-bit DMA reach.*the CPU physical address of nonpaged pool block 'E1kC'/)
    // The stack of the call that allocated the block the device was handed (the finding's site).
    expectStack(truncated[0]!, [
      frame('MapTransmitFromPool', 'buggy/pool-dma-above-4g.c', 'ExAllocatePoolWithTag('),
      frame('E1000DrainQueue', 'e1000/send.c', 'status = Adapter->Memory->MapTransmit(Adapter, nb);'),
      frame('E1000SendNetBufferLists', 'e1000/send.c', 'completions = E1000DrainQueue(adapter);'),
    ])
    expect([...kinds].every((k) => k === 'dma-address-truncated' || k === 'dma-outside-buffer' || k === 'frames-lost')).toBe(true)
    expect(report.traffic.rxFrames).toBe(0)
  })

  it('IOMMU off, low-first: the copies happen to be reachable, frames arrive, and dma-not-dma-memory says why it is still wrong', async () => {
    const { report, kinds } = await runExample('c/buggy/pool-dma-above-4g', { config: { ...X86, iommu: false, memory: { policy: 'low-first' } }, send: 20 })
    expect([...kinds]).toEqual(['dma-not-dma-memory'])
    expect(report.traffic.rxFrames).toBe(20)
  })

  it('IOMMU on: the raw physical address is no I/O virtual address the HAL mapped (iommu-fault)', async () => {
    const { kinds } = await runExample('c/buggy/pool-dma-above-4g', { config: { ...X86, iommu: true, memory: { policy: 'low-first' } }, send: 20 })
    expect(kinds.has('iommu-fault')).toBe(true)
  })
})

describe('c/buggy/unchecked-allocation', () => {
  it('clean without faults; a sweep finds the one failed allocation it does not check: page-fault 0x50 at the NdisZeroMemory of NULL', async () => {
    const clean = await runExample('c/buggy/unchecked-allocation', { config: X86, send: 10 })
    expect(clean.report.outcome).toBe('clean')
    // NdisAllocateMemoryWithTagPriority "returns NULL if the allocation fails"; stack mode fails
    // each distinct C call stack once, so the statistics block's allocation is among them.
    const r = await sweep(await loadMiniport('c/buggy/unchecked-allocation'), { config: X86, scenario: { packets: 5, size: 600, rx: 0 }, jobs: 1, mode: 'stack' })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled')
    expect(notHandled).toHaveLength(1)
    expect(notHandled[0]).toMatchObject({ routine: 'NdisAllocateMemoryWithTagPriority', site: site('unchecked-allocation', 'NdisAllocateMemoryWithTagPriority('), outcome: 'bugcheck' })
    expect(notHandled[0]!.findings[0]).toMatchObject({ kind: 'page-fault', site: site('unchecked-allocation') })
    expect(notHandled[0]!.findings[0]!.message).toMatch(/NULL pointer dereference/)
    // The sweep's run reports (from worker threads) carry the stack as a run's report does.
    expectStack(notHandled[0]!.findings[0]!, [
      frame('AllocateStatisticsUnchecked', 'buggy/unchecked-allocation.c', '/* BUG'),
      frame('SetUp', 'e1000/init.c', 'Adapter->Stats = Adapter->Memory->AllocateStatistics('),
      frame('E1000InitializeEx', 'e1000/init.c', 'status = SetUp(adapter, MiniportInitParameters);'),
    ])
    expect(plain(formatSweep({ ...r, miniport: 'c/buggy/unchecked-allocation' })).split('\n')).toContain(`           stack: ${shortStack(notHandled[0]!.findings[0]!)}`)
  })
})
