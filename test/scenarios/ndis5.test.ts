// The NDIS 5.1 examples end to end: e1000-ndis5 clean in every configuration of `dmalab check`
// and handling every allocation failure of its sweep, and each examples/buggy/ndis5 miniport
// caught with the kind its header names. Seed 000 (NdisAllocateMemory for NDIS 5 miniports)
// is the rule for the memory checks.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { MATRIX, matrixConfig, poolOutstanding, runExample } from './run.js'

const SEND = 60
const RECEIVE = 5
const FOUR_GIB = 2 ** 32

describe('e1000-ndis5', () => {
  it.each(MATRIX)('is clean with $label: every frame back intact, sends through map registers, nothing left allocated', async (c) => {
    const m = createMachine({ wire: 'loopback', ...matrixConfig(c) })
    const loaded = await m.load('e1000-ndis5')
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: SEND, size: 1500 })
    m.traffic.send({ count: SEND, size: 100 }) // short frames go through the staging area
    m.traffic.receive({ count: RECEIVE, size: 200 })
    m.halt()
    const report = m.report()
    expect(report.findings).toEqual([])
    expect(report.outcome).toBe('clean')
    expect(report.traffic.txFrames).toBe(2 * SEND)
    expect(report.traffic.rxFrames).toBe(2 * SEND + RECEIVE)
    expect(poolOutstanding(report)).toBe(0)
    expect(report.dma.commonBuffers.every((b) => b.freed && b.reachable)).toBe(true)
    expect(report.dma.scatterGatherLists).toBe(2 * SEND) // one map-register mapping per frame
    if (!c.iommu && c.policy === 'high-first') {
      // The protocol's 1500-byte frames are above 4 GiB and bounced; the staged ones are below it and are not.
      expect(report.dma.bounceBytes).toBe(SEND * 1500)
    }
    if (c.iommu) expect(report.dma.bounceBytes).toBe(0)
  })

  it('S02 the staging area NdisAllocateMemory returns with HighestAcceptableAddress 0xFFFFFFFF lies wholly below 4 GiB, even when memory is handed out high first', async () => {
    const m = createMachine({ memory: { policy: 'high-first' } })
    await m.load('e1000-ndis5')
    const blocks = stagingBlocks(m)
    expect(blocks.length).toBeGreaterThan(0)
    for (const b of blocks) {
      for (let off = 0; off < b.length; off += 4096) expect(m.kernel.space.translate(b.va + off)).toBeLessThan(FOUR_GIB)
    }
    m.halt()
    expect(m.findings).toEqual([])
  })

  it('S07 when the large contiguous staging request fails, MiniportInitialize falls back to smaller blocks and the adapter runs clean', async () => {
    // The second NdisAllocateMemory call is the 64 KiB staging area (the first is the context area).
    const m = createMachine({ wire: 'loopback', faults: 'routine=NdisAllocateMemory,nth=2' })
    const loaded = await m.load('e1000-ndis5')
    expect(loaded.state).toBe('running')
    expect(stagingBlocks(m).map((b) => b.length)).toEqual([32768, 32768])
    m.traffic.send({ count: 20, size: 100 })
    m.halt()
    expect(m.report().traffic.rxFrames).toBe(20)
    expect(m.findings).toEqual([])
  })

  it('handles every allocation call of init + traffic + halt failing (sweep)', async () => {
    const driver = await loadMiniport('e1000-ndis5')
    const r = await sweep(driver, { config: {}, scenario: { packets: 20, size: 600, rx: 2 }, jobs: 2 })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(new Set([
      'NdisMInitializeWrapper', 'NdisMRegisterMiniport', 'NdisAllocateMemory', 'NdisMMapIoSpace', 'NdisOpenConfiguration', 'NdisMAllocateMapRegisters', 'NdisAllocatePacketPool', 'NdisAllocateBufferPool',
      'NdisMAllocateSharedMemory', 'NdisAllocateBuffer', 'NdisAllocatePacket',
    ]))
  })
})

