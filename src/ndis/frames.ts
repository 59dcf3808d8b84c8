// The frames on dmalab's LAN: Ethernet II carrying ARP, IPv4/UDP or IPv4/TCP with valid IPv4,
// UDP and TCP checksums (RFC 791, 768, 793; the one's-complement sum of RFC 1071), addressed to
// this host, to the broadcast address, to groups it joined or to other hosts, in a seeded mix
// of sizes from 60 bytes to the MTU. Wireshark shows them for what they are.
//
// Every frame can be rebuilt from its stamp, 12 bytes at the start of its payload (after the
// TCP or UDP header, or in the padding after an ARP body): 'DML', a flags byte (who sent it,
// which mix), the sequence number, the frame size and where its payload pattern starts. The
// receiver finds the stamp by parsing the frame, rebuilds the frame it names and compares every
// byte. Nothing here allocates per frame: headers are written into a buffer the caller owns, and
// the payload checksum comes from prefix sums over the seed's pattern (O(1) per frame).
import { Random } from '../hw/random.js'

export const ETH_HEADER = 14
export const STAMP_BYTES = 12
/** Where the sequence number sits in the stamp (little-endian u32). */
export const STAMP_SEQUENCE = 4
/** 'D' 'M' 'L': the first three stamp bytes. */
const MAGIC = [0x44, 0x4d, 0x4c] as const

/** Stamp flags. */
export const FRAME_FLAG = {
  /** Offered by another host on the LAN (else sent by the protocol above the miniport). */
  lan: 0x01,
  /** The uniform mix: one kind (a test frame to this host), one size, the pattern chosen by the slot. */
  uniform: 0x02,
  /** The size was fixed by the caller (`--size`). */
  fixedSize: 0x04,
  /** ARP only (from the LAN: requests to everyone on even sequence numbers, replies to this host on odd). */
  arp: 0x08,
} as const

/** `test`: the uniform mix's frame, EtherType 0x88B5 (IEEE 802 local experimental), the stamp right after the header. */
export type FrameKind = 'arp' | 'udp' | 'tcp' | 'test'
export type DestinationKind = 'self' | 'broadcast' | 'group' | 'other-group' | 'other-host'

/** Pattern bytes a payload may start at, and room for the largest payload after the last. */
export const PATTERN_OFFSETS = 8192
export const MAX_FRAME = 1514
/** The largest frame a legacy 8254x transmit descriptor carries (manual 3.3.3): uniform traffic's limit. */
export const MAX_JUMBO_FRAME = 16288
const PATTERN_BYTES = PATTERN_OFFSETS + MAX_JUMBO_FRAME
export const MIN_FRAME = 60
/** A TCP frame carries 14 + 20 + 20 header bytes and the stamp. */
const MIN_TCP_FRAME = 66

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_ARP = 0x0806
/** IEEE 802 local experimental EtherType 1: the uniform mix's test frames. */
const ETHERTYPE_TEST = 0x88b5
const PROTO_TCP = 6
const PROTO_UDP = 17
/** The service side's UDP/TCP ports: SERVICE_PORT up to SERVICE_PORT + SERVICE_PORTS - 1. */
export const SERVICE_PORT = 40000
export const SERVICE_PORTS = 1000

/** The groups a LAN's hosts send to that this host did not join (SSDP, IGMPv3 reports, DHCPv6), picked so no 8254x hash collides with a joined one. */
const OTHER_GROUPS: ReadonlyArray<readonly number[]> = [
  [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa],
  [0x01, 0x00, 0x5e, 0x00, 0x00, 0x16],
  [0x33, 0x33, 0x00, 0x01, 0x00, 0x02],
]
const OTHER_HOSTS: ReadonlyArray<readonly number[]> = [
  [0x02, 0x00, 0x00, 0x00, 0x00, 0x07],
  [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01],
]
export const PEER_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02)
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] as const

