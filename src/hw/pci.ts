// Conventional PCI: type 0 configuration space per function, BAR sizing, the COMMAND and
// STATUS registers, the interrupt pin and line, and the bus that routes configuration cycles
// by bus:device.function. Devices learn about COMMAND and BAR changes through a listener so
// they can start or stop decoding their MMIO window and bus mastering.
//
// Facts: PCI Local Bus Specification 3.0, 6.1 (header), 6.2.2 (COMMAND), 6.2.3 (STATUS),
// 6.2.5.1 (BAR sizing: write all-ones, read back the size mask).
import { u8, u16, u32, blob } from 'buffer-layout'
import { declareLayout } from './layout.js'

export const PCI_CONFIG_HEADER = declareLayout('PCI type 0 configuration header', {
  vendorId: u16,
  deviceId: u16,
  command: u16,
  status: u16,
  revisionId: u8,
  progIf: u8,
  subclass: u8,
  classCode: u8,
  cacheLineSize: u8,
  latencyTimer: u8,
  headerType: u8,
  bist: u8,
  bar0: u32,
  bar1: u32,
  bar2: u32,
  bar3: u32,
  bar4: u32,
  bar5: u32,
  cardbusCisPointer: u32,
  subsystemVendorId: u16,
  subsystemId: u16,
  expansionRomBase: u32,
  capabilitiesPointer: u8,
  reserved: (p: string) => blob(7, p),
  interruptLine: u8,
  interruptPin: u8,
  minGrant: u8,
  maxLatency: u8,
})

const H = PCI_CONFIG_HEADER.offset

/** PCI 3.0 6.2.2: COMMAND register bits. */
export const PCI_COMMAND = {
  ioSpace: 0x0001,
  memorySpace: 0x0002,
  busMaster: 0x0004,
  parityErrorResponse: 0x0040,
  serrEnable: 0x0100,
  interruptDisable: 0x0400,
} as const

/** PCI 3.0 6.2.3: STATUS register bits. Bits 15:11 and 8 are write-1-to-clear. */
export const PCI_STATUS = {
  interruptStatus: 0x0008,
  devselMedium: 0x0200,
  signaledTargetAbort: 0x0800,
  receivedTargetAbort: 0x1000,
  receivedMasterAbort: 0x2000,
  signaledSystemError: 0x4000,
  detectedParityError: 0x8000,
} as const

const STATUS_W1C = 0xf900
/** BAR bit 0: the BAR maps I/O space (PCI 3.0 6.2.5.1). */
const BAR_IO = 0x1
const COMMAND_WRITABLE =
  PCI_COMMAND.memorySpace | PCI_COMMAND.busMaster | PCI_COMMAND.parityErrorResponse | PCI_COMMAND.serrEnable | PCI_COMMAND.interruptDisable

