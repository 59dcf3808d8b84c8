// Interrupt causes and moderation (manual 13.4.17–13.4.21, 3.2.7, 3.3.8, 3.4.3.2).
//
// ICR holds the causes: reading it clears it; writing 1s clears those bits; ICS sets them.
// IMS/IMC set/clear mask bits (write 1s); IMS reads the mask. The line is asserted exactly when
// ICR & IMS is non-zero (level-triggered), recomputed on every change — gated by ITR, which
// holds a new assertion until `ITR × 256 ns` after the previous one, and by PCI COMMAND's
// interrupt disable. PCI STATUS.IS shows the cause state whatever the gating says.
//
// The delay timers hold a cause back: RDTR (packet timer, restarted by every frame) with RADV
// (absolute, started by the first) for RXT0; TIDV with TADV for TXDW on descriptors with IDE.
// Units are 1.024 µs. Writing FPD (bit 31) to RDTR or TIDV fires a pending cause at once.
import type { Clock, Timer } from '../clock.js'
import type { InterruptLine } from '../interrupt.js'
import type { PciFunction } from '../pci.js'
import { DELAY_UNIT_NS, ICR_IMPLEMENTED, ITR_UNIT_NS } from './registers.js'

export class InterruptCauses {
  icr = 0
  ims = 0
  /** ITR interval in 256 ns units (0: no throttling). */
  itr = 0
  private nextAllowedAt = 0
  private readonly clock: Clock
  private readonly line: InterruptLine
  private readonly pci: PciFunction
  private readonly throttle: Timer

  constructor(clock: Clock, line: InterruptLine, pci: PciFunction) {
    this.clock = clock
    this.line = line
    this.pci = pci
    this.throttle = clock.timer('e1000 ITR', () => this.update())
  }

  raise(causes: number): void {
    const next = (this.icr | causes) & ICR_IMPLEMENTED
    if (next === this.icr) return
    this.icr = next
    this.update()
  }

  /** ICR read: returns the causes and clears them (8254x: all bits clear on read). */
  readIcr(): number {
    const value = this.icr
    if (value !== 0) {
      this.icr = 0
      this.update()
    }
    return value
  }

  writeIcr(value: number): void {
    this.icr = (this.icr & ~value) >>> 0
    this.update()
  }

  writeIcs(value: number): void {
    this.icr = (this.icr | value) & ICR_IMPLEMENTED
    this.update()
  }

  writeIms(value: number): void {
    this.ims = (this.ims | value) & ICR_IMPLEMENTED
    this.update()
  }

  writeImc(value: number): void {
    this.ims = (this.ims & ~value) >>> 0
    this.update()
  }

  writeItr(value: number): void {
    this.itr = value & 0xffff
    this.update()
  }

  reset(): void {
    this.icr = 0
    this.ims = 0
    this.itr = 0
    this.nextAllowedAt = 0
    this.clock.cancel(this.throttle)
    this.update()
  }

  /** Recomputes the line from ICR & IMS, ITR and PCI interrupt disable. */
  update(): void {
    const pending = (this.icr & this.ims) !== 0
    this.pci.setInterruptStatus(pending)
    if (!pending || this.pci.interruptDisabled) {
      this.line.setLevel(false)
      return
    }
    if (this.line.asserted) return
    const now = this.clock.now
    if (this.itr !== 0 && now < this.nextAllowedAt) {
      if (!this.throttle.armed) this.clock.arm(this.throttle, this.nextAllowedAt)
      return
    }
    this.line.setLevel(true)
    this.nextAllowedAt = now + this.itr * ITR_UNIT_NS
  }
}

/** A cause held back by a restarting delay timer and an absolute one (RDTR/RADV, TIDV/TADV). */
export class DelayedCause {
  /** Delay in 1.024 µs units (0: the cause is raised at once). */
  delay = 0
  /** Absolute delay in 1.024 µs units (0: none). */
  absolute = 0
  private readonly clock: Clock
  private readonly causes: InterruptCauses
  private readonly cause: number
  private readonly packetTimer: Timer
  private readonly absoluteTimer: Timer

  constructor(clock: Clock, causes: InterruptCauses, cause: number, name: string) {
    this.clock = clock
    this.causes = causes
    this.cause = cause
    this.packetTimer = clock.timer(`${name} delay`, () => this.fire())
    this.absoluteTimer = clock.timer(`${name} absolute delay`, () => this.fire())
  }

  get pending(): boolean {
    return this.packetTimer.armed || this.absoluteTimer.armed
  }

  /** An event that wants the cause (a frame received, a descriptor written back with IDE). */
  trigger(): void {
    if (this.delay === 0) {
      this.fire()
      return
    }
    this.clock.armAfter(this.packetTimer, this.delay * DELAY_UNIT_NS)
    if (this.absolute !== 0 && !this.absoluteTimer.armed) this.clock.armAfter(this.absoluteTimer, this.absolute * DELAY_UNIT_NS)
  }

  /** Raises the cause now and clears both delay timers (3.3.3.1: RS without IDE). */
  fireNow(): void {
    this.fire()
  }

  /** FPD: raise a pending cause now. */
  flush(): void {
    if (this.pending) this.fire()
  }

  cancel(): void {
    this.clock.cancel(this.packetTimer)
    this.clock.cancel(this.absoluteTimer)
  }

  private fire(): void {
    this.cancel()
    this.causes.raise(this.cause)
  }
}
