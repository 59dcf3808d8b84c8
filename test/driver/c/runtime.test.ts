// C miniports on the x86 machine: loaded from source, their data, stack and every pointer in
// kernel memory, so what goes wrong in C is caught as it is in a TypeScript driver, and named at
// the C line. One build of test/support/c/faults.c serves every case (the driver picks what it
// does wrong from its name); examples/c/minimal is the clean reference.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadMiniport } from '../../../src/scenario.js'
import { sweep } from '../../../src/sweep.js'
import type { CMiniportModule } from '../../../src/driver/c/module.js'
import { DRIVER_IMAGE_BASE } from '../../../src/kernel/arch.js'
import { createMachine } from '../../../src/index.js'
import { faultLine, faultsModule, loadFaults as load } from '../../support/c-faults.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))

let faults: CMiniportModule

beforeAll(async () => {
  faults = await faultsModule()
})

function loadFaults(scenario: string, specialPool = false): ReturnType<typeof createMachine> {
  return load(faults, scenario, specialPool)
}

describe('a C miniport on the x86 machine', () => {
  it('examples/c/minimal initializes, answers NDIS\'s OIDs, programs the NIC from its EEPROM and halts clean', async () => {
    const m = createMachine({ arch: 'x86' })
    const loaded = await m.load('c/minimal')
    expect(loaded.state).toBe('running')
    // The C driver read the MAC from EEPROM words 0-2 and wrote it to RAL0/RAH0 with AV set
    // (8254x manual 13.4.62/13.4.63), through the register window it mapped.
    expect(m.cpu.read32(m.nic.bar0 + 0x5400)).toBe(0x1200_5452)
    expect(m.cpu.read32(m.nic.bar0 + 0x5404) >>> 0).toBe(0x8000_5634)
    // Its globals are in kernel memory at the driver-image base.
    expect(m.kernel.space.stateOf(DRIVER_IMAGE_BASE)).toBe('mapped')
    m.halt()
    const report = m.report()
    expect(report.outcome).toBe('clean')
    expect(report.pool.byTag).toEqual({ CMin: { allocs: 1, frees: 1, bytesOutstanding: 0 } })
  })

  it('refuses the 64-bit machine, whose pointers a C driver cannot hold', () => {
    const m = createMachine()
    expect(() => m.load(faults, 'clean')).toThrow(/32-bit machine/)
  })

  it('under special pool, a write to a block after ExFreePoolWithTag faults at the C line', () => {
    // Special pool unmaps a freed block's page, so the late write faults at once (Driver
    // Verifier, "Special Pool"). Windows raises 0xD5 DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL for
    // it; the kernel's page-fault path reports 0x50 until it tells freed special pool apart.
    const m = loadFaults('use-after-free', true)
    const f = m.findings.find((x) => x.kind === 'page-fault')!
    expect(f.site).toBe(`test/support/c/faults.c:${faultLine('use-after-free')}`)
    expect([0x50, 0xd5]).toContain(f.code)
    expect(f.message).toMatch(/freed/)
  })

  it('a NULL dereference is a page fault at the C line', () => {
    const m = loadFaults('null')
    expect(m.findings.find((x) => x.kind === 'page-fault')).toMatchObject({ code: 0x50, site: `test/support/c/faults.c:${faultLine('null')}` })
  })

  it('an integer divide by zero is driver-exception 0x7E with STATUS_INTEGER_DIVIDE_BY_ZERO, at the line in the inlined function', () => {
    const m = loadFaults('divide')
    const f = m.findings.find((x) => x.kind === 'driver-exception')!
    expect(f).toMatchObject({ code: 0x7e, site: `test/support/c/faults.c:${faultLine('divide')}` })
    expect(f.params?.[0]).toBe(0xc000_0094)
    expect(f.message).toMatch(/MiniportInitializeEx: integer divide by zero in Divide\(\): exception STATUS_INTEGER_DIVIDE_BY_ZERO/)
  })

  it('__builtin_trap is driver-exception 0x7E with STATUS_ILLEGAL_INSTRUCTION', () => {
    const m = loadFaults('trap')
    expect(m.findings.find((x) => x.kind === 'driver-exception')).toMatchObject({ code: 0x7e, params: [0xc000_001d, 0, 0, 0], site: `test/support/c/faults.c:${faultLine('trap')}` })
  })

  it('running off the 12 KiB kernel stack is the double fault Windows raises (0x7F, parameter 1 = 8)', () => {
    // UNEXPECTED_KERNEL_MODE_TRAP: "8 = double fault"; x86 KERNEL_STACK_SIZE is 12 KiB.
    const m = loadFaults('stack')
    const f = m.findings.find((x) => x.kind === 'driver-exception')!
    expect(f).toMatchObject({ code: 0x7f, params: [8, 0, 0, 0], site: `test/support/c/faults.c:${faultLine('stack')}` })
    expect(f.message).toMatch(/kernel stack overflow/)
  })

  it('calls the HAL through DMA_OPERATIONS function pointers: a common buffer below 4 GiB for a 32-bit device, freed clean', () => {
    const m = loadFaults('dma', true)
    expect(m.loaded().state).toBe('running')
    m.halt()
    const report = m.report()
    expect(report.outcome).toBe('clean')
    expect(report.dma.commonBuffers).toHaveLength(1)
  })

  it('a common buffer still allocated at PutDmaAdapter is reported, named at the C line that allocated it through the pointer', () => {
    // Driver Verifier's DMA checks: 0xE6 parameter 1 = 0x07, the adapter released with common
    // buffers outstanding; like every leak, the finding names where the buffer was allocated.
    const m = loadFaults('dma-leak')
    const f = m.findings.find((x) => x.kind === 'common-buffer-leak')!
    expect(f).toMatchObject({ code: 0xe6, site: `test/support/c/faults.c:${faultLine('dma-leak')}` })
    expect(f.params?.[0]).toBe(0x07)
  })

  it('the clean scenario of the same build runs clean: the faults above are the driver\'s, not the runtime\'s', () => {
    const m = loadFaults('clean')
    m.halt()
    expect(m.report().outcome).toBe('clean')
  })

  it('a sweep fails its allocation at the C call site, in worker threads too, and every run is handled', async () => {
    const minimal = await loadMiniport('c/minimal')
    const source = readFileSync(path.join(root, 'examples/c/minimal/minimal.c'), 'utf8').split('\n')
    const line = (text: string): number => source.findIndex((l) => l.includes(text)) + 1
    // Both allocating calls fail in turn: the adapter's memory, and the register window
    // (NdisMMapIoSpace, which Driver Verifier's low resources simulation fails too).
    for (const mode of ['call', 'stack'] as const) {
      const r = await sweep(minimal, { config: {}, scenario: { packets: 0, size: 60, rx: 0 }, jobs: 2, mode })
      expect(r.baseline).toBe('clean')
      expect(r.runs).toHaveLength(2)
      expect(r.runs[0]).toMatchObject({ routine: 'NdisAllocateMemoryWithTagPriority', site: `examples/c/minimal/minimal.c:${line('adapter = NdisAllocateMemoryWithTagPriority(')}`, outcome: 'handled' })
      expect(r.runs[1]).toMatchObject({ routine: 'NdisMMapIoSpace', site: `examples/c/minimal/minimal.c:${line('status = NdisMMapIoSpace(')}`, outcome: 'handled' })
    }
  })
})
