import { describe, expect, it } from 'vitest'
import { FaultInjector, type AllocationCall } from '../../src/faults/injector.js'
import { parseFaultSpecs } from '../../src/faults/spec.js'

function call(routine: string, extra: Partial<AllocationCall> = {}): AllocationCall {
  return { routine, tag: 'Test', size: 64, phase: 'runtime', site: 'examples/x.ts:10', timeNs: 0, ...extra }
}

function decisions(specs: string[], calls: AllocationCall[], seed = 1): string[] {
  const inj = new FaultInjector(parseFaultSpecs(specs), seed)
  return calls.map((c) => inj.decide(c))
}

const pool = (n: number, extra: Partial<AllocationCall> = {}) => Array.from({ length: n }, () => call('ExAllocatePoolWithTag', extra))

describe('fault decisions', () => {
  it('nth fails exactly the Nth matching call', () => {
    expect(decisions(['nth=3'], pool(5))).toEqual(['pass', 'pass', 'fail', 'pass', 'pass'])
  })

  it('every, after and times combine as documented', () => {
    expect(decisions(['every=2'], pool(6))).toEqual(['pass', 'fail', 'pass', 'fail', 'pass', 'fail'])
    expect(decisions(['after=2'], pool(4))).toEqual(['pass', 'pass', 'fail', 'fail'])
    expect(decisions(['after=1,every=2,times=2'], pool(8))).toEqual(['pass', 'pass', 'fail', 'pass', 'fail', 'pass', 'pass', 'pass'])
  })

  it('routine, tag, site and phase filter which calls count', () => {
    const calls = [
      call('ExAllocatePoolWithTag', { tag: 'Rx  ' }),
      call('NdisAllocateMemoryWithTag', { tag: 'Test' }),
      call('ExAllocatePoolWithTag', { tag: 'Test', phase: 'init' }),
      call('ExAllocatePoolWithTag', { tag: 'Test', site: 'examples/e1000/send.ts:7' }),
      call('ExAllocatePool2', { tag: 'Tesx' }),
    ]
    expect(decisions(['routine=ExAllocatePool*'], calls)).toEqual(['fail', 'pass', 'fail', 'fail', 'fail'])
    expect(decisions(['tag=Te?t'], calls)).toEqual(['pass', 'fail', 'fail', 'fail', 'pass'])
    expect(decisions(['phase=init'], calls)).toEqual(['pass', 'pass', 'fail', 'pass', 'pass'])
    expect(decisions(['site=*send.ts:*'], calls)).toEqual(['pass', 'pass', 'pass', 'fail', 'pass'])
    expect(decisions(['routine=ExAllocatePoolWithTag,tag=Test,nth=2'], calls)).toEqual(['pass', 'pass', 'pass', 'fail', 'pass'])
  })

  it('several specs: a call fails if any says so, and each keeps its own count', () => {
    expect(decisions(['nth=1', 'nth=3'], pool(4))).toEqual(['fail', 'pass', 'fail', 'pass'])
  })

  it('p=600 fails 6% of 100,000 calls, within statistical tolerance', () => {
    const inj = new FaultInjector(parseFaultSpecs(['p=600']), 7)
    const c = call('ExAllocatePoolWithTag')
    let failed = 0
    for (let i = 0; i < 100_000; i++) if (inj.decide(c) === 'fail') failed++
    // Binomial(100000, 0.06): sd ~ 75; 5 sd either side.
    expect(failed).toBeGreaterThan(6000 - 375)
    expect(failed).toBeLessThan(6000 + 375)
  })

  it('the same spec and seed give the same failure sequence; another seed another', () => {
    const seq = (specs: string[], seed: number) => decisions(specs, pool(2000), seed).join('')
    expect(seq(['p=500'], 3)).toBe(seq(['p=500'], 3))
    expect(seq(['p=500'], 3)).not.toBe(seq(['p=500'], 4))
    expect(seq(['p=500,seed=11'], 3)).toBe(seq(['p=500,seed=11'], 4)) // seed= overrides the machine seed
  })

  it('adding a spec does not change what another spec fails', () => {
    const alone = decisions(['p=1000,seed=5'], pool(3000))
    const withOther = decisions(['routine=NdisAllocateMemory', 'p=1000,seed=5'], pool(3000))
    expect(withOther).toEqual(alone)
  })

  it('records each injected failure with a replay spec that fails exactly that call', () => {
    const calls = [call('NdisAllocateMemoryWithTag'), ...pool(3), call('NdisAllocateMemoryWithTag'), ...pool(3)]
    const inj = new FaultInjector(parseFaultSpecs(['p=3000,seed=2']), 1)
    calls.forEach((c) => inj.decide(c))
    expect(inj.injected.length).toBeGreaterThan(0)
    for (const f of inj.injected) {
      const replay = new FaultInjector(parseFaultSpecs([f.replay]), 1)
      const failedAt = calls.map((c) => replay.decide(c)).flatMap((d, i) => (d === 'fail' ? [i + 1] : []))
      expect(failedAt).toEqual([f.call])
      expect(f.replay).toMatch(new RegExp(`^routine=${f.routine},nth=${f.routineCall}$`))
    }
  })

  it('partial becomes a short return only for MmAllocatePagesForMdl[Ex]', () => {
    expect(decisions(['partial'], [call('MmAllocatePagesForMdl'), call('ExAllocatePoolWithTag')])).toEqual(['partial', 'fail'])
  })

  it('enumerates every call for a sweep, with per-routine numbers', () => {
    const inj = new FaultInjector([], 1, { enumerate: true })
    ;[call('A' as never), call('B' as never), call('A' as never)].forEach((c) => inj.decide(c))
    expect(inj.enumerated!.map((e) => [e.call, e.routine, e.routineCall])).toEqual([[1, 'A', 1], [2, 'B', 1], [3, 'A', 2]])
  })
})
