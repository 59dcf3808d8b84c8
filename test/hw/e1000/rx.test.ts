// The receive engine, driven bare-metal (manual 3.2): descriptors written data first, then
// length and status with DD and EOP last (3.2.3), frames spread over buffers of RCTL.BSIZE and
// BSEX (13.4.22), the FCS stored unless SECRC, address filtering (3.2.1 / 13.4.22 RCTL: UPE,
// MPE, BAM; the MTA and RAL/RAH, 13.4.62–63), runts and long frames (13.7.34 RUC, 13.7.36
// ROC, RCTL.LPE and SBP), RXDMT0 at the RDMTS threshold (13.4.22), the receiver off while the
// link is down or RCTL.EN is clear.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { crc32 } from '../../../src/hw/e1000/crc32.js'
import { multicastHash } from '../../../src/hw/e1000/filter.js'
import {
  BareMetalE1000, e1000, DD, EOP, ICR_RXDMT0, IXSM, NIC_MAC, R, RCTL_BAM, RCTL_BSEX, RCTL_LPE, RCTL_MPE, RCTL_SBP, RCTL_SECRC, RCTL_UPE,
  ethernetFrame,
} from '../../support/e1000-driver.js'

/** Bit-at-a-time CRC-32: an independent reference for the device's table-driven FCS. */
function referenceCrc(bytes: Uint8Array): number {
  let c = 0xffff_ffff
  for (const b of bytes) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb8_8320 : c >>> 1
  }
  return (c ^ 0xffff_ffff) >>> 0
}

const OTHER_MAC = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]

function setup(options: ConstructorParameters<typeof BareMetalE1000>[1] = {}): { m: ReturnType<typeof createMachine>; d: BareMetalE1000 } {
  const m = createMachine()
  return { m, d: new BareMetalE1000(m, options).init() }
}

