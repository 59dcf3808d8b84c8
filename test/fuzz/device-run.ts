// Runs one device program on a fresh bare machine (no driver loaded: the fuzzer is the driver)
// and checks the invariants after every step. Besides the shared ones (invariants.ts):
//  - every doorbell does bounded work: the transmit descriptors the NIC processed never exceed
//    one ring's worth per TDT write, and a received frame costs at most one ring's worth of
//    descriptors;
//  - the device's DMA per step is bounded by that work, and RAM materialized per step by what
//    the CPU and the device wrote;
//  - the only findings are the device-side kinds, and the machine always reaches idle;
//  - host-API misuse the fuzzer makes on purpose (a zero-byte frame, an IOMMU mapping with no
//    access or mismatched page offsets) is refused with a RangeError or TypeError.
import { createMachine, type Machine } from '../../src/machine.js'
import { PAGE_SIZE, TWO_POW_32, pagesSpanned } from '../../src/hw/address.js'
import {
  BareMetalE1000, CTRL_VME, NIC_MAC, R, POPTS_IXSM, POPTS_TXSM, TUCMD_IP, TUCMD_TCP, TUCMD_TSE, TXD_DEXT, TXD_EOP, TXD_RS, TXD_TSE, TXD_VLE, e1000, ethernetFrame,
} from '../support/e1000-driver.js'
import { ETH_HEADER, IP_HEADER, PROTO_TCP, PROTO_UDP, TCP_HEADER, UDP_HEADER, ipFrame, parseIpFrame } from '../support/packets.js'
import { DRIVER_CODE_KINDS, canDrain, runDriverCode } from './device-driver-code.js'
import { BUFFER_AREA, IOVA_WINDOW, RING_AREA, type DeviceOp, type DeviceProgram, type Place } from './device-ops.js'
import {
  TimeWatch, checkFrameAccounting, checkHostMemory, checkInterruptLine, checkReportAccounting, hostCall, misuseCall, violated,
} from './invariants.js'

/** Findings the hardware may report; anything else from a bare machine is a bug. */
const DEVICE_KINDS = new Set(['device-error', 'dma-address-truncated', 'bus-master-disabled', 'iommu-fault'])
/** Events a bare machine may need to go idle: generous for a program's worth of frames. */
const EVENT_BOUND = 200_000
/** DMA pieces one descriptor can cost: the fetch, up to five data pages, two write-backs. */
const DMA_PER_DESCRIPTOR = 8
/** The driver's area for large payloads (TSO sends of up to 64 KiB). */
const PAYLOAD_AREA = 65536 + 4096

const REG = { TDBAL: 0x3800, TDBAH: 0x3804, TDLEN: 0x3808, TDH: 0x3810, TDT: 0x3818, RDBAL: 0x2800, RDBAH: 0x2804, RDLEN: 0x2808, RDH: 0x2810, RDT: 0x2818 }

interface World {
  readonly m: Machine
  driver: BareMetalE1000 | null
  /** Where the driver keeps large payloads (64 KiB + a page), mapped like its other memory. */
  payloadArea: number
  /** Every frame the NIC put on the wire during the current op. */
  readonly sent: Uint8Array[]
  /** The IOMMU's mappings were changed after the driver made its own: the device may no longer see the driver's memory. */
  remapped: boolean
  /** Σ over TDT writes of the ring size at that write: the most descriptors the NIC may have walked. */
  txBudget: number
  /** Σ over received frames of the receive ring's size: the most receive descriptors they may cost. */
  rxBudget: number
  /** Steps so far: each may kick a walk that is refused once (no bus mastering). */
  steps: number
  /** Since the driver's init, only its own sends, reads, the wire and the clock touched the device. */
  untouched: boolean
  /** Hostile driver code has run (its findings are allowed beside the device's). */
  driverCode: boolean
}

/** Ops that leave the transmit side as the driver left it (see canDrain). */
const BENIGN = new Set<DeviceOp['op']>(['send', 'reap', 'reg-read', 'config-read', 'inject', 'inject-ip', 'run', 'idle', 'driver-code'])

