// examples/c/e1000, the NDIS 6 miniport in C: compiled to WebAssembly, its every load and store
// through the x86 machine's page tables, the NET_BUFFER_LISTs it sends and indicates in emulated
// memory in their 32-bit layouts. Clean in every configuration of `dmalab check`, and every
// allocation call of its sweep handled, as the TypeScript e1000 whose design it shares.
import { describe, expect, it } from 'vitest'
import { createMachine, type Machine } from '../../src/index.js'
import { multicastHash } from '../../src/hw/e1000/filter.js'
import { REG, RCTL } from '../../src/hw/e1000/registers.js'
import { loadMiniport } from '../../src/scenario.js'
import { sweep } from '../../src/sweep.js'
import { NIC_MAC, e1000, ethernetFrame } from '../support/e1000-driver.js'
import { MATRIX, matrixConfig, poolOutstanding, runExample } from './run.js'

const X86 = { arch: 'x86' } as const

describe('c/e1000', () => {
  it.each(MATRIX)('$label: every frame sent and received intact, no findings, nothing left allocated', async (c) => {
    const { report, loaded } = await runExample('c/e1000', { config: matrixConfig(c, X86), send: 60, receive: 5 })
    expect(loaded.state).toBe('running')
    expect(report.findings).toEqual([])
    expect(report.traffic.txFrames).toBe(60)
    expect(report.traffic.rxFrames).toBe(65)
    expect(poolOutstanding(report)).toBe(0)
    // The driver's own allocations, by the tags its C source gives them.
    expect(Object.keys(report.pool.byTag)).toEqual(expect.arrayContaining(['E1kA', 'E1kN', 'E1kS', 'E1kT', 'Mdl ']))
  })

  it('handles every allocation call of init + traffic + halt failing (sweep, worker threads), each named at its C line', async () => {
    const e1000 = await loadMiniport('c/e1000')
    const r = await sweep(e1000, { config: X86, scenario: { packets: 20, size: 600, rx: 2 }, jobs: 2 })
    expect(r.baseline).toBe('clean')
    expect(r.calls).toBeGreaterThan(500)
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    // The same allocating routines as the TypeScript e1000's sweep.
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(
      new Set(['NdisAllocateMemoryWithTagPriority', 'NdisAllocateNetBufferListPool', 'NdisMMapIoSpace', 'NdisMRegisterScatterGatherDma', 'NdisMAllocateSharedMemory', 'NdisAllocateMdl', 'NdisAllocateNetBufferAndNetBufferList', 'NdisMAllocateNetBufferSGList']),
    )
    expect(r.runs.every((x) => /^examples\/c\/e1000\/\w+\.c:\d+$/.test(x.site ?? ''))).toBe(true)
  })
})

