// The parts of pcap-parser (a dev dependency with no types) the pcap test uses.
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events'
  import type { Readable } from 'node:stream'
  export interface GlobalHeader {
    magicNumber: number
    majorVersion: number
    minorVersion: number
    gmtOffset: number
    timestampAccuracy: number
    snapshotLength: number
    linkLayerType: number
  }
  export interface PacketHeader {
    timestampSeconds: number
    timestampMicroseconds: number
    capturedLength: number
    originalLength: number
  }
  export interface Packet {
    header: PacketHeader
    data: Buffer
  }
  export function parse(input: string | Readable): EventEmitter
}
