// Reading a capture back with pcap-parser, an independent libpcap reader (nothing of
// src/hw/pcap.ts), and checking one with Wireshark's tshark when it is installed.
import { spawnSync } from 'node:child_process'
import { parse, type GlobalHeader, type Packet } from 'pcap-parser'

/** Reads a pcap file back with pcap-parser. */
export function readPcap(path: string): Promise<{ header: GlobalHeader; packets: Packet[] }> {
  return new Promise((resolve, reject) => {
    const parser = parse(path)
    let header: GlobalHeader | undefined
    const packets: Packet[] = []
    parser.on('globalHeader', (h: GlobalHeader) => (header = h))
    parser.on('packet', (p: Packet) => packets.push(p))
    parser.on('error', reject)
    parser.on('end', () => (header ? resolve({ header, packets }) : reject(new Error('no global header'))))
  })
}

/** tshark to run (DMALAB_TSHARK, else `tshark` on PATH), or null when there is none. */
export function findTshark(): string | null {
  const tshark = process.env['DMALAB_TSHARK'] ?? 'tshark'
  const r = spawnSync(tshark, ['-v'], { encoding: 'utf8' })
  return r.status === 0 ? tshark : null
}

/**
 * The frames of `path` tshark dissects, with checksum validation on (off by default in
 * Wireshark): per frame its number, its length, and the IPv4 / TCP / UDP checksum status
 * (Wireshark's: 1 good, 0 bad, 2 unverified; empty when the header is absent).
 */
export function tsharkChecksums(tshark: string, path: string): { frame: number; length: number; ip: string; tcp: string; udp: string; malformed: boolean }[] {
  const r = spawnSync(tshark, [
    '-n', '-r', path,
    '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    '-T', 'fields', '-E', 'separator=,',
    '-e', 'frame.number', '-e', 'frame.len', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'udp.checksum.status', '-e', '_ws.malformed',
  ], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`)
  return r.stdout.trim().split('\n').map((line) => {
    const [frame = '', length = '', ip = '', tcp = '', udp = '', malformed = ''] = line.split(',')
    return { frame: Number(frame), length: Number(length), ip, tcp, udp, malformed: malformed !== '' }
  })
}
