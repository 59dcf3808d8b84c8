// examples/c/e1000-ndis5, the NDIS 5.1 miniport in C: registered with NdisMRegisterMiniport,
// compiled to WebAssembly, its every load and store through the x86 machine's page tables, the
// NDIS_PACKETs it sends and indicates in emulated memory in their 32-bit layouts. Seed 000's NDIS
// 5 driver: its context from NdisAllocateMemory handed to NdisMSetAttributesEx, its staging area
// from NdisAllocateMemory(NDIS_MEMORY_CONTIGUOUS | NDIS_MEMORY_NONCACHED) in MiniportInitialize,
// every send through map registers (bounced above 4 GiB). Clean in every configuration of
// `dmalab check`, and every allocation call of its sweep handled, as the TypeScript e1000-ndis5.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { multicastHash } from '../../src/hw/e1000/filter.js'
import { RCTL, REG } from '../../src/hw/e1000/registers.js'
import { OID5 } from '../../src/ndis/v5/constants.js'
import { e1000, ethernetFrame } from '../support/e1000-driver.js'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { MATRIX, matrixConfig, poolOutstanding } from './run.js'

const X86 = { arch: 'x86' } as const
const SEND = 60
const RECEIVE = 5

describe('c/e1000-ndis5', () => {
  it.each(MATRIX)('$label: every frame back intact, sends through map registers (bounced above 4 GiB), no findings, nothing left allocated', async (c) => {
    const m = createMachine({ wire: 'loopback', ...matrixConfig(c, X86) })
    const loaded = await m.load('c/e1000-ndis5')
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: SEND, size: 1500 })
    m.traffic.send({ count: SEND, size: 100 }) // short frames are copied into the staging area
    m.traffic.receive({ count: RECEIVE, size: 200 })
    m.halt()
    const report = m.report()
    expect(report.findings).toEqual([])
    expect(report.outcome).toBe('clean')
    expect(report.traffic.txFrames).toBe(2 * SEND)
    expect(report.traffic.rxFrames).toBe(2 * SEND + RECEIVE)
    expect(poolOutstanding(report)).toBe(0)
    expect(report.dma.scatterGatherLists).toBe(2 * SEND) // one map-register mapping per frame
    if (!c.iommu && c.policy === 'high-first') {
      // The protocol's 1500-byte frames are above 4 GiB and bounced; the staged ones are below it and are not.
      expect(report.dma.bounceBytes).toBe(SEND * 1500)
    }
    if (c.iommu) expect(report.dma.bounceBytes).toBe(0)
  })

  it('S07 when the large contiguous staging request fails, MiniportInitialize falls back to smaller blocks and the adapter runs clean', async () => {
    // The second NdisAllocateMemory call is the 64 KiB staging area (the first is the context area).
    const m = createMachine({ ...X86, wire: 'loopback', faults: 'routine=NdisAllocateMemory,nth=2' })
    const loaded = await m.load('c/e1000-ndis5')
    expect(loaded.state).toBe('running')
    // Two 32 KiB contiguous blocks, both below 4 GiB (S02: HighestAcceptableAddress 0xFFFFFFFF).
    const staging = [...m.kernel.contiguous.allocations].filter((a) => a.kind === 'contiguous')
    expect(staging.map((a) => a.bytes)).toEqual([32768, 32768])
    for (const b of staging) for (let off = 0; off < b.bytes; off += 4096) expect(m.kernel.space.translate(b.va + off)).toBeLessThan(2 ** 32)
    m.traffic.send({ count: 20, size: 100 })
    m.halt()
    expect(m.report().traffic.rxFrames).toBe(20)
    expect(m.findings).toEqual([])
  })

  it('handles every allocation call of init + traffic + halt failing (sweep, worker threads), each named at its C line', async () => {
    const driver = await loadMiniport('c/e1000-ndis5')
    const r = await sweep(driver, { config: X86, scenario: { packets: 20, size: 600, rx: 2 }, jobs: 2 })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    // The allocating NDIS 5 routines the TypeScript e1000-ndis5's sweep fails, at this driver's C lines.
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(new Set([
      'NdisMInitializeWrapper', 'NdisMRegisterMiniport', 'NdisAllocateMemory', 'NdisOpenConfiguration', 'NdisMMapIoSpace', 'NdisMAllocateMapRegisters', 'NdisAllocatePacketPool', 'NdisAllocateBufferPool',
      'NdisMAllocateSharedMemory', 'NdisAllocateBuffer', 'NdisAllocatePacket',
    ]))
    expect(r.runs.every((x) => /^examples\/c\/e1000-ndis5\/\w+\.c:\d+$/.test(x.site ?? ''))).toBe(true)
  })
})

// OID_802_3_MULTICAST_LIST programs the 82540EM's multicast table (8254x manual 13.4.62: with
// RCTL.MO = 00 a group's bit is at its destination bits 47:36), not multicast promiscuous
// (RCTL.MPE, 13.4.22), so a group nobody joined stays off the wire. NDIS 5.1 reference,
// OID_802_3_MULTICAST_LIST: the set replaces the list, the query returns it. The C driver and the
// TypeScript e1000-ndis5 it shares its design with.
describe.each(['c/e1000-ndis5', 'e1000-ndis5'])('%s multicast list', (name) => {
  it('sets the listed group\'s MTA bit only; a frame to it is indicated, one to another group is dropped by the NIC; the query returns the list', async () => {
    const m = createMachine({ ...X86, wire: 'loopback' })
    expect((await m.load(name)).state).toBe('running')
    const listed = Uint8Array.of(0x01, 0x00, 0x5e, 0x01, 0x02, 0x03)
    const requests = m.ndis!.v5.requests
    expect(requests.set(OID5.OID_802_3_MULTICAST_LIST, listed).status).toBe(0)
    const nic = e1000(m)
    const hash = multicastHash(listed)
    const row = nic.regs[(REG.MTA >>> 2) + (hash >>> 5)]!
    expect(row).toBe((1 << (hash & 31)) >>> 0)
    expect(nic.regs.subarray(REG.MTA >>> 2, (REG.MTA >>> 2) + 128).reduce((n, w) => n + (w === 0 ? 0 : 1), 0)).toBe(1)
    expect(nic.regs[REG.RCTL >>> 2]! & (RCTL.MPE | RCTL.UPE)).toBe(0)
    const filtered = m.nic.counters.rx.filtered
    m.wire.inject(ethernetFrame(60, [0x01, 0x00, 0x5e, 0x01, 0x02, 0x04]))
    m.run({ ns: 5_000_000 })
    expect(m.nic.counters.rx.filtered).toBe(filtered + 1)
    // The listed group's frame is indicated (it carries no dmalab stamp: the protocol counts it foreign).
    const indicated = m.ndis!.v5.protocol.counters.rxForeign
    m.wire.inject(ethernetFrame(60, listed))
    m.run({ ns: 5_000_000 })
    expect(m.ndis!.v5.protocol.counters.rxForeign).toBe(indicated + 1)
    expect(m.nic.counters.rx.filtered).toBe(filtered + 1)
    const q = requests.query(OID5.OID_802_3_MULTICAST_LIST, 64)
    expect([...q.data.subarray(0, q.bytesDone)]).toEqual([...listed])
    m.halt()
    expect(m.report().findings).toEqual([])
  })
})
