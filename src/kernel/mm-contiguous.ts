// Memory the Mm routines hand out by virtual address and take back by it: physically
// contiguous memory (MmAllocateContiguousMemory[SpecifyCache]) and noncached memory
// (MmAllocateNonCachedMemory). Both are whole pages, nonpaged, and not zeroed (S16, S25).
// Each allocation is tracked, so a bad or double free is caught and the unload check can list
// what the driver left behind.
import { PAGE_SIZE, formatBytes, hex, type VirtualAddress, asVirtual } from '../hw/address.js'
import { BUGCHECK } from './bugcheck.js'
import { siteText, type CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import type { CacheType, MappedMemory } from './mm.js'
import { freeSite, pageNote } from './page-notes.js'
import { siteHere } from './sites.js'

export type MmAllocationKind = 'contiguous' | 'noncached'

export interface MmAllocation {
  readonly kind: MmAllocationKind
  readonly va: VirtualAddress
  /** NumberOfBytes as asked (the mapping is whole pages). */
  readonly bytes: number
  readonly cache: CacheType
  readonly memory: MappedMemory
  readonly site: CallSite | undefined
  readonly driver: boolean
  readonly serial: number
}

export interface ContiguousRequest {
  /** Lowest and highest acceptable physical addresses, inclusive (S25). */
  readonly lowest: number
  readonly highest: number
  /** A physical multiple the run must not cross: 0, or a power of two of at least a page. */
  readonly boundary: number
  readonly cache: CacheType
  readonly site?: CallSite
  readonly driver?: boolean
}

export interface MmFreeCheck {
  readonly routine: string
  /** NumberOfBytes / CacheType the caller passed to the free, which must match the allocation. */
  readonly bytes?: number
  readonly cache?: CacheType
}

const FREED_MEMORY = 4096

export class ContiguousMemory {
  private readonly kernel: Kernel
  private readonly live = new Map<number, MmAllocation>()
  private readonly freed = new Map<number, MmAllocationKind>()
  private serial = 0

  constructor(kernel: Kernel) {
    this.kernel = kernel
  }

  get allocations(): IterableIterator<MmAllocation> {
    return this.live.values()
  }

  at(va: number): MmAllocation | undefined {
    return this.live.get(va)
  }

  /**
   * One physically contiguous run of whole pages within [lowest, highest] that crosses no
   * multiple of `boundary`, mapped with the cache type, not zeroed. 0 when no such run is free
   * (or the request makes no sense: zero bytes, a boundary that is not a power of two of at
   * least a page, or smaller than the request).
   */
  allocateContiguous(bytes: number, request: ContiguousRequest): VirtualAddress {
    const pages = Math.ceil(bytes / PAGE_SIZE)
    const b = request.boundary
    if (pages === 0 || request.highest < request.lowest) return asVirtual(0)
    if (b !== 0 && (b < PAGE_SIZE || !isPowerOfTwo(b) || b < pages * PAGE_SIZE)) return asVirtual(0)
    const memory = this.kernel.mm.allocateMapped(
      pages,
      {
        kind: 'contiguous',
        label: `contiguous memory ${formatBytes(pages * PAGE_SIZE)}`,
        contiguous: true,
        lowest: request.lowest,
        highest: request.highest,
        boundary: b,
        driver: request.driver ?? true,
      },
      { cache: request.cache },
      'uninitialized',
    )
    return memory === null ? asVirtual(0) : this.track('contiguous', bytes, request.cache, memory, request.site, request.driver ?? true)
  }

  /**
   * Whole pages, noncached, not necessarily contiguous, not zeroed (S16); every page at or below
   * `highest` when given (NdisAllocateMemory with NDIS_MEMORY_NONCACHED, S02). 0 when out of memory.
   */
  allocateNonCached(bytes: number, options: { readonly site?: CallSite; readonly driver?: boolean; readonly highest?: number } = {}): VirtualAddress {
    const pages = Math.ceil(bytes / PAGE_SIZE)
    if (pages === 0) return asVirtual(0)
    const driver = options.driver ?? true
    const memory = this.kernel.mm.allocateMapped(
      pages,
      { kind: 'noncached', label: `noncached memory ${formatBytes(pages * PAGE_SIZE)}`, driver, ...(options.highest === undefined ? {} : { highest: options.highest }) },
      { cache: 'noncached' },
      'uninitialized',
    )
    return memory === null ? asVirtual(0) : this.track('noncached', bytes, 'noncached', memory, options.site, driver)
  }

  /**
   * Frees what `allocateContiguous` / `allocateNonCached` returned. An address that is not
   * such an allocation is fatal (MmFreeContiguousMemory: bug check 0xC2/0x60); arguments that
   * differ from the allocation are a `pool-free-mismatch` violation, and the memory is freed.
   */
  free(kind: MmAllocationKind, va: number, check: MmFreeCheck): void {
    const log = this.kernel.log
    log.throwIfStopped()
    const a = this.live.get(va)
    if (a === undefined || a.kind !== kind) this.badFree(kind, va, check.routine, a)
    const mismatch: string[] = []
    if (check.bytes !== undefined && Math.ceil(check.bytes / PAGE_SIZE) !== Math.ceil(a.bytes / PAGE_SIZE)) {
      mismatch.push(`NumberOfBytes ${check.bytes} (allocated ${a.bytes})`)
    }
    if (check.cache !== undefined && check.cache !== a.cache) mismatch.push(`cache type ${check.cache} (allocated ${a.cache})`)
    if (mismatch.length > 0) {
      const site = siteHere()
      log.violation({
        kind: 'pool-free-mismatch',
        message: `${check.routine} of ${kind} memory at ${hex(va)} with ${mismatch.join(' and ')}: the arguments must match the allocation`,
        ...(site === undefined ? {} : { site }),
        details: { address: va, routine: check.routine },
      })
    }
    this.live.delete(va)
    this.freed.set(va, kind)
    if (this.freed.size > FREED_MEMORY) this.freed.delete(this.freed.keys().next().value!)
    this.kernel.mm.freeMapped(a.memory, pageNote(`freed ${kind} memory (${a.bytes} bytes)`, a.site, freeSite(this.kernel)))
  }

  private track(kind: MmAllocationKind, bytes: number, cache: CacheType, memory: MappedMemory, site: CallSite | undefined, driver: boolean): VirtualAddress {
    this.live.set(memory.va, { kind, va: memory.va, bytes, cache, memory, site, driver, serial: ++this.serial })
    this.freed.delete(memory.va)
    return memory.va
  }

  private badFree(kind: MmAllocationKind, va: number, routine: string, other: MmAllocation | undefined): never {
    const site = siteHere()
    const twice = this.freed.get(va) === kind
    const why = twice
      ? `${hex(va)} was already freed`
      : other !== undefined
        ? `${hex(va)} is ${other.kind} memory (allocated at ${siteText(other.site) ?? 'an unknown site'}), not ${kind} memory`
        : `${hex(va)} is not ${kind === 'contiguous' ? 'an address MmAllocateContiguousMemory[SpecifyCache]' : 'an address MmAllocateNonCachedMemory'} returned`
    this.kernel.log.fatal({
      kind: twice ? 'pool-double-free' : 'pool-bad-free',
      code: BUGCHECK.BAD_POOL_CALLER,
      // 0x60: an invalid contiguous memory address; 0x46: an invalid address to free (0xC2 reference).
      params: kind === 'contiguous' ? [0x60, va, 0, 0] : [0x46, va, 0, 0],
      message: `${routine}: ${why}`,
      ...(site === undefined ? {} : { site }),
      details: { address: va, routine },
    })
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(Math.log2(n))
}
