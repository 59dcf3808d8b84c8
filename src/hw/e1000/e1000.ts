// The NIC: an Intel 82540EM programming model (vendor 0x8086, device 0x100E), at one PCI
// function. It owns its configuration space, a 128 KiB MMIO window (BAR0), an 8-byte I/O
// window (BAR2, io-window.ts), a DMA engine, an INTx line, its EEPROM and PHY, and its ends
// of the wire. Registers follow REFERENCE §1 and the 8254x manual chapter 13; the side
// effects of each special register are dispatched here and carried out by the transmit
// engine, the receive engine and the interrupt logic.
//
// Unknown registers read 0 and ignore writes; read-only bits ignore writes; guest input never
// throws (DESIGN "Layers"): a misprogrammed ring or descriptor is a `device-error` finding.
import type { SystemBus, MmioRegion } from '../bus.js'
import type { IoRegion } from '../io-ports.js'
import type { Clock } from '../clock.js'
import { DmaEngine } from '../dma-engine.js'
import type { FindingSink } from '../finding.js'
import { InterruptLine } from '../interrupt.js'
import type { Iommu } from '../iommu/iommu.js'
import type { DeviceMemoryReader, DoorbellObserver, Nic, NicCounters, NicHint } from '../nic.js'
import { stallHints } from './hints.js'
import { PciFunction } from '../pci.js'
import { parseMac } from '../traffic.js'
import type { Wire } from '../wire.js'
import { Eeprom } from './eeprom.js'
import { InterruptCauses } from './interrupts.js'
import { IO_BAR, IO_SIZE, IoWindow } from './io-window.js'
import { Phy } from './phy.js'
import {
  ACCESS, ACCESS_KIND, CTRL, DELAY_FPD, EECD, EERD, ICR, MDIC, MMIO_SIZE, RAH_AV, REG, REGISTER_FILE_WORDS, RESET_VALUES, RXCSUM, STATUS, WRITABLE,
} from './registers.js'
import { RxEngine } from './rx.js'
import { Statistics } from './stats.js'
import { TxEngine, type LinkState } from './tx.js'

export const E1000_VENDOR_ID = 0x8086
export const E1000_DEVICE_ID = 0x100e
/** 82540EM desktop adapter subsystem (Intel PRO/1000 MT Desktop). */
export const E1000_SUBSYSTEM_ID = 0x001e
export const ETHERNET_CLASS = 0x02_0000
/** MDIC bit 29: raise MDAC when the PHY access completes. */
const MDIC_INTERRUPT = 0x2000_0000
const ICR_MDAC = 0x200

export interface E1000Options {
  readonly bdf: string
  readonly mac: string
  readonly dmaAddressBits: number
  readonly linkMbps: number
}

export class E1000 implements Nic {
  readonly model = 'e1000'
  readonly description = 'Intel 82540EM Gigabit Ethernet Controller'
  readonly bdf: string
  readonly pci: PciFunction
  readonly dma: DmaEngine
  /** INTA#: asserted exactly when ICR & IMS is non-zero (after ITR and PCI interrupt disable). */
  readonly interrupt: InterruptLine
  readonly mac: Uint8Array
  readonly eeprom: Eeprom
  readonly stats = new Statistics()
  readonly causes: InterruptCauses
  readonly tx: TxEngine
  readonly rx: RxEngine
  readonly link: LinkState = { linkUp: false, vlanMode: false }
  /** The engines' own bookkeeping, typed, as the machine and the report read it. */
  readonly counters: NicCounters
  onDoorbell: DoorbellObserver | null = null
  /** Plain registers (and the receive addresses and multicast table the filters read). */
  readonly regs = new Uint32Array(REGISTER_FILE_WORDS)
  readonly phy: Phy
  private readonly linkMbps: number
  private readonly region: MmioRegion
  private readonly ioRegion: IoRegion
  private ctrl = 0
  private eerd = 0
  /** The EECD bits software drives: SK, CS, DI, FWE and the access request. */
  private eecd = 0
  private mdic = 0

