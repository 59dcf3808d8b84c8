// MmMapIoSpace[Ex] / MmUnmapIoSpace (and NdisMMapIoSpace, which wraps them): a physical range,
// usually a device's memory BAR, mapped at nonpaged system VA. MmUnmapIoSpace takes the
// NumberOfBytes that were mapped. A mapping still live when the driver unloads holds system PTEs
// and is a `memory-leak` (leaks.ts); MmUnmapIoSpace of something that is not a mapping is
// SYSTEM_PTE_MISUSE 0xDA/0x400 ("an I/O space mapping that the system is unaware of").
//
// "MmMapIoSpace should only be used with pages that are locked down (belong to the locked pages
// of an MDL or I/O space)" (MmMapIoSpace reference): RAM nobody owns is Driver Verifier's
// 0xC4/0x83 (start of the range, bytes, the first page not locked) and the call returns NULL.
import { PAGE_SIZE, hex, type VirtualAddress, asVirtual } from '../hw/address.js'
import type { BugCheckParams } from '../hw/finding.js'
import { PTE } from './address-space.js'
import { BUGCHECK } from './bugcheck.js'
import { siteText, type CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import type { CacheType } from './mm.js'
import { siteHere } from './sites.js'

export interface IoMapping {
  readonly va: VirtualAddress
  readonly pa: number
  readonly bytes: number
  readonly routine: string
  readonly site: CallSite | undefined
  readonly driver: boolean
}

/** MmUnmapIoSpace of a range that is not an I/O space mapping (bug check 0xDA reference). */
export const IO_SPACE_UNKNOWN = 0x400
/** MmMapIoSpace of pages that are not locked down (bug check 0xC4 reference). */
export const IO_SPACE_NOT_LOCKED = 0x83

export class IoSpace {
  private readonly kernel: Kernel
  private readonly live = new Map<number, IoMapping>()

  constructor(kernel: Kernel) {
    this.kernel = kernel
  }

  get mappings(): IterableIterator<IoMapping> {
    return this.live.values()
  }

  /** Maps [pa, pa + bytes) at a new VA; 0 when the range may not be mapped. */
  map(pa: number, bytes: number, cache: CacheType, writable: boolean, routine: string, site: CallSite | undefined, driver = true): VirtualAddress {
    const k = this.kernel
    if (!Number.isSafeInteger(pa) || pa < 0 || !Number.isSafeInteger(bytes) || bytes <= 0) return asVirtual(0)
    const first = pa - (pa % PAGE_SIZE)
    const pages = Math.ceil((pa + bytes - first) / PAGE_SIZE)
    for (let i = 0; i < pages; i++) {
      const page = first + i * PAGE_SIZE
      if (!k.ram.isRam(page, 1)) continue
      if (k.frames.ownerOf(page / PAGE_SIZE) === undefined) {
        this.violation([IO_SPACE_NOT_LOCKED, pa, bytes, page / PAGE_SIZE], `${routine} of ${hex(pa)} (+${bytes}): page ${hex(page)} is RAM nobody has locked down (the memory manager may hand it to anyone); map device memory, or the locked pages of an MDL`)
        return asVirtual(0)
      }
    }
    const flags = (writable ? PTE.WRITE : 0) | PTE.IO | (cache === 'noncached' ? PTE.NOCACHE : cache === 'write-combined' ? PTE.WRITECOMBINE : 0)
    const space = k.space
    const base = space.reserve(pages)
    for (let i = 0; i < pages; i++) space.map(base + i * PAGE_SIZE, first + i * PAGE_SIZE, flags)
    const va = asVirtual(base + (pa - first))
    this.live.set(va, { va, pa, bytes, routine, site, driver })
    return va
  }

  /** The mapping that starts at `va`, if any. */
  at(va: number): IoMapping | undefined {
    return this.live.get(va)
  }

  /** MmUnmapIoSpace: false (after reporting 0xDA/0x400) when `va` is not a mapping. */
  unmap(va: number, bytes: number, routine: string, freedWhat: string): boolean {
    const m = this.live.get(va)
    if (m === undefined) {
      const site = siteHere()
      this.kernel.log.fatal({
        kind: 'reserved-mapping-misuse',
        code: BUGCHECK.SYSTEM_PTE_MISUSE,
        params: [IO_SPACE_UNKNOWN, va, Math.ceil(bytes / PAGE_SIZE), 0],
        message: `${routine} of ${hex(va)}: not a mapping MmMapIoSpace returned (or it was already unmapped)`,
        ...(site === undefined ? {} : { site }),
        details: { address: va },
      })
    }
    if (bytes !== m.bytes) {
      const site = siteHere()
      this.kernel.log.violation({
        kind: 'pool-free-mismatch',
        message: `${routine} of ${hex(va)} with NumberOfBytes ${bytes}: ${m.bytes} bytes were mapped there`,
        ...(site === undefined ? {} : { site }),
        details: { address: va, bytes, mappedBytes: m.bytes },
      })
    }
    this.live.delete(va)
    const first = va - (va % PAGE_SIZE)
    const pages = Math.ceil((va + m.bytes - first) / PAGE_SIZE)
    this.kernel.space.unmap(first, pages, PTE.FREED, { what: freedWhat, ...(siteText(m.site) === undefined ? {} : { site: siteText(m.site)! }) })
    this.kernel.space.release(first, pages)
    return true
  }

  private violation(params: BugCheckParams, message: string): void {
    const site = siteHere()
    this.kernel.log.violation({ kind: 'mdl-misuse', code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, params, message, ...(site === undefined ? {} : { site }), details: { address: params[1] } })
  }
}
