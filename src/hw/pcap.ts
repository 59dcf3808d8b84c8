// A libpcap capture file writer (the classic format every tool reads: Wireshark, tcpdump,
// tshark): a global header, then per frame a record header and the bytes. Timestamps are the
// machine's virtual time, so two runs of the same machine produce the same file byte for byte.
//
// Facts: the libpcap file format (wiki.wireshark.org/Development/LibpcapFileFormat and
// draft-ietf-opsawg-pcap): magic 0xA1B2C3D4 written in host order (we write little-endian),
// version 2.4, snaplen, link type 1 = LINKTYPE_ETHERNET (frames without FCS).
import { s32, u16, u32 } from 'buffer-layout'
import { declareLayout } from './layout.js'

export const PCAP_GLOBAL_HEADER = declareLayout('libpcap global header', {
  magic: u32,
  versionMajor: u16,
  versionMinor: u16,
  thisZone: s32,
  sigFigs: u32,
  snapLength: u32,
  linkType: u32,
})

export const PCAP_RECORD_HEADER = declareLayout('libpcap record header', {
  seconds: u32,
  microseconds: u32,
  capturedLength: u32,
  originalLength: u32,
})

export const PCAP_MAGIC_MICROSECONDS = 0xa1b2_c3d4
export const LINKTYPE_ETHERNET = 1
export const DEFAULT_SNAP_LENGTH = 65535

const G = PCAP_GLOBAL_HEADER.offset
const R = PCAP_RECORD_HEADER.offset

export class PcapWriter {
  readonly snapLength: number
  /** Frames recorded. */
  frames = 0
  private bytes: Uint8Array
  private view: DataView
  private used = 0

  /** Where full buffers go (a file being written); without one the whole capture stays here. */
  private readonly sink: ((bytes: Uint8Array) => void) | undefined
  /** Bytes already handed to the sink. */
  private flushed = 0

  constructor(snapLength = DEFAULT_SNAP_LENGTH, sink?: (bytes: Uint8Array) => void) {
    this.sink = sink
    if (!Number.isInteger(snapLength) || snapLength < 1) throw new RangeError(`pcap snap length ${snapLength} must be a positive whole number`)
    this.snapLength = snapLength
    this.bytes = new Uint8Array(64 * 1024)
    this.view = new DataView(this.bytes.buffer)
    const v = this.view
    v.setUint32(G.magic, PCAP_MAGIC_MICROSECONDS, true)
    v.setUint16(G.versionMajor, 2, true)
    v.setUint16(G.versionMinor, 4, true)
    v.setInt32(G.thisZone, 0, true)
    v.setUint32(G.sigFigs, 0, true)
    v.setUint32(G.snapLength, snapLength, true)
    v.setUint32(G.linkType, LINKTYPE_ETHERNET, true)
    this.used = PCAP_GLOBAL_HEADER.span
  }

  /** Appends one frame seen at virtual time `timeNs`. */
  record(timeNs: number, frame: Uint8Array, offset: number, length: number): void {
    const captured = Math.min(length, this.snapLength)
    this.reserve(PCAP_RECORD_HEADER.span + captured)
    const at = this.used
    const v = this.view
    const seconds = Math.floor(timeNs / 1e9)
    v.setUint32(at + R.seconds, seconds, true)
    v.setUint32(at + R.microseconds, Math.floor((timeNs - seconds * 1e9) / 1000), true)
    v.setUint32(at + R.capturedLength, captured, true)
    v.setUint32(at + R.originalLength, length, true)
    this.bytes.set(frame.subarray(offset, offset + captured), at + PCAP_RECORD_HEADER.span)
    this.used = at + PCAP_RECORD_HEADER.span + captured
    this.frames++
  }

  /** The file so far (a copy); with a sink, what has not been handed to it yet. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.used)
  }

  /** Hands what is buffered to the sink (at the end of a capture, and whenever the buffer fills). */
  flush(): void {
    if (this.sink === undefined || this.used === 0) return
    this.sink(this.bytes.subarray(0, this.used))
    this.flushed += this.used
    this.used = 0
  }

  get byteLength(): number {
    return this.flushed + this.used
  }

  private reserve(extra: number): void {
    if (this.used + extra <= this.bytes.length) return
    // Streaming to a file: the buffer is written out rather than grown, so a capture of any
    // length costs a bounded amount of memory.
    if (this.sink !== undefined) {
      this.flush()
      if (extra <= this.bytes.length) return
    }
    let size = this.bytes.length * 2
    while (size < this.used + extra) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.bytes.subarray(0, this.used))
    this.bytes = grown
    this.view = new DataView(grown.buffer)
  }
}