  constructor(clock: Clock, bus: SystemBus, iommu: Iommu, wire: Wire, sink: FindingSink, options: E1000Options) {
    this.bdf = options.bdf
    this.linkMbps = options.linkMbps
    this.mac = parseMac(options.mac)
    this.pci = new PciFunction(
      options.bdf,
      {
        vendorId: E1000_VENDOR_ID,
        deviceId: E1000_DEVICE_ID,
        classCode: ETHERNET_CLASS,
        revisionId: 0x02,
        subsystemVendorId: E1000_VENDOR_ID,
        subsystemId: E1000_SUBSYSTEM_ID,
        interruptPin: 1,
        minGrant: 0xff,
        maxLatency: 0x00,
      },
      // 4.1: BAR0 the 128 KiB memory register window (32-bit); no flash, so BAR1 is unused;
      // BAR2 the I/O register window.
      [{ index: 0, space: 'memory', size: MMIO_SIZE }, { index: IO_BAR, space: 'io', size: IO_SIZE }],
    )
    this.eeprom = new Eeprom({
      mac: this.mac,
      deviceId: E1000_DEVICE_ID,
      vendorId: E1000_VENDOR_ID,
      subsystemId: E1000_SUBSYSTEM_ID,
      subsystemVendorId: E1000_VENDOR_ID,
    })
    this.interrupt = new InterruptLine(`${options.bdf} INTA#`)
    this.dma = new DmaEngine(bus, iommu, this.pci, sink, { addressBits: options.dmaAddressBits })
    this.causes = new InterruptCauses(clock, this.interrupt, this.pci)
    this.tx = new TxEngine(clock, this.dma, wire, this.causes, this.stats, sink, this.link, this.regs)
    this.rx = new RxEngine(clock, this.dma, this.causes, this.stats, sink, this.link, this.regs)
    this.counters = { tx: this.tx.counters, rx: this.rx.counters }
    this.phy = new Phy(clock, options.linkMbps, () => this.linkChanged())
    // The windows decode nothing until firmware assigns the BARs and enables their spaces.
    this.region = bus.mapMmio(`${options.bdf} e1000 BAR0`, 0, MMIO_SIZE, this)
    this.region.enabled = false
    this.ioRegion = bus.io.map(`${options.bdf} e1000 BAR2`, IO_SIZE, new IoWindow(this))
    this.pci.onChange(() => this.configChanged())
    wire.attach(this)
    this.reset()
  }

  /** Physical address of the register window (BAR0). */
  get bar0(): number {
    return this.pci.barAddress(0)
  }

  get interruptAsserted(): boolean {
    return this.interrupt.asserted
  }

  stallHints(read: DeviceMemoryReader): NicHint[] {
    return stallHints(this.tx, this.rx, read)
  }

  get linkUp(): boolean {
    return this.link.linkUp
  }

  // ---- MMIO ----------------------------------------------------------------------------------------

  mmioRead32(offset: number): number {
    const i = offset >>> 2
    switch (ACCESS_KIND[i]) {
      case ACCESS.plain:
        return this.regs[i]!
      case ACCESS.statistic:
        return this.stats.read(offset & ~3)
      case ACCESS.special:
        return this.readSpecial(offset & ~3) >>> 0
      default:
        return 0
    }
  }

  mmioWrite32(offset: number, value: number): void {
    const i = offset >>> 2
    switch (ACCESS_KIND[i]) {
      case ACCESS.plain: {
        const mask = WRITABLE[i]!
        this.regs[i] = ((this.regs[i]! & ~mask) | (value & mask)) >>> 0
        return
      }
      case ACCESS.special:
        this.writeSpecial(offset & ~3, value >>> 0)
        return
      default:
        // Statistics are read-to-clear and unknown registers ignore writes.
        return
    }
  }

