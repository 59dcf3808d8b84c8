// An independent reading of Ethernet frames for tests: what Wireshark would make of them.
/**
 * An independent look at Ethernet frames: ARP, or IPv4 carrying UDP or TCP, with the IPv4 header
 * checksum (RFC 791) and the UDP/TCP checksum over the pseudo-header (RFC 768, 793) recomputed
 * here with the one's-complement sum of RFC 1071.
 */
export function checkFrames(frames: Buffer[]): { arp: number; udp: number; tcp: number; broadcast: number; multicast: number; bad: number; sizes: Set<number>; problems: string[] } {
  const out = { arp: 0, udp: 0, tcp: 0, broadcast: 0, multicast: 0, bad: 0, sizes: new Set<number>(), problems: [] as string[] }
  const sum = (b: Buffer, from: number, to: number, start = 0): number => {
    let s = start
    for (let i = from; i < to; i += 2) s += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0)
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
    return s
  }
  for (const f of frames) {
    out.sizes.add(f.length)
    if (f[0] === 0xff && f[5] === 0xff) out.broadcast++
    else if ((f[0]! & 1) === 1) out.multicast++
    const type = f.readUInt16BE(12)
    const problem = (why: string): void => {
      out.bad++
      out.problems.push(`${why} (${f.length} bytes)`)
    }
    if (type === 0x0806) {
      out.arp++
      if (f.readUInt16BE(14) !== 1 || f.readUInt16BE(16) !== 0x0800 || f[18] !== 6 || f[19] !== 4) problem('ARP header')
      continue
    }
    if (type !== 0x0800) {
      problem(`EtherType 0x${type.toString(16)}`)
      continue
    }
    if (f[14] !== 0x45 || f.readUInt16BE(16) !== f.length - 14) problem('IPv4 version/length')
    if (sum(f, 14, 34) !== 0xffff) problem('IPv4 header checksum')
    const proto = f[23]!
    const segment = f.length - 34
    const pseudo = sum(f, 26, 34, proto + segment)
    if (proto === 17) {
      out.udp++
      if (f.readUInt16BE(38) !== segment) problem('UDP length')
      if (sum(f, 34, f.length, pseudo) !== 0xffff) problem('UDP checksum')
    } else if (proto === 6) {
      out.tcp++
      if (sum(f, 34, f.length, pseudo) !== 0xffff) problem('TCP checksum')
    } else problem(`IP protocol ${proto}`)
  }
  return out
}