describe('buggy NDIS 5 miniports', () => {
  it.each(MATRIX)('buggy/ndis5/runtime-contiguous, $label: init-only-call and irql-violation for the NdisAllocateMemory in MiniportSend', async (c) => {
    const { report, kinds } = await runExample('buggy/ndis5/runtime-contiguous', { config: matrixConfig(c), send: 20 })
    expect(kinds).toEqual(new Set(['init-only-call', 'irql-violation']))
    expect(report.findings.find((f) => f.kind === 'init-only-call')!.message).toMatch(/outside MiniportInitialize/)
    expect(report.traffic.rxFrames).toBe(20)
  })

  it('buggy/ndis5/runtime-contiguous registers MiniportSend, not MiniportSendPackets: NDIS hands it one packet a call', async () => {
    const m = createMachine({ wire: 'loopback' })
    await m.load('buggy/ndis5/runtime-contiguous')
    const c = m.ndis!.v5.state.characteristics!
    expect([typeof c.SendHandler, typeof c.SendPacketsHandler]).toEqual(['function', 'undefined'])
    m.halt()
  })

  it('buggy/ndis5/runtime-contiguous on a machine that has been up a while: the runtime request fails and frames complete with NDIS_STATUS_RESOURCES', async () => {
    const { report, kinds } = await runExample('buggy/ndis5/runtime-contiguous', { config: { memory: { fragmentation: 0.5 } }, send: 20, idleNs: 10e9 })
    expect(kinds.has('init-only-call')).toBe(true)
    expect(report.traffic.txFrames).toBe(0)
    expect(report.traffic.dropped.txFailed).toBe(20)
  })

  it.each(MATRIX)('buggy/ndis5/context-leak, $label: the context area never handed to NdisMSetAttributesEx is a 128-byte pool leak at its line', async (c) => {
    const { report } = await runExample('buggy/ndis5/context-leak', { config: matrixConfig(c), send: 20 })
    expect(report.findings).toHaveLength(1)
    const f = report.findings[0]!
    expect([f.kind, f.code, f.params?.[0]]).toEqual(['pool-leak', 0xc4, 0x62])
    expect(f.message).toMatch(/'Ndis' \(128 bytes\)/)
    expect(f.site).toMatch(/^examples\/buggy\/ndis5\/context-leak\.ts:\d+$/)
    expect(report.traffic.rxFrames).toBe(20)
  })

  it.each(MATRIX)('buggy/ndis5/map-register-leak, $label: mappings never completed are a map-register leak when the registers are freed', async (c) => {
    const { report, kinds } = await runExample('buggy/ndis5/map-register-leak', { config: matrixConfig(c), send: 20 })
    expect([...kinds]).toEqual(['map-register-leak'])
    const f = report.findings[0]!
    expect([f.code, f.params?.[0], f.params?.[1]]).toEqual([0xe6, 0x10, 20])
  })

  it('buggy/ndis5/map-register-leak: once all 64 registers are held, sends stop; the rest wait until the protocol unbinds and cancels them', async () => {
    const { report, kinds } = await runExample('buggy/ndis5/map-register-leak', { send: 100 })
    expect(kinds.has('map-register-leak')).toBe(true)
    // The register writes of the first batch of sends take bus time, during which the NIC sends
    // some of them; their completions give the protocol those packets back before its next batch,
    // and it reuses their buffers, which the driver never unmapped: mapping one again while its
    // first mapping is live is the same bug's other face (0xE6/0x1D), and nothing else is found.
    for (const f of report.findings.filter((x) => x.kind !== 'map-register-leak')) {
      expect(f.kind).toBe('dma-double-map')
      expect(f.message).toMatch(/is already mapped by the live scatter\/gather list .*\(NdisMStartBufferPhysicalMapping\)/)
    }
    expect(report.traffic.txFrames).toBe(64)
  })

  it('buggy/ndis5/ignores-highest-address, IOMMU off, high-first: the pool is above 4 GiB and every frame is dma-address-truncated', async () => {
    const { report } = await runExample('buggy/ndis5/ignores-highest-address', { config: matrixConfig({ iommu: false, policy: 'high-first' }), send: 20 })
    expect(report.findings.filter((f) => f.kind === 'dma-address-truncated')).toHaveLength(20)
    expect(report.traffic.rxFrames).toBe(0)
  })

  it('buggy/ndis5/ignores-highest-address, IOMMU off, low-first: frames arrive, and dma-not-dma-memory says why it is still wrong', async () => {
    const { report, kinds } = await runExample('buggy/ndis5/ignores-highest-address', { config: matrixConfig({ iommu: false, policy: 'low-first' }), send: 20 })
    expect([...kinds]).toEqual(['dma-not-dma-memory'])
    expect(report.traffic.rxFrames).toBe(20)
  })

  it('buggy/ndis5/ignores-highest-address, IOMMU on: no mapping covers the pool, iommu-fault', async () => {
    const { kinds } = await runExample('buggy/ndis5/ignores-highest-address', { config: matrixConfig({ iommu: true, policy: 'high-first' }), send: 20 })
    expect(kinds.has('iommu-fault')).toBe(true)
  })
})