  private readSpecial(offset: number): number {
    const tx = this.tx
    const rx = this.rx
    switch (offset) {
      case REG.CTRL: return this.ctrl
      case REG.STATUS: return this.status()
      case REG.EECD: return this.readEecd()
      case REG.EERD: return this.eerd
      case REG.MDIC: return this.mdic
      case REG.ICR: return this.causes.readIcr()
      case REG.ITR: return this.causes.itr
      case REG.IMS: return this.causes.ims
      case REG.RCTL: return rx.control
      case REG.TCTL: return tx.control
      case REG.RDBAL: return rx.ring.baseLow
      case REG.RDBAH: return rx.ring.baseHigh
      case REG.RDLEN: return rx.ring.length
      case REG.RDH: return rx.ring.head
      case REG.RDT: return rx.ring.tail
      case REG.RDTR: return rx.delay.delay
      case REG.RADV: return rx.delay.absolute
      case REG.TDBAL: return tx.ring.baseLow
      case REG.TDBAH: return tx.ring.baseHigh
      case REG.TDLEN: return tx.ring.length
      case REG.TDH: return tx.ring.head
      case REG.TDT: return tx.ring.tail
      case REG.TIDV: return tx.delay.delay
      case REG.TADV: return tx.delay.absolute
      case REG.RXCSUM: return this.regs[REG.RXCSUM >>> 2]!
      // ICS and IMC are write-only.
      default: return 0
    }
  }

  private writeSpecial(offset: number, value: number): void {
    const tx = this.tx
    const rx = this.rx
    switch (offset) {
      case REG.CTRL: return this.writeCtrl(value)
      case REG.EECD: return this.writeEecd(value)
      case REG.EERD: return this.writeEerd(value)
      case REG.MDIC:
        this.mdic = this.phy.access(value)
        if ((value & MDIC_INTERRUPT) !== 0) this.causes.raise(ICR_MDAC)
        return
      case REG.ICR: return this.causes.writeIcr(value)
      case REG.ITR: return this.causes.writeItr(value)
      case REG.ICS: return this.causes.writeIcs(value)
      case REG.IMS: return this.causes.writeIms(value)
      case REG.IMC: return this.causes.writeImc(value)
      case REG.RCTL: return rx.writeControl(value)
      case REG.TCTL: return tx.writeControl(value)
      case REG.RDBAL: return rx.ring.writeBaseLow(value)
      case REG.RDBAH: return rx.ring.writeBaseHigh(value)
      case REG.RDLEN: return rx.ring.writeLength(value)
      case REG.RDH: return rx.ring.writeHead(value)
      case REG.RDT:
        this.onDoorbell?.('receive', value & 0xffff, rx.ring.head)
        return rx.writeTail(value)
      case REG.RDTR:
        rx.delay.delay = value & 0xffff
        if ((value & DELAY_FPD) !== 0) rx.delay.flush()
        return
      case REG.RADV:
        rx.delay.absolute = value & 0xffff
        return
      case REG.TDBAL: return tx.ring.writeBaseLow(value)
      case REG.TDBAH: return tx.ring.writeBaseHigh(value)
      case REG.TDLEN: return tx.ring.writeLength(value)
      case REG.TDH: return tx.ring.writeHead(value)
      case REG.TDT:
        this.onDoorbell?.('transmit', value & 0xffff, tx.ring.head)
        return tx.writeTail(value)
      case REG.TIDV:
        tx.delay.delay = value & 0xffff
        if ((value & DELAY_FPD) !== 0) tx.delay.flush()
        return
      case REG.TADV:
        tx.delay.absolute = value & 0xffff
        return
      case REG.RXCSUM:
        this.regs[REG.RXCSUM >>> 2] = value & RXCSUM.WRITABLE
        rx.packetChecksum = true
        return
      default:
        return
    }
  }

  /** STATUS (13.4.2): full duplex, link up while CTRL.SLU is set and the PHY has link, the configured speed. */
  private status(): number {
    const speed = this.linkMbps >= 1000 ? STATUS.SPEED_1000 : this.linkMbps >= 100 ? STATUS.SPEED_100 : STATUS.SPEED_10
    return STATUS.FD | (this.link.linkUp ? STATUS.LU : 0) | speed
  }