// The receive filters the C e1000 programs from what TCP/IP sets at bind (WDK
// OID_GEN_CURRENT_PACKET_FILTER, OID_802_3_MULTICAST_LIST), as the 82540EM applies them: the
// station address in RAL0/RAH0, broadcasts with RCTL.BAM, every group with RCTL.MPE, every
// unicast with RCTL.UPE (8254x manual 13.4.22), joined groups through the 4096-bit multicast
// table, one bit per group at destination bits 47:36 with RCTL.MO = 00 (13.4.62, Figure 13-2).
// Frames are put on the wire by hand; the protocol counts the ones indicated to it (they carry
// no dmalab stamp: rxForeign), the NIC the ones its filters dropped (rx.filtered).
describe('c/e1000 receive filters', () => {
  const LISTED = [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03] as const
  /** Another group, its bits 47:36 not those of LISTED nor of any group TCP/IP joined. */
  const UNLISTED = [0x01, 0x00, 0x5e, 0x01, 0x02, 0x04] as const
  /** A group whose bits 47:36 are LISTED's: the table cannot tell them apart. */
  const COLLIDING = [0x01, 0x00, 0x5e, 0x7f, 0x0a, 0x03] as const
  const OTHER_HOST = [0x02, 0x00, 0x00, 0x00, 0x00, 0x07] as const

  async function bound(): Promise<Machine> {
    const m = createMachine({ ...X86, wire: 'loopback' })
    expect((await m.load('c/e1000')).state).toBe('running')
    return m
  }

  /** Puts a frame to `destination` on the wire: 'indicated' or 'dropped by the NIC' (or neither). */
  function offer(m: Machine, destination: readonly number[]): string {
    const indicated = m.ndis!.protocol.counters.rxForeign
    const filtered = m.nic.counters.rx.filtered
    m.wire.inject(ethernetFrame(60, destination))
    m.run({ ns: 5_000_000 })
    if (m.ndis!.protocol.counters.rxForeign === indicated + 1 && m.nic.counters.rx.filtered === filtered) return 'indicated'
    if (m.nic.counters.rx.filtered === filtered + 1 && m.ndis!.protocol.counters.rxForeign === indicated) return 'dropped by the NIC'
    return m.ndis!.protocol.counters.rxForeign === indicated ? 'dropped by the driver' : 'counted twice'
  }

  it('a frame to a group in OID_802_3_MULTICAST_LIST is indicated; one to a group not in it is dropped by the NIC (its MTA bit is clear)', async () => {
    const m = await bound()
    expect(multicastHash(Uint8Array.from(UNLISTED))).not.toBe(multicastHash(Uint8Array.from(LISTED)))
    expect(m.oid({ request: 'set', oid: 'OID_802_3_MULTICAST_LIST', value: LISTED }).statusName).toBe('NDIS_STATUS_SUCCESS')
    const nic = e1000(m)
    const hash = multicastHash(Uint8Array.from(LISTED))
    // Exactly the listed group's bit: the table was rewritten, TCP/IP's bind-time groups are gone.
    const set = [...nic.regs.subarray(REG.MTA >>> 2, (REG.MTA >>> 2) + 128)].flatMap((w, row) => [...Array(32).keys()].filter((b) => ((w >>> b) & 1) === 1).map((b) => row * 32 + b))
    expect(set).toEqual([hash])
    expect(nic.regs[REG.RCTL >>> 2]! & (RCTL.MPE | RCTL.UPE)).toBe(0) // no promiscuous modes: the table decides
    expect(offer(m, LISTED)).toBe('indicated')
    expect(offer(m, UNLISTED)).toBe('dropped by the NIC')
    // The table is a hash: a group sharing bits 47:36 with a listed one passes the NIC, as on the 82540EM.
    expect(offer(m, COLLIDING)).toBe('indicated')
    // An empty list leaves no group joined.
    expect(m.oid({ request: 'set', oid: 'OID_802_3_MULTICAST_LIST', value: [] }).statusName).toBe('NDIS_STATUS_SUCCESS')
    expect(offer(m, LISTED)).toBe('dropped by the NIC')
    m.halt()
    expect(m.report().findings).toEqual([])
  })

  it('the multicast list set is checked as the WDK says: a length not a multiple of 6, more than OID_802_3_MAXIMUM_LIST_SIZE addresses, a unicast address', async () => {
    const m = await bound()
    expect(m.oid({ request: 'query', oid: 'OID_802_3_MAXIMUM_LIST_SIZE' }).value).toBe(32)
    expect(m.oid({ request: 'set', oid: 'OID_802_3_MULTICAST_LIST', value: LISTED.slice(0, 5) }).statusName).toBe('NDIS_STATUS_INVALID_LENGTH')
    expect(m.oid({ request: 'set', oid: 'OID_802_3_MULTICAST_LIST', value: Array.from({ length: 33 }, () => [...LISTED]).flat() }).statusName).toBe('NDIS_STATUS_MULTICAST_FULL')
    expect(m.oid({ request: 'set', oid: 'OID_802_3_MULTICAST_LIST', value: [...LISTED, ...NIC_MAC] }).statusName).toBe('NDIS_STATUS_INVALID_DATA')
    // A refused list changes nothing: TCP/IP's groups from the bind are still joined.
    expect(offer(m, [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01])).toBe('indicated') // 224.0.0.1, joined at bind
    expect(offer(m, LISTED)).toBe('dropped by the NIC')
    expect(m.oid({ request: 'query', oid: 'OID_802_3_MULTICAST_LIST' }).data).toBe('01 00 5e 00 00 01 01 00 5e 00 00 fb 33 33 00 00 00 01 33 33 ff 12 34 56')
  })

  it('honours the packet filter in the NIC: ALL_MULTICAST takes every group (MPE), PROMISCUOUS every unicast (UPE), BROADCAST off drops broadcasts (BAM)', async () => {
    const m = await bound()
    const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    expect(offer(m, BROADCAST)).toBe('indicated') // TCP/IP's filter: DIRECTED | MULTICAST | BROADCAST
    expect(offer(m, UNLISTED)).toBe('dropped by the NIC')
    expect(offer(m, OTHER_HOST)).toBe('dropped by the NIC')
    const filter = (value: number): void => expect(m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value }).statusName).toBe('NDIS_STATUS_SUCCESS')
    filter(0x1 | 0x4) // DIRECTED | ALL_MULTICAST
    expect(offer(m, UNLISTED)).toBe('indicated')
    // RCTL.MPE passes every group address, broadcast included: the driver drops it, not the NIC.
    expect(offer(m, BROADCAST)).toBe('dropped by the driver')
    filter(0x1) // DIRECTED: BAM and MPE off
    expect(offer(m, BROADCAST)).toBe('dropped by the NIC')
    filter(0x20) // PROMISCUOUS
    expect(offer(m, OTHER_HOST)).toBe('indicated')
    expect(offer(m, UNLISTED)).toBe('indicated')
    filter(0x1) // DIRECTED only: the bind's groups are still listed, but MULTICAST is off
    expect(offer(m, [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01])).toBe('dropped by the NIC')
    expect(offer(m, [...NIC_MAC])).toBe('indicated')
    // A filter type the driver cannot apply (NDIS_PACKET_TYPE_SMT, 0x40) is refused.
    expect(m.oid({ request: 'set', oid: 'OID_GEN_CURRENT_PACKET_FILTER', value: 0x40 }).statusName).toBe('NDIS_STATUS_NOT_SUPPORTED')
    m.halt()
    expect(m.report().findings).toEqual([])
  })

  it('under the default mixed traffic (NBLs of several NET_BUFFERs of several MDLs, sent and offered, as dmalab run / check): clean, every frame to a joined group indicated, the rest filtered by the NIC', async () => {
    const m = await bound()
    m.traffic.send({ count: 300, traffic: 'mixed' })
    m.traffic.receive({ count: 300, traffic: 'mixed' })
    m.halt()
    const r = m.report()
    expect(r.findings).toEqual([])
    expect(r.outcome).toBe('clean')
    expect(r.traffic.txFrames).toBe(300)
    expect(r.traffic.dropped).toMatchObject({ txFailed: 0, rxCorrupt: 0, rxForeign: 0, rxFiltered: 0, nicDmaErrors: 0 })
    // The LAN's frames to other hosts and to groups nobody joined are the only ones the NIC drops.
    expect(r.traffic.dropped.nicFiltered).toBeGreaterThan(0)
    // The +1: after TCP/IP unbinds (packet filter 0) the LAN sends a broadcast, which the NIC
    // drops (BAM off), and an ARP reply to this host, which it takes and the driver does not indicate.
    expect(r.traffic.rxFrames + r.traffic.dropped.nicFiltered).toBe(600 + 1)
    expect(poolOutstanding(r)).toBe(0)
  })
})
