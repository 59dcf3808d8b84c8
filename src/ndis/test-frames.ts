// The test frames both emulated protocols (NDIS 6 and NDIS 5) send and check byte for byte.
//
// A test frame: destination, source, EtherType 0x88B5 (IEEE local experimental), then 'DMAL',
// the sequence number, the slot and the length, then a payload drawn from a fixed pseudo-random
// pattern at an offset that depends on the slot, so a receiver can verify it.
import { Random } from '../hw/random.js'

export const ETHERTYPE = 0x88b5
export const MAGIC = 0x4c414d44 // 'DMAL' read little-endian
export const HEADER = 14
export const STAMP = 12 // magic, sequence, slot (u16), length (u16)
/** Bytes of one send slot; a frame's pattern offset never runs past PATTERN_BYTES + SLOT_BYTES. */
export const SLOT_BYTES = 2048
const PATTERN_BYTES = 8192
/** The slot number frames from a peer on the wire carry. */
export const PEER_SLOT = 0xffff

/** Writes a test frame of `size` bytes into `out`. */
export function writeTestFrame(out: Uint8Array, pattern: Uint8Array, dst: Uint8Array, src: Uint8Array, seq: number, slot: number, size: number): void {
  out.set(dst, 0)
  out.set(src, 6)
  out[12] = ETHERTYPE >>> 8
  out[13] = ETHERTYPE & 0xff
  const v = new DataView(out.buffer, out.byteOffset)
  v.setUint32(HEADER, MAGIC, true)
  v.setUint32(HEADER + 4, seq, true)
  v.setUint16(HEADER + 8, slot, true)
  v.setUint16(HEADER + 10, size, true)
  const payload = size - HEADER - STAMP
  if (payload > 0) out.set(pattern.subarray(patternOffset(slot), patternOffset(slot) + payload), HEADER + STAMP)
}

/** The sequence number of a frame written by writeTestFrame (rewritten in place on reuse). */
export const SEQUENCE_OFFSET = HEADER + 4

/** What a received frame was: one of ours intact, someone else's, or one of ours damaged. */
export type FrameVerdict = { readonly kind: 'intact' } | { readonly kind: 'foreign' } | { readonly kind: 'corrupt'; readonly message: string }

const INTACT: FrameVerdict = { kind: 'intact' }
const FOREIGN: FrameVerdict = { kind: 'foreign' }

/**
 * Checks `length` bytes at the start of `bytes` (`view` and `buffer` over the same memory)
 * against what writeTestFrame wrote. Compares in place: no views are made per frame.
 */
export function checkTestFrame(bytes: Uint8Array, buffer: Buffer, view: DataView, length: number, pattern: Uint8Array): FrameVerdict {
  if (length < HEADER + STAMP || length > bytes.length) return FOREIGN
  if (((bytes[12]! << 8) | bytes[13]!) !== ETHERTYPE || view.getUint32(HEADER, true) !== MAGIC) return FOREIGN
  const slot = view.getUint16(HEADER + 8, true)
  const size = view.getUint16(HEADER + 10, true)
  const payload = size - HEADER - STAMP
  if (size !== length) return { kind: 'corrupt', message: `a frame sent as ${size} bytes arrived as ${length}` }
  const p = patternOffset(slot)
  if (buffer.compare(pattern, p, p + payload, HEADER + STAMP, HEADER + STAMP + payload) !== 0) {
    return { kind: 'corrupt', message: `a ${size}-byte frame (sequence ${view.getUint32(HEADER + 4, true)}) arrived with different payload bytes than were sent` }
  }
  return INTACT
}

/** The payload pattern for a seed: the same bytes for every machine with that seed, made once. */
const patterns = new Map<number, Uint8Array>()

export function patternFor(seed: number): Uint8Array {
  let p = patterns.get(seed)
  if (p === undefined) {
    const rng = new Random(seed, 'protocol-pattern')
    p = Uint8Array.from({ length: PATTERN_BYTES + SLOT_BYTES }, () => rng.int(0, 255))
    if (patterns.size > 64) patterns.clear()
    patterns.set(seed, p)
  }
  return p
}

function patternOffset(slot: number): number {
  return (slot * 31) % PATTERN_BYTES
}