describe('receive', () => {
  it('writes the data, then the length, then the status with DD|EOP last', () => {
    const { m, d } = setup()
    const order: string[] = []
    const ring = d.device(d.rxRing)
    m.nic.dma.observer = {
      onAccess(_r, logical, _p, length, access) {
        if (access === 'read') return
        order.push(logical === ring + 8 ? `length(${length})` : logical === ring + 12 ? `status(${length})` : `data(${length})`)
      },
    }
    const frame = ethernetFrame(200, NIC_MAC)
    m.wire.inject(frame)
    m.runUntilIdle()
    expect(order).toEqual(['data(200)', 'length(4)', 'status(4)'])
    const [got] = d.receive()
    // 3.2.3.1: IXSM is set while RXCSUM has no checksum offload on.
    expect(got?.status).toBe(DD | EOP | IXSM)
    expect(got?.errors).toBe(0)
    expect([...got!.data]).toEqual([...frame])
  })

  it('consumes a descriptor with a null buffer address without writing data and uses the next one', () => {
    const { m, d } = setup()
    d.armRx(0, 0)
    const frame = ethernetFrame(100, NIC_MAC)
    m.wire.inject(frame)
    m.runUntilIdle()
    expect(d.rxDescriptor(0)).toMatchObject({ length: 0, status: DD })
    expect(d.rxDescriptor(1)).toMatchObject({ length: 100, status: DD | EOP | IXSM })
    expect([...m.cpu.readBytes(d.rxBuffers[1]!, 100)]).toEqual([...frame])
    expect(d.read(R.RDH)).toBe(2)
    expect(m.findings.map((f) => f.details?.reason)).toEqual(['null-buffer'])
  })

  it('spreads a frame larger than one buffer over several descriptors, EOP on the last', () => {
    const { m, d } = setup({ rxBufferSize: 1024, rctl: RCTL_BAM | RCTL_SECRC | (1 << 16) })
    const frame = ethernetFrame(1500, NIC_MAC)
    m.wire.inject(frame)
    m.runUntilIdle()
    expect(d.rxDescriptor(0)).toMatchObject({ length: 1024, status: DD })
    expect(d.rxDescriptor(1)).toMatchObject({ length: 476, status: DD | EOP | IXSM })
    const got = new Uint8Array([...m.cpu.readBytes(d.rxBuffers[0]!, 1024), ...m.cpu.readBytes(d.rxBuffers[1]!, 476)])
    expect([...got]).toEqual([...frame])
  })

  it('takes its buffer size from RCTL.BSIZE and BSEX', () => {
    const sizes: Array<[number, number]> = [
      [0 << 16, 2048], [1 << 16, 1024], [2 << 16, 512], [3 << 16, 256],
      [RCTL_BSEX | (1 << 16), 16384], [RCTL_BSEX | (2 << 16), 8192], [RCTL_BSEX | (3 << 16), 4096],
    ]
    for (const [bits, size] of sizes) {
      const { m } = setup({ rxBufferSize: size, rctl: RCTL_BAM | RCTL_SECRC | RCTL_LPE | bits })
      expect(e1000(m).rx.bufferSize).toBe(size)
      expect(m.findings).toEqual([])
    }
  })

  it('treats the reserved BSEX + BSIZE 00 as 2048-byte buffers and reports it', () => {
    const { m } = setup({ rctl: RCTL_BAM | RCTL_SECRC | RCTL_BSEX })
    expect(e1000(m).rx.bufferSize).toBe(2048)
    expect(m.findings.map((f) => [f.kind, f.details?.reason])).toEqual([['device-error', 'reserved-buffer-size']])
  })

  it('appends the FCS it computed when RCTL.SECRC is clear', () => {
    expect(crc32(new TextEncoder().encode('123456789'), 0, 9)).toBe(0xcbf4_3926)
    const { m, d } = setup({ rctl: RCTL_BAM })
    const frame = ethernetFrame(100, NIC_MAC)
    m.wire.inject(frame)
    m.runUntilIdle()
    const [got] = d.receive()
    expect(got?.length).toBe(104)
    const fcs = referenceCrc(frame)
    expect([...got!.data.subarray(100)]).toEqual([fcs & 0xff, (fcs >>> 8) & 0xff, (fcs >>> 16) & 0xff, fcs >>> 24])
  })

  // 13.7.34 RUC, 13.4.22 SBP: a frame under 64 bytes with FCS is a runt, counted and
  // discarded unless bad packets are stored, when it is stored as it came.
  it('discards a runt (under 64 bytes with FCS) in RUC, and stores it unpadded with RCTL.SBP', () => {
    const { m, d } = setup()
    m.wire.inject(ethernetFrame(59, NIC_MAC))
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.runUntilIdle()
    expect(d.read(R.RUC)).toBe(1)
    expect(d.read(R.RLEC)).toBe(1)
    expect(d.receive().map((f) => f.length)).toEqual([60])
    const sbp = setup({ rctl: RCTL_BAM | RCTL_SECRC | RCTL_SBP })
    const runt = ethernetFrame(20, NIC_MAC)
    sbp.m.wire.inject(runt)
    sbp.m.runUntilIdle()
    expect(sbp.d.read(R.RUC)).toBe(1)
    const [got] = sbp.d.receive()
    expect([...got!.data]).toEqual([...runt])
  })

  // 13.7.36 ROC: "Packets over 1522 bytes are oversized if LongPacketEnable (RCTL.LPE) is 0b",
  // whether tagged or not; with LPE the limit is 16384 bytes.
  it('with LPE clear discards only frames longer than 1522 bytes with FCS, tagged or not (ROC)', () => {
    const { m, d } = setup()
    m.wire.inject(ethernetFrame(1519, NIC_MAC))
    m.wire.inject(ethernetFrame(1518, NIC_MAC))
    m.wire.inject(ethernetFrame(1514, NIC_MAC))
    m.runUntilIdle()
    expect(d.read(R.ROC)).toBe(1)
    expect(d.receive().map((f) => f.length)).toEqual([1518, 1514])
    const long = setup({ rctl: RCTL_BAM | RCTL_SECRC | RCTL_LPE })
    long.m.wire.inject(ethernetFrame(2000, NIC_MAC))
    long.m.runUntilIdle()
    expect(long.d.receive().map((f) => f.length)).toEqual([2000])
  })

  it('stores an oversized frame with RCTL.SBP, still counting it in ROC', () => {
    const { m, d } = setup({ rctl: RCTL_BAM | RCTL_SECRC | RCTL_SBP | (1 << 16) | RCTL_BSEX })
    m.wire.inject(ethernetFrame(3000, NIC_MAC))
    m.runUntilIdle()
    expect(d.read(R.ROC)).toBe(1)
    expect(d.receive().map((f) => f.length)).toEqual([3000])
  })

  it('filters by address: its own unicast, broadcast with BAM, multicast through the MTA, everything when promiscuous', () => {
    const { m, d } = setup({ rctl: RCTL_SECRC })
    const group = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]
    const deliver = (dst: ArrayLike<number>): number => {
      m.wire.inject(ethernetFrame(64, dst))
      m.runUntilIdle()
      return d.receive().length
    }
    expect(deliver(NIC_MAC)).toBe(1)
    expect(deliver(OTHER_MAC)).toBe(0)
    expect(deliver([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBe(0) // BAM clear
    expect(deliver(group)).toBe(0)
    const hash = multicastHash(Uint8Array.from(group))
    d.write(R.MTA + (hash >>> 5) * 4, 1 << (hash & 31))
    expect(deliver(group)).toBe(1)
    expect(deliver([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc])).toBe(0)
    d.write(R.RCTL, 0x2 | RCTL_SECRC | RCTL_BAM)
    expect(deliver([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBe(1)
    d.write(R.RCTL, 0x2 | RCTL_SECRC | RCTL_MPE)
    expect(deliver([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc])).toBe(1)
    expect(deliver(OTHER_MAC)).toBe(0)
    d.write(R.RCTL, 0x2 | RCTL_SECRC | RCTL_UPE)
    expect(deliver(OTHER_MAC)).toBe(1)
    // 13.4.22: UPE is unicast promiscuous only; group addresses still need MPE, BAM or the MTA.
    expect(deliver([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBe(0)
    expect(deliver([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc])).toBe(0)
    // A second receive address, made valid.
    d.write(R.RCTL, 0x2 | RCTL_SECRC)
    d.write(R.RAL0 + 8, 0xccbb_aa02)
    d.write(R.RAH0 + 8, 0x8000_eedd)
    expect(deliver(OTHER_MAC)).toBe(1)
    expect(d.read(R.BPRC)).toBe(1)
    expect(d.read(R.MPRC)).toBe(2)
  })

  it('raises RXDMT0 when the free descriptors fall to the RDMTS threshold (half the ring)', () => {
    const { m, d } = setup({ rxCount: 16 })
    d.read(R.ICR)
    for (let k = 0; k < 6; k++) m.wire.inject(ethernetFrame(64, NIC_MAC, k))
    m.runUntilIdle()
    expect(d.read(R.ICR) & ICR_RXDMT0).toBe(0) // 15 given, 9 left
    m.wire.inject(ethernetFrame(64, NIC_MAC))
    m.runUntilIdle()
    expect(d.read(R.ICR) & ICR_RXDMT0).toBe(ICR_RXDMT0) // 8 left = 128 bytes = 256 >> 1
  })

  it('ignores frames while the link is down or RCTL.EN is clear', () => {
    const { m, d } = setup()
    d.write(R.RCTL, RCTL_BAM | RCTL_SECRC)
    m.wire.inject(ethernetFrame(64, NIC_MAC))
    m.runUntilIdle()
    d.write(R.RCTL, 0x2 | RCTL_BAM | RCTL_SECRC)
    d.write(R.CTRL, 0)
    m.wire.inject(ethernetFrame(64, NIC_MAC))
    m.runUntilIdle()
    expect(d.receive()).toHaveLength(0)
    expect(m.nic.counters.rx.ignored).toBe(2)
    expect(d.read(R.MPC)).toBe(0)
  })

  it('loops a transmitted frame back to the receive side in loopback mode', () => {
    const m = createMachine({ wire: 'loopback' })
    const d = new BareMetalE1000(m).init()
    const frame = ethernetFrame(1514, NIC_MAC)
    d.send(frame)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(0)
    const [got] = d.receive()
    expect([...got!.data]).toEqual([...frame])
  })
})