function dmaAttempts(m: Machine): number {
  const c = m.nic.dma.counters
  return c.reads + c.writes + c.iommuFaults + c.masterAborts + c.mmioRefused + c.busMasterRefused
}

/** Who is using the DMA engine now, for the write checks. */
type Phase = 'idle' | 'transmit' | 'receive'

/**
 * Wraps the NIC's doorbell, transmit walk and receive paths to measure the work each one was
 * allowed, and watches every device write (bare metal: the DMA observer is free):
 *  - transmit writes back only the 4-byte status dword of a descriptor in its ring;
 *  - receive writes descriptor length and status dwords in its ring, and frame data in pieces
 *    no larger than one buffer, never more bytes than the frame (with its FCS) has.
 */
function instrument(w: World): void {
  const m = w.m
  const tx = e1000(m).tx
  const rx = e1000(m).rx
  const limit = m.nic.dma.addressBits >= 53 ? 2 ** 53 : 2 ** m.nic.dma.addressBits
  let phase: Phase = 'idle'
  let dataBytes = 0
  /** The transmit ring's head and tail when the walk started: the device owns head..tail-1. */
  let walkHead = 0
  let walkTail = 0
  const inRing = (ring: typeof tx.ring, logical: number): number => {
    const off = (logical - (ring.base % limit) + limit) % limit
    return off < ring.count * 16 ? off % 16 : -1
  }
  m.nic.dma.observer = {
    onAccess: (_requester, logical, _pa, length, access) => {
      if (access !== 'write') return
      if (phase === 'transmit') {
        if (length !== 4 || inRing(tx.ring, logical) !== 12) violated(`the transmit engine wrote ${length} bytes at device address ${logical.toString(16)}, not a status dword of its ring`)
        // 8254x manual 3.3: hardware owns the descriptors from head up to, not including, tail.
        const count = tx.ring.count
        const index = Math.floor(((logical - (tx.ring.base % limit) + limit) % limit) / 16)
        if ((index - walkHead + count) % count >= (walkTail - walkHead + count) % count) {
          violated(`the transmit engine wrote back descriptor ${index}, which it did not own (head ${walkHead}, tail ${walkTail})`)
        }
      } else if (phase === 'receive') {
        const at = inRing(rx.ring, logical)
        if (length === 4 && (at === 8 || at === 12)) return
        if (length > rx.bufferSize) violated(`the receive engine wrote ${length} bytes at once, more than its ${rx.bufferSize}-byte buffers`)
        dataBytes += length
      } else {
        violated(`the device wrote ${length} bytes at ${logical.toString(16)} outside a transmit walk or a frame's reception`)
      }
    },
  }
  const writeTail = tx.writeTail.bind(tx)
  tx.writeTail = (value: number): void => {
    writeTail(value)
    w.txBudget += tx.ring.count
  }
  const walk = (tx as unknown as { walk: () => void }).walk.bind(tx)
  ;(tx as unknown as { walk: () => void }).walk = (): void => {
    phase = 'transmit'
    walkHead = tx.ring.head
    walkTail = tx.ring.tail
    walk()
    phase = 'idle'
  }
  // A frame is written to memory by `store`, when it arrives or later out of the receive FIFO
  // (when RDT moves): the work it may cost is measured there.
  type Store = (buf: Uint8Array, off: number, total: number, meta: number, checksum: number, wireLength: number) => boolean
  const rxPrivate = rx as unknown as { store: Store }
  const store = rxPrivate.store.bind(rx)
  rxPrivate.store = (buf, off, total, meta, checksum, wireLength) => {
    w.rxBudget += Math.max(1, rx.ring.count)
    const before = dmaAttempts(m)
    const outer = phase
    phase = 'receive'
    dataBytes = 0
    const stored = store(buf, off, total, meta, checksum, wireLength)
    phase = outer
    const spent = dmaAttempts(m) - before
    const most = Math.max(1, rx.ring.count) * DMA_PER_DESCRIPTOR
    if (spent > most) violated(`one received frame of ${total} bytes cost ${spent} DMA pieces, more than a ring of ${rx.ring.count} descriptors allows (${most})`)
    if (dataBytes > total) violated(`a ${total}-byte frame made the receive engine write ${dataBytes} bytes of data`)
    return stored
  }
  // Every frame the NIC is handed is the frame that was put on the wire toward it, byte for byte.
  const expected: Uint8Array[] = []
  const wire = m.wire
  const injectFrom = wire.injectFrom.bind(wire)
  wire.injectFrom = (frame: Uint8Array, offset: number, length: number): void => {
    injectFrom(frame, offset, length)
    expected.push(frame.slice(offset, offset + length))
  }
  // The NIC sends from the slot it reserved in the wire's buffer, whole frames only.
  const send = wire.send.bind(wire)
  wire.send = (offset: number, length: number): number => {
    // 16288 bytes at most, and 4 more when the device inserted an 802.1Q tag.
    if (!(offset >= 0 && length >= 1 && length <= 16288 + 4 && offset + length <= wire.buffer.length)) {
      violated(`the NIC put a ${length}-byte frame on the wire from offset ${offset} of its ${wire.buffer.length}-byte buffer`)
    }
    const copy = wire.buffer.slice(offset, offset + length)
    w.sent.push(copy)
    const end = send(offset, length)
    if (wire.mode === 'loopback') expected.push(copy)
    return end
  }
  const receiveFrame = m.nic.receiveFrame.bind(m.nic)
  m.nic.receiveFrame = (buffer: Uint8Array, offset: number, length: number): void => {
    const want = expected.shift()
    const got = buffer.subarray(offset, offset + length)
    if (want === undefined || want.length !== length || want.some((b, i) => got[i] !== b)) {
      violated(`the wire handed the NIC a ${length}-byte frame that is not the next one put on it (${want === undefined ? 'none expected' : `${want.length} bytes expected`})`)
    }
    receiveFrame(buffer, offset, length)
  }
}

