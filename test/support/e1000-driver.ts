// A small bare-metal driver for the 82540EM model, in the spirit of QEMU's libqos and
// rust-vmm's MockSplitQueue: it lays rings and buffers out in guest RAM through `m.cpu`,
// programs registers through `m.cpu` on `m.nic.bar0`, posts and reaps descriptors — so device
// tests read like a driver. Offsets and bits are the datasheet's, kept here as a driver keeps
// its own header (it does not import the device model's tables); descriptors are decoded with
// the shared buffer-layout declarations, an independent reading of what the device wrote.
import type { Machine } from '../../src/machine.js'
import { E1000 } from '../../src/hw/e1000/e1000.js'
import { RX_DESCRIPTOR, TX_DESCRIPTOR } from '../../src/hw/e1000/layouts.js'

export const R = {
  CTRL: 0x0000, STATUS: 0x0008, EERD: 0x0014, MDIC: 0x0020, ICR: 0x00c0, ITR: 0x00c4, ICS: 0x00c8, IMS: 0x00d0, IMC: 0x00d8,
  RCTL: 0x0100, TCTL: 0x0400, RDBAL: 0x2800, RDBAH: 0x2804, RDLEN: 0x2808, RDH: 0x2810, RDT: 0x2818, RDTR: 0x2820, RADV: 0x282c,
  TDBAL: 0x3800, TDBAH: 0x3804, TDLEN: 0x3808, TDH: 0x3810, TDT: 0x3818, TIDV: 0x3820, TADV: 0x382c,
  MPC: 0x4010, GPRC: 0x4074, BPRC: 0x4078, MPRC: 0x407c, GPTC: 0x4080, GORCL: 0x4088, GORCH: 0x408c, GOTCL: 0x4090, GOTCH: 0x4094,
  RNBC: 0x40a0, RUC: 0x40a4, ROC: 0x40ac, RLEC: 0x4040, TPR: 0x40d0, TPT: 0x40d4, TSCTC: 0x40f8, TSCTFC: 0x40fc,
  MTA: 0x5200, RAL0: 0x5400, RAH0: 0x5404, EECD: 0x0010, VET: 0x0038, PBA: 0x1000, RXCSUM: 0x5000, VFTA: 0x5600,
} as const

export const CTRL_SLU = 0x40
export const CTRL_RST = 1 << 26
export const CTRL_VME = 1 << 30
export const CTRL_PHY_RST = 0x8000_0000
export const STATUS_LU = 0x2
export const ICR_TXDW = 0x01
export const ICR_TXQE = 0x02
export const ICR_LSC = 0x04
export const ICR_RXDMT0 = 0x10
export const ICR_RXO = 0x40
export const ICR_RXT0 = 0x80
export const RCTL_EN = 0x2
export const RCTL_UPE = 0x8
export const RCTL_MPE = 0x10
export const RCTL_LPE = 0x20
export const RCTL_BAM = 0x8000
export const RCTL_BSEX = 1 << 25
export const RCTL_SECRC = 1 << 26
export const RCTL_SBP = 0x4
export const RCTL_VFE = 1 << 18
export const RCTL_CFIEN = 1 << 19
export const RCTL_CFI = 1 << 20
export const RXCSUM_IPOFLD = 0x100
export const RXCSUM_TUOFLD = 0x200
export const TCTL_EN = 0x2
export const TCTL_PSP = 0x8
export const TXD_EOP = 0x01
export const TXD_IFCS = 0x02
export const TXD_RS = 0x08
export const TXD_IC = 0x04
export const TXD_TSE = 0x04
export const TXD_DEXT = 0x20
export const TXD_VLE = 0x40
export const TXD_IDE = 0x80
/** Context descriptor TUCMD (3.3.6.1) and data descriptor POPTS (3.3.7.3). */
export const TUCMD_TCP = 0x01
export const TUCMD_IP = 0x02
export const TUCMD_TSE = 0x04
export const POPTS_IXSM = 0x01
export const POPTS_TXSM = 0x02
export const DD = 0x01
export const EOP = 0x02
export const IXSM = 0x04
export const VP = 0x08
export const TCPCS = 0x20
export const IPCS = 0x40
export const ERR_TCPE = 0x20
export const ERR_IPE = 0x40
export const ERR_RXE = 0x80
export const PCI_COMMAND = 0x04
export const PCI_MEMORY = 0x2
export const PCI_BUS_MASTER = 0x4

