// 802.1Q VLANs (manual chapter 9, table 9-3; 3.3.3.1 VLE; 13.4.22 RCTL.VFE/CFIEN/CFI; 13.5.4
// VFTA): tag insertion on transmit with CTRL.VME, stripping into the descriptor's special
// field with VP on receive, and the VLAN filter.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import {
  BareMetalE1000, CTRL_SLU, CTRL_VME, DD, EOP, IXSM, NIC_MAC, R, RCTL_BAM, RCTL_CFI, RCTL_CFIEN, RCTL_EN, RCTL_SECRC, RCTL_VFE, TXD_EOP, TXD_RS, TXD_VLE, VP,
  ethernetFrame,
} from '../../support/e1000-driver.js'

function setup(): { m: ReturnType<typeof createMachine>; d: BareMetalE1000 } {
  const m = createMachine()
  return { m, d: new BareMetalE1000(m).init() }
}

/** `frame` with an 802.1Q tag of type `type` and control field `tci` after its addresses. */
function tag(frame: Uint8Array, tci: number, type = 0x8100): Uint8Array {
  return new Uint8Array([...frame.subarray(0, 12), type >>> 8, type & 0xff, tci >>> 8, tci & 0xff, ...frame.subarray(12)])
}

describe('802.1Q VLANs', () => {
  it('inserts the tag from VET and the special field when VLE is set and CTRL.VME is on (3.3.3.1)', () => {
    const { m, d } = setup()
    d.write(R.CTRL, CTRL_SLU | CTRL_VME)
    const frame = ethernetFrame(100)
    const i = d.txTail
    d.writeTxDescriptor(i, d.stage(frame), frame.length, TXD_EOP | TXD_RS | TXD_VLE, 0, { special: 0xa123 })
    d.txTail = (i + 1) % d.txCount
    d.doorbell()
    m.runUntilIdle()
    expect([...m.wire.transmitted[0]!]).toEqual([...tag(frame, 0xa123)])
    // VET sets the type inserted.
    d.write(R.VET, 0x88a8)
    const j = d.txTail
    d.writeTxDescriptor(j, d.stage(frame), frame.length, TXD_EOP | TXD_RS | TXD_VLE, 0, { special: 0x0005 })
    d.txTail = (j + 1) % d.txCount
    d.doorbell()
    m.runUntilIdle()
    expect([...m.wire.transmitted[1]!]).toEqual([...tag(frame, 0x0005, 0x88a8)])
  })

  it('ignores VLE while CTRL.VME is clear (3.3.3.1: "otherwise VLE capability is ignored")', () => {
    const { m, d } = setup()
    const frame = ethernetFrame(100)
    const i = d.txTail
    d.writeTxDescriptor(i, d.stage(frame), frame.length, TXD_EOP | TXD_RS | TXD_VLE, 0, { special: 0x0123 })
    d.txTail = (i + 1) % d.txCount
    d.doorbell()
    m.runUntilIdle()
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
  })

  it('strips a tag matching VET into the special field and sets VP when CTRL.VME is on; leaves it otherwise (table 9-3)', () => {
    const { m, d } = setup()
    const frame = ethernetFrame(100, NIC_MAC)
    m.wire.inject(tag(frame, 0x6042))
    m.runUntilIdle()
    const [kept] = d.receive()
    expect(kept?.status).toBe(DD | EOP | IXSM)
    expect([...kept!.data]).toEqual([...tag(frame, 0x6042)])
    d.write(R.CTRL, CTRL_SLU | CTRL_VME)
    m.wire.inject(tag(frame, 0x6042))
    m.runUntilIdle()
    const [stripped] = d.receive()
    expect(stripped?.status).toBe(DD | EOP | IXSM | VP)
    expect(stripped?.special).toBe(0x6042)
    expect([...stripped!.data]).toEqual([...frame])
  })

  it('with RCTL.VFE takes a tagged frame only if its VLAN id is set in the VFTA (13.5.4), untagged frames as before', () => {
    const { m, d } = setup()
    d.write(R.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_VFE)
    const frame = ethernetFrame(100, NIC_MAC)
    const deliver = (f: Uint8Array): number => {
      m.wire.inject(f)
      m.runUntilIdle()
      return d.receive().length
    }
    expect(deliver(tag(frame, 0x0123))).toBe(0)
    // VLAN id 0x123: register 0x123 >> 5 = 9, bit 0x123 & 31 = 3.
    d.write(R.VFTA + 9 * 4, 1 << 3)
    expect(deliver(tag(frame, 0x0123))).toBe(1)
    expect(deliver(tag(frame, 0xe123))).toBe(1) // priority bits are not part of the id
    expect(deliver(tag(frame, 0x0124))).toBe(0)
    expect(deliver(frame)).toBe(1)
    // The filter does not decide stripping (chapter 9 note): VME does.
    d.write(R.CTRL, CTRL_SLU | CTRL_VME)
    m.wire.inject(tag(frame, 0x0123))
    m.runUntilIdle()
    expect(d.receive()[0]?.special).toBe(0x0123)
  })

  it('with RCTL.CFIEN takes a tagged frame only if its CFI bit equals RCTL.CFI', () => {
    const { m, d } = setup()
    const frame = ethernetFrame(100, NIC_MAC)
    const deliver = (f: Uint8Array): number => {
      m.wire.inject(f)
      m.runUntilIdle()
      return d.receive().length
    }
    d.write(R.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_CFIEN)
    expect(deliver(tag(frame, 0x1010))).toBe(0) // CFI set, RCTL.CFI clear
    expect(deliver(tag(frame, 0x0010))).toBe(1)
    d.write(R.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC | RCTL_CFIEN | RCTL_CFI)
    expect(deliver(tag(frame, 0x1010))).toBe(1)
    expect(deliver(tag(frame, 0x0010))).toBe(0)
  })

  it('takes a tagged 1522-byte frame (with FCS) and nothing longer with LPE clear', () => {
    const { m, d } = setup()
    m.wire.inject(tag(ethernetFrame(1514, NIC_MAC), 5))
    m.wire.inject(tag(ethernetFrame(1515, NIC_MAC), 5))
    m.runUntilIdle()
    expect(d.receive().map((f) => f.length)).toEqual([1518])
    expect(d.read(R.ROC)).toBe(1)
  })
})
