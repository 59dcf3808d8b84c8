// e1000 and wdm-dma: the two correct miniports, clean in every configuration of `dmalab
// check`, every frame back intact through the loopback, and every allocation failure handled.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMachine } from '../../src/index.js'
import { AdapterState } from '../../src/dma/adapter.js'
import { FaultInjector } from '../../src/faults/injector.js'
import { classify, planSweep } from '../../src/faults/sweep.js'
import { MATRIX, matrixConfig, poolOutstanding, runExample } from './run.js'
import { isLeak, sweep } from '../../src/sweep.js'
import { loadMiniport } from '../../src/scenario.js'

const SEND = 60
const RECEIVE = 5
const FOUR_GIB = 2 ** 32

describe.each(['e1000', 'wdm-dma'])('%s', (name) => {
  it.each(MATRIX)(`is clean with $label: no findings, every frame back intact, nothing left allocated`, async (c) => {
    const { loaded, report } = await runExample(name, { config: matrixConfig(c), send: SEND, receive: RECEIVE })
    expect(loaded.state).toBe('running')
    expect(report.findings).toEqual([])
    expect(report.outcome).toBe('clean')
    const t = report.traffic
    expect(t.txFrames).toBe(SEND)
    // Loopback: each sent frame comes back, plus the frames injected from the wire; the
    // protocol checks every byte (a mismatch would count as rxCorrupt and be a finding).
    expect(t.rxFrames).toBe(SEND + RECEIVE)
    expect(t.dropped).toMatchObject({ txFailed: 0, rxCorrupt: 0, rxForeign: 0, nicDmaErrors: 0 })
    expect(poolOutstanding(report)).toBe(0)
    expect(report.dma.commonBuffers.length).toBeGreaterThan(0)
    expect(report.dma.commonBuffers.every((b) => b.freed && b.reachable)).toBe(true)
    expect(report.dma.iommuFaults).toEqual([])
    if (!c.iommu) {
      // No IOMMU: every common buffer is below the 32-bit NIC's limit, and with high-first
      // memory the protocol's frames lie above 4 GiB and are bounced through map registers.
      expect(report.dma.commonBuffers.every((b) => b.logicalAddress + b.length <= FOUR_GIB)).toBe(true)
      // The e1000's NdisMAllocateNetBufferSGList lists start at CurrentMdl's first byte, so the
      // protocol's backfill (CurrentMdlOffset 0..384) is bounced too; wdm-dma's
      // GetScatterGatherList starts at the frame.
      if (c.policy === 'high-first' && name === 'wdm-dma') expect(report.dma.bounceBytes).toBe(SEND * 1500)
      if (c.policy === 'high-first' && name === 'e1000') {
        expect(report.dma.bounceBytes).toBeGreaterThan(SEND * 1500)
        expect(report.dma.bounceBytes).toBeLessThanOrEqual(SEND * (1500 + 384))
      }
    }
  })
})

describe('wdm-dma uses the HAL directly', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('gets a 32-bit adapter from IoGetDmaAdapter, its memory from AllocateCommonBuffer, maps sends with GetScatterGatherList and releases the adapter', async () => {
    const { m, report } = await runExample('wdm-dma', { send: 20 })
    expect(report.findings).toEqual([])
    expect(report.dma.commonBuffers.map((b) => b.routine)).toEqual(['AllocateCommonBuffer', 'AllocateCommonBuffer', 'AllocateCommonBuffer'])
    expect(report.dma.commonBuffers.every((b) => b.site?.startsWith('examples/wdm-dma/dma.ts:'))).toBe(true)
    expect(report.dma.scatterGatherLists).toBe(20)
    expect(m.hal.adapters).toHaveLength(1)
    const adapter = m.hal.adapters[0]!
    expect(adapter.addressBits).toBe(32)
    expect(adapter.released).toBe(true)
    expect(adapter.sgLists.size).toBe(0)
  })

  it('copes with execution routines that run after GetScatterGatherList returned (frames waiting for map registers)', async () => {
    // With high-first memory and no IOMMU every frame needs a map register, and the adapter
    // has five: the rest wait, and their execution routine runs inside a later
    // PutScatterGatherList, from the DPC.
    let deferred = 0
    const give = AdapterState.prototype.releaseRegisters
    vi.spyOn(AdapterState.prototype, 'releaseRegisters').mockImplementation(function (this: AdapterState, count: number, frames: readonly number[]) {
      const waiting = this.waiting.length
      give.call(this, count, frames)
      deferred += waiting - this.waiting.length
    })
    const { report } = await runExample('wdm-dma', { config: { iommu: false, memory: { policy: 'high-first' } }, send: SEND })
    expect(deferred).toBeGreaterThan(SEND / 2)
    expect(report.findings).toEqual([])
    expect(report.traffic.rxFrames).toBe(SEND)
  })

  it('fails initialization cleanly when IoGetDmaAdapter fails: init-failed, no findings, nothing left allocated', async () => {
    const { loaded, report } = await runExample('wdm-dma', { config: { faults: 'routine=IoGetDmaAdapter' } })
    expect(loaded.state).toBe('init-failed')
    expect(report.outcome).toBe('init-failed')
    expect(report.findings).toEqual([])
    expect(poolOutstanding(report)).toBe(0)
  })

  it('fails initialization cleanly when no common buffer can be had at all', async () => {
    const { loaded, m, report } = await runExample('wdm-dma', { config: { faults: 'routine=AllocateCommonBuffer' } })
    expect(loaded.state).toBe('init-failed')
    expect(report.findings).toEqual([])
    expect(poolOutstanding(report)).toBe(0)
    expect(m.hal.adapters.every((a) => a.released)).toBe(true)
  })

  it('S07 falls back to smaller rings when the first AllocateCommonBuffer fails, and runs clean', async () => {
    const { loaded, m, report } = await runExample('wdm-dma', { config: { faults: 'routine=AllocateCommonBuffer,nth=1' }, send: 20 })
    expect(loaded.state).toBe('running')
    expect(report.findings).toEqual([])
    expect(report.traffic.rxFrames).toBe(20)
    // 256-descriptor rings are 4 KiB; the fallback is 128 descriptors, 2 KiB.
    expect(report.dma.commonBuffers.slice(0, 2).map((b) => b.length)).toEqual([2048, 2048])
    expect(m.hal.adapters[0]!.released).toBe(true)
  })

  it('completes a send whose GetScatterGatherList fails with NDIS_STATUS_RESOURCES, and the others go through', async () => {
    const { report } = await runExample('wdm-dma', { config: { faults: 'routine=GetScatterGatherList,nth=5' }, send: 20 })
    expect(report.findings).toEqual([])
    expect(report.faults.injected).toHaveLength(1)
    expect(report.traffic.txFrames).toBe(19)
    expect(report.traffic.dropped.txFailed).toBe(1)
    expect(report.traffic.rxFrames).toBe(19)
  })
})

