/// <reference path="../../types/buffer-layout.d.ts" preserve="true" />
// Fixed-size little-endian structures (descriptors, configuration headers, table entries,
// file headers), declared once with `buffer-layout`. The declaration is the single source of
// truth: per-packet code never decodes into objects, it reads and writes with a DataView at
// the offsets derived here, while tests (and slow paths) may decode the same declaration with
// the library to check the fast accessors independently.
// (The reference above ships buffer-layout's declarations with dmalab's own: the library has
// none, and a user's compiler with skipLibCheck off must resolve these types.)
import { struct, type Layout, type Structure } from 'buffer-layout'

/** A field factory from buffer-layout (`u8`, `u16`, `u32`, `nu64`, or `(p) => blob(n, p)`). */
export type FieldFactory = (property: string) => Layout

export interface DeclaredLayout<K extends string> {
  readonly name: string
  /** The buffer-layout structure, for decode/encode in tests and slow paths. */
  readonly structure: Structure<Record<K, number | Uint8Array>>
  /** Bytes the structure occupies. */
  readonly span: number
  /** Byte offset of each field, derived from the declaration. */
  readonly offset: { readonly [P in K]: number }
  /** Byte width of each field. */
  readonly width: { readonly [P in K]: number }
}

/**
 * Declares a structure from an ordered record of fields (insertion order is layout order) and
 * derives every field's offset and width from buffer-layout itself.
 */
export function declareLayout<const F extends Record<string, FieldFactory>>(
  name: string,
  fields: F,
): DeclaredLayout<Extract<keyof F, string>> {
  type K = Extract<keyof F, string>
  const names = Object.keys(fields) as K[]
  const structure = struct<Record<K, number | Uint8Array>>(names.map((n) => fields[n]!(n)))
  const offset = {} as Record<K, number>
  const width = {} as Record<K, number>
  for (const n of names) {
    const at = structure.offsetOf(n)
    const field = structure.layoutFor(n)
    if (at === undefined || field === undefined) throw new Error(`layout ${name}: field ${n} has no fixed offset`)
    offset[n] = at
    width[n] = field.span
  }
  return Object.freeze({ name, structure, span: structure.span, offset: Object.freeze(offset), width: Object.freeze(width) })
}
