// Local declarations for the parts of buffer-layout (which ships no types) that dmalab uses:
// fixed-size little-endian structures whose field offsets the fast accessors derive.
declare module 'buffer-layout' {
  // decode/encode call Buffer methods (readUIntLE, ...): a plain Uint8Array fails at run time.
  export class Layout<T = unknown> {
    readonly span: number
    readonly property: string | undefined
    decode(b: Buffer, offset?: number): T
    encode(src: T, b: Buffer, offset?: number): number
    getSpan(b?: Buffer, offset?: number): number
  }
  export class Structure<T = Record<string, unknown>> extends Layout<T> {
    readonly fields: Layout[]
    offsetOf(property: string): number | undefined
    layoutFor(property: string): Layout | undefined
  }
  export function struct<T = Record<string, unknown>>(fields: Layout[], property?: string): Structure<T>
  export function u8(property?: string): Layout<number>
  export function u16(property?: string): Layout<number>
  export function u32(property?: string): Layout<number>
  export function nu64(property?: string): Layout<number>
  export function u16be(property?: string): Layout<number>
  export function u32be(property?: string): Layout<number>
  export function s16(property?: string): Layout<number>
  export function s32(property?: string): Layout<number>
  export function blob(length: number, property?: string): Layout<Uint8Array>
  export function seq<T>(elementLayout: Layout<T>, count: number, property?: string): Layout<T[]>
}
