// `ndis.memory`: the only way driver code touches memory. Every access is translated through
// the kernel page tables, so a NULL, wild, freed, guard or reserved-but-unmapped address faults
// as it would on Windows: bug check 0x50, or 0xD1 when the IRQL is DISPATCH_LEVEL or above.
// Pageable memory touched at DISPATCH_LEVEL is an IRQL violation (Driver Verifier's IRQL
// checking makes it fault every time; we record it and go on in log mode).
//
// The fast path (a mapped, non-pageable RAM page, the access within one page) is a directory
// lookup, a typed-array read and a RAM access, with no allocation.
import { PAGE_SIZE, TWO_POW_32, hex } from '../hw/address.js'
import type { SystemBus } from '../hw/bus.js'
import type { PhysicalMemory } from '../hw/memory.js'
import { BUGCHECK } from './bugcheck.js'
import type { FindingsLog } from './findings.js'
import { DISPATCH_LEVEL, irqlName } from './irql.js'
import { PTE, type KernelAddressSpace } from './address-space.js'
import { siteHere } from './sites.js'

/** What the accessor needs to know about the CPU it runs on. */
export interface CpuState {
  readonly irql: number
  /** Register accesses cost the CPU a bus transaction (cpu-time.ts). */
  readonly cpuTime: { mmioRead(pa: number, value: number): void; mmioWrite(pa: number, value: number): void }
}

type Access = 'read' | 'write'

const FAST_MASK = PTE.VALID | PTE.PAGED | PTE.IO

export class DriverMemory {
  private readonly space: KernelAddressSpace
  private readonly ram: PhysicalMemory
  private readonly bus: SystemBus
  private readonly log: FindingsLog
  private readonly cpu: CpuState
  /** The page directory the fast path reads; emptied when the machine stops, so every access
   * then takes the checked slow path and is refused, at no cost to the fast path. */
  private dir: Array<Float64Array | undefined>
  /** The kernel's part of the address space (the machine's architecture decides where). */
  private readonly base: number
  private readonly span: number
  private readonly scratch = new Uint8Array(8)

  constructor(space: KernelAddressSpace, ram: PhysicalMemory, bus: SystemBus, log: FindingsLog, cpu: CpuState) {
    this.space = space
    this.ram = ram
    this.bus = bus
    this.log = log
    this.cpu = cpu
    this.dir = space.directory
    this.base = space.base
    this.span = space.span
    log.onStop(() => {
      this.dir = []
    })
  }

  /**
   * Physical address for an access of `size` bytes at `va` that stays within one page and may
   * go straight to RAM, or -1 when the slow path must decide.
   */
  private fast(va: number, size: number): number {
    const off = va - this.base
    if (!(off >= 0 && off < this.span)) return -1
    const idx = (off / PAGE_SIZE) | 0
    const leaf = this.dir[idx >>> 9]
    if (leaf === undefined) return -1
    const pte = leaf[idx & 511]!
    const po = va & 0xfff
    if ((pte & FAST_MASK) !== PTE.VALID || po > PAGE_SIZE - size) return -1
    return pte - (pte & 0xfff) + po
  }

  read8(va: number): number {
    const pa = this.fast(va, 1)
    return pa >= 0 ? this.ram.read8(pa) : this.slowRead(va, 1)
  }

  read16(va: number): number {
    const pa = this.fast(va, 2)
    return pa >= 0 ? this.ram.read16(pa) : this.slowRead(va, 2)
  }

  read32(va: number): number {
    const pa = this.fast(va, 4)
    return pa >= 0 ? this.ram.read32(pa) : this.slowRead(va, 4)
  }

  read64(va: number): number {
    const pa = this.fast(va, 8)
    return pa >= 0 ? this.ram.read64(pa) : this.slowRead(va, 8)
  }

  write8(va: number, value: number): void {
    const pa = this.fast(va, 1)
    if (pa >= 0) this.ram.write8(pa, value)
    else this.slowWrite(va, 1, value)
  }

  write16(va: number, value: number): void {
    const pa = this.fast(va, 2)
    if (pa >= 0) this.ram.write16(pa, value)
    else this.slowWrite(va, 2, value)
  }

