// TCP segmentation offload (manual 3.5), driven bare-metal: a TSE context descriptor (3.3.6),
// then data descriptors with TSE carrying the prototype header and PAYLEN bytes of payload.
// Every frame on the wire is parsed and checked independently (test/support/packets.ts):
// 3.5.9.1–3.5.9.3 say what each frame's headers must be.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import {
  BareMetalE1000, CTRL_SLU, CTRL_VME, POPTS_IXSM, POPTS_TXSM, R, TUCMD_IP, TUCMD_TCP, TUCMD_TSE, TXD_EOP, TXD_RS, TXD_TSE, TXD_VLE,
} from '../../support/e1000-driver.js'
import { ETH_HEADER, IP_HEADER, PROTO_UDP, TCP_HEADER, UDP_HEADER, ipFrame, parseIpFrame } from '../../support/packets.js'

const HDRLEN = ETH_HEADER + IP_HEADER + TCP_HEADER

function setup(): { m: ReturnType<typeof createMachine>; d: BareMetalE1000 } {
  const m = createMachine()
  return { m, d: new BareMetalE1000(m, { txCount: 64 }).init() }
}

function tsoContext(payloadLength: number, mss: number, udp = false): Parameters<BareMetalE1000['queueContext']>[0] {
  const l4Header = udp ? UDP_HEADER : TCP_HEADER
  return {
    ipcss: ETH_HEADER,
    ipcso: ETH_HEADER + 10,
    ipcse: ETH_HEADER + IP_HEADER - 1,
    tucss: ETH_HEADER + IP_HEADER,
    tucso: ETH_HEADER + IP_HEADER + (udp ? 6 : 16),
    tucse: 0,
    tucmd: (udp ? 0 : TUCMD_TCP) | TUCMD_IP | TUCMD_TSE,
    payloadLength,
    hdrlen: ETH_HEADER + IP_HEADER + l4Header,
    mss,
  }
}

/**
 * Queues one segmentation of `payload` behind the prototype header of `proto`: the header in
 * its own data descriptor (3.5.6 recommends it), the payload in `pieces` descriptors from one
 * buffer, EOP and RS on the last.
 */
function queueSegmentation(d: BareMetalE1000, proto: Uint8Array, hdrlen: number, payload: Uint8Array, pieces: number, extra: { dcmd?: number; special?: number } = {}): void {
  const buffer = d.alloc(payload.length, 4096)
  d.m.cpu.writeBytes(buffer, payload)
  d.queueData(d.stage(proto.subarray(0, hdrlen)), hdrlen, TXD_TSE | (extra.dcmd ?? 0), { popts: POPTS_IXSM | POPTS_TXSM, special: extra.special ?? 0 })
  const step = Math.ceil(payload.length / pieces)
  for (let at = 0; at < payload.length; at += step) {
    const n = Math.min(step, payload.length - at)
    d.queueData(d.device(buffer) + at, n, TXD_TSE | (at + n === payload.length ? TXD_EOP | TXD_RS : 0))
  }
}

