// A C driver's finding carries its C call stack: innermost first, each frame the C function and
// its file:line from the module's DWARF (inlined calls unfolded), out to the handler NDIS called,
// with none of dmalab's frames nor the WebAssembly glue between them. A trap (divide by zero,
// __builtin_trap, running off the kernel stack) has unwound those frames by the time it is
// reported, so its stack comes from the trap itself; the test driver is test/support/c/faults.c.
import { beforeAll, describe, expect, it } from 'vitest'
import { shortStack } from '../../../src/cli/format.js'
import type { CMiniportModule } from '../../../src/driver/c/module.js'
import type { Finding } from '../../../src/kernel/kinds.js'
import { FAULTS_SITE, faultFrame, faultLine, faultsModule, loadFaults } from '../../support/c-faults.js'

let faults: CMiniportModule

beforeAll(async () => {
  faults = await faultsModule()
})

function finding(scenario: string, kind: string, options: { specialPool?: boolean; halt?: boolean } = {}): Finding {
  const m = loadFaults(faults, scenario, options.specialPool ?? false)
  if (options.halt === true) m.halt()
  const f = m.report().findings.find((x) => x.kind === kind)
  expect(f, `${scenario}: a ${kind} finding`).toBeDefined()
  return f!
}

describe('the C call stack of a C driver\'s findings', () => {
  // Bug check 0x7E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED: parameter 1 the exception code.
  it('an integer divide by zero in an inlined function: Divide at the division, then Initialize at the call', () => {
    const f = finding('divide', 'driver-exception')
    expect(f).toMatchObject({ code: 0x7e, params: [0xc000_0094, 0, 0, 0] })
    expect(f.stack).toEqual([faultFrame('Divide', 'divide'), faultFrame('Initialize', 'calls divide')])
    expect(shortStack(f)).toBe(`Divide (${FAULTS_SITE}:${faultLine('divide')}) ← Initialize (${FAULTS_SITE}:${faultLine('calls divide')})`)
  })

  it('__builtin_trap (ud2 on x86: STATUS_ILLEGAL_INSTRUCTION) in a function of its own: Trap, then Initialize', () => {
    const f = finding('trap', 'driver-exception')
    expect(f).toMatchObject({ code: 0x7e, params: [0xc000_001d, 0, 0, 0], site: `${FAULTS_SITE}:${faultLine('trap')}` })
    expect(f.stack).toEqual([faultFrame('Trap', 'trap'), faultFrame('Initialize', 'calls trap')])
    expect(f.message).toMatch(/in Trap\(\)/)
  })

  it('a trap thirteen C calls deep: every frame out to Initialize (more than the 10 V8 records by default)', () => {
    const f = finding('deep', 'driver-exception')
    expect(f).toMatchObject({ code: 0x7e, params: [0xc000_0094, 0, 0, 0] })
    expect(f.stack).toEqual([faultFrame('Deep', 'deep'), ...Array.from({ length: 12 }, () => faultFrame('Deep', 'deeper')), faultFrame('Initialize', 'calls deep')])
    expect(shortStack(f)).toBe(`Deep (${FAULTS_SITE}:${faultLine('deep')}) ← Deep (${FAULTS_SITE}:${faultLine('deeper')}) ×12 ← Initialize (${FAULTS_SITE}:${faultLine('calls deep')})`)
  })

  it('a kernel stack overflow (0x7F, parameter 1 = 8): the recursion\'s frames, from the store into the guard page out to Initialize', () => {
    // UNEXPECTED_KERNEL_MODE_TRAP: "8 = double fault", "a kernel stack overflow is a common cause".
    const f = finding('stack', 'driver-exception')
    expect(f).toMatchObject({ code: 0x7f, params: [8, 0, 0, 0] })
    const stack = f.stack ?? []
    // The recursion is deeper than a finding's first capture (64 frames) holds: the stack still
    // reaches the handler NDIS called, with nothing of dmalab's and no frame without a C line.
    expect(stack.length).toBeGreaterThan(64)
    expect(stack[0]).toEqual(faultFrame('Recurse', 'stack'))
    expect(stack.slice(1, -1).every((x) => x.function === 'Recurse' && x.file === FAULTS_SITE && x.line === faultLine('recurse'))).toBe(true)
    expect(stack.at(-1)).toEqual(faultFrame('Initialize', 'calls stack'))
    // The text report folds the recursion into one entry with its count.
    expect(shortStack(f)).toBe(`Recurse (${FAULTS_SITE}:${faultLine('stack')}) ← Recurse (${FAULTS_SITE}:${faultLine('recurse')}) ×${stack.length - 2} ← Initialize (${FAULTS_SITE}:${faultLine('calls stack')})`)
  })

  it('a write after ExFreePoolWithTag under special pool: the frame of Initialize, the handler NDIS called, alone', () => {
    const f = finding('use-after-free', 'page-fault', { specialPool: true })
    expect(f.stack).toEqual([faultFrame('Initialize', 'use-after-free')])
  })

  it('paged pool at DISPATCH_LEVEL (irql-violation): AllocateAtDispatch at the call, then Initialize', () => {
    // IrqlExAllocatePool rule (WDM DDI compliance rules): "A caller executing at DISPATCH_LEVEL
    // must specify a NonPagedXxx value for PoolType"; Bug Check 0xC4.
    const f = finding('irql', 'irql-violation')
    expect(f.code).toBe(0xc4)
    expect(f.stack).toEqual([faultFrame('AllocateAtDispatch', 'irql'), faultFrame('Initialize', 'calls irql')])
  })

  it('a pool block never freed, reported at unload: the stack of the call that allocated it', () => {
    const f = finding('leak', 'pool-leak', { halt: true })
    expect(f.site).toBe(`${FAULTS_SITE}:${faultLine('leak')}`)
    expect(f.stack).toEqual([faultFrame('Leak', 'leak'), faultFrame('Initialize', 'calls leak')])
  })

  it('a common buffer leaked at PutDmaAdapter: the stack of the AllocateCommonBuffer call through DMA_OPERATIONS', () => {
    const f = finding('dma-leak', 'common-buffer-leak')
    expect(f.stack).toEqual([faultFrame('Dma', 'dma-leak'), faultFrame('Initialize', 'calls dma-leak')])
  })
})
