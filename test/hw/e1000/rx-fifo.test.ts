// The receive FIFO (manual 13.7.33 RNBC, 13.7.5 MPC, ICR.RXO; PBA sizes it): a frame that
// finds no free descriptor waits in the FIFO and is written once RDT moves; only a frame that
// finds the FIFO full is lost.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { BareMetalE1000, ICR_RXO, ICR_RXT0, NIC_MAC, R, RCTL_BAM, RCTL_EN, RCTL_SECRC, ethernetFrame } from '../../support/e1000-driver.js'

function setup(rxCount = 8): { m: ReturnType<typeof createMachine>; d: BareMetalE1000 } {
  const m = createMachine()
  return { m, d: new BareMetalE1000(m, { rxCount }).init() }
}

describe('the receive FIFO', () => {
  it('holds frames that find no free descriptor, counting RNBC, and writes them once RDT moves — no MPC, no RXO', () => {
    const { m, d } = setup(8)
    d.read(R.ICR)
    const frames = Array.from({ length: 12 }, (_, k) => ethernetFrame(200, NIC_MAC, k))
    for (const f of frames) m.wire.inject(f)
    m.runUntilIdle()
    // 7 buffers were given (head == tail means empty): 5 frames wait.
    expect(d.read(R.RNBC)).toBe(5)
    expect(d.read(R.MPC)).toBe(0)
    expect(d.read(R.ICR) & ICR_RXO).toBe(0)
    const first = d.receive() // re-arms the buffers and moves RDT: the waiting frames go out
    m.runUntilIdle()
    const rest = d.receive()
    expect([...first, ...rest].map((f) => [...f.data])).toEqual(frames.map((f) => [...f]))
    expect(d.read(R.GPRC)).toBe(12)
  })

  it('keeps the order: a frame arriving while a longer one waits for descriptors queues behind it', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { rxCount: 8, rxBufferSize: 1024, rctl: RCTL_BAM | RCTL_SECRC | (1 << 16) }).init()
    for (let k = 0; k < 7; k++) m.wire.inject(ethernetFrame(100, NIC_MAC, k))
    const long = ethernetFrame(1500, NIC_MAC, 50) // two 1 KiB buffers
    m.wire.inject(long)
    m.runUntilIdle()
    // One more buffer: not enough for the waiting 1500-byte frame.
    d.armRx(7)
    d.write(R.RDT, 0)
    const short = ethernetFrame(100, NIC_MAC, 60)
    m.wire.inject(short)
    m.runUntilIdle()
    expect(d.rxDescriptor(7).status).toBe(0) // the short frame did not jump the queue
    expect(d.read(R.RNBC)).toBe(2)
    expect(d.receive()).toHaveLength(7) // reaps 0..6 and gives them back: both waiting frames go out
    m.runUntilIdle()
    const later = d.receive()
    expect(later.map((f) => f.length)).toEqual([1024, 476, 100])
    expect([...later[0]!.data, ...later[1]!.data]).toEqual([...long])
    expect([...later[2]!.data]).toEqual([...short])
  })

  it('drops a frame only when the FIFO is full: MPC counts it and RXO is raised (PBA sets the size)', () => {
    const { m, d } = setup(8)
    // 2 KiB of receive FIFO: with 7 buffers given, 7 frames land, then three 600-byte frames
    // fit in the FIFO (1,800 bytes) and the fourth does not.
    d.write(R.RCTL, 0)
    d.write(R.PBA, 2)
    d.write(R.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC)
    d.read(R.ICR)
    for (let k = 0; k < 11; k++) m.wire.inject(ethernetFrame(600, NIC_MAC, k))
    m.runUntilIdle()
    expect(d.read(R.RNBC)).toBe(4)
    expect(d.read(R.MPC)).toBe(1)
    expect(d.read(R.ICR) & ICR_RXO).toBe(ICR_RXO)
    expect(m.nic.counters.rx.noBuffers).toBe(1)
    d.receive()
    m.runUntilIdle()
    expect(d.receive()).toHaveLength(3)
  })

  it('raises RXT0 for frames written out of the FIFO as for any other', () => {
    const { m, d } = setup(8)
    for (let k = 0; k < 10; k++) m.wire.inject(ethernetFrame(100, NIC_MAC, k))
    m.runUntilIdle()
    d.read(R.ICR)
    d.receive() // RDT moves: the three waiting frames are written
    m.runUntilIdle()
    expect(d.read(R.ICR) & ICR_RXT0).toBe(ICR_RXT0)
    expect(d.receive()).toHaveLength(3)
  })

  it('is emptied when the receiver is disabled', () => {
    const { m, d } = setup(8)
    for (let k = 0; k < 10; k++) m.wire.inject(ethernetFrame(100, NIC_MAC, k))
    m.runUntilIdle()
    d.write(R.RCTL, 0)
    d.write(R.RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC)
    d.receive()
    m.runUntilIdle()
    expect(d.receive()).toEqual([])
  })
})
