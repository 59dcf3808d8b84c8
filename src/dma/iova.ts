// I/O virtual address allocation for one IOMMU domain: page ranges below the device's limit
// (4 GiB for a 32-bit device), so what the device is given always fits its address lines
// while the memory behind it can be anywhere.
//
// Ranges are handed out top-down from the limit, as Linux's IOVA allocator does: IOVAs then
// sit far from the low physical addresses a buggy driver might hand the device raw, so such a
// driver faults in the IOMMU instead of hitting some other buffer's mapping by coincidence.
// Freed ranges are reused (after the caller has unmapped and invalidated them), exact sizes
// first, so per-packet mappings do not walk the allocator.
import { PAGE_SIZE } from '../hw/address.js'

/** IOVAs never go below the first megabyte, so a zero or tiny device address is never valid. */
export const IOVA_FLOOR = 0x10_0000

export class IovaAllocator {
  private readonly floorPages = IOVA_FLOOR / PAGE_SIZE
  /** Everything at or above this page has been handed out at least once. */
  private nextTop: number
  /** Free ranges by length in pages: start pages, used LIFO. */
  private readonly free = new Map<number, number[]>()

  constructor(limitBytes: number) {
    this.nextTop = Math.floor(limitBytes / PAGE_SIZE)
  }

  /** Allocates `pages` pages of IOVA; returns the IOVA, or -1 when the space is exhausted. */
  allocate(pages: number): number {
    const exact = this.free.get(pages)
    if (exact !== undefined && exact.length > 0) return exact.pop()! * PAGE_SIZE
    if (this.nextTop - pages >= this.floorPages) {
      this.nextTop -= pages
      return this.nextTop * PAGE_SIZE
    }
    // Split the smallest larger free range.
    let best = -1
    for (const [len, starts] of this.free) if (len > pages && starts.length > 0 && (best < 0 || len < best)) best = len
    if (best < 0) return -1
    const start = this.free.get(best)!.pop()!
    this.release((start + pages) * PAGE_SIZE, best - pages)
    return start * PAGE_SIZE
  }

  release(iova: number, pages: number): void {
    const start = iova / PAGE_SIZE
    let list = this.free.get(pages)
    if (list === undefined) this.free.set(pages, (list = []))
    list.push(start)
  }
}
