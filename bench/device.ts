// Frames per second through the NIC alone, in loopback: a bare-metal driver in the bench posts
// a ring's worth of transmit descriptors, rings the doorbell once, lets the machine run (TX
// DMA, the wire, RX DMA), then reaps the receive ring and reposts it — interrupts coalesced
// (ITR), no ISR. Buffers are the cold working set of working-set.ts. With the IOMMU on, the
// buffers and rings live above 4 GiB and the device sees IOVAs below it.
//
// The driver is lean so the figure is the device's: it keeps a copy of each ring (one page)
// in host memory, fills in a batch of descriptors there and stores the batch into RAM in one
// go (`m.ram`: the memory the CPU's stores land in), reads the receive ring back in one go to
// reap it, and only its doorbells go over the bus, as MMIO writes. Device addresses are the
// physical ones plus a fixed offset; the slot sequence is slotAt's, stepped incrementally.
import { createMachine } from '../src/index.js'
import { REGION, SLOT, SLOTS, STRIDE, slotAt } from './working-set.js'

const RING = 256
const REGS = { CTRL: 0x0, RCTL: 0x100, TCTL: 0x400, ITR: 0xc4, RDBAL: 0x2800, RDBAH: 0x2804, RDLEN: 0x2808, RDH: 0x2810, RDT: 0x2818, TDBAL: 0x3800, TDBAH: 0x3804, TDLEN: 0x3808, TDH: 0x3810, TDT: 0x3818, RAL: 0x5400, RAH: 0x5404 } as const

export interface DeviceResult {
  framesPerSecond: number
  frames: number
}

export function deviceLoopback(size: number, iommu: boolean, seconds: number): DeviceResult {
  const m = createMachine({ wire: 'loopback', iommu, memory: { size: '8GiB' } })
  const cpu = m.cpu
  // Physical layout: below 4 GiB without the IOMMU (a 32-bit device), above it with.
  const base = iommu ? 0x1_0000_0000 : 0x1000_0000
  const ringsPa = base
  const txPa = base + 0x100_0000
  const rxPa = txPa + REGION
  const iovaBase = 0x1000_0000
  const toDevice = iommu ? iovaBase - base : 0
  const dev = (pa: number): number => pa + toDevice
  if (iommu) {
    const bdf = m.nic.bdf
    m.iommu.map(bdf, dev(ringsPa), ringsPa, 0x1_0000, { read: true, write: true })
    m.iommu.map(bdf, dev(txPa), txPa, REGION, { read: true, write: false })
    m.iommu.map(bdf, dev(rxPa), rxPa, REGION, { read: false, write: true })
  }
  const mac = m.nic.mac
  const frame = new Uint8Array(size)
  frame.set(mac, 0)
  frame.set(mac, 6)
  frame[12] = 0x88
  frame[13] = 0xb5
  for (let i = 14; i < size; i++) frame[i] = (i * 7) & 0xff
  for (let s = 0; s < SLOTS; s++) cpu.writeBytes(txPa + s * SLOT, frame) // pre-filled
  for (let s = 0; s < SLOTS; s++) cpu.write32(rxPa + s * SLOT, 0)

  const bar = m.nic.bar0
  const reg = (r: number, v: number): void => cpu.write32(bar + r, v)
  m.pci.configWrite32(m.nic.bdf, 0x04, 0x6) // memory space + bus master
  reg(REGS.CTRL, 0x40) // SLU
  reg(REGS.RAL, (mac[0]! | (mac[1]! << 8) | (mac[2]! << 16) | (mac[3]! << 24)) >>> 0)
  reg(REGS.RAH, (mac[4]! | (mac[5]! << 8) | 0x8000_0000) >>> 0)
  const txRing = ringsPa
  const rxRing = ringsPa + RING * 16
  reg(REGS.TDBAL, dev(txRing))
  reg(REGS.TDBAH, 0)
  reg(REGS.TDLEN, RING * 16)
  reg(REGS.TDH, 0)
  reg(REGS.TDT, 0)
  reg(REGS.RDBAL, dev(rxRing))
  reg(REGS.RDBAH, 0)
  reg(REGS.RDLEN, RING * 16)
  reg(REGS.RDH, 0)
  let rxSlot = 0
  for (let i = 0; i < RING; i++) {
    cpu.write64(rxRing + i * 16, dev(rxPa + slotAt(rxSlot++ + SLOTS / 2) * SLOT))
    cpu.write32(rxRing + i * 16 + 12, 0)
  }
  reg(REGS.RDT, RING - 1)
  reg(REGS.ITR, 488) // ~8,000 interrupts/s: coalesced
  reg(REGS.RCTL, 0x2 | 0x8000 | 0x0400_0000) // EN, BAM, SECRC; 2 KiB buffers
  reg(REGS.TCTL, 0x2 | 0x8) // EN, PSP

  let txTail = 0
  let rxNext = 0
  let frames = 0
  const ram = m.ram
  const txBuffers = txPa + toDevice
  const rxBuffers = rxPa + toDevice
  // slotAt(i) for the next transmit frame and the next receive buffer, stepped by STRIDE.
  let txSlot = slotAt(0)
  let rxSlotNext = slotAt(rxSlot + SLOTS / 2)
  const txCopy = new Uint8Array(RING * 16)
  const txView = new DataView(txCopy.buffer)
  const rxCopy = new Uint8Array(RING * 16)
  const rxView = new DataView(rxCopy.buffer)
  /** Stores descriptors first..first+count-1 (mod RING) of a ring copy into RAM. */
  const store = (ring: number, copy: Uint8Array, first: number, count: number): void => {
    const straight = Math.min(count, RING - first)
    ram.writeFrom(ring + first * 16, copy, first * 16, straight * 16)
    if (count > straight) ram.writeFrom(ring, copy, 0, (count - straight) * 16)
  }
  const cmd = (0x01 | 0x02 | 0x08) << 24 // EOP | IFCS | RS in the CMD byte
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    const first = txTail
    for (let k = 0; k < RING - 1; k++) {
      const d = txTail * 16
      const address = txBuffers + txSlot * SLOT
      txView.setUint32(d, address >>> 0, true)
      txView.setUint32(d + 4, Math.floor(address / 2 ** 32), true)
      txView.setUint32(d + 8, size | cmd, true)
      txView.setUint32(d + 12, 0, true)
      txSlot = (txSlot + STRIDE) % SLOTS
      txTail = txTail + 1 === RING ? 0 : txTail + 1
    }
    store(txRing, txCopy, first, RING - 1)
    reg(REGS.TDT, txTail)
    m.runUntilIdle()
    ram.readInto(rxRing, rxCopy, 0, RING * 16)
    const reaped = rxNext
    let count = 0
    while (count < RING && (rxCopy[rxNext * 16 + 12]! & 1) !== 0) {
      const d = rxNext * 16
      const address = rxBuffers + rxSlotNext * SLOT
      rxView.setUint32(d, address >>> 0, true)
      rxView.setUint32(d + 4, Math.floor(address / 2 ** 32), true)
      rxView.setUint32(d + 12, 0, true)
      rxSlotNext = (rxSlotNext + STRIDE) % SLOTS
      rxNext = rxNext + 1 === RING ? 0 : rxNext + 1
      count++
    }
    store(rxRing, rxCopy, reaped, count)
    frames += count
    reg(REGS.RDT, (rxNext + RING - 1) % RING)
  }
  const elapsed = (performance.now() - start) / 1000
  if (m.findings.length > 0) throw new Error(`device bench produced findings: ${m.findings[0]!.kind}: ${m.findings[0]!.message}`)
  return { framesPerSecond: frames / elapsed, frames }
}
