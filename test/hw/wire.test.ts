import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { BareMetalE1000, e1000, NIC_MAC, ethernetFrame } from '../support/e1000-driver.js'
import { readPcap } from '../support/pcap.js'

describe('the wire', () => {
  it('keeps every transmitted frame, without FCS, as its own copy', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const frame = ethernetFrame(100)
    d.send(frame)
    m.runUntilIdle()
    d.send(ethernetFrame(100, undefined, 5))
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(2)
    expect([...m.wire.transmitted[0]!]).toEqual([...frame])
    expect(m.wire.transmitted[0]!.buffer).not.toBe(m.wire.transmitted[1]!.buffer)
  })

  it('delivers injected frames one after another, each after its time on the link', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m).init()
    const arrivals: number[] = []
    const original = e1000(m).rx.receive.bind(e1000(m).rx)
    e1000(m).rx.receive = (buf, off, len) => {
      arrivals.push(m.clock.now)
      original(buf, off, len)
    }
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.wire.inject(ethernetFrame(1514, NIC_MAC))
    m.wire.inject(ethernetFrame(60, NIC_MAC))
    m.runUntilIdle()
    expect(arrivals).toEqual([672, 672 + 12_304, 672 + 12_304 + 672])
    expect(d.receive().map((f) => f.length)).toEqual([60, 1514, 60])
  })

  it('keeps order through a burst larger than its in-flight buffer', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { rxCount: 256 }).init()
    for (let k = 0; k < 250; k++) m.wire.inject(ethernetFrame(1514, NIC_MAC, k))
    expect(m.wire.inFlight).toBe(250)
    m.runUntilIdle()
    const got = d.receive()
    expect(got).toHaveLength(250)
    got.forEach((f, k) => expect([...f.data.subarray(14, 40)]).toEqual([...ethernetFrame(1514, NIC_MAC, k).subarray(14, 40)]))
  })

  it('generates frames at the configured rate with sequence numbers', () => {
    const m = createMachine()
    const d = new BareMetalE1000(m, { rxCount: 64 }).init()
    const gen = m.wire.generate({ count: 20, size: 128, ratePps: 100_000, destination: '52:54:00:12:34:56' })
    m.run({ ns: 95_000 })
    expect(gen.sent).toBe(10) // one every 10 µs, from t = 0
    m.runUntilIdle()
    expect(gen.done).toBe(true)
    const got = d.receive()
    expect(got.map((f) => (f.data[14]! << 24) | (f.data[15]! << 16) | (f.data[16]! << 8) | f.data[17]!)).toEqual([...Array(20).keys()])
    expect(got.every((f) => f.length === 128)).toBe(true)
  })

  it('generates back to back at line rate by default', () => {
    const m = createMachine()
    new BareMetalE1000(m, { rxCount: 64 }).init()
    const gen = m.wire.generate({ count: 10, size: 60 })
    m.run({ ns: 672 * 5 - 1 })
    expect(gen.sent).toBe(5)
  })

  it('writes a pcap of both directions with virtual timestamps that an independent parser reads back', async () => {
    const m = createMachine()
    const pcap = m.wire.capturePcap()
    const d = new BareMetalE1000(m).init()
    const out = ethernetFrame(200, undefined, 1)
    const inbound = ethernetFrame(1514, NIC_MAC, 2)
    m.run({ ns: 2_000_000_000 + 3_000 }) // start late enough to see whole seconds
    d.send(out)
    m.wire.inject(inbound)
    m.runUntilIdle()
    const dir = mkdtempSync(join(tmpdir(), 'dmalab-pcap-'))
    try {
      const path = join(dir, 'wire.pcap')
      writeFileSync(path, pcap.toBytes())
      const { header, packets } = await readPcap(path)
      expect(header).toMatchObject({ majorVersion: 2, minorVersion: 4, linkLayerType: 1, snapshotLength: 65535 })
      // The injection is recorded when it is made; the transmit happens in the device's next event.
      expect(packets.map((p) => [...p.data])).toEqual([[...inbound], [...out]])
      expect(packets.map((p) => [p.header.timestampSeconds, p.header.timestampMicroseconds])).toEqual([[2, 3], [2, 3]])
      expect(packets.map((p) => p.header.originalLength)).toEqual([1514, 200])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('is byte-identical across two runs of the same machine', () => {
    const run = (): Uint8Array => {
      const m = createMachine({ wire: 'loopback' })
      const pcap = m.wire.capturePcap()
      const d = new BareMetalE1000(m).init()
      for (let k = 0; k < 5; k++) d.send(ethernetFrame(60 + k * 100, NIC_MAC, k))
      m.wire.generate({ count: 5, size: 90 })
      m.runUntilIdle()
      return pcap.toBytes()
    }
    const a = run()
    expect(a.length).toBeGreaterThan(24 + 10 * 16)
    expect([...run()]).toEqual([...a])
  })

  it('refuses frames that cannot exist on the wire', () => {
    const m = createMachine()
    expect(() => m.wire.inject(new Uint8Array(0))).toThrow(RangeError)
    expect(() => m.wire.inject(new Uint8Array(20_000))).toThrow(RangeError)
    expect(() => m.wire.generate({ count: 1, size: 10 })).toThrow(RangeError)
  })
})