  write32(va: number, value: number): void {
    const pa = this.fast(va, 4)
    if (pa >= 0) this.ram.write32(pa, value)
    else this.slowWrite(va, 4, value)
  }

  write64(va: number, value: number): void {
    const pa = this.fast(va, 8)
    if (pa >= 0) this.ram.write64(pa, value)
    else this.slowWrite(va, 8, value)
  }

  /** Copies `length` bytes at `va` into `dst` (no allocation; the accessor's bulk primitive). */
  readInto(va: number, dst: Uint8Array, dstOffset: number, length: number): void {
    hostBuffer('readInto', dst, dstOffset, length)
    let done = 0
    while (done < length) {
      const at = va + done
      const chunk = Math.min(PAGE_SIZE - (at & 0xfff), length - done)
      const pte = this.check(at, 'read', chunk)
      const pa = pte - (pte & 0xfff) + (at & 0xfff)
      if ((pte & PTE.IO) !== 0) this.bus.readInto(pa, dst, dstOffset + done, chunk)
      else this.ram.readInto(pa, dst, dstOffset + done, chunk)
      done += chunk
    }
  }

  /**
   * A copy of `length` bytes at `va`. Every page is checked before the copy is allocated, so a
   * length beyond what is mapped faults at the first unmapped page (as memcpy would) instead
   * of first asking the host for that many bytes.
   */
  readBytes(va: number, length: number): Uint8Array {
    byteCount('readBytes', length)
    for (let done = 0; done < length; ) {
      const at = va + done
      const chunk = Math.min(PAGE_SIZE - (at & 0xfff), length - done)
      this.check(at, 'read', chunk)
      done += chunk
    }
    const out = new Uint8Array(length)
    this.readChecked(va, out, length)
    return out
  }

  /** `readInto` for a range `readBytes` has just checked: the same pages, no second check. */
  private readChecked(va: number, dst: Uint8Array, length: number): void {
    let done = 0
    while (done < length) {
      const at = va + done
      const chunk = Math.min(PAGE_SIZE - (at & 0xfff), length - done)
      const pte = this.space.pteAt(at)
      const pa = pte - (pte & 0xfff) + (at & 0xfff)
      if ((pte & PTE.IO) !== 0) this.bus.readInto(pa, dst, done, chunk)
      else this.ram.readInto(pa, dst, done, chunk)
      done += chunk
    }
  }

  writeFrom(va: number, src: Uint8Array, srcOffset: number, length: number): void {
    hostBuffer('writeFrom', src, srcOffset, length)
    let done = 0
    while (done < length) {
      const at = va + done
      const chunk = Math.min(PAGE_SIZE - (at & 0xfff), length - done)
      const pte = this.check(at, 'write', chunk)
      const pa = pte - (pte & 0xfff) + (at & 0xfff)
      if ((pte & PTE.IO) !== 0) this.bus.writeFrom(pa, src, srcOffset + done, chunk)
      else this.ram.writeFrom(pa, src, srcOffset + done, chunk)
      done += chunk
    }
  }

