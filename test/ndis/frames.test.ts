// The LAN's frames (src/ndis/frames.ts): Ethernet II carrying ARP, IPv4/UDP and IPv4/TCP whose
// IPv4 header checksum (RFC 791) and UDP/TCP checksums over the pseudo-header (RFC 768, 793) are
// right, as an independent reader recomputes them; a seeded mix of kinds, destinations and sizes;
// and every frame rebuilt byte for byte from its stamp.
import { describe, expect, it } from 'vitest'
import { FRAME_FLAG, FrameBuilder, MAX_FRAME, MIN_FRAME, PATTERN_OFFSETS, findStamp, newSpec, readStamp } from '../../src/ndis/frames.js'
import { joinedGroups } from '../../src/ndis/binding.js'
import { checkFrames } from '../support/ethernet.js'

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)

function builder(seed = 1): FrameBuilder {
  const b = new FrameBuilder(seed)
  b.mac.set(MAC)
  b.groups = joinedGroups(MAC)
  return b
}

/** `count` frames of the mix (`flags`), built whole. */
function frames(b: FrameBuilder, count: number, flags: number, size?: number): Buffer[] {
  const out: Buffer[] = []
  const spec = newSpec()
  const buf = new Uint8Array(16384)
  for (let seq = 0; seq < count; seq++) {
    b.spec(spec, seq, flags | (size === undefined ? 0 : FRAME_FLAG.fixedSize), size ?? MAX_FRAME, (seq * 37) % PATTERN_OFFSETS)
    b.build(spec, buf)
    out.push(Buffer.from(buf.subarray(0, spec.size)))
  }
  return out
}

describe('the LAN frame mix', () => {
  it('ARP, UDP and TCP frames with valid checksums, to this host, broadcast and groups, sizes from 60 to 1514', () => {
    const mix = checkFrames(frames(builder(), 2000, 0))
    expect(mix.bad, mix.problems.slice(0, 3).join('\n')).toBe(0)
    expect(mix.arp).toBeGreaterThan(100)
    expect(mix.udp).toBeGreaterThan(400)
    expect(mix.tcp).toBeGreaterThan(600)
    expect(mix.broadcast).toBeGreaterThan(0)
    expect(mix.multicast).toBeGreaterThan(0)
    expect(Math.min(...mix.sizes)).toBe(MIN_FRAME)
    expect(Math.max(...mix.sizes)).toBe(MAX_FRAME)
    expect(mix.sizes.size).toBeGreaterThan(200)
  })

  it('the LAN also sends to other hosts and to groups this host did not join', () => {
    const b = builder()
    const lan = frames(b, 2000, FRAME_FLAG.lan)
    expect(checkFrames(lan).bad).toBe(0)
    const toUs = lan.filter((f) => f.subarray(0, 6).equals(Buffer.from(MAC))).length
    const otherUnicast = lan.filter((f) => (f[0]! & 1) === 0 && !f.subarray(0, 6).equals(Buffer.from(MAC))).length
    const groups = new Set(lan.filter((f) => (f[0]! & 1) === 1 && f[0] !== 0xff).map((f) => f.subarray(0, 6).toString('hex')))
    expect(toUs).toBeGreaterThan(500)
    expect(otherUnicast).toBeGreaterThan(50)
    expect(groups.has('01005e7ffffa')).toBe(true) // SSDP, not joined
    expect(groups.has('01005e0000fb')).toBe(true) // mDNS, joined
  })

  it('a fixed size makes every frame that size, UDP where TCP cannot fit', () => {
    for (const size of [60, 64, 100, 1514]) {
      const all = frames(builder(), 300, 0, size)
      expect(all.every((f) => f.length === size)).toBe(true)
      expect(checkFrames(all).bad).toBe(0)
    }
  })

  it('the same seed gives the same frames; another seed another mix', () => {
    expect(Buffer.concat(frames(builder(7), 50, 0))).toEqual(Buffer.concat(frames(builder(7), 50, 0)))
    expect(Buffer.concat(frames(builder(7), 50, 0))).not.toEqual(Buffer.concat(frames(builder(8), 50, 0)))
  })

  it('every frame is found by its stamp and rebuilt byte for byte from it alone', () => {
    const b = builder()
    const spec = newSpec()
    const again = new Uint8Array(16384)
    for (const f of [...frames(b, 300, 0), ...frames(b, 300, FRAME_FLAG.lan), ...frames(b, 50, FRAME_FLAG.uniform, 1500)]) {
      const at = findStamp(f, f.length)
      expect(at).toBeGreaterThan(0)
      readStamp(f, at, spec)
      b.build(b.spec(spec, spec.seq, spec.flags, spec.size, spec.pattern), again)
      expect(Buffer.from(again.subarray(0, f.length)).equals(f)).toBe(true)
    }
  })

  it('a frame damaged in its headers is not taken for another', () => {
    const f = frames(builder(), 1, FRAME_FLAG.uniform, 600)[0]!
    f[12] = 0x86 // EtherType no longer IPv4
    expect(findStamp(f, f.length)).toBe(-1)
  })
})
