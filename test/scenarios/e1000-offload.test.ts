// Task offload through NDIS on the bundled e1000: the example advertises IPv4 checksum offload
// and large send offload v1 (WDK "Offloading the Segmentation of Large TCP Packets",
// "Offloading checksum tasks"), the protocol's TCP sends use what is advertised and left on, and
// the NIC cuts and checksums the segments (8254x manual 3.3.6 context descriptor, 3.3.7 data
// descriptor, 3.5 TCP segmentation). Every frame on the wire is parsed with test/support's own
// checksum, sharing nothing with the device model or the example.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createMachine, type Machine, type MachineConfig } from '../../src/index.js'
import { MATRIX, matrixConfig } from './run.js'
import { NDIS_STATUS } from '../../src/ndis/constants.js'
import { streamByte } from '../../src/ndis/large-send.js'
import { ETH_HEADER, IP_HEADER, PROTO_TCP, PROTO_UDP, TCP_HEADER, get16, ipFrame, parseIpFrame } from '../support/packets.js'
import { loadTestMiniport } from '../support/driver-fixture.js'
import { findTshark, readPcap, tsharkChecksums } from '../support/pcap.js'

const MSS = 1500 - IP_HEADER - TCP_HEADER
const KIB64 = 64 * 1024
/**
 * The most TCP payload one large packet carries here: the IP Total Length (65,535 at most)
 * covers the 40 header bytes too, and the transport sends whole MSS in all but the last.
 */
const LARGEST_LSO = Math.floor((0xffff - IP_HEADER - TCP_HEADER) / MSS) * MSS

async function loadE1000(config: MachineConfig = {}): Promise<Machine> {
  const m = createMachine({ wire: 'capture', ...config })
  const loaded = await m.load('e1000')
  expect(loaded.state).toBe('running')
  return m
}

function protocolOf(m: Machine) {
  const host = m.ndis
  if (host === null) throw new Error('no miniport loaded')
  return host.protocol
}

/** The TCP frames on the wire, parsed; each must be a whole, valid IPv4 TCP frame. */
function tcpFrames(m: Machine) {
  return tcpOf(m.wire.transmitted)
}

function tcpOf(frames: readonly Uint8Array[]) {
  return frames
    .filter((f) => f.length > ETH_HEADER + IP_HEADER && get16(f, 12) === 0x0800 && f[ETH_HEADER + 9] === PROTO_TCP)
    .map((f) => ({ frame: f, parsed: parseIpFrame(f) }))
}

