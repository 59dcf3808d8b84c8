// The hooks every load and store of a C driver calls (instrument.ts puts them there): the C
// program's address space IS the 32-bit kernel address space, so a C pointer is a kernel VA
// and the hook's only work is the kernel's own: translate through the page tables and access
// emulated memory (DriverMemory). A NULL, freed, guard, reserved or paged-at-DISPATCH access
// faults exactly as a TypeScript driver's does, with bug check 0x50 or 0xD1.
//
// A hook gets the pointer, (for a store) the value, and the instruction's constant offset last
// (instrument.ts pushes it after the operands); the pointer and offset's sum wraps at 2^32, as
// an x86 CPU's effective address does. Values cross as wasm passes them: i32 as a signed
// number, i64 as a BigInt. 64-bit accesses are two 32-bit halves (exact for any bit pattern,
// where a number would round above 2^53). Misalignment does not matter: x86 does not fault.
import type { DriverMemory } from '../../kernel/driver-memory.js'

/** The memory an instrumented driver needs (DriverMemory, or a test double). */
export type HookedMemory = Pick<DriverMemory, 'read8' | 'read16' | 'read32' | 'write8' | 'write16' | 'write32'>

type Load = (pointer: number, offset: number) => number
type Load64 = (pointer: number, offset: number) => bigint
type Store = (pointer: number, value: number, offset: number) => void
type Store64 = (pointer: number, value: bigint, offset: number) => void

export interface MemoryHooks {
  readonly [name: string]: Load | Load64 | Store | Store64
}

const LOW = 0xffff_ffffn

/** The hook functions by import name (`load_i32_4`, `store_i64_8`, ...), bound to `memory`. */
export function memoryHooks(memory: HookedMemory): MemoryHooks {
  const m = memory
  const scratch = new DataView(new ArrayBuffer(8))
  const read64 = (a: number): bigint => (BigInt(m.read32((a + 4) >>> 0)) << 32n) | BigInt(m.read32(a))
  const write64 = (a: number, v: bigint): void => {
    m.write32(a, Number(v & LOW))
    m.write32((a + 4) >>> 0, Number((v >> 32n) & LOW))
  }
  return {
    load_i32_1: (p: number, o: number) => (m.read8((p + o) >>> 0) << 24) >> 24,
    load_i32_1_u: (p: number, o: number) => m.read8((p + o) >>> 0),
    load_i32_2: (p: number, o: number) => (m.read16((p + o) >>> 0) << 16) >> 16,
    load_i32_2_u: (p: number, o: number) => m.read16((p + o) >>> 0),
    load_i32_4: (p: number, o: number) => m.read32((p + o) >>> 0),
    load_i64_1: (p: number, o: number) => BigInt((m.read8((p + o) >>> 0) << 24) >> 24),
    load_i64_1_u: (p: number, o: number) => BigInt(m.read8((p + o) >>> 0)),
    load_i64_2: (p: number, o: number) => BigInt((m.read16((p + o) >>> 0) << 16) >> 16),
    load_i64_2_u: (p: number, o: number) => BigInt(m.read16((p + o) >>> 0)),
    load_i64_4: (p: number, o: number) => BigInt(m.read32((p + o) >>> 0) | 0),
    load_i64_4_u: (p: number, o: number) => BigInt(m.read32((p + o) >>> 0)),
    load_i64_8: (p: number, o: number) => BigInt.asIntN(64, read64((p + o) >>> 0)),
    load_f32_4: (p: number, o: number) => {
      scratch.setUint32(0, m.read32((p + o) >>> 0), true)
      return scratch.getFloat32(0, true)
    },
    load_f64_8: (p: number, o: number) => {
      const a = (p + o) >>> 0
      scratch.setUint32(0, m.read32(a), true)
      scratch.setUint32(4, m.read32((a + 4) >>> 0), true)
      return scratch.getFloat64(0, true)
    },
    store_i32_1: (p: number, v: number, o: number) => m.write8((p + o) >>> 0, v & 0xff),
    store_i32_2: (p: number, v: number, o: number) => m.write16((p + o) >>> 0, v & 0xffff),
    store_i32_4: (p: number, v: number, o: number) => m.write32((p + o) >>> 0, v >>> 0),
    store_i64_1: (p: number, v: bigint, o: number) => m.write8((p + o) >>> 0, Number(v & 0xffn)),
    store_i64_2: (p: number, v: bigint, o: number) => m.write16((p + o) >>> 0, Number(v & 0xffffn)),
    store_i64_4: (p: number, v: bigint, o: number) => m.write32((p + o) >>> 0, Number(v & LOW)),
    store_i64_8: (p: number, v: bigint, o: number) => write64((p + o) >>> 0, v),
    store_f32_4: (p: number, v: number, o: number) => {
      scratch.setFloat32(0, v, true)
      m.write32((p + o) >>> 0, scratch.getUint32(0, true))
    },
    store_f64_8: (p: number, v: number, o: number) => {
      const a = (p + o) >>> 0
      scratch.setFloat64(0, v, true)
      m.write32(a, scratch.getUint32(0, true))
      m.write32((a + 4) >>> 0, scratch.getUint32(4, true))
    },
  }
}

/** Every hook name a module may import (instrument.ts names them after safe-heap's helpers). */
export const HOOK_NAMES = Object.keys(memoryHooks({ read8: () => 0, read16: () => 0, read32: () => 0, write8: () => {}, write16: () => {}, write32: () => {} }))