describe('TCP segmentation offload', () => {
  it('cuts a 64 KiB TCP payload into MSS frames with IP length, id and checksum and TCP sequence and checksum fixed up per frame (3.5.9)', () => {
    const { m, d } = setup()
    const mss = 1460
    const payload = Uint8Array.from({ length: 65536 }, (_, i) => (i * 31 + (i >>> 8)) & 0xff)
    // What a driver hands the device: IP length 0, checksums as 3.5.6 asks (IP 0, TCP the
    // pseudo-header sum without the length), FIN and PSH as the last frame should have them.
    const proto = ipFrame({ payload: 0, id: 0xfffe, seq: 0xffff_f000, flags: 0x19, ipTotalLength: 0, pseudo: 'without-length', ipChecksumZero: true })
    d.queueContext(tsoContext(payload.length, mss))
    queueSegmentation(d, proto, HDRLEN, payload, 4)
    d.doorbell()
    m.runUntilIdle()
    const frames = m.wire.transmitted
    expect(frames).toHaveLength(Math.ceil(payload.length / mss))
    const joined: number[] = []
    frames.forEach((f, n) => {
      const last = n === frames.length - 1
      const p = parseIpFrame(f)
      const size = last ? payload.length - mss * n : mss
      expect(f.length).toBe(HDRLEN + size)
      expect(p.totalLength).toBe(IP_HEADER + TCP_HEADER + size)
      expect(p.id).toBe((0xfffe + n) & 0xffff) // 3.5.9.2: incremented, wrapping
      expect(p.seq).toBe((0xffff_f000 + n * mss) % 2 ** 32)
      // 3.5.9.1/3.5.9.2 clear FIN and PSH; 3.5.9.3 sets them as the prototype had them.
      expect(p.flags).toBe(last ? 0x19 : 0x10)
      expect(p.ipChecksumOk).toBe(true)
      expect(p.l4ChecksumOk).toBe(true)
      joined.push(...p.payload)
    })
    expect(Uint8Array.from(joined)).toEqual(payload)
    expect(d.read(R.TSCTC)).toBe(1)
    expect(d.read(R.TSCTFC)).toBe(0)
    expect(m.findings).toEqual([])
  })

  it('segments UDP with the UDP length fixed up per frame (3.5.9, TUCMD.TCP clear)', () => {
    const { m, d } = setup()
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff)
    const proto = ipFrame({ protocol: PROTO_UDP, payload: 0, pseudo: 'without-length', ipChecksumZero: true })
    const hdrlen = ETH_HEADER + IP_HEADER + UDP_HEADER
    d.queueContext(tsoContext(payload.length, 1000, true))
    queueSegmentation(d, proto, hdrlen, payload, 1)
    d.doorbell()
    m.runUntilIdle()
    const parsed = m.wire.transmitted.map((f) => parseIpFrame(f))
    expect(parsed.map((p) => p.udpLength)).toEqual([1008, 1008, 1008])
    expect(parsed.every((p) => p.ipChecksumOk && p.l4ChecksumOk)).toBe(true)
  })

  it('tags every frame of a segmentation from the first data descriptor VLE and special field (3.3.7.1)', () => {
    const { m, d } = setup()
    d.write(R.CTRL, CTRL_SLU | CTRL_VME)
    const proto = ipFrame({ payload: 0, pseudo: 'without-length', ipChecksumZero: true })
    d.queueContext(tsoContext(2500, 1000))
    queueSegmentation(d, proto, HDRLEN, new Uint8Array(2500), 2, { dcmd: TXD_VLE, special: 0x2005 })
    d.doorbell()
    m.runUntilIdle()
    const frames = m.wire.transmitted
    expect(frames).toHaveLength(3)
    for (const f of frames) {
      expect([f[12], f[13], f[14], f[15]]).toEqual([0x81, 0x00, 0x20, 0x05])
      // Without its tag the frame's checksums hold: the device tags after computing them (3.3.3 note 2).
      const p = parseIpFrame(new Uint8Array([...f.subarray(0, 12), ...f.subarray(16)]))
      expect(p.ipChecksumOk && p.l4ChecksumOk).toBe(true)
    }
  })

  it('ends a segmentation whose data stops short of PAYLEN at EOP: the rest goes as the last frame, TSCTFC counts it', () => {
    const { m, d } = setup()
    const proto = ipFrame({ payload: 0, pseudo: 'without-length', ipChecksumZero: true })
    d.queueContext(tsoContext(5000, 1000))
    queueSegmentation(d, proto, HDRLEN, new Uint8Array(2500), 1)
    d.doorbell()
    m.runUntilIdle()
    expect(m.wire.transmitted.map((f) => f.length - HDRLEN)).toEqual([1000, 1000, 500])
    expect(m.wire.transmitted.every((f) => parseIpFrame(f).l4ChecksumOk)).toBe(true)
    expect(d.read(R.TSCTFC)).toBe(1)
    expect(m.findings.map((f) => f.details?.reason)).toEqual(['segmentation-short'])
  })

  it('refuses a context it cannot use (MSS 0, or HDRLEN + MSS too big for the transmit FIFO) and consumes the descriptors', () => {
    for (const [payloadLength, mss] of [[3000, 0], [3000, 16300]] as const) {
      const { m, d } = setup()
      const proto = ipFrame({ payload: 0, pseudo: 'without-length', ipChecksumZero: true })
      d.queueContext(tsoContext(payloadLength, mss))
      queueSegmentation(d, proto, HDRLEN, new Uint8Array(payloadLength), 2)
      d.doorbell()
      m.runUntilIdle()
      expect(m.wire.transmitted).toEqual([])
      expect(d.read(R.TDH)).toBe(d.txTail)
      expect(m.findings.map((f) => f.details?.reason)).toEqual(['segmentation-context'])
    }
  })

  it('keeps a segmentation going across doorbells when its EOP is posted later', () => {
    const { m, d } = setup()
    const payload = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7) & 0xff)
    const proto = ipFrame({ payload: 0, pseudo: 'without-length', ipChecksumZero: true })
    d.queueContext(tsoContext(payload.length, 1500))
    queueSegmentation(d, proto, HDRLEN, payload, 4)
    d.doorbell(d.txTail - 2)
    m.runUntilIdle()
    expect(m.wire.transmitted).toHaveLength(1)
    d.doorbell()
    m.runUntilIdle()
    const joined = m.wire.transmitted.flatMap((f) => [...parseIpFrame(f).payload])
    expect(Uint8Array.from(joined)).toEqual(payload)
  })
})
