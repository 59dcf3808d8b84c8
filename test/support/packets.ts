// IPv4 TCP and UDP frames for the offload tests, built and checked here with a plain
// byte-at-a-time Internet checksum (RFC 1071) that shares nothing with the device model, so a
// test compares the device against an independent reading of the same rules.

export const ETH_HEADER = 14
export const IP_HEADER = 20
export const TCP_HEADER = 20
export const UDP_HEADER = 8
export const PROTO_TCP = 6
export const PROTO_UDP = 17

/** 16-bit one's complement sum of big-endian words of `bytes[start, end)`, end-around carry. */
export function sum16(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let s = initial
  for (let i = start; i < end; i += 2) s += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

const put16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = (v >>> 8) & 0xff
  b[at + 1] = v & 0xff
}
const put32 = (b: Uint8Array, at: number, v: number): void => {
  put16(b, at, Math.floor(v / 65536) & 0xffff)
  put16(b, at + 2, v & 0xffff)
}
export const get16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!
export const get32 = (b: Uint8Array, at: number): number => get16(b, at) * 65536 + get16(b, at + 2)

export interface IpFrameOptions {
  readonly protocol?: typeof PROTO_TCP | typeof PROTO_UDP
  readonly payload: number | Uint8Array
  readonly dst?: ArrayLike<number>
  readonly src?: ArrayLike<number>
  readonly id?: number
  readonly seq?: number
  /** TCP flags (default ACK | PSH). */
  readonly flags?: number
  /** Fill in correct IP and TCP/UDP checksums (default true). */
  readonly checksums?: boolean
  /** Put only the pseudo-header sum (with length when `withLength`) in the TCP/UDP field, as a driver does for offload. */
  readonly pseudo?: 'with-length' | 'without-length'
  /** Leave the IP header checksum 0 (for offload). */
  readonly ipChecksumZero?: boolean
  /** Total Length as written in the IP header (default the real one). */
  readonly ipTotalLength?: number
}

export const SRC_IP = [10, 0, 0, 1]
export const DST_IP = [10, 0, 0, 2]

/** An Ethernet II + IPv4 (no options) + TCP (no options) or UDP frame. */
export function ipFrame(o: IpFrameOptions): Uint8Array {
  const protocol = o.protocol ?? PROTO_TCP
  const payload = typeof o.payload === 'number' ? Uint8Array.from({ length: o.payload }, (_, i) => (i * 13 + 7) & 0xff) : o.payload
  const l4Header = protocol === PROTO_TCP ? TCP_HEADER : UDP_HEADER
  const f = new Uint8Array(ETH_HEADER + IP_HEADER + l4Header + payload.length)
  f.set(Array.from(o.dst ?? [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]).slice(0, 6), 0)
  f.set(Array.from(o.src ?? [0x02, 0, 0, 0, 0, 0x01]).slice(0, 6), 6)
  put16(f, 12, 0x0800)
  const ip = ETH_HEADER
  f[ip] = 0x45
  put16(f, ip + 2, o.ipTotalLength ?? IP_HEADER + l4Header + payload.length)
  put16(f, ip + 4, o.id ?? 0x1234)
  put16(f, ip + 6, 0x4000) // DF
  f[ip + 8] = 64
  f[ip + 9] = protocol
  f.set(SRC_IP, ip + 12)
  f.set(DST_IP, ip + 16)
  const l4 = ip + IP_HEADER
  put16(f, l4, 0x1f90)
  put16(f, l4 + 2, 0xc350)
  const l4Length = l4Header + payload.length
  if (protocol === PROTO_TCP) {
    put32(f, l4 + 4, o.seq ?? 1000)
    put32(f, l4 + 8, 1)
    f[l4 + 12] = 5 << 4
    f[l4 + 13] = o.flags ?? 0x18
    put16(f, l4 + 14, 0xffff)
  } else {
    put16(f, l4 + 4, l4Length)
  }
  f.set(payload, l4 + l4Header)
  const cso = l4 + (protocol === PROTO_TCP ? 16 : 6)
  if (o.pseudo !== undefined) {
    put16(f, cso, pseudoHeaderSum(f, ip, protocol, o.pseudo === 'with-length' ? l4Length : 0))
  } else if (o.checksums !== false) {
    put16(f, cso, ~sum16(f, l4, f.length, pseudoHeaderSum(f, ip, protocol, l4Length)) & 0xffff)
  }
  if (o.checksums !== false && o.ipChecksumZero !== true) put16(f, ip + 10, ~sum16(f, ip, ip + IP_HEADER) & 0xffff)
  return f
}

/** Source, destination, protocol and (optionally) length: the pseudo-header sum, folded. */
export function pseudoHeaderSum(f: Uint8Array, ip: number, protocol: number, length: number): number {
  return sum16(f, ip + 12, ip + 20, protocol + length)
}

export interface ParsedIpFrame {
  readonly totalLength: number
  readonly id: number
  readonly protocol: number
  readonly ipChecksumOk: boolean
  readonly l4ChecksumOk: boolean
  readonly seq: number
  readonly flags: number
  readonly payload: Uint8Array
  readonly udpLength: number
}

/** Reads an untagged IPv4 frame back and checks both checksums. */
export function parseIpFrame(f: Uint8Array, at = ETH_HEADER): ParsedIpFrame {
  const ip = at
  const ihl = (f[ip]! & 0xf) * 4
  const totalLength = get16(f, ip + 2)
  const protocol = f[ip + 9]!
  const l4 = ip + ihl
  const end = ip + totalLength
  const l4Length = end - l4
  const l4Header = protocol === PROTO_TCP ? (f[l4 + 12]! >>> 4) * 4 : UDP_HEADER
  return {
    totalLength,
    id: get16(f, ip + 4),
    protocol,
    ipChecksumOk: sum16(f, ip, ip + ihl) === 0xffff,
    l4ChecksumOk: sum16(f, l4, end, pseudoHeaderSum(f, ip, protocol, l4Length)) === 0xffff,
    seq: protocol === PROTO_TCP ? get32(f, l4 + 4) : 0,
    flags: protocol === PROTO_TCP ? f[l4 + 13]! : 0,
    payload: f.slice(l4 + l4Header, end),
    udpLength: protocol === PROTO_UDP ? get16(f, l4 + 4) : 0,
  }
}