  writeBytes(va: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`memory.writeBytes: the bytes must be a Uint8Array, got ${describe(bytes)}`)
    this.writeFrom(va, bytes, 0, bytes.length)
  }

  /** RtlFillMemory: `length` bytes at `va` set to `value`. */
  fill(va: number, length: number, value: number): void {
    byteCount('fill', length)
    let done = 0
    while (done < length) {
      const at = va + done
      const chunk = Math.min(PAGE_SIZE - (at & 0xfff), length - done)
      const pte = this.check(at, 'write', chunk)
      const pa = pte - (pte & 0xfff) + (at & 0xfff)
      if ((pte & PTE.IO) !== 0) for (let i = 0; i < chunk; i++) this.bus.write8(pa + i, value)
      else this.ram.fill(pa, chunk, value & 0xff)
      done += chunk
    }
  }

  /** RtlMoveMemory: copies `length` bytes from `srcVa` to `dstVa` (overlap-safe). */
  copy(dstVa: number, srcVa: number, length: number): void {
    byteCount('copy', length)
    if (length === 0) return
    // Validate both ranges before moving a byte, as a faulting copy would stop at the first bad page.
    const tmp = this.readBytes(srcVa, length)
    this.writeFrom(dstVa, tmp, 0, length)
  }

  // ---- slow path --------------------------------------------------------------------------------

  private slowRead(va: number, size: number): number {
    if ((va & 0xfff) + size <= PAGE_SIZE) {
      const pte = this.check(va, 'read', size)
      const pa = pte - (pte & 0xfff) + (va & 0xfff)
      if ((pte & PTE.IO) !== 0) return this.mmioRead(pa, size)
      const ram = this.ram
      switch (size) {
        case 1: return ram.read8(pa)
        case 2: return ram.read16(pa)
        case 4: return ram.read32(pa)
        default: return ram.read64(pa)
      }
    }
    this.readInto(va, this.scratch, 0, size)
    const s = this.scratch
    switch (size) {
      case 2: return s[0]! | (s[1]! << 8)
      case 4: return (s[0]! | (s[1]! << 8) | (s[2]! << 16) | (s[3]! << 24)) >>> 0
      default: {
        const lo = (s[0]! | (s[1]! << 8) | (s[2]! << 16) | (s[3]! << 24)) >>> 0
        const hi = (s[4]! | (s[5]! << 8) | (s[6]! << 16) | (s[7]! << 24)) >>> 0
        return hi * TWO_POW_32 + lo
      }
    }
  }

  private slowWrite(va: number, size: number, value: number): void {
    if ((va & 0xfff) + size <= PAGE_SIZE) {
      const pte = this.check(va, 'write', size)
      const pa = pte - (pte & 0xfff) + (va & 0xfff)
      if ((pte & PTE.IO) !== 0) return this.mmioWrite(pa, size, value)
      const ram = this.ram
      switch (size) {
        case 1: return ram.write8(pa, value)
        case 2: return ram.write16(pa, value)
        case 4: return ram.write32(pa, value)
        default: return ram.write64(pa, value)
      }
    }
    const s = this.scratch
    const lo = value >>> 0
    const hi = Math.floor(value / TWO_POW_32) >>> 0
    for (let i = 0; i < 4; i++) {
      s[i] = (lo >>> (8 * i)) & 0xff
      s[i + 4] = (hi >>> (8 * i)) & 0xff
    }
    this.writeFrom(va, s, 0, size)
  }

  /** A register read: the bus transaction, then the CPU time it costs (devices run meanwhile). */
  private mmioRead(pa: number, size: number): number {
    const bus = this.bus
    const value = size === 1 ? bus.read8(pa) : size === 2 ? bus.read16(pa) : size === 4 ? bus.read32(pa) : bus.read64(pa)
    this.cpu.cpuTime.mmioRead(pa, value)
    return value
  }

  private mmioWrite(pa: number, size: number, value: number): void {
    const bus = this.bus
    if (size === 1) bus.write8(pa, value)
    else if (size === 2) bus.write16(pa, value)
    else if (size === 4) bus.write32(pa, value)
    else bus.write64(pa, value)
    this.cpu.cpuTime.mmioWrite(pa, value)
  }

  /**
   * The PTE for an access that stays within one page, after the checks: faults are fatal and
   * unwind the driver; pageable memory at DISPATCH_LEVEL is a violation and the access goes on.
   */
  private check(va: number, access: Access, size: number): number {
    this.log.throwIfStopped()
    const pte = this.space.pteAt(va)
    if ((pte & PTE.VALID) === 0) this.fault(va, access, size)
    if (access === 'write' && (pte & PTE.WRITE) === 0) this.fault(va, access, size)
    if ((pte & PTE.PAGED) !== 0 && this.cpu.irql >= DISPATCH_LEVEL) {
      this.log.violation({
        kind: 'irql-violation',
        code: BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL,
        params: [va, this.cpu.irql, access === 'write' ? 1 : 0, 0],
        message: `${access} of pageable memory at ${hex(va)} at ${irqlName(this.cpu.irql)}: paged pool may be paged out, and a page fault at DISPATCH_LEVEL or above cannot be serviced`,
        ...site(),
        details: { address: va, irql: this.cpu.irql, access },
      })
    }
    return pte
  }

  private fault(va: number, access: Access, size: number): never {
    const note = this.space.noteAt(va)
    const why = this.space.describeFault(va)
    const irql = this.cpu.irql
    const details = { address: va, access, size, irql, state: this.space.stateOf(va) }
    if (note?.guard === 'special-pool') {
      this.log.fatal({
        kind: 'pool-overrun',
        code: BUGCHECK.DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION,
        params: [va, access === 'write' ? 1 : 0, 0, 0],
        message: `${access} of ${size} bytes at ${hex(va)} runs past the end of a special-pool allocation: ${why}`,
        ...site(),
        details,
      })
    }
    if (note?.guard === 'dma-guard') {
      this.log.fatal({
        kind: 'dma-outside-buffer',
        code: BUGCHECK.DRIVER_VERIFIER_DMA_VIOLATION,
        params: [0x0f, va, 0, 0],
        message: `the driver's ${access} of ${size} bytes at ${hex(va)} lands in the guard region around a common buffer: ${why}`,
        ...site(),
        details,
      })
    }
    if (note?.guard === 'kernel-stack') {
      // The guard page below a kernel stack: the CPU cannot push the page fault's own frame on a
      // full stack, so Windows sees a double fault, bug check 0x7F with parameter 1 = 8
      // (UNEXPECTED_KERNEL_MODE_TRAP: "a kernel stack overflow is a common cause").
      this.log.fatal({
        kind: 'driver-exception',
        code: BUGCHECK.UNEXPECTED_KERNEL_MODE_TRAP,
        params: [8, 0, 0, 0],
        message: `kernel stack overflow: ${access} of ${size} bytes at ${hex(va)}, in the guard page below the driver's kernel stack (its functions' locals need more than the stack holds)`,
        ...site(),
        details,
      })
    }
    if (note?.guard === 'freed-special-pool') {
      // Bug check 0xD5 reference: special pool caught the driver touching memory it had freed
      // (p1 the address, p2 0 read / 1 write, p3 the instruction: none for a JavaScript driver).
      this.log.fatal({
        kind: 'page-fault',
        code: BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
        params: [va, access === 'write' ? 1 : 0, 0, 0],
        message: `${access} of ${size} bytes at ${hex(va)}: ${why}`,
        ...site(),
        details,
      })
    }
    const atDispatch = irql >= DISPATCH_LEVEL
    this.log.fatal({
      kind: 'page-fault',
      code: atDispatch ? BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL : BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA,
      // 0xD1 reference: address, IRQL, 0 read / 1 write, instruction. 0x50 reference (x64,
      // Windows 10 1507 and later): address, 0 read / 2 write, instruction, and the type of
      // fault: 0x0 a PTE marked free, 0x2 no valid PTE.
      params: atDispatch ? [va, irql, access === 'write' ? 1 : 0, 0] : [va, access === 'write' ? PF_WRITE : PF_READ, 0, details.state === 'freed' ? PF_FREED_PTE : PF_NOT_PRESENT],
      message: `${access} of ${size} bytes at ${hex(va)}${atDispatch ? ` at ${irqlName(irql)}` : ''}: ${why}`,
      ...site(),
      details,
    })
  }
}

/** The driver's own buffer for a bulk copy: a Uint8Array holding [offset, offset + length). */
function hostBuffer(what: string, buffer: Uint8Array, offset: number, length: number): void {
  if (!(buffer instanceof Uint8Array)) throw new TypeError(`memory.${what}: the buffer must be a Uint8Array, got ${describe(buffer)}`)
  byteCount(what, length)
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > buffer.length) {
    throw new RangeError(`memory.${what}: ${length} bytes at offset ${String(offset)} do not fit the ${buffer.length}-byte buffer`)
  }
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}

/** A length the driver passed; anything but a whole number of bytes is its programming error. */
function byteCount(what: string, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) throw new TypeError(`memory.${what}: ${String(length)} is not a number of bytes`)
}

/** Bug check 0x50 parameter 2 on x64 Windows 10 (1507) and later, and parameter 4. */
export const PF_READ = 0
export const PF_WRITE = 2
export const PF_FREED_PTE = 0x0
export const PF_NOT_PRESENT = 0x2

function site(): { site?: string } {
  const s = siteHere()
  return s === undefined ? {} : { site: s }
}