describe('every allocation site failed once (a stack-mode sweep) is handled', () => {
  /** The sweep's runs that were not `handled`, described (empty when all were). */
  const sweep = async (name: string, iommu: boolean): Promise<string[]> => {
    const scenario = { send: 8, receive: 2 }
    // One clean run that records every allocation call and the driver stack it came from.
    const m = createMachine({ wire: 'loopback', iommu })
    m.kernel.calls.injector = new FaultInjector([], m.config.seed, { enumerate: true })
    m.kernel.calls.captureStacks = true
    const loaded = await m.load(name)
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: scenario.send })
    m.traffic.receive({ count: scenario.receive, size: 200 })
    m.halt()
    // Then one run per unique allocation stack, with exactly that call failed.
    const plan = planSweep(m.kernel.calls.injector.enumerated ?? [], 'stack')
    expect(plan.length).toBeGreaterThan(8)
    const notHandled: string[] = []
    for (const run of plan) {
      const { report } = await runExample(name, { ...scenario, config: { iommu, faults: run.replay } })
      const c = classify({ outcome: report.outcome, findings: report.findings, bugcheck: report.bugcheck }, isLeak)
      if (c.outcome !== 'handled') notHandled.push(`${run.replay} (${run.site}): ${c.outcome} ${c.decisive.map((f) => f.kind).join(', ')}`)
    }
    return notHandled
  }

  it.each([
    ['e1000', 'off', false],
    ['wdm-dma', 'off', false],
    ['wdm-dma', 'on', true],
  ] as const)('%s with the IOMMU %s', async (name, _label, iommu) => {
    expect(await sweep(name, iommu)).toEqual([])
  })
})

// What `dmalab check` runs by default: the LAN's mix (ARP, UDP and TCP; broadcast, multicast
// and unicast; 60..1514 bytes; NBLs of several NET_BUFFERs of several MDLs with a
// CurrentMdlOffset, in pool, lookaside entries and pages below and above 4 GiB), sent and
// offered from the LAN. A correct miniport sends every frame back intact, indicates every
// frame its packet filter selects, and the verdict is clean in every configuration.
describe.each(['e1000', 'wdm-dma'])('%s under mixed traffic', (name) => {
  it.each(MATRIX)('is clean with $label: every frame sent back intact, every frame offered indicated or filtered', async (c) => {
    const m = createMachine({ wire: 'loopback', ...matrixConfig(c) })
    await m.load(name)
    m.traffic.send({ count: 200, traffic: 'mixed' })
    m.traffic.receive({ count: 100, traffic: 'mixed' })
    m.halt()
    const report = m.report()
    expect(report.findings).toEqual([])
    expect(report.outcome).toBe('clean')
    expect(report.traffic.txFrames).toBe(200)
    expect(report.traffic.dropped).toMatchObject({ txFailed: 0, rxCorrupt: 0, rxForeign: 0, nicDmaErrors: 0 })
    expect(poolOutstanding(report)).toBe(0)
  })

  it('handles every unique call stack failing under mixed traffic (a sweep in stack mode, IOMMU on)', async () => {
    const driver = await loadMiniport(name)
    const r = await sweep(driver, { config: { iommu: true }, scenario: { packets: 30, rx: 10, traffic: 'mixed' }, jobs: 1, mode: 'stack' })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    expect(r.runs.length).toBeGreaterThan(3)
  })
})
