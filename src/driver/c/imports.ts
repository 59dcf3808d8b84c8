// The WDK routines a C driver imports, in the C calling convention of wasm32 (the WebAssembly
// tool conventions' C ABI): integers and pointers are i32, 64-bit integers (ULONG64, POOL_FLAGS)
// i64 as a BigInt, a structure or union passed by value (PHYSICAL_ADDRESS, a LARGE_INTEGER) is a
// pointer to a copy the caller made on its stack, and a structure returned by value is written
// through a pointer passed first. Each adapter calls the same routine a TypeScript driver calls
// (the `ndis` object), so the fault injector, the verifier and the call sites are the same; out
// parameters are written back through the driver's pointers (through the page tables: a bad
// pointer faults at the C line that passed it).
//
// Every routine carries its wasm signature; a driver importing a routine dmalab does not
// implement, or with another signature (its own prototype), is refused at load with the list.
import { TWO_POW_32 } from '../../hw/address.js'
import type { CDriverInstance } from './instance.js'
import type { CMiniportBridge } from './miniport.js'
import { ndisRoutines } from './ndis-imports.js'
import { dmaRoutines } from './dma-imports.js'
import { dataRoutines } from './data-imports.js'
import type { CNetObjects } from './net-objects.js'
import { ndis5Routines, type Ndis5Parts } from './ndis5-imports.js'

/** An import: its wasm signature ('i' i32, 'j' i64; params then result) and the adapter. */
export interface CRoutine {
  readonly params: string
  readonly result: '' | 'i' | 'j'
  readonly fn: (...args: never[]) => unknown
}

export type CRoutines = Record<string, CRoutine>

const u = (x: number): number => x >>> 0

export function routine<A extends unknown[]>(params: string, result: '' | 'i' | 'j', fn: (...args: A) => unknown): CRoutine {
  return { params, result, fn: fn as unknown as (...args: never[]) => unknown }
}

/** A 64-bit value a driver passed by value (a pointer to its 8 bytes), exact below 2^53. */
export function byValue64(c: CDriverInstance, pointer: number): number {
  const m = c.kernel.memory
  return m.read32(u(pointer + 4)) * TWO_POW_32 + m.read32(u(pointer))
}

export function write64(c: CDriverInstance, pointer: number, value: number): void {
  const m = c.kernel.memory
  m.write32(u(pointer), value >>> 0)
  m.write32(u(pointer + 4), Math.floor(value / TWO_POW_32) >>> 0)
}

/** Ex, Mm and Ke routines (wdm.h) and the C library's memory functions. */
function kernelRoutines(c: CDriverInstance): CRoutines {
  const k = (): CDriverInstance['ndis'] => c.ndis
  const mem = c.kernel.memory
  return {
    ExAllocatePool: routine('ii', 'i', (type: number, bytes: number) => k().ExAllocatePool(u(type), u(bytes))),
    ExAllocatePoolWithTag: routine('iii', 'i', (type: number, bytes: number, tag: number) => k().ExAllocatePoolWithTag(u(type), u(bytes), u(tag))),
    ExAllocatePoolWithTagPriority: routine('iiii', 'i', (type: number, bytes: number, tag: number, p: number) => k().ExAllocatePoolWithTagPriority(u(type), u(bytes), u(tag), u(p))),
    ExAllocatePool2: routine('jii', 'i', (flags: bigint, bytes: number, tag: number) => k().ExAllocatePool2(Number(BigInt.asUintN(64, flags)), u(bytes), u(tag))),
    ExFreePool: routine('i', '', (p: number) => k().ExFreePool(u(p))),
    ExFreePoolWithTag: routine('ii', '', (p: number, tag: number) => k().ExFreePoolWithTag(u(p), u(tag))),

    MmAllocateContiguousMemory: routine('ii', 'i', (bytes: number, highest: number) => k().MmAllocateContiguousMemory(u(bytes), byValue64(c, highest))),
    MmAllocateContiguousMemorySpecifyCache: routine('iiiii', 'i', (bytes: number, lowest: number, highest: number, boundary: number, cache: number) =>
      k().MmAllocateContiguousMemorySpecifyCache(u(bytes), byValue64(c, lowest), byValue64(c, highest), byValue64(c, boundary), u(cache))),
    MmFreeContiguousMemory: routine('i', '', (va: number) => k().MmFreeContiguousMemory(u(va))),
    MmFreeContiguousMemorySpecifyCache: routine('iii', '', (va: number, bytes: number, cache: number) => k().MmFreeContiguousMemorySpecifyCache(u(va), u(bytes), u(cache))),
    MmAllocateNonCachedMemory: routine('i', 'i', (bytes: number) => k().MmAllocateNonCachedMemory(u(bytes))),
    MmFreeNonCachedMemory: routine('ii', '', (va: number, bytes: number) => k().MmFreeNonCachedMemory(u(va), u(bytes))),
    MmAllocateMappingAddress: routine('ii', 'i', (bytes: number, tag: number) => k().MmAllocateMappingAddress(u(bytes), u(tag))),
    MmFreeMappingAddress: routine('ii', '', (va: number, tag: number) => k().MmFreeMappingAddress(u(va), u(tag))),
    // PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID): the result is returned through a pointer.
    MmGetPhysicalAddress: routine('ii', '', (result: number, va: number) => write64(c, result, k().MmGetPhysicalAddress(u(va)))),

    KeGetCurrentIrql: routine('', 'i', () => k().KeGetCurrentIrql()),
    KeRaiseIrql: routine('ii', '', (irql: number, old: number) => {
      const { oldIrql } = k().KeRaiseIrql(irql & 0xff)
      mem.write8(u(old), oldIrql)
    }),
    KeRaiseIrqlToDpcLevel: routine('', 'i', () => k().KeRaiseIrqlToDpcLevel()),
    KeLowerIrql: routine('i', '', (irql: number) => k().KeLowerIrql(irql & 0xff)),
    KeStallExecutionProcessor: routine('i', '', () => {}),

    // The C library: the compiler emits calls to these for structure copies and clears too.
    memcpy: routine('iii', 'i', (dst: number, src: number, n: number) => {
      mem.copy(u(dst), u(src), u(n))
      return dst
    }),
    memmove: routine('iii', 'i', (dst: number, src: number, n: number) => {
      mem.copy(u(dst), u(src), u(n))
      return dst
    }),
    memset: routine('iii', 'i', (dst: number, fill: number, n: number) => {
      mem.fill(u(dst), u(n), fill & 0xff)
      return dst
    }),
    memcmp: routine('iii', 'i', (a: number, b: number, n: number) => {
      const x = mem.readBytes(u(a), u(n))
      const y = mem.readBytes(u(b), u(n))
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1
      return 0
    }),
  }
}

/** Every routine a C driver may import, bound to one instance. */
export function cRoutines(c: CDriverInstance, bridge: CMiniportBridge, objects: CNetObjects, ndis5: Ndis5Parts): CRoutines {
  return { ...kernelRoutines(c), ...ndisRoutines(c, bridge), ...dmaRoutines(c), ...dataRoutines(c, bridge, objects), ...ndis5Routines(c, ndis5) }
}

/** The routines dmalab implements for C drivers, with their signatures (for the load check). */
export const C_ROUTINES: Readonly<Record<string, { readonly params: string; readonly result: string }>> = Object.fromEntries(
  Object.entries(cRoutines({ kernel: { memory: {} } } as unknown as CDriverInstance, {} as CMiniportBridge, {} as CNetObjects, {} as Ndis5Parts)).map(([name, r]) => [name, { params: r.params, result: r.result }]),
)