/** Addresses on the LAN: this host 10.0.0.2, its peer (the router) 10.0.0.1. */
const OUR_IP = 0x0a00_0002
const PEER_IP = 0x0a00_0001
const OTHER_IP = 0x0a00_0007
const SUBNET_BROADCAST = 0x0a00_00ff

/** One frame, as its stamp and the mix determine it. */
export interface FrameSpec {
  kind: FrameKind
  destination: DestinationKind
  /** Index into the joined groups (destination 'group') or the other groups / hosts. */
  which: number
  size: number
  seq: number
  flags: number
  pattern: number
}

export class FrameBuilder {
  readonly pattern: Uint8Array
  /** Prefix sums of the pattern's 16-bit big-endian words starting at even / odd offsets. */
  private readonly evenSums: Float64Array
  private readonly oddSums: Float64Array
  private readonly seed: number
  /** This host's address, and the multicast groups it joined (6 bytes each). */
  readonly mac = new Uint8Array(6)
  groups: Uint8Array = new Uint8Array(0)

  constructor(seed: number) {
    this.seed = seed >>> 0
    const p = patternFor(seed)
    this.pattern = p.bytes
    this.evenSums = p.even
    this.oddSums = p.odd
  }

  /**
   * The frame a sequence number stands for: kind, destination and size from a hash of the seed
   * and the sequence (so the receiver can rebuild it from the stamp alone), the size fixed by
   * the caller when `size` is given, and in the uniform mix a test frame to this host (no IP:
   * the cheapest frame to build and check, for throughput).
   */
  spec(out: FrameSpec, seq: number, flags: number, size: number, pattern: number): FrameSpec {
    const h = mix(this.seed, seq, flags)
    out.seq = seq
    out.flags = flags
    out.pattern = pattern
    out.which = (h >>> 24) % 3
    const lan = (flags & FRAME_FLAG.lan) !== 0
    if ((flags & FRAME_FLAG.uniform) !== 0) {
      out.kind = 'test'
      out.destination = 'self'
      out.size = size
      return out
    }
    if ((flags & FRAME_FLAG.arp) !== 0) {
      out.kind = 'arp'
      out.size = MIN_FRAME
      out.destination = lan && (seq & 1) === 1 ? 'self' : 'broadcast'
      return out
    }
    const fixed = (flags & FRAME_FLAG.fixedSize) !== 0
    const k = h % 100
    // A LAN's mix: ARP now and then, DNS/mDNS/DHCP-like UDP, and TCP (acks and full segments).
    out.kind = k < 10 ? 'arp' : k < 45 ? 'udp' : 'tcp'
    if (fixed) {
      if (out.kind === 'arp' && size !== MIN_FRAME) out.kind = 'udp'
      if (out.kind === 'tcp' && size < MIN_TCP_FRAME) out.kind = 'udp'
      out.size = size
    } else {
      out.size = out.kind === 'arp' ? MIN_FRAME : sizeFor((h >>> 8) & 0xffff, out.kind === 'tcp' ? MIN_TCP_FRAME : MIN_FRAME)
    }
    const d = (h >>> 16) % 100
    // The host's own ARP frames are requests (broadcast); the LAN also answers it (replies to it).
    if (out.kind === 'arp') out.destination = !lan || d < 70 ? 'broadcast' : 'self'
    else if (out.kind === 'tcp') out.destination = lan && d < 15 ? 'other-host' : 'self'
    else if (!lan) out.destination = d < 65 ? 'self' : d < 82 ? 'broadcast' : 'group'
    else out.destination = d < 45 ? 'self' : d < 60 ? 'broadcast' : d < 72 ? 'group' : d < 86 ? 'other-group' : 'other-host'
    return out
  }

  /** Where the stamp sits in a frame of this kind: after the UDP or TCP header, or the ARP body. */
  static headerBytes(kind: FrameKind): number {
    return kind === 'tcp' ? 54 : kind === 'test' ? ETH_HEADER : 42
  }

