// What the transmit side does to a frame's bytes besides moving them: checksum insertion
// (legacy IC/CSO/CSS, 3.3.3; context-driven IP and TCP/UDP, 3.6), the per-segment header
// fix-ups of TCP segmentation (3.5.9), and 802.1Q tag insertion (3.3.3.1 VLE, chapter 9).
// Pure functions over a byte buffer and a frame's offset in it: the engine gathers the
// frame, these rewrite it in place.
import { internetChecksum } from '../checksum.js'
import { CONTEXT_DESCRIPTOR, TUCMD } from './layouts.js'

const C = CONTEXT_DESCRIPTOR.offset

/** One checksum/segmentation context, as a TCP/IP context descriptor (3.3.6) sets it. */
export class TxContext {
  ipcss = 0
  ipcso = 0
  ipcse = 0
  tucss = 0
  tucso = 0
  tucse = 0
  payloadLength = 0
  tucmd = 0
  hdrlen = 0
  mss = 0

  /** Loads the fields of a context descriptor held in `view`. */
  load(view: DataView): void {
    this.ipcss = view.getUint8(C.ipcss)
    this.ipcso = view.getUint8(C.ipcso)
    this.ipcse = view.getUint16(C.ipcse, true)
    this.tucss = view.getUint8(C.tucss)
    this.tucso = view.getUint8(C.tucso)
    this.tucse = view.getUint16(C.tucse, true)
    this.payloadLength = view.getUint16(C.payloadLengthLow, true) | ((view.getUint8(C.payloadLengthHighType) & 0xf) << 16)
    this.tucmd = view.getUint8(C.tucmd)
    this.hdrlen = view.getUint8(C.hdrlen)
    this.mss = view.getUint16(C.mss, true)
  }

  copyFrom(other: TxContext): void {
    this.ipcss = other.ipcss
    this.ipcso = other.ipcso
    this.ipcse = other.ipcse
    this.tucss = other.tucss
    this.tucso = other.tucso
    this.tucse = other.tucse
    this.payloadLength = other.payloadLength
    this.tucmd = other.tucmd
    this.hdrlen = other.hdrlen
    this.mss = other.mss
  }

  reset(): void {
    this.ipcss = this.ipcso = this.ipcse = this.tucss = this.tucso = this.tucse = 0
    this.payloadLength = this.tucmd = this.hdrlen = this.mss = 0
  }
}

/**
 * Inserts a checksum into the frame at `buf[frame, frame + length)`: the complement of the
 * one's complement sum of bytes `css` through `cse` (inclusive; 0 means the end of the
 * packet), the checksum field's current contents included, written big-endian at `cso`.
 * Nothing is inserted when the offsets fall outside the frame (3.3.3 IC: "IC is ignored if
 * CSO or CSS are out of range"; 3.6 IPCSO: "if this is not the case, the checksum is not
 * inserted"). Returns whether it was.
 */
export function insertChecksum(buf: Uint8Array, frame: number, length: number, css: number, cso: number, cse: number): boolean {
  if (css >= length || cso + 2 > length) return false
  const end = cse === 0 || cse >= length ? length : cse + 1
  if (end <= css) return false
  const sum = internetChecksum(buf, frame + css, frame + end)
  buf[frame + cso] = sum >>> 8
  buf[frame + cso + 1] = sum & 0xff
  return true
}

/** Adds `value` into the big-endian 16-bit field at `at` with one's complement arithmetic. */
function addToField(buf: Uint8Array, at: number, value: number): void {
  const field = (buf[at]! << 8) | buf[at + 1]!
  let sum = field + (value & 0xffff)
  sum = (sum & 0xffff) + (sum >>> 16)
  buf[at] = sum >>> 8
  buf[at + 1] = sum & 0xff
}

const readU16 = (buf: Uint8Array, at: number): number => (buf[at]! << 8) | buf[at + 1]!
const writeU16 = (buf: Uint8Array, at: number, v: number): void => {
  buf[at] = (v >>> 8) & 0xff
  buf[at + 1] = v & 0xff
}

