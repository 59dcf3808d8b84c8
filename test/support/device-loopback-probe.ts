// A quick local measurement of the NIC's loopback path while developing the hardware (the
// real figures belong to bench/, issue 8). A bare-metal driver keeps 256-descriptor rings
// full: it posts 255 frames, rings TDT once, runs the machine until idle, reaps the receive
// ring and gives the buffers back — interrupts masked, so nothing but the device runs.
// Buffers are spread over 64 MiB of pre-filled memory. Beside each figure: the raw copy limit
// (the same two copies per frame, TypedArray.set over the same spread) from the same run.
//
//   npx tsx test/support/device-loopback-probe.ts [seconds-per-figure]
import { createMachine } from '../../src/index.js'

const RING = 256
const SPAN = 64 * 1024 * 1024
const STRIDE = SPAN / (2 * RING)
const SECONDS = Number(process.argv[2] ?? 1)

function copyLimit(size: number, seconds: number): number {
  const memory = new Uint8Array(SPAN + 65536).fill(0x5a)
  const wire = new Uint8Array(1 << 20)
  let frames = 0
  let at = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < RING; i++) {
      const tx = i * 2 * STRIDE
      const rx = tx + STRIDE
      wire.set(memory.subarray(tx, tx + size), at)
      memory.set(wire.subarray(at, at + size), rx)
      at = (at + 2048) & 0xf_ffff
      frames++
    }
  }
  return frames / ((performance.now() - start) / 1000)
}

function device(size: number, iommu: boolean, high: boolean, seconds: number): number {
  const m = createMachine({ wire: 'loopback', iommu })
  const bar = m.nic.bar0
  const w = (reg: number, v: number): void => m.cpu.write32(bar + reg, v >>> 0)
  m.pci.configWrite32('00:03.0', 4, 0x6)
  w(0x0000, 0x40) // CTRL.SLU
  const base = high ? 5 * 1024 ** 3 : 0x2000_0000
  const iova = 0x4000_0000
  const dev = (pa: number): number => (iommu ? iova + (pa - base) : pa)
  if (iommu && !m.iommu.map('00:03.0', iova, base, SPAN + 16384, { read: true, write: true })) throw new Error('map failed')
  const fill = new Uint8Array(1 << 20).fill(0x5a)
  for (let o = 0; o < SPAN + 16384; o += fill.length) m.ram.writeBytes(base + o, fill)
  const txRing = base
  const rxRing = base + 4096
  const txBuf = (i: number): number => base + 8192 + i * 2 * STRIDE
  const rxBuf = (i: number): number => txBuf(i) + STRIDE
  const frame = new Uint8Array(size)
  frame.set([0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5])
  for (let i = 0; i < RING; i++) {
    m.ram.writeBytes(txBuf(i), frame)
    m.ram.write64(rxRing + i * 16, dev(rxBuf(i)))
    m.ram.write64(rxRing + i * 16 + 8, 0)
  }
  const hi = (a: number): number => Math.floor(a / 2 ** 32)
  w(0x3800, dev(txRing) % 2 ** 32); w(0x3804, hi(dev(txRing))); w(0x3808, RING * 16); w(0x3810, 0); w(0x3818, 0)
  w(0x0400, 0x0a) // TCTL.EN | PSP
  w(0x2800, dev(rxRing) % 2 ** 32); w(0x2804, hi(dev(rxRing))); w(0x2808, RING * 16); w(0x2810, 0); w(0x2818, RING - 1)
  w(0x0100, 0x2 | 0x8000 | (1 << 26)) // RCTL.EN | BAM | SECRC
  const cmd = (0x01 | 0x02 | 0x08) << 24 // EOP | IFCS | RS
  let tail = 0
  let rxNext = 0
  let rxTail = RING - 1
  let received = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    for (let k = 0; k < RING - 1; k++) {
      const d = txRing + tail * 16
      m.ram.write64(d, dev(txBuf(tail)))
      m.ram.write32(d + 8, size | cmd)
      m.ram.write32(d + 12, 0)
      tail = (tail + 1) % RING
    }
    w(0x3818, tail)
    m.runUntilIdle()
    for (;;) {
      const d = rxRing + rxNext * 16
      if ((m.ram.read8(d + 12) & 1) === 0) break
      m.ram.write32(d + 12, 0)
      received++
      rxNext = (rxNext + 1) % RING
      rxTail = (rxTail + 1) % RING
    }
    w(0x2818, rxTail)
  }
  if (m.findings.length > 0) throw new Error(`unexpected findings: ${m.findings[0]!.message}`)
  return received / ((performance.now() - start) / 1000)
}

const best = (f: () => number): number => Math.max(f(), f(), f())
const mfps = (x: number): string => `${(x / 1e6).toFixed(2)} M frames/s`
for (const size of [64, 1500]) {
  copyLimit(size, 0.2)
  const limit = best(() => copyLimit(size, SECONDS / 3))
  const off = best(() => device(size, false, false, SECONDS / 3))
  const onLow = best(() => device(size, true, false, SECONDS / 3))
  const onHigh = best(() => device(size, true, true, SECONDS / 3))
  console.log(`${size} bytes: copy limit ${mfps(limit)}`)
  console.log(`  IOMMU off (memory below 4 GiB)       ${mfps(off)}  ${(off / limit).toFixed(2)} × limit`)
  console.log(`  IOMMU on, same memory               ${mfps(onLow)}  ${(onLow / limit).toFixed(2)} × limit, ${(onLow / off).toFixed(2)} × off`)
  console.log(`  IOMMU on, memory above 4 GiB         ${mfps(onHigh)}  ${(onHigh / limit).toFixed(2)} × limit, ${(onHigh / off).toFixed(2)} × off`)
}