  /** Writes the whole frame into `out` (at least `spec.size` bytes). */
  build(spec: FrameSpec, out: Uint8Array): void {
    const h = this.buildHeaders(spec, out)
    const n = spec.size - h
    if (n > 0) out.set(this.pattern.subarray(spec.pattern, spec.pattern + n), h)
  }

  /**
   * Writes the headers and the stamp, `out[0, headerBytes + 12)`, checksums included (the
   * payload's share from the prefix sums). Returns where the pattern bytes start.
   */
  buildHeaders(spec: FrameSpec, out: Uint8Array): number {
    const lan = (spec.flags & FRAME_FLAG.lan) !== 0
    const src = lan ? PEER_MAC : this.mac
    const at = FrameBuilder.headerBytes(spec.kind)
    this.destination(spec, out)
    out.set(src, 6)
    const stampAt = at
    if (spec.kind === 'test') {
      put16(out, 12, ETHERTYPE_TEST)
      this.stamp(spec, out, stampAt)
      return stampAt + STAMP_BYTES
    }
    const h = mix(this.seed, spec.seq, spec.flags ^ 0x5a)
    if (spec.kind === 'arp') {
      put16(out, 12, ETHERTYPE_ARP)
      put16(out, 14, 1) // Ethernet
      put16(out, 16, ETHERTYPE_IPV4)
      out[18] = 6
      out[19] = 4
      const request = spec.destination === 'broadcast'
      put16(out, 20, request ? 1 : 2)
      out.set(src, 22)
      put32(out, 28, lan ? PEER_IP : OUR_IP)
      if (request) out.fill(0, 32, 38)
      else out.set(lan ? this.mac : PEER_MAC, 32)
      put32(out, 38, lan ? (request ? OUR_IP + (h & 1) * 5 : OUR_IP) : PEER_IP)
    } else {
      const l4 = spec.kind === 'tcp' ? PROTO_TCP : PROTO_UDP
      const total = spec.size - ETH_HEADER
      const srcIp = lan ? PEER_IP : OUR_IP
      const dstIp = this.destinationIp(spec)
      put16(out, 12, ETHERTYPE_IPV4)
      out[14] = 0x45
      out[15] = 0
      put16(out, 16, total)
      put16(out, 18, spec.seq & 0xffff) // identification
      put16(out, 20, l4 === PROTO_TCP ? 0x4000 : 0) // TCP: don't fragment
      out[22] = lan ? 64 : 128
      out[23] = l4
      put16(out, 24, 0)
      put32(out, 26, srcIp)
      put32(out, 30, dstIp)
      put16(out, 24, finish(sumWords(out, 14, 20)))
      const segment = total - 20
      // Ports no dissector claims (40000-40999 for the service side): Wireshark shows the
      // payload as data, not as a malformed DNS or NetBIOS message (a dissector that guesses
      // from the payload may still try; decode the service ports as data to stop it).
      if (l4 === PROTO_UDP) {
        put16(out, 34, 49152 + (h & 0x3fff))
        put16(out, 36, SERVICE_PORT + ((h >>> 14) % SERVICE_PORTS))
        put16(out, 38, segment)
        put16(out, 40, 0)
      } else {
        put16(out, 34, lan ? SERVICE_PORT + ((h >>> 14) % SERVICE_PORTS) : 49152 + (h & 0x3fff))
        put16(out, 36, lan ? 49152 + (h & 0x3fff) : SERVICE_PORT + ((h >>> 14) % SERVICE_PORTS))
        put32(out, 38, Math.imul(spec.seq, 1460) >>> 0) // sequence number
        put32(out, 42, (h ^ 0x1234_5678) >>> 0) // acknowledgment number
        out[46] = 0x50 // data offset: 5 words
        out[47] = segment > 32 ? 0x18 : 0x10 // PSH|ACK, or a bare ACK
        put16(out, 48, 64240)
        put16(out, 50, 0)
        put16(out, 52, 0)
      }
      this.stamp(spec, out, stampAt)
      // Pseudo-header (RFC 768 / 793): addresses, protocol, segment length; then the segment.
      let sum = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + l4 + segment
      sum += sumWords(out, 34, stampAt + STAMP_BYTES - 34) + this.patternSum(spec.pattern, spec.size - stampAt - STAMP_BYTES)
      let c = finish(sum)
      if (l4 === PROTO_UDP && c === 0) c = 0xffff // RFC 768: a computed zero is sent as all ones
      put16(out, l4 === PROTO_UDP ? 40 : 50, c)
      return stampAt + STAMP_BYTES
    }
    this.stamp(spec, out, stampAt)
    return stampAt + STAMP_BYTES
  }