export interface DriverOptions {
  readonly txCount?: number
  readonly rxCount?: number
  /** Receive buffer size; must match the RCTL.BSIZE bits in `rctl` (default 2048 = BSIZE 00). */
  readonly rxBufferSize?: number
  /** First physical address the driver lays its memory out from (default 16 MiB). */
  readonly base?: number
  /** With the IOMMU on: map everything at this device address (IOVA) and hand the device IOVAs. */
  readonly iova?: number
  /** RCTL bits besides EN (default BAM | SECRC). */
  readonly rctl?: number
  /** TCTL bits besides EN (default PSP). */
  readonly tctl?: number
  /** Enable bus mastering in PCI COMMAND (default true). */
  readonly busMaster?: boolean
}

export interface ReceivedFrame {
  readonly index: number
  readonly data: Uint8Array
  readonly length: number
  readonly status: number
  readonly errors: number
  readonly special: number
  readonly checksum: number
}

/** A TCP/IP context descriptor's fields (3.3.6). */
export interface ContextFields {
  readonly ipcss?: number
  readonly ipcso?: number
  readonly ipcse?: number
  readonly tucss?: number
  readonly tucso?: number
  readonly tucse?: number
  readonly payloadLength?: number
  readonly tucmd?: number
  readonly hdrlen?: number
  readonly mss?: number
  /** DCMD-style bits of the descriptor itself: RS, IDE (DEXT is added). */
  readonly cmd?: number
}

/** A TCP/IP data descriptor's extra fields (3.3.7). */
export interface DataFields {
  readonly popts?: number
  readonly special?: number
}

const TWO_POW_32 = 4294967296
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

export class BareMetalE1000 {
  readonly m: Machine
  readonly bar: number
  readonly txCount: number
  readonly rxCount: number
  readonly rxBufferSize: number
  readonly txRing: number
  readonly rxRing: number
  readonly txBuffers: number[] = []
  readonly rxBuffers: number[] = []
  /** Next TX descriptor the driver fills; next one it expects the device to complete. */
  txTail = 0
  txClean = 0
  /** Next RX descriptor the driver expects the device to fill; the RDT it last wrote. */
  rxNext = 0
  rxTail = 0
  private readonly options: DriverOptions
  private next: number
  private readonly base: number

  constructor(m: Machine, options: DriverOptions = {}) {
    this.m = m
    this.options = options
    this.bar = m.nic.bar0
    this.txCount = options.txCount ?? 16
    this.rxCount = options.rxCount ?? 16
    this.rxBufferSize = options.rxBufferSize ?? 2048
    this.base = options.base ?? 0x0100_0000
    this.next = this.base
    this.txRing = this.alloc(this.txCount * 16, 128)
    this.rxRing = this.alloc(this.rxCount * 16, 128)
    for (let i = 0; i < this.txCount; i++) this.txBuffers.push(this.alloc(2048, 2048))
    for (let i = 0; i < this.rxCount; i++) this.rxBuffers.push(this.alloc(this.rxBufferSize, Math.min(this.rxBufferSize, 4096)))
    if (options.iova !== undefined) {
      const length = this.next - this.base
      if (!m.iommu.map(m.nic.bdf, options.iova, this.base, length, { read: true, write: true })) throw new Error('IOMMU map failed')
    }
  }

  /** The address the device is given for physical address `pa`. */
  device(pa: number): number {
    return this.options.iova === undefined ? pa : this.options.iova + (pa - this.base)
  }

  /** Bump allocation of guest memory for rings and buffers (bare metal: no allocator). */
  alloc(bytes: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align
    this.next = at + bytes
    return at
  }

  read(reg: number): number {
    return this.m.cpu.read32(this.bar + reg)
  }

  write(reg: number, value: number): void {
    this.m.cpu.write32(this.bar + reg, value >>> 0)
  }

  pciCommand(value: number): void {
    this.m.pci.configWrite32(this.m.nic.bdf, PCI_COMMAND, value)
  }

  /** Reset, bus mastering, link up, both rings programmed and enabled. */
  init(): this {
    this.write(R.IMC, 0xffff_ffff)
    this.write(R.CTRL, CTRL_RST)
    this.read(R.ICR)
    this.pciCommand(PCI_MEMORY | (this.options.busMaster === false ? 0 : PCI_BUS_MASTER))
    this.write(R.CTRL, CTRL_SLU)
    this.setupTx()
    this.setupRx()
    return this
  }

  setupTx(): void {
    const ring = this.device(this.txRing)
    this.m.cpu.writeBytes(this.txRing, new Uint8Array(this.txCount * 16))
    this.write(R.TDBAL, ring % TWO_POW_32)
    this.write(R.TDBAH, Math.floor(ring / TWO_POW_32))
    this.write(R.TDLEN, this.txCount * 16)
    this.write(R.TDH, 0)
    this.write(R.TDT, 0)
    this.txTail = 0
    this.txClean = 0
    this.write(R.TCTL, TCTL_EN | (this.options.tctl ?? TCTL_PSP))
  }