/** Runs `body` with the capture (libpcap) of a 64 KiB TCP send through the e1000 written to a file. */
async function withLargeSendCapture(body: (path: string) => Promise<void> | void): Promise<void> {
  const m = await loadE1000()
  const pcap = m.wire.capturePcap()
  expect(protocolOf(m).tcp.send(KIB64)).toBe(true)
  m.run({ ns: 50_000_000 })
  const dir = mkdtempSync(join(tmpdir(), 'dmalab-lso-'))
  try {
    const path = join(dir, 'lso.pcap')
    writeFileSync(path, pcap.toBytes())
    await body(path)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const TSHARK = findTshark()

/** Checks that `frames` carry stream bytes [0, payload) in MSS-sized segments with consecutive sequence numbers and IP ids. */
function expectSegmentedStream(frames: ReturnType<typeof tcpFrames>, payload: number): void {
  expect(frames).toHaveLength(Math.ceil(payload / MSS))
  const first = frames[0]!.parsed
  let offset = 0
  frames.forEach(({ frame, parsed }, i) => {
    const last = i === frames.length - 1
    const size = last ? payload - offset : MSS
    expect(parsed.ipChecksumOk, `IP checksum of segment ${i}`).toBe(true)
    expect(parsed.l4ChecksumOk, `TCP checksum of segment ${i}`).toBe(true)
    expect(parsed.totalLength).toBe(IP_HEADER + TCP_HEADER + size)
    expect(frame.length).toBe(ETH_HEADER + IP_HEADER + TCP_HEADER + size)
    expect(parsed.payload.length).toBe(size)
    expect(parsed.seq).toBe((first.seq + offset) % 2 ** 32)
    expect(parsed.id).toBe((first.id + i) & 0xffff)
    // PSH only on the last segment (manual 3.5.5: PSH and FIN only in the last frame).
    expect((parsed.flags & 0x08) !== 0).toBe(last)
    for (let b = 0; b < size; b++) {
      if (parsed.payload[b] !== streamByte(offset + b)) throw new Error(`segment ${i} byte ${b} is ${parsed.payload[b]}, expected ${streamByte(offset + b)}`)
    }
    offset += size
  })
}

describe('e1000 task offload through NDIS', () => {
  it.each(MATRIX)('a 64 KiB TCP send goes to the miniport as a large send (LSOv1) and reaches the wire as valid MSS-sized segments (WDK LSOv1; manual 3.5): $label', async (c) => {
    const m = await loadE1000(matrixConfig(c))
    const tcp = protocolOf(m).tcp
    expect(m.ndis!.ctx.offload?.lsoV1?.maxOffLoadSize).toBe(65536)
    expect(tcp.send(KIB64)).toBe(true)
    m.run({ ns: 50_000_000 })
    expectSegmentedStream(tcpFrames(m), KIB64)
    // One large packet of 44 MSS (the most an IPv4 packet holds), then the 1,296-byte tail as
    // one segment with checksum offload: fewer than MinSegmentCount (2) segments.
    expect(tcp.counters).toMatchObject({ sends: 1, lsoSends: 1, checksumSegments: 1, softwareSegments: 0, completed: 2, failed: 0, lsoPayloadReported: LARGEST_LSO, lsoPayloadMismatch: 0 })
    expect(m.nic.counters.tx.frames).toBe(Math.ceil(KIB64 / MSS))
    m.halt()
    const r = m.report()
    expect(r.findings).toEqual([])
    expect(r.outcome).toBe('clean')
    expect(r.dma.iommuFaults).toEqual([])
    // Without an IOMMU and with the protocol's pages above 4 GiB, the whole large packet is
    // bounced through map registers below 4 GiB for the 32-bit NIC.
    if (!c.iommu && c.policy === 'high-first') expect(r.dma.bounceBytes).toBeGreaterThanOrEqual(KIB64)
  })

  it('the capture of a 64 KiB large send holds the same valid MSS-sized segments, read back by an independent pcap reader', async () => {
    await withLargeSendCapture(async (path) => {
      const { packets } = await readPcap(path)
      expectSegmentedStream(tcpOf(packets.map((p) => new Uint8Array(p.data))), KIB64)
    })
  })

  // Wireshark validates IPv4, TCP and UDP checksums only when asked; with that on, every segment
  // the NIC cut must show both checksums good and nothing malformed. Needs tshark (Debian's
  // `tshark` package, or DMALAB_TSHARK); skipped without it.
  it.skipIf(TSHARK === null)('tshark opens the capture of a 64 KiB large send and finds every IP and TCP checksum good', async () => {
    await withLargeSendCapture((path) => {
      const frames = tsharkChecksums(TSHARK!, path)
      const tcp = frames.filter((f) => f.tcp !== '')
      expect(tcp).toHaveLength(Math.ceil(KIB64 / MSS))
      expect(frames.filter((f) => f.malformed || (f.ip !== '' && f.ip !== '1') || (f.tcp !== '' && f.tcp !== '1') || (f.udp !== '' && f.udp !== '1'))).toEqual([])
    })
  })

  it('a send larger than one large packet goes as several, each a whole number of MSS', async () => {
    const m = await loadE1000()
    const tcp = protocolOf(m).tcp
    const payload = 3 * LARGEST_LSO + 5 * MSS
    expect(tcp.send(payload)).toBe(true)
    m.run({ ns: 200_000_000 })
    expectSegmentedStream(tcpFrames(m), payload)
    expect(tcp.counters).toMatchObject({ lsoSends: 4, checksumSegments: 0, completed: 4, failed: 0, lsoPayloadReported: payload, lsoPayloadMismatch: 0 })
  })

  it('with LSO turned off by OID_TCP_OFFLOAD_PARAMETERS, the same send is MSS-sized NET_BUFFER_LISTs whose checksums the NIC inserts (manual 3.3.6, 3.3.7)', async () => {
    const m = await loadE1000()
    const tcp = protocolOf(m).tcp
    expect(tcp.setOffload({ checksum: true, lso: false })).toBe(0)
    // The miniport reported its new current configuration (NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG).
    expect(m.ndis!.ctx.offload).toEqual({ ipv4: { tcpChecksum: true, udpChecksum: true, ipChecksum: true }, lsoV1: null })
    expect(tcp.send(20_000)).toBe(true)
    m.run({ ns: 50_000_000 })
    expectSegmentedStream(tcpFrames(m), 20_000)
    expect(tcp.counters).toMatchObject({ lsoSends: 0, checksumSegments: Math.ceil(20_000 / MSS), softwareSegments: 0, failed: 0 })
    m.halt()
    expect(m.report().findings).toEqual([])
  })

  it('with every offload turned off, the transport checksums in software and the frames are still valid', async () => {
    const m = await loadE1000()
    const tcp = protocolOf(m).tcp
    expect(tcp.setOffload({ checksum: false, lso: false })).toBe(0)
    expect(m.ndis!.ctx.offload).toEqual({ ipv4: { tcpChecksum: false, udpChecksum: false, ipChecksum: false }, lsoV1: null })
    expect(tcp.send(5000)).toBe(true)
    m.run({ ns: 50_000_000 })
    expectSegmentedStream(tcpFrames(m), 5000)
    expect(tcp.counters).toMatchObject({ lsoSends: 0, checksumSegments: 0, softwareSegments: 4, failed: 0 })
    // The ordinary traffic still runs as before.
    m.traffic.send({ count: 10, size: 1500 })
    m.halt()
    const r = m.report()
    expect(r.findings).toEqual([])
    expect(r.traffic.dropped.txFailed).toBe(0)
  })

  it('a send no larger than one MSS is not a large send: one frame with checksum offload (MinSegmentCount 2)', async () => {
    const m = await loadE1000()
    const tcp = protocolOf(m).tcp
    expect(tcp.send(MSS)).toBe(true)
    m.run({ ns: 10_000_000 })
    expectSegmentedStream(tcpFrames(m), MSS)
    expect(tcp.counters).toMatchObject({ lsoSends: 0, checksumSegments: 1 })
  })

  it('the example indicates received frames with the NIC\'s checksum results in TcpIpChecksumNetBufferListInfo (manual 3.2.9 RXCSUM, 3.2.4 IPCS/TCPCS, 3.2.5 IPE/TCPE)', async () => {
    const m = await loadE1000()
    const host = m.ndis!
    const seen: number[] = []
    const indicate = host.protocol.indicate.bind(host.protocol)
    host.protocol.indicate = (nbls, count, flags) => {
      for (let n = nbls; n !== null; n = n.Next) seen.push(Number(n.NetBufferListInfo[0] ?? 0))
      indicate(nbls, count, flags)
    }
    const dst = m.nic.mac
    const good = ipFrame({ dst, payload: 300 })
    const badTcp = ipFrame({ dst, payload: 300 })
    badTcp[ETH_HEADER + IP_HEADER + 16]! ^= 0x01
    const badIp = ipFrame({ dst, payload: 300 })
    badIp[ETH_HEADER + 10]! ^= 0x01
    const udp = ipFrame({ dst, payload: 100, protocol: PROTO_UDP })
    for (const f of [good, badTcp, badIp, udp]) m.wire.inject(f)
    m.run({ ns: 10_000_000 })
    // NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.Receive: TcpChecksumFailed 0x1, IpChecksumFailed
    // 0x4, TcpChecksumSucceeded 0x8, UdpChecksumSucceeded 0x10, IpChecksumSucceeded 0x20.
    expect(seen.map((info) => info & 0x3f)).toEqual([0x28, 0x21, 0x0c, 0x30])
  })
})

describe('a miniport that advertises no offload', () => {
  it('gets the same TCP send as ordinary NET_BUFFER_LISTs with both checksums already in place', () => {
    const { m } = loadTestMiniport({ wire: 'capture' })
    const tcp = protocolOf(m).tcp
    expect(m.ndis!.ctx.offload).toBeNull()
    expect(tcp.send(10_000)).toBe(true)
    m.run({ ns: 50_000_000 })
    expectSegmentedStream(tcpFrames(m), 10_000)
    expect(tcp.counters).toMatchObject({ lsoSends: 0, checksumSegments: 0, softwareSegments: Math.ceil(10_000 / MSS), completed: Math.ceil(10_000 / MSS), failed: 0 })
  })
})

describe('offload attributes and status NDIS checks', () => {
  it('NdisMSetMiniportAttributes with offload attributes lacking an NDIS_OFFLOAD is an ndis-bad-argument and NDIS_STATUS_INVALID_PARAMETER', () => {
    let status = -1
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          status = a.ndis.NdisMSetMiniportAttributes(a.handle, {
            Header: { Type: a.ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_OFFLOAD_ATTRIBUTES, Revision: 1, Size: 0 },
            DefaultOffloadConfiguration: null,
            HardwareOffloadCapabilities: null,
          } as never)
        },
      },
    })
    expect(status).toBe(NDIS_STATUS.NDIS_STATUS_INVALID_PARAMETER)
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument'])
    expect(m.ndis!.ctx.offload).toBeNull()
  })

  it('NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG whose StatusBuffer is not an NDIS_OFFLOAD is an ndis-bad-argument', () => {
    const { m } = loadTestMiniport({}, {
      hooks: {
        initialize: (a) => {
          a.ndis.NdisMIndicateStatusEx(a.handle, { StatusCode: a.ndis.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG, StatusBuffer: { txChecksum: true } })
        },
      },
    })
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument'])
    expect(m.findings[0]!.message).toContain('NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG')
  })
})