/** The staging blocks: the driver's contiguous allocations (NdisAllocateMemory with NDIS_MEMORY_CONTIGUOUS). */
function stagingBlocks(m: ReturnType<typeof createMachine>): Array<{ va: number; length: number }> {
  return [...m.kernel.contiguous.allocations].filter((a) => a.kind === 'contiguous').map((a) => ({ va: a.va, length: a.bytes }))
}

describe('e1000-ndis5 without MiniportISR', () => {
  it('with RequestIsr FALSE, NDIS dismisses each interrupt through MiniportDisableInterrupt, runs MiniportHandleInterrupt and re-enables: clean', async () => {
    const { driverEntry } = await import('../../examples/e1000-ndis5/index.js')
    const { defaultHooks } = await import('../../examples/e1000-ndis5/memory.js')
    const m = createMachine({ wire: 'loopback' })
    const loaded = m.load({ default: ((ndis: never) => driverEntry(ndis, undefined, { ...defaultHooks, requestIsr: false })) as never }, 'e1000-ndis5-no-isr')
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: 40, size: 1500 })
    m.halt()
    expect(m.report().traffic.rxFrames).toBe(40)
    expect(m.ndis!.v5.interrupts.dpcCalls).toBeGreaterThan(0)
    expect(m.findings).toEqual([])
  })
})

describe('e1000-ndis5 cancelling sends', () => {
  // NdisCancelSendPackets / MiniportCancelSendPackets (NDIS 5.1 reference): the miniport completes
  // every packet it still queues with the given cancel ID, status NDIS_STATUS_REQUEST_ABORTED.
  it('packets still in its queue when the protocol unbinds come back aborted through MiniportCancelSendPackets: nothing is left unsent', async () => {
    const { driverEntry } = await import('../../examples/e1000-ndis5/index.js')
    const { defaultHooks } = await import('../../examples/e1000-ndis5/memory.js')
    // Every packet is staged and no staged frame can be mapped: all of them wait in the driver's queue.
    const hooks = { ...defaultHooks, stage: () => true, mapStaged: () => null }
    const m = createMachine({ wire: 'loopback' })
    const loaded = m.load({ default: ((ndis: never) => driverEntry(ndis, undefined, hooks)) as never }, 'e1000-ndis5-stuck')
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: 10, size: 200 })
    m.halt()
    expect(m.ndis!.v5.send.cancelCalls).toBe(1)
    expect(m.ndis!.v5.protocol.counters.txFailures).toEqual({ NDIS_STATUS_REQUEST_ABORTED: 10 })
    expect(m.findings).toEqual([])
  })
})