export function resolve(m: Machine, p: Place): number {
  switch (p.at) {
    case 'null': return p.off
    case 'ring-area': return RING_AREA + p.off
    case 'buffers': return BUFFER_AREA + p.off
    case 'iova': return IOVA_WINDOW + p.off
    case 'bar': return m.nic.bar0 + p.off
    case 'below-4g': return TWO_POW_32 - p.off
    case 'at-4g': return TWO_POW_32 + p.off
    case 'low-end': return Math.max(0, m.ram.lowEnd + p.off)
    case 'ram-top': return Math.max(0, m.ram.top + p.off)
    case 'raw': return p.off
  }
}

/** The physical address behind device address `device` as the NIC would reach it, or -1. */
function deviceToPhysical(m: Machine, device: number): number {
  const bits = m.nic.dma.addressBits
  const onBus = bits >= 53 ? device : device % 2 ** bits
  if (!m.iommu.enabled) return onBus
  return m.iommu.lookup(m.nic.bdf, onBus, 'read')
}

function regWrite(m: Machine, offset: number, value: number): void {
  m.cpu.write32(m.nic.bar0 + offset, value >>> 0)
}

function frame(op: Extract<DeviceOp, { op: 'inject' }>): Uint8Array {
  const f = new Uint8Array(op.size)
  f.fill(op.fill)
  const dest = op.dest === 'ours' ? NIC_MAC : op.dest === 'broadcast' ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : op.dest === 'multicast' ? [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01] : [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]
  f.set(dest.slice(0, Math.min(6, f.length)), 0)
  if (op.vlan && f.length >= 14) f.set([0x81, 0x00], 12)
  return f
}

