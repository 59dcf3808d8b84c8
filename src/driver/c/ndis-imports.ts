// The NDIS routines a C miniport imports (ndis.h), adapted to the `ndis` object every driver
// gets: C's out-parameters are written through the driver's pointers, structures it passes are
// read from emulated memory in their 32-bit layouts, NDIS objects become the 32-bit handles the
// driver holds (CDriverInstance.handle) and back.
import { DRIVER_OBJECT, NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES as GENERAL, NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES as REGISTRATION, UNICODE_STRING } from './structs.js'
import { readField } from './layout.js'
import type { CDriverInstance } from './instance.js'
import type { CMiniportBridge } from './miniport.js'
import type { NDIS_MINIPORT_ADAPTER_ATTRIBUTES } from '../../ndis/types.js'
import { byValue64, routine, type CRoutines } from './imports.js'

const u = (x: number): number => x >>> 0

/** NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_*_ATTRIBUTES (ntddndis.h). */
const REGISTRATION_TYPE = 0x9e
const GENERAL_TYPE = 0x9f

/** The attributes structure at `va` as NDIS reads it (by its header's type). */
function attributes(c: CDriverInstance, va: number): NDIS_MINIPORT_ADAPTER_ATTRIBUTES {
  const m = c.kernel.memory
  const type = m.read8(va)
  const header = { Type: type, Revision: m.read8(u(va + 1)), Size: m.read16(u(va + 2)) }
  if (type === REGISTRATION_TYPE) {
    const f = (name: string): number => readField(m, va, REGISTRATION, name)
    return {
      Header: header,
      MiniportAdapterContext: f('MiniportAdapterContext'),
      AttributeFlags: f('AttributeFlags'),
      CheckForHangTimeInSeconds: f('CheckForHangTimeInSeconds'),
      InterfaceType: f('InterfaceType'),
    }
  }
  if (type === GENERAL_TYPE) {
    const f = (name: string): number => readField(m, va, GENERAL, name)
    const macLength = Math.min(f('MacAddressLength'), 32)
    const oids = f('SupportedOidList')
    const oidCount = Math.min(f('SupportedOidListLength') >>> 2, 1024)
    return {
      Header: header,
      MediaType: f('MediaType'),
      MtuSize: f('MtuSize'),
      MaxXmitLinkSpeed: f('MaxXmitLinkSpeed'),
      MaxRcvLinkSpeed: f('MaxRcvLinkSpeed'),
      XmitLinkSpeed: f('XmitLinkSpeed'),
      RcvLinkSpeed: f('RcvLinkSpeed'),
      MediaConnectState: f('MediaConnectState'),
      LookaheadSize: f('LookaheadSize'),
      MacAddressLength: macLength,
      PermanentMacAddress: m.readBytes(u(va + GENERAL.offset.PermanentMacAddress!), macLength),
      CurrentMacAddress: m.readBytes(u(va + GENERAL.offset.CurrentMacAddress!), macLength),
      SupportedPacketFilters: f('SupportedPacketFilters'),
      ...(oids === 0 ? {} : { SupportedOidList: Array.from({ length: oidCount }, (_, i) => m.read32(u(oids + 4 * i))) }),
    }
  }
  // Another type: NDIS refuses it; the header is what it looks at.
  return { Header: header } as unknown as NDIS_MINIPORT_ADAPTER_ATTRIBUTES
}

/** The UTF-16 string a UNICODE_STRING at `va` holds (Length in bytes, at most 64 KiB). */
export function unicodeString(c: CDriverInstance, va: number): string {
  if (va === 0) return ''
  const m = c.kernel.memory
  const length = readField(m, va, UNICODE_STRING, 'Length')
  const buffer = readField(m, va, UNICODE_STRING, 'Buffer')
  let s = ''
  for (let i = 0; i + 1 < length; i += 2) s += String.fromCharCode(m.read16(u(buffer + i)))
  return s
}

