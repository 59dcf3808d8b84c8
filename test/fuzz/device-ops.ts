// What the device fuzzer does to a bare machine, as data fast-check generates and shrinks:
// register writes and reads (32-bit and narrow), configuration-space writes, rings programmed
// anywhere (RAM, across 4 GiB, at the end of RAM, over the NIC's own registers), descriptors
// and buffer bytes placed where the device will fetch them, frames of every size from the
// wire, IOMMU mappings made and torn down with and without invalidation, and the clock run.
// REFERENCE §6 is the catalogue the interesting values come from.
import fc from 'fast-check'
import { driverCodeOp, type DriverCodeOp } from './device-driver-code.js'

/**
 * An address, named relative to the machine so a shrunk case reads well and means the same
 * on every memory size: `{ at: 'below-4g', off: 8 }` is 0xFFFF_FFF8.
 */
export interface Place {
  readonly at: 'null' | 'ring-area' | 'buffers' | 'iova' | 'bar' | 'below-4g' | 'at-4g' | 'low-end' | 'ram-top' | 'raw'
  readonly off: number
}

export type Queue = 'tx' | 'rx'

export type DeviceOp =
  /** The bare-metal driver's init: reset, bus mastering, link, both rings (IOVAs when the IOMMU is on). */
  | { readonly op: 'init' }
  | { readonly op: 'reg-write'; readonly offset: number; readonly value: number }
  | { readonly op: 'reg-read'; readonly offset: number }
  | { readonly op: 'narrow'; readonly size: 1 | 2; readonly offset: number; readonly value: number; readonly write: boolean }
  | { readonly op: 'config-write'; readonly offset: number; readonly value: number }
  /** An IN or OUT at the I/O BAR (IOADDR 0, IODATA 4), or just past it. */
  | { readonly op: 'io'; readonly offset: number; readonly size: 1 | 2 | 4; readonly value: number; readonly write: boolean }
  | { readonly op: 'config-read'; readonly offset: number }
  /** Ring registers in one go: base (a device address), length, head, then tail (a doorbell). */
  | { readonly op: 'ring'; readonly queue: Queue; readonly base: Place; readonly length: number; readonly head: number; readonly tail: number }
  /** One descriptor written where the device fetches descriptor `index` of the ring. */
  | { readonly op: 'descriptor'; readonly queue: Queue; readonly index: number; readonly buffer: Place; readonly length: number; readonly cmd: number; readonly status: number }
  /** A TCP/IP context descriptor (manual 3.3.6) written where the device fetches transmit descriptor `index`. */
  | { readonly op: 'context'; readonly index: number; readonly fields: readonly number[]; readonly payloadLength: number; readonly tucmd: number; readonly hdrlen: number; readonly mss: number; readonly cmd: number }
  /** A TCP/IP data descriptor (3.3.7): 20-bit length, DCMD (TSE, VLE, ...), POPTS, special field. */
  | { readonly op: 'data'; readonly index: number; readonly buffer: Place; readonly length: number; readonly dcmd: number; readonly popts: number; readonly special: number }
  /**
   * A well-formed IPv4 TCP or UDP send through the bare-metal driver: context and data
   * descriptors, checksum offload, TSO, a VLAN tag (VLE), with VLAN mode (CTRL.VME) turned on
   * first when `vme` is set, as a driver configured for VLANs does (only after `init`).
   */
  | { readonly op: 'offload-send'; readonly udp: boolean; readonly payload: number; readonly tso: boolean; readonly mss: number; readonly vlan: boolean; readonly vme: boolean; readonly pieces: number }
  /** A well-formed IPv4 TCP or UDP frame from the wire, tagged or not, its checksums right or spoiled. */
  | { readonly op: 'inject-ip'; readonly udp: boolean; readonly payload: number; readonly vlan: boolean; readonly spoil: 'none' | 'ip' | 'l4' }
  /** Bytes written by the CPU at a physical address (buffers, rings, MMIO, nothing). */
  | { readonly op: 'poke'; readonly place: Place; readonly length: number; readonly fill: number }
  | { readonly op: 'doorbell'; readonly queue: Queue; readonly tail: number }
  /** A well-formed frame through the bare-metal driver (only after `init`). */
  | { readonly op: 'send'; readonly size: number; readonly parts: number }
  /** The bare-metal driver reaps transmit and receive (only after `init`). */
  | { readonly op: 'reap' }
  | { readonly op: 'inject'; readonly size: number; readonly dest: 'ours' | 'broadcast' | 'multicast' | 'other'; readonly vlan: boolean; readonly fill: number }
  | { readonly op: 'iommu-map'; readonly iova: Place; readonly pa: Place; readonly pages: number; readonly read: boolean; readonly write: boolean }
  | { readonly op: 'iommu-unmap'; readonly iova: Place; readonly pages: number; readonly invalidate: boolean }
  | { readonly op: 'iommu-invalidate'; readonly all: boolean }
  | { readonly op: 'run'; readonly ns: number }
  | { readonly op: 'idle' }
  /** The driver's own code, hostile: polls, stalls forever, throws oddities, returns garbage (device-driver-code.ts). */
  | DriverCodeOp

