// A level-triggered interrupt line (PCI INTx#): the device drives its level, the platform
// listens. Device state, memory access and interrupts stay three separate things (STYLE,
// Firecracker): the NIC only ever calls `setLevel`, and a test or the NDIS layer asks
// `asserted` or attaches a service routine.
import type { Clock, Timer } from './clock.js'

export type LevelListener = (asserted: boolean) => void

export class InterruptLine {
  readonly name: string
  /** Rising edges seen since the machine was created (a test can count interrupts). */
  assertions = 0
  private level = false
  private readonly listeners: LevelListener[] = []

  constructor(name: string) {
    this.name = name
  }

  get asserted(): boolean {
    return this.level
  }

  setLevel(asserted: boolean): void {
    if (asserted === this.level) return
    this.level = asserted
    if (asserted) this.assertions++
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i]!(asserted)
  }

  assert(): void {
    this.setLevel(true)
  }

  deassert(): void {
    this.setLevel(false)
  }

  /** Calls `listener` on every level change, synchronously, from inside the device. Returns a detach function. */
  onChange(listener: LevelListener): () => void {
    this.listeners.push(listener)
    return () => {
      const i = this.listeners.indexOf(listener)
      if (i >= 0) this.listeners.splice(i, 1)
    }
  }

  /**
   * Delivers the interrupt to a service routine as a CPU would: as its own event after the
   * device has finished what it was doing (never re-entering the device), and again after the
   * routine returns for as long as the line stays asserted (level-triggered, so an ISR that
   * does not clear the cause storms — and the machine's event bound reports a hang).
   */
  deliverTo(clock: Clock, isr: () => void, latencyNs = 0): () => void {
    let timer: Timer
    const fire = (): void => {
      if (!this.level) return
      isr()
      if (this.level && !timer.armed) clock.armAfter(timer, latencyNs)
    }
    timer = clock.timer(`${this.name} delivery`, fire)
    const detach = this.onChange((asserted) => {
      if (asserted && !timer.armed) clock.armAfter(timer, latencyNs)
    })
    if (this.level) clock.armAfter(timer, latencyNs)
    return () => {
      detach()
      clock.cancel(timer)
    }
  }
}