/** Executes one op; returns the pages the CPU wrote (for the materialization bound). */
function execute(w: World, op: DeviceOp, ringSize: number): number {
  const m = w.m
  switch (op.op) {
    case 'init': {
      const d = new BareMetalE1000(m, { txCount: ringSize, rxCount: ringSize, base: RING_AREA, ...(m.iommu.enabled ? { iova: IOVA_WINDOW } : {}) })
      d.init()
      w.driver = d
      w.remapped = false
      w.payloadArea = d.alloc(PAYLOAD_AREA, 4096)
      if (m.iommu.enabled) m.iommu.map(m.nic.bdf, d.device(w.payloadArea), w.payloadArea, PAYLOAD_AREA, { read: true, write: true })
      return Infinity
    }
    case 'reg-write':
      m.cpu.write32(m.nic.bar0 + op.offset, op.value)
      return 0
    case 'reg-read':
      m.cpu.read32(m.nic.bar0 + op.offset)
      return 0
    case 'narrow': {
      const at = m.nic.bar0 + op.offset
      if (op.write) {
        if (op.size === 1) m.cpu.write8(at, op.value & 0xff)
        else m.cpu.write16(at, op.value & 0xffff)
      } else if (op.size === 1) m.cpu.read8(at)
      else m.cpu.read16(at)
      return 1
    }
    case 'config-write':
      m.pci.configWrite32(m.nic.bdf, op.offset, op.value)
      return 0
    case 'config-read':
      m.pci.configRead32(m.nic.bdf, op.offset)
      return 0
    case 'io': {
      // BAR2 as configuration space says it is now (whatever the fuzzer did to it).
      const port = (m.pci.configRead32(m.nic.bdf, 0x18) & 0xfffc) + op.offset
      if (port + op.size > 0x1_0000) return 0
      const io = m.bus.io
      if (op.write) {
        if (op.size === 4) io.out32(port, op.value)
        else if (op.size === 2) io.out16(port, op.value & 0xffff)
        else io.out8(port, op.value & 0xff)
      } else if (op.size === 4) io.in32(port)
      else if (op.size === 2) io.in16(port)
      else io.in8(port)
      return 0
    }
    case 'ring': {
      const base = resolve(m, op.base)
      const r = op.queue === 'tx' ? { bal: REG.TDBAL, bah: REG.TDBAH, len: REG.TDLEN, h: REG.TDH, t: REG.TDT } : { bal: REG.RDBAL, bah: REG.RDBAH, len: REG.RDLEN, h: REG.RDH, t: REG.RDT }
      regWrite(m, r.bal, base % TWO_POW_32)
      regWrite(m, r.bah, Math.floor(base / TWO_POW_32))
      regWrite(m, r.len, op.length)
      regWrite(m, r.h, op.head)
      regWrite(m, r.t, op.tail)
      return 0
    }
    case 'descriptor': {
      const ring = op.queue === 'tx' ? e1000(m).tx.ring : e1000(m).rx.ring
      const device = ring.base + (op.index % Math.max(1, ring.count)) * 16
      const pa = deviceToPhysical(m, device)
      if (pa < 0) return 0
      const buffer = resolve(m, op.buffer)
      const d = new Uint8Array(16)
      const v = new DataView(d.buffer)
      v.setUint32(0, buffer % TWO_POW_32, true)
      v.setUint32(4, Math.floor(buffer / TWO_POW_32), true)
      v.setUint16(8, op.length, true)
      if (op.queue === 'tx') d[11] = op.cmd
      d[12] = op.status
      m.cpu.writeBytes(pa, d)
      return 2
    }
    case 'context': {
      const pa = txDescriptorAddress(m, op.index)
      if (pa < 0) return 0
      const d = new Uint8Array(16)
      const v = new DataView(d.buffer)
      const [ipcss = 0, ipcso = 0, ipcse = 0, tucss = 0, tucso = 0, tucse = 0] = op.fields
      d[0] = ipcss & 0xff
      d[1] = ipcso & 0xff
      v.setUint16(2, ipcse & 0xffff, true)
      d[4] = tucss & 0xff
      d[5] = tucso & 0xff
      v.setUint16(6, tucse & 0xffff, true)
      v.setUint32(8, ((op.payloadLength & 0xf_ffff) | ((op.tucmd | TXD_DEXT | op.cmd) << 24)) >>> 0, true)
      d[13] = op.hdrlen
      v.setUint16(14, op.mss, true)
      m.cpu.writeBytes(pa, d)
      return 2
    }
    case 'data': {
      const pa = txDescriptorAddress(m, op.index)
      if (pa < 0) return 0
      const buffer = resolve(m, op.buffer)
      const d = new Uint8Array(16)
      const v = new DataView(d.buffer)
      v.setUint32(0, buffer % TWO_POW_32, true)
      v.setUint32(4, Math.floor(buffer / TWO_POW_32), true)
      v.setUint32(8, ((op.length & 0xf_ffff) | (1 << 20) | ((op.dcmd | TXD_DEXT) << 24)) >>> 0, true)
      d[13] = op.popts
      v.setUint16(14, op.special, true)
      m.cpu.writeBytes(pa, d)
      return 2
    }
    case 'offload-send':
      return offloadSend(w, op)
    case 'inject-ip': {
      const f = ipFrame({ protocol: op.udp ? PROTO_UDP : PROTO_TCP, payload: op.payload, dst: NIC_MAC })
      if (op.spoil === 'ip') f[ETH_HEADER + 10] = f[ETH_HEADER + 10]! ^ 0x01
      if (op.spoil === 'l4') f[f.length - 1] = f[f.length - 1]! ^ 0x80
      m.wire.inject(op.vlan ? new Uint8Array([...f.subarray(0, 12), 0x81, 0x00, 0x20, 0x07, ...f.subarray(12)]) : f)
      return 0
    }
    case 'poke': {
      const at = resolve(m, op.place)
      m.cpu.writeBytes(at, new Uint8Array(op.length).fill(op.fill))
      return pagesSpanned(at, op.length)
    }
    case 'doorbell':
      regWrite(m, op.queue === 'tx' ? REG.TDT : REG.RDT, op.tail)
      return 0
    case 'send': {
      const d = w.driver
      if (d === null) return 0
      const parts = Math.min(op.parts, op.size)
      if (parts >= d.txCount || (d.txTail + parts) % d.txCount === d.txClean) return 0
      const f = ethernetFrame(op.size, NIC_MAC, op.size & 0xff)
      const cuts = Array.from({ length: parts + 1 }, (_, k) => Math.floor((op.size * k) / parts))
      d.queue(cuts.slice(1).map((end, k) => f.subarray(cuts[k]!, end)))
      d.doorbell()
      return 2 * parts + 2
    }
    case 'reap': {
      const d = w.driver
      if (d === null) return 0
      d.reapTx()
      return 2 * d.receive().length + 1
    }
    case 'inject': {
      if (op.size < 1 || op.size > 16384) {
        misuseCall(`m.wire.inject of a ${op.size}-byte frame`, () => m.wire.inject(new Uint8Array(op.size)))
        return 0
      }
      m.wire.inject(frame(op))
      return 0
    }
    case 'iommu-map': {
      w.remapped = true
      const iova = resolve(m, op.iova)
      const pa = resolve(m, op.pa)
      const at = iova - (iova % PAGE_SIZE)
      const to = pa - (pa % PAGE_SIZE)
      const length = op.pages * PAGE_SIZE
      const map = (): boolean => m.iommu.map(m.nic.bdf, at, to, length, { read: op.read, write: op.write })
      if (!op.read && !op.write) misuseCall('m.iommu.map with neither read nor write', map)
      else if (at + length > 2 ** 48) misuseCall('m.iommu.map beyond the 48-bit address width', map)
      else map()
      return 0
    }
    case 'iommu-unmap': {
      w.remapped = true
      const iova = resolve(m, op.iova)
      const at = iova - (iova % PAGE_SIZE)
      const unmap = (): number => m.iommu.unmap(m.nic.bdf, at, op.pages * PAGE_SIZE, { invalidate: op.invalidate })
      if (at + op.pages * PAGE_SIZE > 2 ** 48) misuseCall('m.iommu.unmap beyond the 48-bit address width', () => void unmap())
      else unmap()
      return 0
    }
    case 'iommu-invalidate':
      m.iommu.invalidate(op.all ? undefined : m.nic.bdf)
      return 0
    case 'run':
      m.run({ ns: op.ns })
      return 0
    case 'idle': {
      const result = m.runUntilIdle()
      if (result.boundHit || !result.completed) violated(`runUntilIdle did not reach idle: ${JSON.stringify(result)}`)
      return 0
    }
    case 'driver-code':
      w.driverCode = true
      runDriverCode(m, op, canDrain(m, w.driver, w.untouched))
      return 0
  }
}

