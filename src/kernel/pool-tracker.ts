// Pool tracking by tag, as poolmon and Driver Verifier's pool tracking show it: allocations,
// frees and bytes outstanding per tag and pool type. Tags are shown in reading order: the C
// literal 'tseT' is stored as 0x74736554, whose little-endian bytes read "Test" (S19).
//
// Bytes are what callers asked for (NumberOfBytes), not what the pool charged after rounding:
// that is the number a driver writer can check against the code.
import { tagName } from './tags.js'

/** One tag's totals, as the report's `pool.byTag` carries them. */
export interface TagUsage {
  allocs: number
  frees: number
  bytesOutstanding: number
}

interface Counts {
  allocs: number
  frees: number
  bytes: number
}

interface TagRow {
  readonly tag: number
  readonly nonpaged: Counts
  readonly paged: Counts
}

const zero = (): Counts => ({ allocs: 0, frees: 0, bytes: 0 })

export class PoolTracker {
  private readonly rows = new Map<number, TagRow>()

  allocated(tag: number, paged: boolean, bytes: number): void {
    const c = this.counts(tag, paged)
    c.allocs++
    c.bytes += bytes
  }

  freed(tag: number, paged: boolean, bytes: number): void {
    const c = this.counts(tag, paged)
    c.frees++
    c.bytes -= bytes
  }

  /** Totals for one tag (the ULONG), paged and nonpaged together. */
  usage(tag: number): TagUsage {
    const row = this.rows.get(tag >>> 0)
    if (row === undefined) return { allocs: 0, frees: 0, bytesOutstanding: 0 }
    return {
      allocs: row.nonpaged.allocs + row.paged.allocs,
      frees: row.nonpaged.frees + row.paged.frees,
      bytesOutstanding: row.nonpaged.bytes + row.paged.bytes,
    }
  }

  /** `{ Test: { allocs, frees, bytesOutstanding } }`, tags in reading order, sorted by name. */
  byTag(): Record<string, TagUsage> {
    const out: Record<string, TagUsage> = {}
    const tags = [...this.rows.keys()].sort((a, b) => compareNames(tagName(a), tagName(b)))
    for (const tag of tags) out[tagName(tag)] = this.usage(tag)
    return out
  }

  /**
   * A poolmon-style table: one line per tag and pool type that was ever used, largest
   * outstanding first, with the difference between allocations and frees.
   */
  dump(): string {
    type Line = { name: string; type: 'Nonp' | 'Paged'; c: Counts }
    const lines: Line[] = []
    for (const row of this.rows.values()) {
      const name = tagName(row.tag)
      if (row.nonpaged.allocs > 0) lines.push({ name, type: 'Nonp', c: row.nonpaged })
      if (row.paged.allocs > 0) lines.push({ name, type: 'Paged', c: row.paged })
    }
    lines.sort((a, b) => b.c.bytes - a.c.bytes || compareNames(a.name, b.name) || a.type.localeCompare(b.type))
    const header = ' Tag   Type      Allocs     Frees      Diff       Bytes   Per Alloc'
    const body = lines.map(({ name, type, c }) => {
      const diff = c.allocs - c.frees
      const perAlloc = diff > 0 ? Math.round(c.bytes / diff) : 0
      return ` ${name.padEnd(4)}  ${type.padEnd(5)} ${num(c.allocs, 10)}${num(c.frees, 10)}${num(diff, 10)}${num(c.bytes, 12)}${num(perAlloc, 12)}`
    })
    const total = lines.reduce((sum, l) => sum + l.c.bytes, 0)
    return [header, ...body, ` ${'Total outstanding'.padEnd(49)}${num(total, 12)}`].join('\n')
  }

  private counts(tag: number, paged: boolean): Counts {
    const key = tag >>> 0
    let row = this.rows.get(key)
    if (row === undefined) this.rows.set(key, (row = { tag: key, nonpaged: zero(), paged: zero() }))
    return paged ? row.paged : row.nonpaged
  }
}

function num(value: number, width: number): string {
  return String(value).padStart(width)
}

/** Byte-wise order, so the listing does not depend on the host's locale. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