export interface DeviceConfig {
  readonly iommu: boolean
  readonly memory: '64MiB' | '6GiB'
  readonly dmaAddressBits: 32 | 36 | 64
  readonly wire: 'capture' | 'loopback'
  readonly ringSize: 8 | 16 | 64
  readonly iotlbEntries: 1 | 64
}

export interface DeviceProgram {
  readonly config: DeviceConfig
  readonly ops: readonly DeviceOp[]
}

/** Fixed layout of the bare-metal driver's memory, and the IOVA window it is mapped at. */
export const RING_AREA = 0x0100_0000
export const BUFFER_AREA = 0x0110_0000
export const IOVA_WINDOW = 0x4000_0000

/** 82540EM registers with side effects, and neighbours of them (8254x manual 13.4). */
const REGISTERS = [
  0x0000, 0x0008, 0x0010, 0x0014, 0x0018, 0x0020, 0x00c0, 0x00c4, 0x00c8, 0x00d0, 0x00d8, 0x0100, 0x0400, 0x0410, 0x1000,
  0x2800, 0x2804, 0x2808, 0x2810, 0x2818, 0x2820, 0x282c, 0x3800, 0x3804, 0x3808, 0x3810, 0x3818, 0x3820, 0x382c,
  0x4000, 0x4010, 0x4074, 0x4088, 0x408c, 0x40a0, 0x40d0, 0x40d4, 0x40fc, 0x5200, 0x53fc, 0x5400, 0x5404, 0x5478, 0x547c, 0x5600, 0x1fffc,
  // VET, RXCSUM, VFTA entries, EECD, PBA.
  0x0038, 0x5000, 0x5604, 0x57fc, 0x0010,
]

/** Values REFERENCE §6's CVEs used: zero, all-ones, off-by-one ring lengths, the enable bits. */
const u32 = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 0x40, 0x80, 0x7f, 0x81, 0xff, 0x100, 0xfff0, 0xffff, 0x1_0000, 0xf_ff80, 0xf_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 1 << 26, 0x0200_8002, 0x0400_8002, 0x0203_8022) },
  // CTRL with VME and SLU; RCTL with VFE, CFIEN, SBP; RXCSUM offloads; VET values.
  { weight: 1, arbitrary: fc.constantFrom(0x4000_0040, 0x0404_8002, 0x041c_8002, 0x0400_8006, 0x300, 0x30e, 0x8100, 0x88a8) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 512 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) },
)

const offset = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...REGISTERS) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7fff }).map((i) => i * 4) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1ffff }) },
)

