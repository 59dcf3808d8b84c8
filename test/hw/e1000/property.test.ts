// Property tests: the device driven with random input never throws, always goes idle within a
// small event bound, keeps its ring indices inside the ring, and never puts more on the wire
// than a frame's worth per frame; and a well-formed driver gets back exactly what it sent.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import { BareMetalE1000, NIC_MAC, R, RCTL_BAM, RCTL_SECRC, ethernetFrame } from '../../support/e1000-driver.js'

const SEED = 20_261_121
const RING_REGISTERS = [R.TDBAL, R.TDBAH, R.TDLEN, R.TDH, R.TDT, R.TCTL, R.RDBAL, R.RDBAH, R.RDLEN, R.RDH, R.RDT, R.RCTL, R.CTRL, R.ITR, R.IMS, R.TIDV, R.RDTR] as const

const write = fc.record({
  register: fc.constantFrom(...RING_REGISTERS),
  value: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(0, 0x2, 0x40, 0x80, 256, 0xffff)),
})

const descriptor = fc.record({
  address: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(0x0100_0000, 0xfebe_0000, 0xd000_0000)),
  length: fc.oneof(fc.integer({ min: 0, max: 2048 }), fc.constant(0xffff)),
  cmd: fc.integer({ min: 0, max: 255 }),
})

describe('the NIC under random input', () => {
  it('never throws, always goes idle, and walks at most one ring per doorbell', () => {
    fc.assert(
      fc.property(fc.array(write, { maxLength: 30 }), fc.array(descriptor, { minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 8 }), (writes, descriptors, injected) => {
        const m = createMachine({ wire: 'loopback', maxEvents: 20_000, memory: { size: '64MiB' } })
        const d = new BareMetalE1000(m, { txCount: 16, rxCount: 16, base: 0x0100_0000 }).init()
        descriptors.forEach((desc, i) => d.writeTxDescriptor(i, desc.address, desc.length, desc.cmd))
        // At most one ring's worth per doorbell: the bound is the ring size at each TDT write
        // (init() rang it once already).
        let budget = 16
        for (const w of writes) {
          d.write(w.register, w.value)
          if (w.register === R.TDT) budget += d.read(R.TDLEN) >>> 4
        }
        for (let k = 0; k < injected; k++) m.wire.inject(ethernetFrame(64 + k * 100, NIC_MAC, k))
        const result = m.runUntilIdle()
        expect(result.boundHit).toBe(false)
        expect(m.findings.every((f) => ['device-error', 'dma-address-truncated', 'bus-master-disabled', 'iommu-fault'].includes(f.kind))).toBe(true)
        expect(m.nic.counters.tx.descriptors).toBeLessThanOrEqual(budget)
        // A frame never uses more descriptors than the ring holds.
        expect(m.nic.counters.rx.frames).toBeLessThanOrEqual(injected)
        expect(m.wire.counters.txBytes).toBeLessThanOrEqual(m.wire.counters.txFrames * 16288)
      }),
      { seed: SEED, numRuns: 150 },
    )
  })

  it('loops back every well-formed frame byte for byte, whatever the sizes, split points and ring size', () => {
    const frameArb = fc.record({
      size: fc.integer({ min: 14, max: 1514 }),
      seed: fc.integer({ min: 0, max: 255 }),
      split: fc.integer({ min: 1, max: 3 }),
    })
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 12 }), fc.constantFrom(8, 16, 32), (frames, ring) => {
        const m = createMachine({ wire: 'loopback', maxEvents: 20_000, memory: { size: '64MiB' } })
        const d = new BareMetalE1000(m, { txCount: ring, rxCount: ring, base: 0x0100_0000, rctl: RCTL_BAM | RCTL_SECRC }).init()
        const sent: Uint8Array[] = []
        const received: Uint8Array[] = []
        for (const f of frames) {
          const frame = ethernetFrame(f.size, NIC_MAC, f.seed)
          const cut = [0, ...Array.from({ length: f.split - 1 }, (_, k) => Math.floor((f.size * (k + 1)) / f.split)), f.size]
          const parts = cut.slice(1).map((end, k) => frame.subarray(cut[k]!, end)).filter((p) => p.length > 0)
          if ((d.txTail + parts.length) % ring === d.txClean || parts.length >= ring) {
            m.runUntilIdle()
            d.reapTx()
            received.push(...d.receive().map((r) => r.data))
          }
          d.queue(parts)
          d.doorbell()
          sent.push(frame.length < 60 ? Uint8Array.from([...frame, ...new Array(60 - frame.length).fill(0)]) : frame)
          m.runUntilIdle()
          d.reapTx()
          received.push(...d.receive().map((r) => r.data))
        }
        expect(received.map((r) => [...r])).toEqual(sent.map((s) => [...s]))
        expect(m.findings).toEqual([])
      }),
      { seed: SEED, numRuns: 60 },
    )
  })
})
