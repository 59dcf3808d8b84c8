// The receive FIFO: the packet buffer's receive share (PBA, 48 KiB at reset) where a frame
// waits while the ring has no free descriptor for it, to be written out once RDT moves
// (manual 13.7.33 RNBC: "the packet is still received if there is space in the FIFO";
// 13.7.5 MPC and ICR.RXO: only a frame that finds the FIFO full is lost).
//
// A frame is held as the receive engine prepared it (tag stripped, FCS appended) with what
// its descriptors will say, so delivery later is the same as delivery at once. It occupies
// its stored length in the FIFO; the per-frame status the 8254x keeps beside it is not
// counted. The bytes live in a ring twice the largest FIFO plus a frame, allocated the first
// time a frame has to wait: a frame is never split, and one always fits after the live
// ones (their span is at most the FIFO's size plus one wrap gap, a frame long at most).

/** The largest frame the receive side stores: 16 KiB with an FCS and spare bytes. */
const MAX_STORED = 16384 + 64
const STORE_BYTES = 2 * 64 * 1024 + 2 * MAX_STORED

export class RxFifo {
  /** Bytes held (the FIFO's fill level). */
  used = 0
  private store: Uint8Array | null = null
  private head = 0
  private offset = new Int32Array(16)
  private length = new Int32Array(16)
  /** Status | errors << 8 | special << 16, as the last descriptor will carry them. */
  private meta = new Uint32Array(16)
  private checksum = new Uint16Array(16)
  /** The frame's length on the wire, without FCS, for the statistics. */
  private wire = new Int32Array(16)
  private first = 0
  private count = 0

  get size(): number {
    return this.count
  }

  get buffer(): Uint8Array {
    return this.store!
  }

  /** Offset of the oldest frame in `buffer`. */
  get frontOffset(): number {
    return this.offset[this.first]!
  }

  get frontLength(): number {
    return this.length[this.first]!
  }

  get frontMeta(): number {
    return this.meta[this.first]!
  }

  get frontChecksum(): number {
    return this.checksum[this.first]!
  }

  get frontWireLength(): number {
    return this.wire[this.first]!
  }

  /** Holds `buf[off, off + length)` if `capacity` allows; false when the FIFO is full. */
  push(buf: Uint8Array, off: number, length: number, meta: number, checksum: number, wireLength: number, capacity: number): boolean {
    if (this.used + length > capacity || length > MAX_STORED) return false
    this.store ??= new Uint8Array(STORE_BYTES)
    if (this.count === this.offset.length) this.grow()
    let at = this.count === 0 ? 0 : this.head
    if (at + length > STORE_BYTES) at = 0
    this.store.set(buf.subarray(off, off + length), at)
    const i = (this.first + this.count) & (this.offset.length - 1)
    this.offset[i] = at
    this.length[i] = length
    this.meta[i] = meta
    this.checksum[i] = checksum
    this.wire[i] = wireLength
    this.count++
    this.used += length
    this.head = at + length
    return true
  }

  /** Drops the oldest frame (it was delivered). */
  shift(): void {
    if (this.count === 0) return
    this.used -= this.length[this.first]!
    this.first = (this.first + 1) & (this.offset.length - 1)
    this.count--
  }

  clear(): void {
    this.first = 0
    this.count = 0
    this.used = 0
    this.head = 0
  }

  private grow(): void {
    const n = this.offset.length
    const offset = new Int32Array(n * 2)
    const length = new Int32Array(n * 2)
    const meta = new Uint32Array(n * 2)
    const checksum = new Uint16Array(n * 2)
    const wire = new Int32Array(n * 2)
    for (let k = 0; k < this.count; k++) {
      const i = (this.first + k) & (n - 1)
      offset[k] = this.offset[i]!
      length[k] = this.length[i]!
      meta[k] = this.meta[i]!
      checksum[k] = this.checksum[i]!
      wire[k] = this.wire[i]!
    }
    this.offset = offset
    this.length = length
    this.meta = meta
    this.checksum = checksum
    this.wire = wire
    this.first = 0
  }
}
