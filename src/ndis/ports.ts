// Port I/O for miniports whose NIC has an I/O BAR (NDIS 5.1 and NDIS 6 alike):
// NdisMRegisterIoPortRange claims a range of the adapter's port resource in MiniportInitialize[Ex]
// and returns the PortOffset the NdisRawReadPort* / NdisRawWritePort* routines take;
// NdisMDeregisterIoPortRange gives it back in MiniportHalt[Ex] (or when initialization fails).
//
// Reference pages of those names: NdisMRegisterIoPortRange runs at PASSIVE_LEVEL, only from
// MiniportInitialize, after NdisMSetAttributes[Ex] (NDIS 6: the registration attributes); it
// returns NDIS_STATUS_RESOURCE_CONFLICT when the range cannot be claimed for the NIC (here: it is
// not within the port resource PnP assigned) and NDIS_STATUS_FAILURE for a range outside the port
// space. "The NdisRawXxx functions cannot be used until NdisMRegisterIoPortRange completes
// successfully." On x86 and x64 the mapped port is the bus port itself, so PortOffset is
// InitialPort. Buffer variants move Length elements between the port and memory at Buffer.
import { hex } from '../hw/address.js'
import type { IoSize } from '../hw/io-ports.js'
import { PASSIVE_LEVEL } from '../kernel/irql.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { NDIS_STATUS } from './constants.js'
import type { NdisContext } from './context.js'
import { NDIS5_STATUS } from './v5/constants.js'

/** The routines (NdisApi). */
export interface IoPortRoutines {
  NdisMRegisterIoPortRange(MiniportAdapterHandle: object, InitialPort: number, NumberOfPorts: number): { status: number; portOffset: number }
  NdisMDeregisterIoPortRange(MiniportAdapterHandle: object, InitialPort: number, NumberOfPorts: number, PortOffset: number): void
  NdisRawReadPortUchar(Port: number): number
  NdisRawReadPortUshort(Port: number): number
  NdisRawReadPortUlong(Port: number): number
  NdisRawWritePortUchar(Port: number, Data: number): void
  NdisRawWritePortUshort(Port: number, Data: number): void
  NdisRawWritePortUlong(Port: number, Data: number): void
  NdisRawReadPortBufferUchar(Port: number, Buffer: number, Length: number): void
  NdisRawReadPortBufferUshort(Port: number, Buffer: number, Length: number): void
  NdisRawReadPortBufferUlong(Port: number, Buffer: number, Length: number): void
  NdisRawWritePortBufferUchar(Port: number, Buffer: number, Length: number): void
  NdisRawWritePortBufferUshort(Port: number, Buffer: number, Length: number): void
  NdisRawWritePortBufferUlong(Port: number, Buffer: number, Length: number): void
}

const PORT_SPACE = 0x1_0000
const SUFFIX: Record<IoSize, string> = { 1: 'Uchar', 2: 'Ushort', 4: 'Ulong' }

export class IoPorts {
  private readonly ctx: NdisContext

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  routines(): IoPortRoutines {
    return {
      NdisMRegisterIoPortRange: (h, port, count) => this.register(h, port, count),
      NdisMDeregisterIoPortRange: (h, port, count, offset) => this.deregister(h, port, count, offset),
      NdisRawReadPortUchar: (port) => this.read(port, 1),
      NdisRawReadPortUshort: (port) => this.read(port, 2),
      NdisRawReadPortUlong: (port) => this.read(port, 4),
      NdisRawWritePortUchar: (port, data) => this.write(port, 1, data),
      NdisRawWritePortUshort: (port, data) => this.write(port, 2, data),
      NdisRawWritePortUlong: (port, data) => this.write(port, 4, data),
      NdisRawReadPortBufferUchar: (port, buffer, length) => this.readBuffer(port, 1, buffer, length),
      NdisRawReadPortBufferUshort: (port, buffer, length) => this.readBuffer(port, 2, buffer, length),
      NdisRawReadPortBufferUlong: (port, buffer, length) => this.readBuffer(port, 4, buffer, length),
      NdisRawWritePortBufferUchar: (port, buffer, length) => this.writeBuffer(port, 1, buffer, length),
      NdisRawWritePortBufferUshort: (port, buffer, length) => this.writeBuffer(port, 2, buffer, length),
      NdisRawWritePortBufferUlong: (port, buffer, length) => this.writeBuffer(port, 4, buffer, length),
    }
  }