  /** Gives every buffer but one to the device (head == tail means empty). */
  setupRx(): void {
    for (let i = 0; i < this.rxCount; i++) this.armRx(i)
    const ring = this.device(this.rxRing)
    this.write(R.RDBAL, ring % TWO_POW_32)
    this.write(R.RDBAH, Math.floor(ring / TWO_POW_32))
    this.write(R.RDLEN, this.rxCount * 16)
    this.write(R.RDH, 0)
    this.rxNext = 0
    this.rxTail = this.rxCount - 1
    this.write(R.RDT, this.rxTail)
    this.write(R.RCTL, RCTL_EN | (this.options.rctl ?? RCTL_BAM | RCTL_SECRC))
  }

  /** Writes RX descriptor `i` with its buffer and a clear status. */
  armRx(i: number, address = this.device(this.rxBuffers[i]!)): void {
    const d = this.rxRing + i * 16
    this.m.cpu.write32(d, address % TWO_POW_32)
    this.m.cpu.write32(d + 4, Math.floor(address / TWO_POW_32))
    this.m.cpu.write32(d + 8, 0)
    this.m.cpu.write32(d + 12, 0)
  }

  /** The MAC address as the EEPROM holds it, read through EERD. */
  readMac(): Uint8Array {
    const mac = new Uint8Array(6)
    for (let word = 0; word < 3; word++) {
      this.write(R.EERD, (word << 8) | 1)
      const v = this.read(R.EERD)
      if ((v & 0x10) === 0) throw new Error('EERD did not complete')
      mac[word * 2] = (v >>> 16) & 0xff
      mac[word * 2 + 1] = (v >>> 24) & 0xff
    }
    return mac
  }

  /** Writes TX descriptor `i` as given, without ringing the doorbell (legacy layout, 3.3.3). */
  writeTxDescriptor(i: number, address: number, length: number, cmd: number, status = 0, fields: { cso?: number; css?: number; special?: number } = {}): void {
    const d = this.txRing + i * 16
    this.m.cpu.write32(d, address % TWO_POW_32)
    this.m.cpu.write32(d + 4, Math.floor(address / TWO_POW_32))
    this.m.cpu.write32(d + 8, ((length & 0xffff) | ((fields.cso ?? 0) << 16) | (cmd << 24)) >>> 0)
    this.m.cpu.write32(d + 12, ((status & 0xff) | ((fields.css ?? 0) << 8) | ((fields.special ?? 0) << 16)) >>> 0)
  }

  /** Queues a TCP/IP context descriptor (DEXT, DTYP 0000b) at the tail; returns its index. */
  queueContext(c: ContextFields): number {
    const i = this.txTail
    const d = this.txRing + i * 16
    const cpu = this.m.cpu
    cpu.write32(d, ((c.ipcss ?? 0) | ((c.ipcso ?? 0) << 8) | ((c.ipcse ?? 0) << 16)) >>> 0)
    cpu.write32(d + 4, ((c.tucss ?? 0) | ((c.tucso ?? 0) << 8) | ((c.tucse ?? 0) << 16)) >>> 0)
    const tucmd = (c.tucmd ?? 0) | TXD_DEXT | (c.cmd ?? 0)
    cpu.write32(d + 8, (((c.payloadLength ?? 0) & 0xf_ffff) | (tucmd << 24)) >>> 0)
    cpu.write32(d + 12, (((c.hdrlen ?? 0) << 8) | ((c.mss ?? 0) << 16)) >>> 0)
    this.txTail = (i + 1) % this.txCount
    return i
  }

  /** Queues a TCP/IP data descriptor (DEXT, DTYP 0001b) for `length` bytes at device address `address`. */
  queueData(address: number, length: number, dcmd: number, fields: DataFields = {}): number {
    const i = this.txTail
    const d = this.txRing + i * 16
    const cpu = this.m.cpu
    cpu.write32(d, address % TWO_POW_32)
    cpu.write32(d + 4, Math.floor(address / TWO_POW_32))
    cpu.write32(d + 8, ((length & 0xf_ffff) | (0x1 << 20) | ((dcmd | TXD_DEXT) << 24)) >>> 0)
    cpu.write32(d + 12, (((fields.popts ?? 0) << 8) | ((fields.special ?? 0) << 16)) >>> 0)
    this.txTail = (i + 1) % this.txCount
    return i
  }