  private writeCtrl(value: number): void {
    // CTRL.RST (13.4.1): a software reset of everything but PCI configuration (and the PHY,
    // which CTRL.PHY_RST resets); self-clearing.
    if ((value & CTRL.RST) !== 0) {
      this.reset()
      return
    }
    this.ctrl = value & ~CTRL.PHY_RST
    this.link.vlanMode = (value & CTRL.VME) !== 0
    if ((value & CTRL.PHY_RST) !== 0) this.phy.reset()
    this.linkChanged()
  }

  /**
   * The MAC's link: up while CTRL.SLU is set and the PHY has link (its autonegotiation
   * complete). The PHY powers up negotiated, so SLU brings the link up at once; either
   * change raises LSC.
   */
  private linkChanged(): void {
    const up = (this.ctrl & CTRL.SLU) !== 0 && this.phy.linkUp
    if (up === this.link.linkUp) return
    this.link.linkUp = up
    this.causes.raise(ICR.LSC)
    if (up) this.tx.kick()
  }

  /**
   * EECD (13.4.3): EEPROM present (PRES), 64 words (SIZE clear), and the Microwire lines.
   * Software asks for the interface with EE_REQ and may drive it once EE_GNT is set; the
   * device's own EEPROM reads finished at reset, so the grant follows the request at once.
   * Without the grant the lines do not reach the part, and DO reads 0.
   */
  private readEecd(): number {
    const granted = (this.eecd & EECD.REQ) !== 0
    return (this.eecd | EECD.PRES | (granted ? EECD.GNT : 0) | (granted && this.eeprom.dataOut !== 0 ? EECD.DO : 0)) >>> 0
  }

  private writeEecd(value: number): void {
    this.eecd = value & (EECD.SK | EECD.CS | EECD.DI | EECD.FWE_MASK | EECD.REQ)
    if ((this.eecd & EECD.REQ) === 0) this.eeprom.release()
    else this.eeprom.drive((value & EECD.CS) !== 0, (value & EECD.SK) !== 0, (value & EECD.DI) !== 0)
  }

  /** EERD (13.4.4): the read completes at once: DONE set, the word in bits 31:16. */
  private writeEerd(value: number): void {
    const address = (value >>> EERD.ADDR_SHIFT) & EERD.ADDR_MASK
    if ((value & EERD.START) === 0) {
      this.eerd = value & (EERD.ADDR_MASK << EERD.ADDR_SHIFT)
      return
    }
    this.eerd = ((this.eeprom.read(address) << EERD.DATA_SHIFT) | (address << EERD.ADDR_SHIFT) | EERD.DONE) >>> 0
  }

  /** Power-on and CTRL.RST state. The receive address 0 is loaded from the EEPROM, valid. */
  reset(): void {
    this.regs.fill(0)
    for (const [index, value] of RESET_VALUES) this.regs[index] = value
    const w = this.eeprom.words
    this.regs[REG.RAL0 >>> 2] = (w[0]! | (w[1]! << 16)) >>> 0
    this.regs[REG.RAH0 >>> 2] = (w[2]! | RAH_AV) >>> 0
    this.ctrl = 0
    this.eerd = 0
    this.eecd = 0
    this.eeprom.release()
    this.mdic = MDIC.READY
    this.link.linkUp = false
    this.link.vlanMode = false
    this.stats.reset()
    this.tx.reset()
    this.rx.reset()
    this.causes.reset()
  }

  // ---- the wire --------------------------------------------------------------------------------

  receiveFrame(buffer: Uint8Array, offset: number, length: number): void {
    this.rx.receive(buffer, offset, length)
  }

  // ---- PCI ---------------------------------------------------------------------------------------

  private configChanged(): void {
    const base = this.pci.barAddress(0)
    this.region.base = base
    this.region.enabled = this.pci.memorySpaceEnabled && base !== 0
    const port = this.pci.barAddress(IO_BAR)
    this.ioRegion.base = port
    this.ioRegion.enabled = this.pci.ioSpaceEnabled && port !== 0
    this.rx.busMasterChanged()
    if (this.pci.busMasterEnabled) this.tx.kick()
    this.causes.update()
  }
}
