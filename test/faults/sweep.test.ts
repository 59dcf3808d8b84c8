import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { sweep } from '../../src/sweep.js'
import { runScenario, loadMiniport, type LoadableMiniport } from '../../src/scenario.js'
import { tinyMiniport, type Variant } from '../support/miniports/tiny.js'

const tinyFile = fileURLToPath(new URL('../support/miniports/tiny.ts', import.meta.url))
const scenario = { packets: 0, size: 1500, rx: 0 }

function tiny(variant: Variant): LoadableMiniport {
  return { module: { default: tinyMiniport(variant) as never }, name: `tiny-${variant}`, file: tinyFile }
}

describe('systematic fault injection (sweep)', () => {
  it('classifies every allocation call of a correct miniport as handled', async () => {
    const r = await sweep(tiny('correct'), { config: {}, scenario, jobs: 1 })
    expect(r.baseline).toBe('clean')
    expect(r.calls).toBe(2)
    expect(r.runs.map((x) => [x.routine, x.routineCall, x.outcome])).toEqual([
      ['NdisAllocateMemoryWithTag', 1, 'handled'],
      ['ExAllocatePoolWithTag', 1, 'handled'],
    ])
    expect(r.summary).toEqual({ handled: 2, leak: 0, finding: 0, bugcheck: 0, hang: 0 })
    for (const run of r.runs) expect(run.site).toMatch(/^test\/support\/miniports\/tiny\.ts:\d+$/)
  })

  it('a miniport that leaks on one init failure is classified leak, naming the leaked allocation and its site', async () => {
    const r = await sweep(tiny('leaks-on-failure'), { config: {}, scenario, jobs: 1 })
    expect(r.runs.map((x) => x.outcome)).toEqual(['handled', 'leak'])
    const leak = r.runs[1]!
    expect(leak.replay).toBe('routine=ExAllocatePoolWithTag,nth=1')
    const f = leak.findings.find((x) => x.kind === 'pool-leak')!
    expect(f.message).toMatch(/Tiny/)
    expect(f.site).toMatch(/^test\/support\/miniports\/tiny\.ts:\d+$/)
    expect(r.summary.leak).toBe(1)
  })

  it('a miniport that dereferences NULL after a failure is a bugcheck with a page fault', async () => {
    const r = await sweep(tiny('null-deref-on-failure'), { config: {}, scenario, jobs: 1 })
    const run = r.runs[0]!
    expect(run.outcome).toBe('bugcheck')
    expect(run.findings.map((f) => f.kind)).toContain('page-fault')
    expect(run.findings.find((f) => f.kind === 'page-fault')!.message).toMatch(/NULL pointer dereference/)
  })

  it('stack mode runs once per unique driver call stack', async () => {
    const byCall = await sweep(tiny('correct'), { config: {}, scenario, jobs: 1, mode: 'call' })
    const byStack = await sweep(tiny('correct'), { config: {}, scenario, jobs: 1, mode: 'stack' })
    expect(byStack.runs.length).toBe(byCall.runs.length)
    for (const run of byStack.runs) expect(run.stack?.[0]).toMatch(/tiny\.ts:\d+$/)
  })

  it('worker threads give the same results, in call order, as one thread', async () => {
    const m = await loadMiniport(tinyFile)
    const one = await sweep(m, { config: {}, scenario, jobs: 1 })
    const two = await sweep(m, { config: {}, scenario, jobs: 2 })
    expect(two.runs).toEqual(one.runs)
  })
})

describe('fault specs on a whole machine', () => {
  it('the replay spec printed for an injected failure reproduces exactly that failure', async () => {
    const e1000 = await loadMiniport('e1000')
    const first = runScenario(e1000, { faults: ['routine=NdisAllocate*,p=2000,seed=7'] }, { packets: 20, size: 200, rx: 0 }).report
    expect(first.faults.injected.length).toBeGreaterThan(0)
    const target = first.faults.injected[0]!
    const replay = runScenario(e1000, { faults: [target.replay] }, { packets: 20, size: 200, rx: 0 }).report
    expect(replay.faults.injected).toHaveLength(1)
    expect(replay.faults.injected[0]).toEqual(target)
  })

  it('the same spec and seed give the same failures in every run; another seed others', async () => {
    const e1000 = await loadMiniport('e1000')
    const run = (seed: number) => runScenario(e1000, { faults: [`p=300,seed=${seed}`] }, { packets: 50, size: 300, rx: 0 }).report.faults.injected
    expect(run(3)).toEqual(run(3))
    expect(run(3)).not.toEqual(run(4))
  })
})