  private register(handle: unknown, InitialPort: number, NumberOfPorts: number): { status: number; portOffset: number } {
    const ctx = this.ctx
    const routine = 'NdisMRegisterIoPortRange'
    ctx.kernel.log.throwIfStopped()
    const fail = (status: number): { status: number; portOffset: number } => ({ status, portOffset: 0 })
    if (!ctx.checkHandle(routine, handle)) return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    requireIrql(ctx.kernel, routine, PASSIVE_LEVEL)
    if (!ctx.inInitialize) {
      ctx.violation('init-only-call', `${routine} outside ${ctx.initializeHandler}: NDIS allows it only while the miniport initializes its adapter`, undefined, undefined, { routine, phase: ctx.kernel.phase })
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (!ctx.registrationAttributesSet) {
      ctx.callOrder(`${routine} before ${ctx.model === 'ndis5' ? 'NdisMSetAttributes[Ex]' : 'NdisMSetMiniportAttributes (registration attributes)'}: ${ctx.initializeHandler} must set its attributes before it claims hardware resources`)
    }
    if (!Number.isSafeInteger(InitialPort) || !Number.isSafeInteger(NumberOfPorts) || InitialPort < 0 || NumberOfPorts <= 0 || InitialPort + NumberOfPorts > PORT_SPACE) {
      ctx.violation('ndis-bad-argument', `${routine}: InitialPort ${String(InitialPort)} and NumberOfPorts ${String(NumberOfPorts)} are not a range of the 64 KiB I/O port space`)
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    const resources = this.portResources()
    if (!resources.some((r) => InitialPort >= r.start && InitialPort + NumberOfPorts <= r.start + r.length)) {
      const have = resources.length === 0 ? 'the adapter has no port resource' : `the adapter's port resource${resources.length === 1 ? ' is' : 's are'} ${resources.map((r) => `${hex(r.start)} (+${r.length})`).join(', ')}`
      ctx.violation('ndis-bad-argument', `${routine} of ports ${hex(InitialPort)} (+${NumberOfPorts}): not within the I/O ports PnP assigned the NIC (${have}; take them from NdisMQueryAdapterResources / the CmResourceTypePort descriptor): NDIS_STATUS_RESOURCE_CONFLICT`)
      return fail(NDIS5_STATUS.NDIS_STATUS_RESOURCE_CONFLICT)
    }
    for (const [base, count] of ctx.ioPortRanges) {
      if (InitialPort < base + count && base < InitialPort + NumberOfPorts) {
        ctx.violation('ndis-bad-argument', `${routine} of ports ${hex(InitialPort)} (+${NumberOfPorts}): they overlap ${hex(base)} (+${count}), registered already`)
        return fail(NDIS5_STATUS.NDIS_STATUS_RESOURCE_CONFLICT)
      }
    }
    ctx.ioPortRanges.set(InitialPort, NumberOfPorts)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, portOffset: InitialPort }
  }

  private deregister(handle: unknown, InitialPort: number, NumberOfPorts: number, PortOffset: number): void {
    const ctx = this.ctx
    const routine = 'NdisMDeregisterIoPortRange'
    ctx.kernel.log.throwIfStopped()
    if (!ctx.checkHandle(routine, handle)) return
    requireIrql(ctx.kernel, routine, PASSIVE_LEVEL)
    const count = ctx.ioPortRanges.get(InitialPort)
    if (count === undefined || count !== NumberOfPorts || PortOffset !== InitialPort) {
      ctx.violation('ndis-bad-argument', `${routine}(${String(InitialPort)}, ${String(NumberOfPorts)}, PortOffset ${String(PortOffset)}): not a range NdisMRegisterIoPortRange registered with these values`)
      return
    }
    ctx.ioPortRanges.delete(InitialPort)
  }

  private read(port: number, size: IoSize): number {
    if (!this.allowed(`NdisRawReadPort${SUFFIX[size]}`, port, size)) return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff
    const io = this.ctx.kernel.bus.io
    return size === 1 ? io.in8(port) : size === 2 ? io.in16(port) : io.in32(port)
  }

  private write(port: number, size: IoSize, data: number): void {
    if (!this.allowed(`NdisRawWritePort${SUFFIX[size]}`, port, size)) return
    const io = this.ctx.kernel.bus.io
    const value = Number(data)
    if (size === 1) io.out8(port, value)
    else if (size === 2) io.out16(port, value)
    else io.out32(port, value)
  }

  private readBuffer(port: number, size: IoSize, buffer: number, length: number): void {
    const routine = `NdisRawReadPortBuffer${SUFFIX[size]}`
    if (!this.bufferArguments(routine, length) || !this.allowed(routine, port, size)) return
    const m = this.ctx.kernel.memory
    const io = this.ctx.kernel.bus.io
    for (let i = 0; i < length; i++) {
      const at = buffer + i * size
      if (size === 1) m.write8(at, io.in8(port))
      else if (size === 2) m.write16(at, io.in16(port))
      else m.write32(at, io.in32(port))
    }
  }

  private writeBuffer(port: number, size: IoSize, buffer: number, length: number): void {
    const routine = `NdisRawWritePortBuffer${SUFFIX[size]}`
    if (!this.bufferArguments(routine, length) || !this.allowed(routine, port, size)) return
    const m = this.ctx.kernel.memory
    const io = this.ctx.kernel.bus.io
    for (let i = 0; i < length; i++) {
      const at = buffer + i * size
      if (size === 1) io.out8(port, m.read8(at))
      else if (size === 2) io.out16(port, m.read16(at))
      else io.out32(port, m.read32(at))
    }
  }

  private bufferArguments(routine: string, length: number): boolean {
    if (Number.isSafeInteger(length) && length >= 0) return true
    this.ctx.violation('ndis-bad-argument', `${routine}: Length ${String(length)} must be a count of elements`)
    return false
  }

  /** A raw access must fall within a registered range. */
  private allowed(routine: string, port: number, size: IoSize): boolean {
    const ctx = this.ctx
    ctx.kernel.log.throwIfStopped()
    if (Number.isSafeInteger(port)) {
      for (const [base, count] of ctx.ioPortRanges) if (port >= base && port + size <= base + count) return true
    }
    const registered = ctx.ioPortRanges.size === 0 ? 'no port range is registered' : `registered: ${[...ctx.ioPortRanges].map(([b, c]) => `${hex(b)} (+${c})`).join(', ')}`
    ctx.violation('ndis-bad-argument', `${routine}(${typeof port === 'number' ? hex(port) : String(port)}): not a port of a range NdisMRegisterIoPortRange registered (${registered}); NdisRaw port routines work only on those`)
    return false
  }

  private portResources(): Array<{ start: number; length: number }> {
    const pci = this.ctx.nic.pci
    return pci.bars.filter((b) => b.space === 'io' && pci.barAddress(b.index) !== 0).map((b) => ({ start: pci.barAddress(b.index), length: b.size }))
  }
}