const place: fc.Arbitrary<Place> = fc.oneof(
  fc.record({ at: fc.constant('null' as const), off: fc.integer({ min: 0, max: 4095 }) }),
  fc.record({ at: fc.constant('ring-area' as const), off: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ at: fc.constant('buffers' as const), off: fc.integer({ min: 0, max: 0x4_0000 }) }),
  fc.record({ at: fc.constant('iova' as const), off: fc.integer({ min: 0, max: 0x8_0000 }) }),
  fc.record({ at: fc.constant('bar' as const), off: fc.oneof(fc.constantFrom(0, 0x2800, 0x3800, 0x3810, 0x1fff0), fc.integer({ min: 0, max: 0x2_0000 })) }),
  fc.record({ at: fc.constant('below-4g' as const), off: fc.constantFrom(1, 4, 8, 15, 16, 64, 4096, 8192) }),
  fc.record({ at: fc.constant('at-4g' as const), off: fc.integer({ min: 0, max: 8192 }) }),
  fc.record({ at: fc.constant('low-end' as const), off: fc.integer({ min: -8192, max: 8192 }) }),
  fc.record({ at: fc.constant('ram-top' as const), off: fc.integer({ min: -8192, max: 8192 }) }),
  fc.record({ at: fc.constant('raw' as const), off: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(2 ** 36, 2 ** 48 - 4096, 2 ** 52, 2 ** 53 - 4096)) }),
)

/** Lengths at the edges: 0, 1, a frame, the 16288-byte descriptor limit, the u16 maximum. */
const length = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 14, 59, 60, 64, 1514, 1518, 2048, 4096, 16287, 16288, 16289, 65535) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
)

const queue = fc.constantFrom<Queue>('tx', 'rx')
const index = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(0xffff, 0x1_0000, 0xffff_ffff))

/** Frame sizes 0..16 KiB and just past it: 0 and 16385 are host-API misuse the wire refuses. */
const frameSize = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 13, 14, 59, 60, 61, 64, 1514, 1515, 1518, 1519, 1522, 1523, 4096, 9014, 16280, 16284, 16288, 16380, 16383, 16384, 16385) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 1600 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 16384 }) },
)

