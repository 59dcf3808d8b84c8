// Pool tags (seed rule S19). A tag is a ULONG; C drivers write it as a multi-character
// literal in reverse ('tseT' == 0x74736554) so that its little-endian bytes in memory, which
// is what a pool dump prints, read "Test". TypeScript drivers may pass either the number or
// the C literal as a string ('tseT'); dmalab shows tags in reading order everywhere.

/** A tag as a driver passes it: the ULONG, or the C multi-character literal as a string. */
export type PoolTag = number | string

/** The ULONG for a tag argument; NaN when it is not a tag (more than four characters, …). */
export function tagValue(tag: PoolTag): number {
  if (typeof tag === 'number') return Number.isInteger(tag) && tag >= 0 && tag <= 0xffff_ffff ? tag : NaN
  if (typeof tag !== 'string' || tag.length < 1 || tag.length > 4) return NaN
  let v = 0
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i)
    if (c > 0xff) return NaN
    v = v * 256 + c // the first character is the most significant byte, as in C
  }
  return v >>> 0
}

/** The tag as a pool dump shows it: its little-endian bytes, 'tseT' -> "Test". */
export function tagName(value: number): string {
  let s = ''
  for (let i = 0; i < 4; i++) {
    const c = (value >>> (8 * i)) & 0xff
    if (c === 0) break
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?'
  }
  return s
}

/**
 * Whether any of the tag's four bytes is a letter or digit: a pool tag with none is bug check
 * 0xC2/0x9D ("a tag that does not contain any letters or digits"; bug check 0xC2 reference).
 */
export function hasLetterOrDigit(value: number): boolean {
  for (let i = 0; i < 4; i++) {
    const c = (value >>> (8 * i)) & 0xff
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true
  }
  return false
}