export function ndisRoutines(c: CDriverInstance, bridge: CMiniportBridge): CRoutines {
  const n = (): CDriverInstance['ndis'] => c.ndis
  const mem = c.kernel.memory
  return {
    NdisMRegisterMiniportDriver: routine('iiiii', 'i', (driverObject: number, registryPath: number, context: number, characteristics: number, handleOut: number) => {
      // NDIS checks the DriverObject is the one DriverEntry got; anything else goes as itself.
      const object = u(driverObject) === bridge.driverObjectVa ? bridge.driverObject : { DriverName: `(not a DRIVER_OBJECT: 0x${u(driverObject).toString(16)})`, DriverUnload: null }
      const chars = bridge.characteristics(u(characteristics))
      const { status, ndisMiniportDriverHandle } = n().NdisMRegisterMiniportDriver(object as never, unicodeString(c, u(registryPath)), u(context), chars)
      mem.write32(u(handleOut), c.handle(ndisMiniportDriverHandle))
      return status
    }),
    NdisMDeregisterMiniportDriver: routine('i', '', (handle: number) => n().NdisMDeregisterMiniportDriver(c.object(handle))),
    NdisMSetMiniportAttributes: routine('ii', 'i', (handle: number, attrs: number) => n().NdisMSetMiniportAttributes(c.object(handle) as never, attributes(c, u(attrs)))),
    NdisMPauseComplete: routine('i', '', (handle: number) => n().NdisMPauseComplete(c.object(handle) as never)),
    NdisMOidRequestComplete: routine('iii', '', (handle: number, request: number, status: number) =>
      n().NdisMOidRequestComplete(c.object(handle) as never, bridge.completedOid(request) as never, u(status))),

    NdisMMapIoSpace: routine('iiii', 'i', (vaOut: number, handle: number, physical: number, length: number) => {
      const { status, virtualAddress } = n().NdisMMapIoSpace(c.object(handle) as never, byValue64(c, physical), u(length))
      mem.write32(u(vaOut), virtualAddress)
      return status
    }),
    NdisMUnmapIoSpace: routine('iii', '', (handle: number, va: number, length: number) => n().NdisMUnmapIoSpace(c.object(handle) as never, u(va), u(length))),
    NdisMGetBusData: routine('iiiii', 'i', (handle: number, space: number, offset: number, buffer: number, length: number) => {
      const { bytesRead, buffer: bytes } = n().NdisMGetBusData(c.object(handle) as never, u(space), u(offset), u(length))
      mem.writeFrom(u(buffer), bytes, 0, Math.min(bytesRead, bytes.length))
      return bytesRead
    }),
    NdisMSetBusData: routine('iiiii', 'i', (handle: number, space: number, offset: number, buffer: number, length: number) =>
      n().NdisMSetBusData(c.object(handle) as never, u(space), u(offset), mem.readBytes(u(buffer), Math.min(u(length), 256)), u(length))),

    NdisAllocateMemory: routine('iiii', 'i', (vaOut: number, length: number, flags: number, highest: number) => {
      const { status, virtualAddress } = n().NdisAllocateMemory(u(length), u(flags), byValue64(c, highest))
      mem.write32(u(vaOut), virtualAddress)
      return status
    }),
    NdisAllocateMemoryWithTag: routine('iii', 'i', (vaOut: number, length: number, tag: number) => {
      const { status, virtualAddress } = n().NdisAllocateMemoryWithTag(u(length), u(tag))
      mem.write32(u(vaOut), virtualAddress)
      return status
    }),
    NdisAllocateMemoryWithTagPriority: routine('iiii', 'i', (handle: number, length: number, tag: number, priority: number) =>
      n().NdisAllocateMemoryWithTagPriority(c.object(handle) as never, u(length), u(tag), u(priority))),
    NdisFreeMemory: routine('iii', '', (va: number, length: number, flags: number) => n().NdisFreeMemory(u(va), u(length), u(flags))),
    NdisFreeMemoryWithTagPriority: routine('iii', '', (handle: number, va: number, tag: number) => n().NdisFreeMemoryWithTagPriority(c.object(handle) as never, u(va), u(tag))),

    NdisStallExecution: routine('i', '', (us: number) => n().NdisStallExecution(u(us))),
    NdisMSleep: routine('i', '', (us: number) => n().NdisMSleep(u(us))),
  }
}

/** Writes the DRIVER_OBJECT DriverEntry receives (Type IO_TYPE_DRIVER = 4) and its name. */
export function writeDriverObject(c: CDriverInstance, name: string): number {
  const m = c.kernel.memory
  const nameBytes = name.length * 2
  const va = c.allocate(DRIVER_OBJECT.size + nameBytes)
  if (va === 0) return 0
  const buffer = va + DRIVER_OBJECT.size
  m.write16(va, 4)
  m.write16(va + 2, DRIVER_OBJECT.size)
  m.write16(va + DRIVER_OBJECT.offset['DriverName.Length']!, nameBytes)
  m.write16(va + DRIVER_OBJECT.offset['DriverName.MaximumLength']!, nameBytes)
  m.write32(va + DRIVER_OBJECT.offset['DriverName.Buffer']!, buffer)
  for (let i = 0; i < name.length; i++) m.write16(buffer + 2 * i, name.charCodeAt(i))
  return va
}

/** A UNICODE_STRING and its buffer (the registry path DriverEntry receives). */
export function writeUnicodeString(c: CDriverInstance, text: string): number {
  const m = c.kernel.memory
  const bytes = text.length * 2
  const va = c.allocate(UNICODE_STRING.size + bytes + 2)
  if (va === 0) return 0
  const buffer = va + UNICODE_STRING.size
  m.write16(va, bytes)
  m.write16(va + 2, bytes + 2)
  m.write32(va + 4, buffer)
  for (let i = 0; i < text.length; i++) m.write16(buffer + 2 * i, text.charCodeAt(i))
  return va
}
