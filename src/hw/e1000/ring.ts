// A descriptor ring's registers (base low/high, length, head, tail) and the guards every ring
// walk needs (REFERENCE §6: QEMU e1000 CVE-2016-1981, e1000e CVE-2017-9310 and friends looped
// on bogus geometry). The base ignores its low 4 bits (16-byte alignment), the length is
// masked to a multiple of 128 bytes (manual 13.4.27/13.4.40), head and tail are 16 bits.
// The device re-validates the geometry before every walk; a bad one is a `device-error`
// (reported once until a ring register is written again) and the walk does not start.
import { deviceAddress, hex } from '../address.js'
import type { FindingSink } from '../finding.js'
import { DESCRIPTOR_SIZE } from './layouts.js'

export const RING_LENGTH_MASK = 0xf_ff80

export class DescriptorRing {
  readonly queue: 'transmit' | 'receive'
  /** Register name prefix, TD or RD. */
  readonly prefix: 'TD' | 'RD'
  baseLow = 0
  baseHigh = 0
  length = 0
  head = 0
  tail = 0
  private readonly sink: FindingSink
  private readonly requester: string
  /** Address lines the device drives: the base is joined for them (`deviceAddress`). */
  private readonly addressBits: number
  /** The base as one exact number, joined when a base register is written. */
  private joined = 0
  private reported = false

  constructor(queue: 'transmit' | 'receive', sink: FindingSink, requester: string, addressBits: number) {
    this.queue = queue
    this.prefix = queue === 'transmit' ? 'TD' : 'RD'
    this.sink = sink
    this.requester = requester
    this.addressBits = addressBits
  }

  /** The ring's base as the device drives it (a logical address). */
  get base(): number {
    return this.joined
  }

  /** Descriptors in the ring. */
  get count(): number {
    return this.length >>> 4
  }

  /** Descriptors the device owns, head up to (not including) tail. Geometry must be valid. */
  get owned(): number {
    // head and tail are below count here: one compare instead of an integer division.
    const owned = this.tail - this.head
    return owned < 0 ? owned + (this.length >>> 4) : owned
  }

  descriptorAddress(index: number): number {
    return this.joined + index * DESCRIPTOR_SIZE
  }

  writeBaseLow(value: number): void {
    if ((value & 0xf) !== 0) this.misprogrammed(`${this.prefix}BAL`, value, `the low 4 bits are ignored: the ring base must be 16-byte aligned, so the device uses ${hex((value & ~0xf) >>> 0)}`)
    this.baseLow = (value & ~0xf) >>> 0
    this.joined = deviceAddress(this.baseHigh, this.baseLow, this.addressBits)
    this.reported = false
  }

  writeBaseHigh(value: number): void {
    this.baseHigh = value >>> 0
    this.joined = deviceAddress(this.baseHigh, this.baseLow, this.addressBits)
    this.reported = false
  }

  writeLength(value: number): void {
    const masked = (value & RING_LENGTH_MASK) >>> 0
    if (masked !== value >>> 0) {
      this.misprogrammed(`${this.prefix}LEN`, value, `the ring length must be a multiple of 128 bytes below 1 MiB: the device uses ${masked}`)
    }
    this.length = masked
    this.reported = false
  }

  writeHead(value: number): void {
    this.head = value & 0xffff
    this.reported = false
  }

  writeTail(value: number): void {
    this.tail = value & 0xffff
    this.reported = false
  }

  reset(): void {
    this.baseLow = 0
    this.baseHigh = 0
    this.joined = 0
    this.length = 0
    this.head = 0
    this.tail = 0
    this.reported = false
  }

  /** True when a walk may start; otherwise reports why (once until the registers change). */
  check(): boolean {
    const count = this.length >>> 4
    if (count > 0 && this.head < count && this.tail < count) return true
    if (!this.reported) {
      this.reported = true
      const why =
        count === 0
          ? `${this.prefix}LEN is 0: the ring has no descriptors`
          : this.head >= count
            ? `${this.prefix}H ${this.head} is beyond the ring of ${count} descriptors`
            : `${this.prefix}T ${this.tail} is beyond the ring of ${count} descriptors`
      this.sink.report({
        kind: 'device-error',
        message: `${this.requester} ${this.queue} ring misprogrammed: ${why}; the device does not walk it`,
        details: { requester: this.requester, queue: this.queue, reason: 'ring-geometry', length: this.length, head: this.head, tail: this.tail },
      })
    }
    return false
  }

  /** A descriptor fetch or write-back failed: the queue stops until reset. */
  reportDmaFailure(what: 'fetch' | 'write-back', index: number, address: number, cause: string): void {
    this.sink.report({
      kind: 'device-error',
      message: `${this.requester} ${this.queue} descriptor ${index} ${what} at device address ${hex(address)} failed (${cause}): the ${this.queue} queue stopped until reset`,
      details: { requester: this.requester, queue: this.queue, reason: `descriptor-${what}`, index, address },
    })
  }

  /** A descriptor the device consumed but could not use as programmed. */
  reportBadDescriptor(index: number, reason: string, message: string, extra: Record<string, number> = {}): void {
    this.sink.report({
      kind: 'device-error',
      message: `${this.requester} ${this.queue} descriptor ${index}: ${message}`,
      details: { requester: this.requester, queue: this.queue, reason, index, ...extra },
    })
  }

  private misprogrammed(register: string, value: number, why: string): void {
    this.sink.report({
      kind: 'device-error',
      message: `${this.requester} ${register} written with ${hex(value >>> 0)}: ${why}`,
      details: { requester: this.requester, queue: this.queue, reason: 'register-value', register, value: value >>> 0 },
    })
  }
}