  /** Copies `bytes` into the transmit buffer of the next descriptor and returns its device address. */
  stage(bytes: Uint8Array): number {
    const buffer = this.txBuffers[this.txTail]!
    if (bytes.length > 2048) throw new Error('stage: a transmit buffer holds 2048 bytes')
    this.m.cpu.writeBytes(buffer, bytes)
    return this.device(buffer)
  }

  /** Queues one frame split over as many descriptors as `parts`; returns the descriptor indices. */
  queue(parts: readonly Uint8Array[], cmd = TXD_RS | TXD_IFCS): number[] {
    const used: number[] = []
    parts.forEach((part, k) => {
      const i = this.txTail
      const buffer = this.txBuffers[i]!
      this.m.cpu.writeBytes(buffer, part)
      const last = k === parts.length - 1
      this.writeTxDescriptor(i, this.device(buffer), part.length, last ? cmd | TXD_EOP : cmd & ~TXD_EOP)
      used.push(i)
      this.txTail = (i + 1) % this.txCount
    })
    return used
  }

  /** TDT doorbell with the driver's tail (or a given one). */
  doorbell(tail = this.txTail): void {
    this.write(R.TDT, tail)
  }

  /** Queues and sends one frame in one descriptor. */
  send(frame: Uint8Array, cmd = TXD_RS | TXD_IFCS): number {
    const [i] = this.queue([frame], cmd)
    this.doorbell()
    return i!
  }

  /** Descriptors the device has completed (DD) since the last reap. */
  reapTx(): number[] {
    const done: number[] = []
    while (this.txClean !== this.txTail) {
      const status = this.m.cpu.read8(this.txRing + this.txClean * 16 + 12)
      if ((status & DD) === 0) break
      done.push(this.txClean)
      this.txClean = (this.txClean + 1) % this.txCount
    }
    return done
  }

  /** Frames the device wrote back (DD), in order; buffers are re-armed and returned (RDT). */
  receive(): ReceivedFrame[] {
    const frames: ReceivedFrame[] = []
    for (;;) {
      const i = this.rxNext
      const d = this.rxDescriptor(i)
      if ((d.status & DD) === 0) break
      const data = this.m.cpu.readBytes(this.rxBuffers[i]!, d.length)
      frames.push({ index: i, data, length: d.length, status: d.status, errors: d.errors, special: d.special, checksum: d.checksum })
      this.armRx(i)
      this.rxNext = (i + 1) % this.rxCount
      this.rxTail = (this.rxTail + 1) % this.rxCount
    }
    if (frames.length > 0) this.write(R.RDT, this.rxTail)
    return frames
  }

  rxDescriptor(i: number): { bufferAddress: number; length: number; checksum: number; status: number; errors: number; special: number } {
    const d = RX_DESCRIPTOR.structure.decode(asBuffer(this.m.cpu.readBytes(this.rxRing + i * 16, 16))) as Record<string, number>
    return {
      bufferAddress: d.bufferAddressHigh! * TWO_POW_32 + d.bufferAddressLow!,
      length: d.length!, checksum: d.checksum!, status: d.status!, errors: d.errors!, special: d.special!,
    }
  }

  txDescriptor(i: number): { bufferAddress: number; length: number; cmd: number; status: number; css: number; special: number } {
    const d = TX_DESCRIPTOR.structure.decode(asBuffer(this.m.cpu.readBytes(this.txRing + i * 16, 16))) as Record<string, number>
    return { bufferAddress: d.bufferAddressHigh! * TWO_POW_32 + d.bufferAddressLow!, length: d.length!, cmd: d.cmd!, status: d.status!, css: d.css!, special: d.special! }
  }
}

/** An Ethernet frame (no FCS) of `size` bytes: destination, source, type 0x88B5, a byte pattern. */
export function ethernetFrame(size: number, destination: ArrayLike<number> = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], seed = 0): Uint8Array {
  const f = new Uint8Array(size)
  f.set(Array.from(destination).slice(0, 6), 0)
  f.set([0x02, 0, 0, 0, 0, 0x01], 6)
  f[12] = 0x88
  f[13] = 0xb5
  for (let i = 14; i < size; i++) f[i] = (i * 7 + seed) & 0xff
  return f
}

export const NIC_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56] as const

/**
 * The machine's NIC as the 82540EM model, for tests that look inside the device (its engines,
 * rings, interrupt causes). The machine itself sees only the narrow NIC interface.
 */
export function e1000(m: Machine): E1000 {
  if (!(m.nic instanceof E1000)) throw new Error(`the machine's NIC is ${m.nic.description}, not the 82540EM model`)
  return m.nic
}