/** The physical address of transmit descriptor `index` as the NIC would fetch it, or -1. */
function txDescriptorAddress(m: Machine, index: number): number {
  const ring = e1000(m).tx.ring
  return deviceToPhysical(m, ring.base + (index % Math.max(1, ring.count)) * 16)
}

/**
 * A well-formed IPv4 send with offloads through the bare-metal driver: a context descriptor,
 * the headers in one data descriptor and the payload in up to four more. When the device was
 * in the state the driver left it (rings, enables, nothing half sent) and the send met no
 * finding, what reached the wire must be exactly what the manual says: one frame with both
 * checksums right, or for TSO max(1, ⌈payload/MSS⌉) frames whose payloads join up to the
 * payload sent, each with its headers fixed up (3.5.9) — every frame on the wire whole.
 */
function offloadSend(w: World, op: Extract<DeviceOp, { op: 'offload-send' }>): number {
  const m = w.m
  const d = w.driver
  if (d === null) return 0
  const descriptors = 2 + op.pieces
  if ((d.txTail - d.txClean + d.txCount) % d.txCount + descriptors >= d.txCount) return 0
  const l4Header = op.udp ? UDP_HEADER : TCP_HEADER
  const hdrlen = ETH_HEADER + IP_HEADER + l4Header
  const payload = Uint8Array.from({ length: op.payload }, (_, i) => (i * 29 + op.mss) & 0xff)
  const proto = ipFrame({ protocol: op.udp ? PROTO_UDP : PROTO_TCP, payload: 0, pseudo: op.tso ? 'without-length' : 'with-length', ipChecksumZero: true, ...(op.tso ? {} : { ipTotalLength: IP_HEADER + l4Header + op.payload }) })
  if (!op.tso) {
    // The pseudo-header sum with the length, and UDP's own length, for a plain send.
    const whole = ipFrame({ protocol: op.udp ? PROTO_UDP : PROTO_TCP, payload, pseudo: 'with-length', ipChecksumZero: true })
    proto.set(whole.subarray(0, hdrlen))
  }
  const e = e1000(m)
  // 3.3.3.1 / 13.4.1: VLE inserts a tag only while CTRL.VME is on; a VLAN driver sets it.
  if (op.vme) d.write(R.CTRL, d.read(R.CTRL) | CTRL_VME)
  // The driver's register writes reach the device, and the device is as the driver left it.
  const ring = e.tx.ring
  const consistent = m.bus.targetOf(d.bar) === 'mmio' && m.bus.regionAt(d.bar)?.handler === e && !w.remapped && ring.head === d.txTail && ring.tail === d.txTail && ring.base === d.device(d.txRing) % 2 ** m.nic.dma.addressBits &&
    ring.count === d.txCount && (e.tx.control & 0x2) !== 0 && m.nic.linkUp && m.nic.dma.busMasterEnabled && e.tx.idle && !e.tx.stopped
  const vlanMode = e.link.vlanMode
  const vet = d.read(0x38) & 0xffff
  const findings = m.findings.length
  const faults = m.iommu.faults.length
  m.cpu.writeBytes(w.payloadArea, payload)
  const tucmd = (op.udp ? 0 : TUCMD_TCP) | TUCMD_IP | (op.tso ? TUCMD_TSE : 0)
  d.queueContext({ ipcss: ETH_HEADER, ipcso: ETH_HEADER + 10, ipcse: ETH_HEADER + IP_HEADER - 1, tucss: ETH_HEADER + IP_HEADER, tucso: ETH_HEADER + IP_HEADER + (op.udp ? 6 : 16), tucse: 0, tucmd, payloadLength: op.payload, hdrlen, mss: op.mss })
  const tse = op.tso ? TXD_TSE : 0
  const special = 0x3000 | (op.payload & 0xfff)
  const vle = op.vlan ? TXD_VLE : 0
  const headerVa = d.txBuffers[d.txTail]! // where stage() copies the headers
  const headerAt = d.stage(proto.subarray(0, hdrlen))
  d.queueData(headerAt, hdrlen, tse | (op.tso ? vle : 0) | (op.payload === 0 ? TXD_EOP | TXD_RS | vle : 0), { popts: POPTS_IXSM | POPTS_TXSM, special })
  if (op.payload > 0) {
    const step = Math.ceil(op.payload / op.pieces)
    for (let at = 0; at < op.payload; at += step) {
      const n = Math.min(step, op.payload - at)
      const last = at + n === op.payload
      d.queueData(d.device(w.payloadArea) + at, n, tse | (last ? TXD_EOP | TXD_RS | (op.tso ? 0 : vle) : 0), { special })
    }
  }
  w.sent.length = 0
  d.doorbell()
  const result = m.runUntilIdle()
  if (result.boundHit || !result.completed) violated(`runUntilIdle did not reach idle after an offload send: ${JSON.stringify(result)}`)
  d.reapTx()
  const fifo = e.tx.fifoBytes
  const fits = op.tso ? hdrlen + op.mss <= Math.min(16288, fifo - 80) : hdrlen + op.payload <= 16288
  // On a loopback wire the NIC may receive the first segments into a buffer the driver placed
  // inside the payload or header it is still sending: what the later segments read is then
  // what the receive wrote (the driver's mistake, not the device's), so nothing is claimed.
  const overwritten = !sameBytes(m.cpu.readBytes(w.payloadArea, op.payload), payload) || !sameBytes(m.cpu.readBytes(headerVa, hdrlen), proto.subarray(0, hdrlen))
  if (!consistent || !fits || overwritten || m.findings.length !== findings || m.iommu.faults.length !== faults) return 2 * descriptors + 2 + Math.ceil(op.payload / 4096)
  const frames = w.sent.map((f) => (op.vlan && vlanMode ? untag(f, vet, special) : f))
  const expected = op.tso ? Math.max(1, Math.ceil(op.payload / op.mss)) : 1
  if (frames.length !== expected) violated(`an offload send of ${op.payload} bytes (TSO ${op.tso}, MSS ${op.mss}) put ${frames.length} frames on the wire, not ${expected}`)
  const joined: number[] = []
  frames.forEach((f, n) => {
    const p = parseIpFrame(f)
    if (!p.ipChecksumOk || !p.l4ChecksumOk) violated(`frame ${n} of an offload send has a wrong ${p.ipChecksumOk ? 'TCP/UDP' : 'IP'} checksum`)
    if (op.tso && p.id !== ((0x1234 + n) & 0xffff)) violated(`segment ${n} carries IP id ${p.id}`)
    if (op.tso && !op.udp && p.seq !== 1000 + n * op.mss) violated(`segment ${n} carries sequence number ${p.seq}`)
    joined.push(...p.payload)
  })
  if (joined.length !== payload.length || joined.some((b, i) => b !== payload[i])) violated(`the frames of an offload send carry ${joined.length} payload bytes that are not the ${payload.length} sent`)
  return 2 * descriptors + 2 + Math.ceil(op.payload / 4096)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** A frame with the 802.1Q tag the device inserted (type VET, control `special`) removed. */
function untag(f: Uint8Array, vet: number, special: number): Uint8Array {
  if (f.length < 16 || ((f[12]! << 8) | f[13]!) !== vet || ((f[14]! << 8) | f[15]!) !== special) violated(`a frame sent with VLE and CTRL.VME set carries no tag ${vet.toString(16)}/${special.toString(16)}`)
  return new Uint8Array([...f.subarray(0, 12), ...f.subarray(16)])
}

function checkStep(w: World, step: string, cpuPages: number, framesBefore: number, tablesBefore: number, writesBefore: number, time: TimeWatch): void {
  const m = w.m
  time.check(m, step)
  for (const f of m.findings) if (!DEVICE_KINDS.has(f.kind) && !(w.driverCode && DRIVER_CODE_KINDS.has(f.kind))) violated(`a bare machine reported a ${f.kind} finding after ${step}: ${f.message}`)
  checkHostMemory(m, step)
  checkFrameAccounting(m, step)
  checkInterruptLine(m, step)
  const tx = m.nic.counters.tx.descriptors
  if (tx > w.txBudget) violated(`the NIC walked ${tx} transmit descriptors after ${step}, more than one ring's worth per doorbell allows (${w.txBudget})`)
  w.steps++
  const dma = dmaAttempts(m)
  // A TCP segmentation reads its payload segment by segment: a few pieces per frame sent and
  // per page read on top of what its descriptors cost.
  const allowed = (w.txBudget + w.rxBudget) * DMA_PER_DESCRIPTOR + w.steps * 2 + 3 * m.wire.counters.txFrames + Math.ceil(m.nic.dma.counters.bytesRead / PAGE_SIZE)
  if (dma > allowed) violated(`${dma} DMA pieces by ${step}, more than the descriptors the doorbells and frames allowed (${allowed})`)
  const grown = m.ram.materializedFrames - framesBefore
  const limit = cpuPages + (m.nic.dma.counters.writes - writesBefore) + (m.iommu.domains.tableFrames - tablesBefore) + 2
  if (grown > limit) violated(`${grown} RAM frames materialized during ${step}, more than the CPU and the device wrote (${limit})`)
  // Capture mode keeps every transmitted frame by design; the fuzzer drops them as it goes.
  m.wire.transmitted.length = 0
  w.sent.length = 0
}

/** Runs the program; returns how many ops it executed. Throws InvariantViolation on a broken invariant. */
export function runDeviceProgram(program: DeviceProgram): number {
  const c = program.config
  const m = createMachine({
    memory: { size: c.memory },
    iommu: c.iommu ? { enabled: true, iotlbEntries: c.iotlbEntries } : false,
    nic: { dmaAddressBits: c.dmaAddressBits },
    wire: c.wire,
    maxEvents: EVENT_BOUND,
  })
  const w: World = { m, driver: null, payloadArea: 0, sent: [], remapped: false, txBudget: 0, rxBudget: 0, steps: 0, untouched: false, driverCode: false }
  instrument(w)
  const time = new TimeWatch()
  let executed = 0
  for (const [i, op] of program.ops.entries()) {
    const step = `op ${i} ${JSON.stringify(op)}`
    const framesBefore = m.ram.materializedFrames
    const tablesBefore = m.iommu.domains.tableFrames
    const writesBefore = m.nic.dma.counters.writes
    if (!BENIGN.has(op.op)) w.untouched = false
    const cpuPages = hostCall(m, step, () => execute(w, op, c.ringSize)) ?? 0
    if (op.op === 'init') w.untouched = true
    checkStep(w, step, cpuPages, framesBefore, tablesBefore, writesBefore, time)
    executed++
    // Driver code stopped the machine (a hang, an exception): it runs nothing more, and what
    // it reports is the report, with the driver's finding in it.
    if (m.kernel.log.stopped) {
      const r = m.report()
      if (r.outcome !== 'bugcheck' || !r.findings.some((f) => DRIVER_CODE_KINDS.has(f.kind))) violated(`the machine stopped at ${step} but its report says ${r.outcome}`)
      return executed
    }
  }
  const end = hostCall(m, 'the final runUntilIdle', () => m.runUntilIdle())
  if (end === undefined || end.boundHit || !end.completed) violated(`the machine did not reach idle at the end: ${JSON.stringify(end)}`)
  checkStep(w, 'the final runUntilIdle', 0, m.ram.materializedFrames, m.iommu.domains.tableFrames, m.nic.dma.counters.writes, time)
  checkReportAccounting(m, 'the end')
  return executed
}