export const deviceOp: fc.Arbitrary<DeviceOp> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ op: 'init' as const }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('reg-write' as const), offset, value: u32 }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('reg-read' as const), offset }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('narrow' as const), size: fc.constantFrom<1 | 2>(1, 2), offset, value: u32, write: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('config-write' as const),
      offset: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0x04, 0x10, 0x3c, 0x0c) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 63 }).map((i) => i * 4) }),
      value: fc.oneof(fc.constantFrom(0x0, 0x2, 0x4, 0x6, 0x406, 0xf900_0006, 0xffff_ffff, 0x0), u32),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('io' as const),
      offset: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 4) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 12 }) }),
      size: fc.constantFrom<1 | 2 | 4>(4, 4, 4, 2, 1),
      value: fc.oneof({ weight: 2, arbitrary: offset }, { weight: 1, arbitrary: u32 }),
      write: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('config-read' as const), offset: fc.integer({ min: 0, max: 63 }).map((i) => i * 4) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('ring' as const),
      queue,
      base: place,
      length: fc.oneof(fc.constantFrom(0, 16, 112, 128, 256, 1024, 4096, 0xf_ff80, 0xffff_ffff), fc.integer({ min: 0, max: 0x1_0000 })),
      head: index,
      tail: index,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('descriptor' as const),
      queue,
      index: fc.integer({ min: 0, max: 70 }),
      buffer: place,
      length,
      cmd: fc.oneof(fc.constantFrom(0x09, 0x0b, 0x08, 0x01, 0x00, 0x29, 0x89, 0xff), fc.integer({ min: 0, max: 255 })),
      status: fc.constantFrom(0, 1, 0xff),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('context' as const),
      index: fc.integer({ min: 0, max: 70 }),
      // IPCSS, IPCSO, IPCSE, TUCSS, TUCSO, TUCSE: sensible offsets most of the time.
      fields: fc.oneof(
        { weight: 3, arbitrary: fc.constant([14, 24, 33, 34, 50, 0]) },
        { weight: 1, arbitrary: fc.constant([18, 28, 37, 38, 54, 0]) },
        { weight: 2, arbitrary: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 6, maxLength: 6 }) },
      ),
      payloadLength: fc.oneof(fc.constantFrom(0, 1, 1460, 4000, 65536, 0xf_ffff), fc.integer({ min: 0, max: 20_000 })),
      tucmd: fc.integer({ min: 0, max: 7 }),
      hdrlen: fc.oneof(fc.constantFrom(0, 42, 54, 58, 240, 241, 255), fc.integer({ min: 0, max: 255 })),
      mss: fc.oneof(fc.constantFrom(0, 1, 8, 536, 1460, 9000, 16300, 0xffff), fc.integer({ min: 0, max: 0xffff })),
      cmd: fc.constantFrom(0x00, 0x08, 0x88),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('data' as const),
      index: fc.integer({ min: 0, max: 70 }),
      buffer: place,
      length: fc.oneof(length, fc.constantFrom(0x1_0000, 0xf_ffff)),
      dcmd: fc.oneof(fc.constantFrom(0x01, 0x09, 0x05, 0x0d, 0x04, 0x49, 0x4d, 0x89), fc.integer({ min: 0, max: 255 })),
      popts: fc.integer({ min: 0, max: 3 }),
      special: fc.integer({ min: 0, max: 0xffff }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('offload-send' as const),
      udp: fc.boolean(),
      payload: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.constantFrom(65536 - 54, 65536), fc.integer({ min: 0, max: 20_000 })),
      tso: fc.boolean(),
      mss: fc.oneof(fc.constantFrom(1460, 536, 1000), fc.integer({ min: 64, max: 9000 })),
      vlan: fc.boolean(),
      vme: fc.boolean(),
      pieces: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('inject-ip' as const),
      udp: fc.boolean(),
      payload: fc.integer({ min: 0, max: 1400 }),
      vlan: fc.boolean(),
      spoil: fc.constantFrom('none' as const, 'ip' as const, 'l4' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('poke' as const), place, length: fc.constantFrom(1, 4, 16, 64, 4096, 8192), fill: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('doorbell' as const), queue, tail: index }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('send' as const), size: fc.integer({ min: 14, max: 2048 }), parts: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'reap' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('inject' as const),
      size: frameSize,
      dest: fc.constantFrom('ours' as const, 'broadcast' as const, 'multicast' as const, 'other' as const),
      vlan: fc.boolean(),
      fill: fc.integer({ min: 0, max: 255 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('iommu-map' as const), iova: place, pa: place, pages: fc.integer({ min: 1, max: 8 }), read: fc.boolean(), write: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('iommu-unmap' as const), iova: place, pages: fc.integer({ min: 1, max: 8 }), invalidate: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('iommu-invalidate' as const), all: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('run' as const), ns: fc.oneof(fc.constantFrom(0, 1, 1000, 100_000), fc.integer({ min: 0, max: 2_000_000 })) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'idle' as const }) },
  { weight: 2, arbitrary: driverCodeOp },
)

export const deviceConfig: fc.Arbitrary<DeviceConfig> = fc.record({
  iommu: fc.boolean(),
  memory: fc.constantFrom('64MiB' as const, '6GiB' as const),
  dmaAddressBits: fc.constantFrom(32 as const, 32 as const, 36 as const, 64 as const),
  wire: fc.constantFrom('capture' as const, 'loopback' as const),
  ringSize: fc.constantFrom(8 as const, 16 as const, 64 as const),
  iotlbEntries: fc.constantFrom(1 as const, 64 as const),
})

/** Programs usually start from a working device: a leading `init` most of the time. */
export function deviceProgram(maxOps: number): fc.Arbitrary<DeviceProgram> {
  return fc.record({
    config: deviceConfig,
    start: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    ops: fc.array(deviceOp, { minLength: 1, maxLength: maxOps, size: 'max' }),
  }).map(({ config, start, ops }) => ({ config, ops: start ? [{ op: 'init' as const }, ...ops] : ops }))
}
