// Transmit checksum offload, driven bare-metal as a driver would: TCP/IP context descriptors
// (manual 3.3.6), data descriptors with POPTS (3.3.7, 3.6), and the legacy IC/CSO/CSS
// insertion (3.3.3). Frames are built and checked by test/support/packets.ts, whose checksum
// shares nothing with the device's.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import {
  BareMetalE1000, DD, ICR_TXDW, POPTS_IXSM, POPTS_TXSM, R, TUCMD_IP, TUCMD_TCP, TUCMD_TSE, TXD_EOP, TXD_IC, TXD_IFCS, TXD_RS, ethernetFrame,
} from '../../support/e1000-driver.js'
import { ETH_HEADER, IP_HEADER, PROTO_UDP, get16, ipFrame, parseIpFrame } from '../../support/packets.js'

function setup(): { m: ReturnType<typeof createMachine>; d: BareMetalE1000 } {
  const m = createMachine()
  return { m, d: new BareMetalE1000(m).init() }
}

/** The checksum context Linux's e1000 and Windows drivers set for an untagged IPv4 TCP frame. */
const tcpContext = {
  ipcss: ETH_HEADER,
  ipcso: ETH_HEADER + 10,
  ipcse: ETH_HEADER + IP_HEADER - 1,
  tucss: ETH_HEADER + IP_HEADER,
  tucso: ETH_HEADER + IP_HEADER + 16,
  tucse: 0,
  tucmd: TUCMD_TCP | TUCMD_IP,
}