  private stamp(spec: FrameSpec, out: Uint8Array, at: number): void {
    out[at] = MAGIC[0]
    out[at + 1] = MAGIC[1]
    out[at + 2] = MAGIC[2]
    out[at + 3] = spec.flags
    // Little-endian, as readStamp reads them.
    const seq = spec.seq >>> 0
    out[at + 4] = seq & 0xff
    out[at + 5] = (seq >>> 8) & 0xff
    out[at + 6] = (seq >>> 16) & 0xff
    out[at + 7] = seq >>> 24
    out[at + 8] = spec.size & 0xff
    out[at + 9] = spec.size >>> 8
    out[at + 10] = spec.pattern & 0xff
    out[at + 11] = spec.pattern >>> 8
  }

  private destination(spec: FrameSpec, out: Uint8Array): void {
    switch (spec.destination) {
      case 'self':
        out.set(this.mac, 0)
        return
      case 'broadcast':
        out.set(BROADCAST, 0)
        return
      case 'group': {
        const n = Math.floor(this.groups.length / 6)
        if (n === 0) out.set(OTHER_GROUPS[0]!, 0)
        else out.set(this.groups.subarray((spec.which % n) * 6, (spec.which % n) * 6 + 6), 0)
        return
      }
      case 'other-group':
        out.set(OTHER_GROUPS[spec.which % OTHER_GROUPS.length]!, 0)
        return
      case 'other-host':
        out.set(OTHER_HOSTS[spec.which % OTHER_HOSTS.length]!, 0)
    }
  }

  private destinationIp(spec: FrameSpec): number {
    const lan = (spec.flags & FRAME_FLAG.lan) !== 0
    switch (spec.destination) {
      case 'self':
        return lan ? OUR_IP : PEER_IP
      case 'broadcast':
        return SUBNET_BROADCAST
      case 'group':
        return 0xe000_00fb // 224.0.0.251 (mDNS)
      case 'other-group':
        return 0xefff_fffa // 239.255.255.250 (SSDP)
      case 'other-host':
        return OTHER_IP
    }
  }

  /** The one's-complement sum of `n` pattern bytes from `p` as big-endian words. */
  private patternSum(p: number, n: number): number {
    if (n <= 0) return 0
    const words = n >>> 1
    const sums = (p & 1) === 0 ? this.evenSums : this.oddSums
    let s = sums[p + 2 * words]! - sums[p]!
    if ((n & 1) !== 0) s += this.pattern[p + n - 1]! << 8
    return s
  }
}

/**
 * Reads the stamp of a frame: parses Ethernet, then ARP or IPv4 and UDP/TCP, far enough to
 * find it. Returns the stamp's offset, or -1 when the frame is none of dmalab's.
 */
export function findStamp(frame: Uint8Array, length: number): number {
  if (length < MIN_FRAME) return -1
  const type = (frame[12]! << 8) | frame[13]!
  let at: number
  if (type === ETHERTYPE_TEST) at = ETH_HEADER
  else if (type === ETHERTYPE_ARP) at = 42
  else if (type === ETHERTYPE_IPV4 && frame[23] === PROTO_UDP) at = 42
  else if (type === ETHERTYPE_IPV4 && frame[23] === PROTO_TCP) at = 54
  else return -1
  if (at + STAMP_BYTES > length) return -1
  return frame[at] === MAGIC[0] && frame[at + 1] === MAGIC[1] && frame[at + 2] === MAGIC[2] ? at : -1
}

