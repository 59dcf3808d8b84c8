// Receive checksum offload (manual 3.2.9, RXCSUM; descriptor status 3.2.3.1 and errors
// 3.2.3.2): the packet checksum every frame gets, IPCS/IPE with RXCSUM.IPOFLD, TCPCS/TCPE
// with RXCSUM.TUOFLD, and IXSM while neither is on.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import {
  BareMetalE1000, CTRL_SLU, CTRL_VME, DD, EOP, ERR_IPE, ERR_TCPE, IPCS, IXSM, NIC_MAC, R, RCTL_BAM, RCTL_EN, RCTL_SECRC, RXCSUM_IPOFLD, RXCSUM_TUOFLD, TCPCS, VP,
  ethernetFrame,
} from '../../support/e1000-driver.js'
import { ETH_HEADER, PROTO_UDP, ipFrame, sum16 } from '../../support/packets.js'

function setup(rxcsum: number): { m: ReturnType<typeof createMachine>; d: BareMetalE1000 } {
  const m = createMachine()
  const d = new BareMetalE1000(m).init()
  // 3.2.9: RXCSUM is written while the receiver is off.
  d.write(R.RCTL, 0)
  d.write(R.RXCSUM, rxcsum)
  d.write(R.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC)
  return { m, d }
}

function receiveOne(m: ReturnType<typeof createMachine>, d: BareMetalE1000, frame: Uint8Array): { status: number; errors: number; checksum: number; special: number; data: Uint8Array } {
  m.wire.inject(frame)
  m.runUntilIdle()
  const got = d.receive()
  expect(got).toHaveLength(1)
  return got[0]!
}

describe('receive checksum offload', () => {
  it('sets IXSM and no checksum bits while RXCSUM has neither IPOFLD nor TUOFLD (3.2.3.1)', () => {
    const { m, d } = setup(0)
    const got = receiveOne(m, d, ipFrame({ payload: 100 }))
    expect(got.status).toBe(DD | EOP | IXSM)
    expect(got.errors).toBe(0)
  })

  it('checks a good TCP frame: IPCS and TCPCS set, no errors', () => {
    const { m, d } = setup(RXCSUM_IPOFLD | RXCSUM_TUOFLD)
    const got = receiveOne(m, d, ipFrame({ payload: 333 }))
    expect(got.status).toBe(DD | EOP | IPCS | TCPCS)
    expect(got.errors).toBe(0)
  })

  it('flags a bad IP header checksum with IPE and a bad TCP or UDP checksum with TCPE', () => {
    const { m, d } = setup(RXCSUM_IPOFLD | RXCSUM_TUOFLD)
    const badIp = ipFrame({ payload: 64 })
    badIp[ETH_HEADER + 10] = badIp[ETH_HEADER + 10]! ^ 0x40
    expect(receiveOne(m, d, badIp).errors).toBe(ERR_IPE)
    const badTcp = ipFrame({ payload: 64 })
    badTcp[badTcp.length - 1] = badTcp[badTcp.length - 1]! ^ 0x01
    const got = receiveOne(m, d, badTcp)
    expect(got.status & (IPCS | TCPCS)).toBe(IPCS | TCPCS)
    expect(got.errors).toBe(ERR_TCPE)
    const badUdp = ipFrame({ protocol: PROTO_UDP, payload: 64 })
    badUdp[badUdp.length - 2] = badUdp[badUdp.length - 2]! ^ 0x10
    expect(receiveOne(m, d, badUdp).errors).toBe(ERR_TCPE)
  })

  it('checks only what RXCSUM enables: IPOFLD alone reports IPCS, TUOFLD alone TCPCS', () => {
    const ipOnly = setup(RXCSUM_IPOFLD)
    expect(receiveOne(ipOnly.m, ipOnly.d, ipFrame({ payload: 64 })).status).toBe(DD | EOP | IPCS)
    const tcpOnly = setup(RXCSUM_TUOFLD)
    expect(receiveOne(tcpOnly.m, tcpOnly.d, ipFrame({ payload: 64 })).status).toBe(DD | EOP | TCPCS)
  })

  it('does not check the TCP/UDP checksum of an IP fragment, nor anything of a frame that is not IPv4 (table 3-5)', () => {
    const { m, d } = setup(RXCSUM_IPOFLD | RXCSUM_TUOFLD)
    const fragment = ipFrame({ payload: 64, checksums: false })
    fragment[ETH_HEADER + 6] = 0x20 // MF
    fragment[ETH_HEADER + 10] = 0
    fragment[ETH_HEADER + 11] = 0
    const sum = ~sum16(fragment, ETH_HEADER, ETH_HEADER + 20) & 0xffff
    fragment[ETH_HEADER + 10] = sum >>> 8
    fragment[ETH_HEADER + 11] = sum & 0xff
    const got = receiveOne(m, d, fragment)
    expect(got.status).toBe(DD | EOP | IPCS)
    expect(got.errors).toBe(0)
    expect(receiveOne(m, d, ethernetFrame(100, NIC_MAC)).status).toBe(DD | EOP)
  })

  it('finds the IP header behind an 802.1Q tag it did not strip (3.2.9.2)', () => {
    const { m, d } = setup(RXCSUM_IPOFLD | RXCSUM_TUOFLD)
    const plain = ipFrame({ payload: 80 })
    const tagged = new Uint8Array([...plain.subarray(0, 12), 0x81, 0x00, 0x00, 0x07, ...plain.subarray(12)])
    const got = receiveOne(m, d, tagged)
    expect(got.status).toBe(DD | EOP | IPCS | TCPCS)
    d.write(R.CTRL, CTRL_SLU | CTRL_VME)
    const stripped = receiveOne(m, d, tagged)
    expect(stripped.status).toBe(DD | EOP | VP | IPCS | TCPCS)
    expect([...stripped.data]).toEqual([...plain])
  })

  it('writes the packet checksum from RXCSUM.PCSS to the end, after stripping, in the descriptor (3.2.9)', () => {
    const { m, d } = setup(14)
    const frame = ipFrame({ payload: 101 })
    const got = receiveOne(m, d, frame)
    expect(got.checksum).toBe(sum16(frame, 14, frame.length))
    // With the FCS kept, the sum covers it too.
    d.write(R.RCTL, RCTL_EN | RCTL_BAM)
    const withFcs = receiveOne(m, d, frame)
    expect(withFcs.checksum).toBe(sum16(withFcs.data, 14, withFcs.data.length))
  })

  it('reports the packet checksum in the first descriptor of a frame that spans several (3.2.3)', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { rxBufferSize: 1024, rctl: RCTL_BAM | RCTL_SECRC | (1 << 16) }).init()
    d.write(R.RXCSUM, 0)
    const frame = ipFrame({ payload: 1400 })
    m.wire.inject(frame)
    m.runUntilIdle()
    expect(d.rxDescriptor(0).checksum).toBe(sum16(frame, 0, frame.length))
    expect(d.rxDescriptor(1).checksum).toBe(0)
  })

  // A stated shortcut (rx.ts): the packet checksum is a pass over every byte, so it is written
  // once software has programmed RXCSUM, as drivers that use it do.
  it('leaves the packet checksum 0 until software writes RXCSUM', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const frame = ipFrame({ payload: 100 })
    expect(receiveOne(m, d, frame).checksum).toBe(0)
    d.write(R.RXCSUM, 0)
    expect(receiveOne(m, d, frame).checksum).toBe(sum16(frame, 0, frame.length))
    d.write(R.CTRL, 1 << 26) // a reset forgets it
    d.init()
    expect(receiveOne(m, d, frame).checksum).toBe(0)
  })
})
