// C structure layouts as a 32-bit Windows driver sees them (x86: pointers and ULONG 4 bytes,
// LONGLONG and LARGE_INTEGER 8 bytes aligned to 8, fields at their natural alignment, as MSVC's
// default packing and clang's wasm32 target agree). A layout is declared once, field by field
// with the WDK's names; offsets are derived from it, so the host reads and writes the very
// bytes the C driver's headers describe. A test compiles the headers with _Static_assert on
// every offset and size computed here (test/driver/c/layout.test.ts), so the two cannot drift.
import type { DriverMemory } from '../../kernel/driver-memory.js'

export type Scalar = 'UCHAR' | 'USHORT' | 'ULONG' | 'LONG' | 'PVOID' | 'ULONG64' | 'LARGE_INTEGER'

const SCALAR: Record<Scalar, { size: number; align: number }> = {
  UCHAR: { size: 1, align: 1 },
  USHORT: { size: 2, align: 2 },
  ULONG: { size: 4, align: 4 },
  LONG: { size: 4, align: 4 },
  PVOID: { size: 4, align: 4 },
  ULONG64: { size: 8, align: 8 },
  LARGE_INTEGER: { size: 8, align: 8 },
}

export type FieldType =
  | Scalar
  | Layout
  | { readonly array: Scalar | Layout; readonly count: number }
  /** DECLSPEC_ALIGN(n): the field at a multiple of n (the WDK aligns NBL reserved areas so). */
  | { readonly aligned: number; readonly type: FieldType }

export interface Layout {
  readonly name: string
  readonly size: number
  readonly align: number
  /** Offsets by field path (`Header.Type`, `DATA.QUERY_INFORMATION.Oid`, `Elements`). */
  readonly offset: Readonly<Record<string, number>>
  /** Scalars by field path, for generic reads and writes. */
  readonly scalar: Readonly<Record<string, Scalar>>
  /** The top-level fields in order (for generated assertions). */
  readonly fields: ReadonlyArray<readonly [string, FieldType]>
  readonly union: boolean
}

function sizeAlign(t: FieldType): { size: number; align: number } {
  if (typeof t === 'string') return SCALAR[t]
  if ('aligned' in t) {
    const inner = sizeAlign(t.type)
    return { size: inner.size, align: Math.max(inner.align, t.aligned) }
  }
  if ('array' in t) {
    const e = sizeAlign(t.array)
    return { size: e.size * t.count, align: e.align }
  }
  return { size: t.size, align: t.align }
}

function build(name: string, fields: ReadonlyArray<readonly [string, FieldType]>, union: boolean, pack: number): Layout {
  const offset: Record<string, number> = {}
  const scalar: Record<string, Scalar> = {}
  let size = 0
  let align = 1
  for (const [field, declared] of fields) {
    const type = typeof declared !== 'string' && 'aligned' in declared ? declared.type : declared
    const natural = sizeAlign(declared)
    // #pragma pack(n) caps every member's alignment at n (the WDK packs resource lists at 4).
    const sa = { size: natural.size, align: Math.min(natural.align, pack) }
    const at = union ? 0 : Math.ceil(size / sa.align) * sa.align
    // An anonymous member ('' as its name: the WDK's unnamed unions and structs) lends its
    // fields to the enclosing structure, as C does.
    const prefix = field === '' ? '' : `${field}.`
    if (field !== '') offset[field] = at
    if (typeof type === 'string') scalar[field] = type
    else if (!('array' in type) && !('aligned' in type)) {
      for (const [sub, o] of Object.entries(type.offset)) offset[`${prefix}${sub}`] = at + o
      for (const [sub, s] of Object.entries(type.scalar)) scalar[`${prefix}${sub}`] = s
    }
    size = union ? Math.max(size, sa.size) : at + sa.size
    align = Math.max(align, sa.align)
  }
  return { name, size: Math.ceil(size / align) * align, align, offset, scalar, fields, union }
}

export function struct(name: string, fields: ReadonlyArray<readonly [string, FieldType]>, options: { pack?: number } = {}): Layout {
  return build(name, fields, false, options.pack ?? 8)
}

export function union(name: string, fields: ReadonlyArray<readonly [string, FieldType]>, options: { pack?: number } = {}): Layout {
  return build(name, fields, true, options.pack ?? 8)
}

export const array = (type: Scalar | Layout, count: number): FieldType => ({ array: type, count })
export const aligned = (n: number, type: FieldType): FieldType => ({ aligned: n, type })

/** The memory the host reads a driver's structures through (always DriverMemory: page tables). */
export type StructMemory = Pick<DriverMemory, 'read8' | 'read16' | 'read32' | 'write8' | 'write16' | 'write32'>

function at(layout: Layout, field: string): { offset: number; type: Scalar } {
  const offset = layout.offset[field]
  const type = layout.scalar[field]
  if (offset === undefined || type === undefined) throw new Error(`${layout.name} has no scalar field ${field}`)
  return { offset, type }
}

/** Reads one field; 64-bit fields come back as exact numbers below 2^53 (addresses, lengths). */
export function readField(memory: StructMemory, va: number, layout: Layout, field: string): number {
  const { offset, type } = at(layout, field)
  const a = (va + offset) >>> 0
  switch (type) {
    case 'UCHAR': return memory.read8(a)
    case 'USHORT': return memory.read16(a)
    case 'ULONG': case 'PVOID': return memory.read32(a)
    case 'LONG': return memory.read32(a) | 0
    default: return memory.read32((a + 4) >>> 0) * 4294967296 + memory.read32(a)
  }
}

export function writeField(memory: StructMemory, va: number, layout: Layout, field: string, value: number): void {
  const { offset, type } = at(layout, field)
  const a = (va + offset) >>> 0
  switch (type) {
    case 'UCHAR': return memory.write8(a, value & 0xff)
    case 'USHORT': return memory.write16(a, value & 0xffff)
    case 'ULONG': case 'PVOID': case 'LONG': return memory.write32(a, value >>> 0)
    default:
      memory.write32(a, value >>> 0)
      memory.write32((a + 4) >>> 0, Math.floor(value / 4294967296) >>> 0)
  }
}

/**
 * C source asserting every offset and size of `layouts` against the headers: compiled by the
 * layout test, so a header and its TypeScript declaration cannot disagree unnoticed.
 */
export function staticAsserts(layouts: readonly Layout[]): string {
  const lines = ['#include <ndis.h>', '#define OFF(t, f) __builtin_offsetof(t, f)']
  for (const l of layouts) {
    lines.push(`_Static_assert(sizeof(${l.name}) == ${l.size}, "sizeof(${l.name}) is not ${l.size}");`)
    for (const [field, offset] of Object.entries(l.offset)) {
      lines.push(`_Static_assert(OFF(${l.name}, ${field}) == ${offset}, "${l.name}.${field} is not at ${offset}");`)
    }
  }
  return `${lines.join('\n')}\n`
}