/** Reads the stamp at `at` into `spec` (kind from the frame itself). */
export function readStamp(frame: Uint8Array, at: number, spec: FrameSpec): void {
  spec.flags = frame[at + 3]!
  spec.seq = (frame[at + 4]! | (frame[at + 5]! << 8) | (frame[at + 6]! << 16) | (frame[at + 7]! << 24)) >>> 0
  spec.size = frame[at + 8]! | (frame[at + 9]! << 8)
  spec.pattern = frame[at + 10]! | (frame[at + 11]! << 8)
}

export function newSpec(): FrameSpec {
  return { kind: 'udp', destination: 'self', which: 0, size: MIN_FRAME, seq: 0, flags: 0, pattern: 0 }
}

/** A network's sizes: small (ACKs, DNS), some middling, many full segments. */
function sizeFor(r: number, min: number): number {
  const band = r % 100
  const x = r >>> 7
  if (band < 35) return min + (x % (128 - min))
  if (band < 50) return 128 + (x % 472)
  if (band < 65) return 600 + (x % 800)
  return MAX_FRAME
}

/** A 32-bit mix of the seed, the sequence and the flags (the frame's hash, stable forever). */
function mix(seed: number, seq: number, flags: number): number {
  let h = Math.imul(seed ^ 0x9e37_79b9, 0x85eb_ca6b) ^ Math.imul(seq >>> 0, 0xc2b2_ae35) ^ Math.imul(flags + 1, 0x27d4_eb2f)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb_352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846c_a68b)
  h ^= h >>> 16
  return h >>> 0
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff
  b[at + 1] = v & 0xff
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff
  b[at + 1] = (v >>> 16) & 0xff
  b[at + 2] = (v >>> 8) & 0xff
  b[at + 3] = v & 0xff
}

/** Sum of big-endian words of `b[at, at + n)` (n even). */
function sumWords(b: Uint8Array, at: number, n: number): number {
  let s = 0
  for (let i = 0; i < n; i += 2) s += (b[at + i]! << 8) | b[at + i + 1]!
  return s
}

/** Folds a sum to 16 bits and complements it (RFC 1071). */
function finish(sum: number): number {
  let s = sum
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536)
  return ~s & 0xffff
}

/** The payload pattern for a seed, with its prefix sums: the same for every machine with that seed, made once. */
const patterns = new Map<number, { bytes: Uint8Array; even: Float64Array; odd: Float64Array }>()

function patternFor(seed: number): { bytes: Uint8Array; even: Float64Array; odd: Float64Array } {
  let p = patterns.get(seed)
  if (p === undefined) {
    // A seeded stream (xorshift32 from the seed's own stream): four bytes a step, so a new seed
    // costs a few microseconds, not one random draw per byte.
    let x = new Random(seed, 'protocol-pattern').int(1, 0xffff_ffff) | 0
    const bytes = new Uint8Array(PATTERN_BYTES)
    for (let i = 0; i < PATTERN_BYTES; i += 4) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      bytes[i] = x
      bytes[i + 1] = x >>> 8
      bytes[i + 2] = x >>> 16
      bytes[i + 3] = x >>> 24
    }
    const even = new Float64Array(PATTERN_BYTES + 1)
    const odd = new Float64Array(PATTERN_BYTES + 1)
    for (let i = 0; i < PATTERN_BYTES; i++) {
      const w = i + 1 < PATTERN_BYTES ? (bytes[i]! << 8) | bytes[i + 1]! : bytes[i]! << 8
      even[i + 1] = even[i]! + ((i & 1) === 0 ? w : 0)
      odd[i + 1] = odd[i]! + ((i & 1) === 1 ? w : 0)
    }
    p = { bytes, even, odd }
    if (patterns.size > 16) patterns.clear()
    patterns.set(seed, p)
  }
  return p
}
