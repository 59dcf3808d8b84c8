// A direct-mapped translation cache in typed arrays, tagged by (domain, tag): the IOTLB
// (tag = input page number, value = output page number, bits = R/W) and the paging-structure
// cache in front of the leaf tables (tag = 2 MiB region, value = leaf table address). A lookup
// is a hash, two compares and a read; nothing is allocated. Entries stay until they are
// invalidated or displaced by a conflicting entry, which is exactly the hazard VT-d describes:
// software that changes the tables and does not invalidate keeps getting the old answer.
export class TranslationCache {
  readonly size: number
  /** Domain of each slot; -1 marks an empty slot. */
  readonly domain: Int32Array
  readonly tag: Float64Array
  readonly value: Float64Array
  readonly bits: Uint8Array
  /**
   * Where the entry's value lives in host memory, when the owner caches that (the leaf-table
   * cache keeps the memory slot of the table's frame, -1 until known); reset by every insert.
   */
  readonly host: Int32Array
  hits = 0
  misses = 0
  /** size / 2^32: maps a 32-bit hash onto [0, size). */
  private readonly scale: number
  /** For a power-of-two size: size - 1 and the shift that keeps log2(size) top bits; else -1. */
  private readonly mask: number
  private readonly shift: number

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`cache size ${size} must be a positive integer`)
    this.size = size
    this.scale = size / 4294967296
    const bits = Math.log2(size)
    this.mask = Number.isInteger(bits) ? size - 1 : -1
    this.shift = Number.isInteger(bits) ? 32 - bits : 0
    this.domain = new Int32Array(size).fill(-1)
    this.tag = new Float64Array(size)
    this.value = new Float64Array(size)
    this.bits = new Uint8Array(size)
    this.host = new Int32Array(size).fill(-1)
  }

  /**
   * The slot a (domain, tag) pair lives in: a Fibonacci hash of the tag's low 32 bits and the
   * domain, scaled to the table by a multiply (no division, which is slow on doubles).
   */
  slot(domain: number, tag: number): number {
    const h = Math.imul((tag | 0) ^ Math.imul(domain, 0x27d4_eb2d), 0x9e37_79b1)
    // A power-of-two table takes the hash's top bits; any other size scales it.
    return this.mask >= 0 ? (h >>> this.shift) & this.mask : ((h >>> 0) * this.scale) | 0
  }

  /** Index of the slot holding (domain, tag), or -1. Counts hits and misses. */
  find(domain: number, tag: number): number {
    const i = this.slot(domain, tag)
    if (this.domain[i] === domain && this.tag[i] === tag) {
      this.hits++
      return i
    }
    this.misses++
    return -1
  }

  insert(domain: number, tag: number, value: number, bits: number): void {
    this.insertAt(this.slot(domain, tag), domain, tag, value, bits)
  }

  /** `insert` when the caller has the slot from its lookup already. */
  insertAt(i: number, domain: number, tag: number, value: number, bits: number): void {
    this.domain[i] = domain
    this.tag[i] = tag
    this.value[i] = value
    this.bits[i] = bits
    this.host[i] = -1
  }

  /** Global invalidation. */
  flushAll(): void {
    this.domain.fill(-1)
  }

  /** Domain-selective invalidation. */
  flushDomain(domain: number): void {
    const d = this.domain
    for (let i = 0; i < d.length; i++) if (d[i] === domain) d[i] = -1
  }

  /** Page-selective invalidation of one tag. */
  flushTag(domain: number, tag: number): void {
    const i = this.slot(domain, tag)
    if (this.domain[i] === domain && this.tag[i] === tag) this.domain[i] = -1
  }

  /** Live entries (diagnostics and tests). */
  get occupied(): number {
    let n = 0
    for (let i = 0; i < this.domain.length; i++) if (this.domain[i]! >= 0) n++
    return n
  }
}