/** Whether a header field of `width` bytes at `at` lies inside a header of `hdrlen` bytes. */
const inHeader = (at: number, width: number, hdrlen: number): boolean => at + width <= hdrlen

/**
 * Rewrites the prototype header copied to the front of one TCP segmentation frame (3.5.9.1–
 * 3.5.9.3): `index` is the frame's number in the context (0 first), `segmentLength` its size
 * (header and payload), `last` whether it carries the end of PAYLEN.
 *  - IPv4 (TUCMD.IP): Total Length = segment − IPCSS; Identification + index (wraps).
 *    IPv6: Payload Length = segment − IPCSS, as the manual states it.
 *  - TCP (TUCMD.TCP): Sequence Number + index × MSS; FIN and PSH cleared except in the last
 *    frame, which keeps the prototype's. UDP: Length = segment − TUCSS.
 *  - Checksums as POPTS asks: the TCP/UDP field holds the driver's pseudo-header sum without
 *    the length (3.5.6, figure 3-7); the device adds the segment's layer-4 length, then
 *    inserts. The IP header checksum is computed over IPCSS..IPCSE.
 * A field the header does not contain (a malformed context) is left alone.
 */
export function fixSegmentHeader(buf: Uint8Array, frame: number, ctx: TxContext, index: number, segmentLength: number, last: boolean, ipChecksum: boolean, l4Checksum: boolean): void {
  const hdrlen = ctx.hdrlen
  const ip = frame + ctx.ipcss
  if ((ctx.tucmd & TUCMD.IP) !== 0) {
    if (inHeader(ctx.ipcss + 2, 2, hdrlen)) writeU16(buf, ip + 2, segmentLength - ctx.ipcss)
    if (inHeader(ctx.ipcss + 4, 2, hdrlen)) writeU16(buf, ip + 4, (readU16(buf, ip + 4) + index) & 0xffff)
  } else if (inHeader(ctx.ipcss + 4, 2, hdrlen)) {
    writeU16(buf, ip + 4, segmentLength - ctx.ipcss)
  }
  const l4 = frame + ctx.tucss
  const l4Length = segmentLength - ctx.tucss
  if ((ctx.tucmd & TUCMD.TCP) !== 0) {
    if (inHeader(ctx.tucss + 4, 4, hdrlen)) {
      const seq = ((buf[l4 + 4]! << 24) | (buf[l4 + 5]! << 16) | (buf[l4 + 6]! << 8) | buf[l4 + 7]!) >>> 0
      const next = (seq + index * ctx.mss) % 4294967296
      buf[l4 + 4] = next >>> 24
      buf[l4 + 5] = (next >>> 16) & 0xff
      buf[l4 + 6] = (next >>> 8) & 0xff
      buf[l4 + 7] = next & 0xff
    }
    // TCP flags byte 13: FIN 0x01, PSH 0x08.
    if (!last && inHeader(ctx.tucss + 13, 1, hdrlen)) buf[l4 + 13] = buf[l4 + 13]! & ~0x09
  } else if (inHeader(ctx.tucss + 4, 2, hdrlen)) {
    writeU16(buf, l4 + 4, l4Length)
  }
  if (l4Checksum && inHeader(ctx.tucso, 2, hdrlen)) {
    addToField(buf, frame + ctx.tucso, l4Length)
    insertChecksum(buf, frame, segmentLength, ctx.tucss, ctx.tucso, ctx.tucse)
  }
  if (ipChecksum) insertChecksum(buf, frame, segmentLength, ctx.ipcss, ctx.ipcso, ctx.ipcse)
}

/**
 * Inserts an 802.1Q tag after the two addresses of the frame at `buf[frame, frame + length)`
 * (the buffer has room after it): the type from VET, then the tag control field from the
 * descriptor's special field, both big-endian (3.3.3.1 VLE). Returns the new length.
 */
export function insertVlanTag(buf: Uint8Array, frame: number, length: number, vet: number, special: number): number {
  if (length < 12) return length
  buf.copyWithin(frame + 16, frame + 12, frame + length)
  writeU16(buf, frame + 12, vet & 0xffff)
  writeU16(buf, frame + 14, special & 0xffff)
  return length + 4
}
