// The transmit engine, driven bare-metal (manual 3.3): legacy descriptors (3.3.3) gathered up to
// EOP, DD written back to the status dword only with RS (3.3.3.2), TXDW and TXQE (13.4.17),
// TDH wrapping modulo the ring, short frames padded with TCTL.PSP, frames spaced at line rate
// through the transmit FIFO (its share of PBA), and nothing sent without link and TCTL.EN.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import type { DmaObserver } from '../../../src/hw/dma-engine.js'
import {
  BareMetalE1000, DD, ICR_TXDW, ICR_TXQE, R, TXD_IFCS, TXD_RS, ethernetFrame,
} from '../../support/e1000-driver.js'

interface Access {
  address: number
  length: number
  access: 'read' | 'write'
}

function record(m: ReturnType<typeof createMachine>): Access[] {
  const log: Access[] = []
  const observer: DmaObserver = { onAccess: (_r, logical, _p, length, access) => void log.push({ address: logical, length, access }) }
  m.nic.dma.observer = observer
  return log
}

describe('transmit', () => {
  it('puts a frame on the wire and writes DD back only to the status dword, and only with RS', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const frame = ethernetFrame(128)
    const log = record(m)
    const i = d.send(frame)
    const before = m.cpu.readBytes(d.txRing + i * 16, 12)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(1)
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
    const writes = log.filter((a) => a.access === 'write')
    expect(writes).toEqual([{ address: d.device(d.txRing) + 12, length: 4, access: 'write' }])
    expect(d.txDescriptor(i).status & DD).toBe(DD)
    expect([...m.cpu.readBytes(d.txRing + i * 16, 12)]).toEqual([...before])

    // Without RS the device writes nothing back.
    log.length = 0
    const j = d.send(frame, TXD_IFCS)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(2)
    expect(log.some((a) => a.access === 'write')).toBe(false)
    expect(d.txDescriptor(j).status).toBe(0)
    expect(d.read(R.TDH)).toBe(2)
  })

  it('raises TXDW when a descriptor is written back and TXQE when the ring runs empty', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.read(R.ICR)
    d.send(ethernetFrame(60), TXD_IFCS)
    m.runUntilIdle()
    expect(d.read(R.ICR)).toBe(ICR_TXQE)
    d.send(ethernetFrame(60))
    m.runUntilIdle()
    expect(d.read(R.ICR)).toBe(ICR_TXDW | ICR_TXQE)
  })

  it('gathers a frame from several descriptors up to EOP', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const frame = ethernetFrame(1000)
    const parts = [frame.subarray(0, 14), frame.subarray(14, 500), frame.subarray(500)]
    const used = d.queue(parts)
    d.doorbell()
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(1)
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
    expect(used.map((i) => d.txDescriptor(i).status & DD)).toEqual([DD, DD, DD])
  })

  it('holds a frame whose EOP is not posted yet and sends it whole when the rest arrives', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const frame = ethernetFrame(300)
    d.queue([frame.subarray(0, 100), frame.subarray(100)])
    d.doorbell(1) // only the first descriptor
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(0)
    expect(d.read(R.TDH)).toBe(1)
    d.doorbell(2)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(1)
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
  })

  it('wraps the ring: TDH advances modulo the ring size', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { txCount: 8 }).init()
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 5; k++) d.queue([ethernetFrame(64, undefined, round * 5 + k)])
      d.doorbell()
      m.runUntilIdle()
      expect(d.reapTx()).toHaveLength(5)
    }
    expect(m.wire.transmitted).toHaveLength(15)
    expect(d.read(R.TDH)).toBe(15 % 8)
    m.wire.transmitted.forEach((f, k) => expect([...f]).toEqual([...ethernetFrame(64, undefined, k)]))
  })

  it('pads short frames to 60 bytes with TCTL.PSP and sends them as they are without it', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.send(ethernetFrame(42))
    m.runUntilIdle()
    expect(m.wire.transmitted[0]).toHaveLength(60)
    expect([...m.wire.transmitted[0]!.subarray(42)]).toEqual(new Array(18).fill(0))
    const m2 = createMachine()
    const d2 = new BareMetalE1000(m2, { tctl: 0 }).init()
    d2.send(ethernetFrame(42))
    m2.runUntilIdle()
    expect(m2.wire.transmitted[0]).toHaveLength(42)
  })

  it('spaces frames on the wire by their time at the link speed (1 Gbit/s: 672 ns for a minimum frame)', () => {
    const m = createMachine()
    const pcap = m.wire.capturePcap()
    const d = new BareMetalE1000(m).init()
    for (let k = 0; k < 4; k++) d.queue([ethernetFrame(60)])
    d.doorbell()
    m.runUntilIdle()
    expect(m.wire.txFreeAt - m.clock.now).toBeGreaterThan(0)
    // (8 preamble + 64 frame with FCS + 12 gap) × 8 bits at 1000 Mbit/s.
    expect(m.wire.frameTimeNs(60)).toBe(672)
    expect(m.wire.frameTimeNs(1514)).toBe((8 + 1518 + 12) * 8)
    expect(pcap.frames).toBe(4)
    expect(m.wire.txFreeAt).toBe(4 * 672)
    const slow = createMachine({ nic: { linkMbps: 100 } })
    expect(slow.wire.frameTimeNs(60)).toBe(6720)
  })

  it('stops transmitting once its FIFO is full and resumes as it drains, still sending everything in order', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { txCount: 64 }).init()
    for (let k = 0; k < 40; k++) d.queue([ethernetFrame(1514, undefined, k)])
    d.doorbell()
    m.run({ ns: 1000 })
    // 16 KiB of FIFO holds about ten full frames ahead of the wire.
    const early = m.wire.transmitted.length
    expect(early).toBeGreaterThan(5)
    expect(early).toBeLessThan(20)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(40)
    m.wire.transmitted.forEach((f, k) => expect(f[20]).toBe(ethernetFrame(1514, undefined, k)[20]))
  })

  it('waits for the link and for TCTL.EN before sending what was posted', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    d.write(R.CTRL, 0) // link down
    d.send(ethernetFrame(60))
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(0)
    d.write(R.CTRL, 0x40)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(1)
    d.write(R.TCTL, 0)
    d.send(ethernetFrame(60))
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(1)
    d.write(R.TCTL, 0x2)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(2)
  })
})