/** `'00:03.0'` → requester id `bus << 8 | device << 3 | function` (0x0018). Host-API misuse throws. */
export function parseBdf(bdf: string): number {
  const m = /^([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/i.exec(bdf)
  const device = m ? parseInt(m[2]!, 16) : 32
  if (!m || device > 31) throw new RangeError(`"${bdf}" is not a PCI bus:device.function like 00:03.0`)
  return (parseInt(m[1]!, 16) << 8) | (device << 3) | parseInt(m[3]!, 10)
}

export function formatBdf(id: number): string {
  const h2 = (n: number): string => n.toString(16).padStart(2, '0')
  return `${h2((id >>> 8) & 0xff)}:${h2((id >>> 3) & 0x1f)}.${id & 7}`
}

export interface PciIdentity {
  readonly vendorId: number
  readonly deviceId: number
  /** 24-bit class code: base class, subclass, programming interface (0x020000 = Ethernet). */
  readonly classCode: number
  readonly revisionId: number
  readonly subsystemVendorId: number
  readonly subsystemId: number
  /** 1 = INTA#, 0 = no interrupt pin. */
  readonly interruptPin: number
  readonly minGrant: number
  readonly maxLatency: number
}

/**
 * A base address register: a 32-bit non-prefetchable memory BAR (bit 0 reads 0) or an I/O BAR
 * (bit 0 reads 1, bit 1 reserved) — PCI 3.0 6.2.5.1. The 82540EM has one of each.
 */
export interface BarDeclaration {
  readonly index: number
  readonly space: 'memory' | 'io'
  /** A power of two, at least 16 bytes (memory) or 4 bytes (I/O). */
  readonly size: number
}

export type ConfigListener = () => void

/** One PCI function's configuration space. */
export class PciFunction {
  readonly bdf: string
  readonly requesterId: number
  readonly bars: readonly BarDeclaration[]
  private readonly bytes = new Uint8Array(256)
  private readonly view = new DataView(this.bytes.buffer)
  private readonly listeners: ConfigListener[] = []
  /** Cached COMMAND bits the per-access paths test. */
  private commandBits = 0
  /** COMMAND bits this function implements: I/O space enable only with an I/O BAR (PCI 3.0 6.2.2). */
  private readonly commandWritable: number

  constructor(bdf: string, identity: PciIdentity, bars: readonly BarDeclaration[]) {
    this.bdf = bdf
    this.requesterId = parseBdf(bdf)
    for (const bar of bars) {
      const least = bar.space === 'io' ? 4 : 16
      if (bar.index < 0 || bar.index > 5 || bar.size < least || (bar.size & (bar.size - 1)) !== 0) {
        throw new RangeError(`BAR${bar.index} of ${bdf}: size ${bar.size} is not a power of two >= ${least}`)
      }
    }
    this.bars = bars
    this.commandWritable = COMMAND_WRITABLE | (bars.some((b) => b.space === 'io') ? PCI_COMMAND.ioSpace : 0)
    const v = this.view
    for (const bar of bars) if (bar.space === 'io') v.setUint32(H.bar0 + bar.index * 4, BAR_IO, true)
    v.setUint16(H.vendorId, identity.vendorId, true)
    v.setUint16(H.deviceId, identity.deviceId, true)
    v.setUint16(H.status, PCI_STATUS.devselMedium, true)
    v.setUint8(H.revisionId, identity.revisionId)
    v.setUint8(H.progIf, identity.classCode & 0xff)
    v.setUint8(H.subclass, (identity.classCode >>> 8) & 0xff)
    v.setUint8(H.classCode, (identity.classCode >>> 16) & 0xff)
    v.setUint16(H.subsystemVendorId, identity.subsystemVendorId, true)
    v.setUint16(H.subsystemId, identity.subsystemId, true)
    v.setUint8(H.interruptPin, identity.interruptPin)
    v.setUint8(H.minGrant, identity.minGrant)
    v.setUint8(H.maxLatency, identity.maxLatency)
  }

  /** Called after any write that changes COMMAND or a BAR. */
  onChange(listener: ConfigListener): void {
    this.listeners.push(listener)
  }

  get command(): number {
    return this.commandBits
  }

  get ioSpaceEnabled(): boolean {
    return (this.commandBits & PCI_COMMAND.ioSpace) !== 0
  }

  get memorySpaceEnabled(): boolean {
    return (this.commandBits & PCI_COMMAND.memorySpace) !== 0
  }

  get busMasterEnabled(): boolean {
    return (this.commandBits & PCI_COMMAND.busMaster) !== 0
  }

  get interruptDisabled(): boolean {
    return (this.commandBits & PCI_COMMAND.interruptDisable) !== 0
  }

  get interruptLine(): number {
    return this.bytes[H.interruptLine]!
  }

  /** The base address a BAR decodes (type bits masked off: 3:0 for memory, 1:0 for I/O). */
  barAddress(index: number): number {
    const raw = this.view.getUint32(H.bar0 + index * 4, true)
    return ((raw & BAR_IO) !== 0 ? raw & 0xffff_fffc : raw & 0xffff_fff0) >>> 0
  }

  /** STATUS.IS (PCI 2.3+): the function's internal interrupt state, whatever INTx disable says. */
  setInterruptStatus(pending: boolean): void {
    const s = this.view.getUint16(H.status, true)
    const next = pending ? s | PCI_STATUS.interruptStatus : s & ~PCI_STATUS.interruptStatus
    if (next !== s) this.view.setUint16(H.status, next, true)
  }

  /** Sets error bits the device signals (received master abort, ...); software clears them. */
  signalStatus(bits: number): void {
    this.view.setUint16(H.status, this.view.getUint16(H.status, true) | bits, true)
  }

  configRead32(offset: number): number {
    checkOffset(offset)
    return this.view.getUint32(offset, true)
  }

  /** A configuration write: only writable bits change; unknown and read-only fields ignore it. */
  configWrite32(offset: number, value: number): void {
    checkOffset(offset)
    const v = this.view
    value >>>= 0
    let changed = false
    switch (offset) {
      case H.command: {
        const command = value & this.commandWritable
        changed = command !== this.commandBits
        this.commandBits = command
        v.setUint16(H.command, command, true)
        // STATUS: write 1 to clear the error bits.
        const status = v.getUint16(H.status, true)
        v.setUint16(H.status, status & ~((value >>> 16) & STATUS_W1C), true)
        break
      }
      case H.cacheLineSize:
        v.setUint8(H.cacheLineSize, value & 0xff)
        v.setUint8(H.latencyTimer, (value >>> 8) & 0xff)
        break
      case H.interruptLine:
        v.setUint8(H.interruptLine, value & 0xff)
        break
      default: {
        const index = (offset - H.bar0) / 4
        const bar = this.bars.find((b) => b.index === index)
        if (bar !== undefined) {
          // Size bits are hard-wired to zero, so writing all-ones reads back the size mask; the
          // type bits are read-only (an I/O BAR reads bit 0 set).
          const before = v.getUint32(offset, true)
          const after = bar.space === 'io' ? ((value & ~(bar.size - 1) & 0xffff_fffc) | BAR_IO) >>> 0 : (value & ~(bar.size - 1) & 0xffff_fff0) >>> 0
          v.setUint32(offset, after, true)
          changed = after !== before
        }
      }
    }
    if (changed) for (const l of this.listeners) l()
  }
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset > 252 || (offset & 3) !== 0) {
    throw new RangeError(`PCI configuration offset ${offset} is not a dword offset in 0..252`)
  }
}

/** Bus 0: configuration cycles routed by bus:device.function. */
export class PciBus {
  private readonly functions = new Map<number, PciFunction>()

  add(fn: PciFunction): void {
    if (this.functions.has(fn.requesterId)) throw new RangeError(`PCI ${fn.bdf} is already present`)
    this.functions.set(fn.requesterId, fn)
  }

  get(bdf: string): PciFunction | undefined {
    return this.functions.get(parseBdf(bdf))
  }

  all(): PciFunction[] {
    return [...this.functions.values()].sort((a, b) => a.requesterId - b.requesterId)
  }

  /** No function there: the cycle ends in master abort and reads all-ones (vendor 0xFFFF). */
  configRead32(bdf: string, offset: number): number {
    const fn = this.functions.get(parseBdf(bdf))
    checkOffset(offset)
    return fn === undefined ? 0xffff_ffff : fn.configRead32(offset)
  }

  configWrite32(bdf: string, offset: number, value: number): void {
    const fn = this.functions.get(parseBdf(bdf))
    checkOffset(offset)
    fn?.configWrite32(offset, value)
  }
}

/** Where a PC BIOS puts I/O BARs: from 0xC000 up (SeaBIOS's PCI I/O window), below 64 KiB. */
export const PCI_IO_WINDOW = { base: 0xc000, top: 0x1_0000 } as const

/**
 * The firmware's BAR assignment: every memory BAR, largest first, placed top-down below
 * `top` and naturally aligned, as a PC BIOS fills the MMIO hole; every I/O BAR, largest
 * first, bottom-up from the I/O window's base, naturally aligned. Memory decoding (and I/O
 * decoding for a function with an I/O BAR) is switched on and the interrupt line routed. Bus
 * mastering is left to the driver, as on a PC.
 */
export function assignResources(
  bus: PciBus,
  window: { readonly base: number; readonly top: number },
  irqLine: (fn: PciFunction) => number,
  ioWindow: { readonly base: number; readonly top: number } = PCI_IO_WINDOW,
): void {
  let next = window.top
  const all = bus.all().flatMap((fn) => fn.bars.map((bar) => ({ fn, bar })))
  const bySize = (a: { fn: PciFunction; bar: BarDeclaration }, b: { fn: PciFunction; bar: BarDeclaration }): number => b.bar.size - a.bar.size || a.fn.requesterId - b.fn.requesterId
  for (const { fn, bar } of all.filter((x) => x.bar.space === 'memory').sort(bySize)) {
    const base = Math.floor((next - bar.size) / bar.size) * bar.size
    if (base < window.base) throw new RangeError(`no room for BAR${bar.index} of ${fn.bdf} in the MMIO window`)
    fn.configWrite32(H.bar0 + bar.index * 4, base)
    next = base
  }
  let port = ioWindow.base
  for (const { fn, bar } of all.filter((x) => x.bar.space === 'io').sort(bySize)) {
    const base = Math.ceil(port / bar.size) * bar.size
    if (base + bar.size > ioWindow.top) throw new RangeError(`no room for BAR${bar.index} of ${fn.bdf} in the I/O window`)
    fn.configWrite32(H.bar0 + bar.index * 4, base)
    port = base + bar.size
  }
  for (const fn of bus.all()) {
    if (fn.configRead32(H.interruptLine) >>> 8 !== 0) fn.configWrite32(H.interruptLine, irqLine(fn))
    const io = fn.bars.some((b) => b.space === 'io') ? PCI_COMMAND.ioSpace : 0
    fn.configWrite32(H.command, fn.command | PCI_COMMAND.memorySpace | io)
  }
}