describe('transmit checksum offload', () => {
  it('a context descriptor moves no data, and is written back (DD) with RS like any other (3.3.6)', () => {
    const { m, d } = setup()
    d.read(R.ICR)
    const i = d.queueContext({ ...tcpContext, cmd: TXD_RS })
    d.doorbell()
    m.runUntilIdle()
    expect(m.wire.transmitted).toEqual([])
    expect(d.txDescriptor(i).status & DD).toBe(DD)
    expect(d.read(R.ICR) & ICR_TXDW).toBe(ICR_TXDW)
    expect(m.findings).toEqual([])
  })

  it('data descriptors with POPTS IXSM and TXSM get the IP and TCP checksums of the normal context (3.3.7.3, 3.6)', () => {
    const { m, d } = setup()
    const frame = ipFrame({ payload: 300, pseudo: 'with-length', ipChecksumZero: true })
    expect(parseIpFrame(frame).l4ChecksumOk).toBe(false)
    d.queueContext(tcpContext)
    // Split over two data descriptors: POPTS counts in the first one only.
    const head = d.stage(frame.subarray(0, 54))
    d.queueData(head, 54, 0, { popts: POPTS_IXSM | POPTS_TXSM })
    const rest = d.stage(frame.subarray(54))
    d.queueData(rest, frame.length - 54, TXD_EOP | TXD_RS)
    d.doorbell()
    m.runUntilIdle()
    const [sent] = m.wire.transmitted
    expect(sent?.length).toBe(frame.length)
    const parsed = parseIpFrame(sent!)
    expect(parsed.ipChecksumOk).toBe(true)
    expect(parsed.l4ChecksumOk).toBe(true)
    // Only the two checksum fields changed.
    const diff = [...sent!].flatMap((b, k) => (b !== frame[k] ? [k] : []))
    expect(diff.every((k) => k === 24 || k === 25 || k === 50 || k === 51)).toBe(true)
    expect(m.findings).toEqual([])
  })

  it('inserts a UDP checksum from a UDP context (TUCMD.TCP clear), and only what POPTS asks for', () => {
    const { m, d } = setup()
    const frame = ipFrame({ protocol: PROTO_UDP, payload: 100, pseudo: 'with-length', ipChecksumZero: true })
    d.queueContext({ ...tcpContext, tucso: ETH_HEADER + IP_HEADER + 6, tucmd: TUCMD_IP })
    d.queueData(d.stage(frame), frame.length, TXD_EOP | TXD_RS, { popts: POPTS_TXSM })
    d.doorbell()
    m.runUntilIdle()
    const parsed = parseIpFrame(m.wire.transmitted[0]!)
    expect(parsed.l4ChecksumOk).toBe(true)
    expect(get16(m.wire.transmitted[0]!, ETH_HEADER + 10)).toBe(0) // IXSM clear: the IP checksum field untouched
  })

  it('does not insert a checksum whose offset lies beyond the frame (3.6 IPCSO)', () => {
    const { m, d } = setup()
    const frame = ethernetFrame(100)
    d.queueContext({ ipcss: 14, ipcso: 200, ipcse: 33, tucmd: TUCMD_IP })
    d.queueData(d.stage(frame), frame.length, TXD_EOP | TXD_RS, { popts: POPTS_IXSM })
    d.doorbell()
    m.runUntilIdle()
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
  })

  it('keeps the normal context when a TCP segmentation context is loaded (3.3.7.1 TSE: two contexts)', () => {
    const { m, d } = setup()
    d.queueContext(tcpContext)
    d.queueContext({ ...tcpContext, ipcso: 0, tucso: 0, tucmd: TUCMD_TCP | TUCMD_IP | TUCMD_TSE, mss: 536, hdrlen: 54, payloadLength: 1000 })
    const frame = ipFrame({ payload: 64, pseudo: 'with-length', ipChecksumZero: true })
    d.queueData(d.stage(frame), frame.length, TXD_EOP | TXD_RS, { popts: POPTS_IXSM | POPTS_TXSM })
    d.doorbell()
    m.runUntilIdle()
    const parsed = parseIpFrame(m.wire.transmitted[0]!)
    expect(parsed.ipChecksumOk && parsed.l4ChecksumOk).toBe(true)
  })

  it('legacy descriptors insert a checksum at CSO over CSS to the end with IC (3.3.3)', () => {
    const { m, d } = setup()
    const frame = ipFrame({ payload: 200, pseudo: 'with-length' })
    const css = ETH_HEADER + IP_HEADER
    // CSS counts in the first descriptor, IC and CSO in the one with EOP.
    const i = d.txTail
    d.writeTxDescriptor(i, d.stage(frame.subarray(0, 40)), 40, 0, 0, { css })
    d.txTail = (i + 1) % d.txCount
    const j = d.txTail
    d.writeTxDescriptor(j, d.stage(frame.subarray(40)), frame.length - 40, TXD_EOP | TXD_IFCS | TXD_IC | TXD_RS, 0, { cso: css + 16 })
    d.txTail = (j + 1) % d.txCount
    d.doorbell()
    m.runUntilIdle()
    const parsed = parseIpFrame(m.wire.transmitted[0]!)
    expect(parsed.l4ChecksumOk).toBe(true)
    expect(parsed.ipChecksumOk).toBe(true)
  })

  it('ignores IC when CSS or CSO fall outside the packet (3.3.3)', () => {
    const { m, d } = setup()
    const frame = ethernetFrame(80)
    const i = d.txTail
    d.writeTxDescriptor(i, d.stage(frame), frame.length, TXD_EOP | TXD_IC | TXD_RS, 0, { css: 90, cso: 20 })
    d.txTail = (i + 1) % d.txCount
    d.doorbell()
    m.runUntilIdle()
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
  })

  it('consumes a descriptor of a reserved type (DEXT with DTYP 0010b) with a device-error', () => {
    const { m, d } = setup()
    const i = d.queueData(d.stage(ethernetFrame(64)), 64, TXD_EOP | TXD_RS)
    // Rewrite DTYP to 0010b.
    const at = d.txRing + i * 16 + 10
    m.cpu.write8(at, (m.cpu.read8(at) & 0x0f) | 0x20)
    d.doorbell()
    m.runUntilIdle()
    expect(m.wire.transmitted).toEqual([])
    expect(d.read(R.TDH)).toBe(d.txTail)
    expect(m.findings.map((f) => f.details?.reason)).toEqual(['reserved-descriptor-type'])
  })
})
