// A C miniport's side of the NDIS 6 driver model: its NDIS_MINIPORT_DRIVER_CHARACTERISTICS
// read from emulated memory into handlers NDIS calls, and the structures NDIS hands a handler
// (init, pause and restart parameters, resource lists, OID requests) written into emulated
// memory in their 32-bit layouts (structs.ts) and read back after the call.
//
// The control path's structures are one call's parameters; the data path's NET_BUFFER_LISTs
// are written into memory when NDIS hands them over and read back when the driver hands them
// back (net-objects.ts; docs/DESIGN-c-drivers.md, section 4).
import { hex } from '../../hw/address.js'
import { DriverTrap } from '../../kernel/driver-call.js'
import type {
  CM_PARTIAL_RESOURCE_LIST, DRIVER_OBJECT, NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_MINIPORT_INIT_PARAMETERS, NDIS_OID_REQUEST, NET_BUFFER_LIST,
} from '../../ndis/types.js'
import type { CDriverInstance } from './instance.js'
import type { CNetObjects } from './net-objects.js'
import { readField, writeField, type Layout } from './layout.js'
import {
  CM_PARTIAL_RESOURCE_DESCRIPTOR, CM_PARTIAL_RESOURCE_LIST as RESOURCE_LIST, NDIS_MINIPORT_DRIVER_CHARACTERISTICS as CHARS,
  NDIS_MINIPORT_INIT_PARAMETERS as INIT_PARAMETERS, NDIS_MINIPORT_PAUSE_PARAMETERS, NDIS_MINIPORT_RESTART_PARAMETERS, NDIS_OID_REQUEST as OID_REQUEST,
} from './structs.js'
import { EXCEPTION } from './traps.js'

const u = (x: number | bigint | undefined): number => Number(x ?? 0) >>> 0

/** NDIS_REQUEST_TYPE values whose DATA is SET_INFORMATION (ntddndis.h). */
const SET_REQUEST = 1

/** Handlers a C miniport's characteristics name, and the kind of call each is. */
const HANDLERS = [
  'InitializeHandlerEx', 'HaltHandlerEx', 'UnloadHandler', 'PauseHandler', 'RestartHandler', 'OidRequestHandler', 'SendNetBufferListsHandler',
  'ReturnNetBufferListsHandler', 'CancelSendHandler', 'CheckForHangHandlerEx', 'ResetHandlerEx', 'DevicePnPEventNotifyHandler',
  'ShutdownHandlerEx', 'CancelOidRequestHandler',
] as const

export class CMiniportBridge {
  private readonly c: CDriverInstance
  private readonly objects: CNetObjects
  /** OID requests the driver pended: its C copy, by the address it was given, and NDIS's object. */
  private readonly pendingOids = new Map<number, NDIS_OID_REQUEST>()
  /** The DRIVER_OBJECT DriverEntry was given in emulated memory, and NDIS's object for it. */
  driverObjectVa = 0
  driverObject: DRIVER_OBJECT | null = null

  constructor(c: CDriverInstance, objects: CNetObjects) {
    this.c = c
    this.objects = objects
  }

  /** A function pointer as NDIS or the HAL calls it: the driver's function, entered through the instance. */
  callable(pointer: number, name: string): (...args: number[]) => number {
    const fn = this.c.functionAt(pointer)
    return (...args: number[]): number => {
      if (fn === undefined) {
        // NDIS would jump to whatever the pointer holds: an access violation in NDIS's call.
        throw new DriverTrap(`${name} is ${hex(pointer)}, which is not one of the driver's functions`, EXCEPTION.STATUS_ACCESS_VIOLATION, undefined)
      }
      return Number(this.c.enter(() => fn(...args)) ?? 0)
    }
  }

  /** NDIS_MINIPORT_DRIVER_CHARACTERISTICS at `va`, as NDIS reads it at registration. */
  characteristics(va: number): NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    const m = this.c.kernel.memory
    const field = (f: string): number => readField(m, va, CHARS, f)
    const ptr: Record<string, number> = {}
    for (const h of HANDLERS) ptr[h] = field(h)
    const c = this.c
    const call = (h: (typeof HANDLERS)[number]): ((...args: number[]) => number) => this.callable(ptr[h]!, h)
    const chars: Record<string, unknown> = {
      Header: { Type: field('Header.Type'), Revision: field('Header.Revision'), Size: field('Header.Size') },
      MajorNdisVersion: field('MajorNdisVersion'),
      MinorNdisVersion: field('MinorNdisVersion'),
      MajorDriverVersion: field('MajorDriverVersion'),
      MinorDriverVersion: field('MinorDriverVersion'),
      Flags: field('Flags'),
    }
    const set = (h: (typeof HANDLERS)[number], fn: unknown): void => {
      if (ptr[h] !== 0) chars[h] = fn
    }
    set('InitializeHandlerEx', (handle: unknown, context: unknown, params: NDIS_MINIPORT_INIT_PARAMETERS) => {
      const block = this.initParameters(params)
      try {
        return call('InitializeHandlerEx')(c.handle(handle as object), u(context as number), block)
      } finally {
        c.free(block)
      }
    })
    set('HaltHandlerEx', (context: unknown, action: number) => void call('HaltHandlerEx')(u(context as number), action))
    set('UnloadHandler', () => void call('UnloadHandler')(this.driverObjectVa))
    set('PauseHandler', (context: unknown) => this.withStruct(NDIS_MINIPORT_PAUSE_PARAMETERS, 0x80, (p) => call('PauseHandler')(u(context as number), p)))
    set('RestartHandler', (context: unknown) => this.withStruct(NDIS_MINIPORT_RESTART_PARAMETERS, 0x80, (p) => call('RestartHandler')(u(context as number), p)))
    set('OidRequestHandler', (context: unknown, request: NDIS_OID_REQUEST) => this.oid(call('OidRequestHandler'), u(context as number), request))
    set('CheckForHangHandlerEx', (context: unknown) => (call('CheckForHangHandlerEx')(u(context as number)) & 0xff) !== 0)
    set('ResetHandlerEx', (context: unknown) => {
      const out = c.allocate(4)
      try {
        const status = call('ResetHandlerEx')(u(context as number), out)
        return { status: status >>> 0, addressingReset: c.kernel.memory.read8(out) !== 0 }
      } finally {
        c.free(out)
      }
    })
    set('ShutdownHandlerEx', (context: unknown, action: number) => void call('ShutdownHandlerEx')(u(context as number), action))
    set('CancelOidRequestHandler', (context: unknown, requestId: unknown) => void call('CancelOidRequestHandler')(u(context as number), u(requestId as number)))
    // The data path: the chain NDIS hands over is written into memory first (net-objects.ts).
    const objects = this.objects
    set('SendNetBufferListsHandler', (context: unknown, nbls: NET_BUFFER_LIST, port: number, flags: number) =>
      void call('SendNetBufferListsHandler')(u(context as number), objects.toC(nbls), port, flags))
    set('ReturnNetBufferListsHandler', (context: unknown, nbls: NET_BUFFER_LIST, flags: number) =>
      void call('ReturnNetBufferListsHandler')(u(context as number), objects.toC(nbls), flags))
    set('CancelSendHandler', (context: unknown, id: unknown) => void call('CancelSendHandler')(u(context as number), u(id as number)))
    return chars as unknown as NDIS_MINIPORT_DRIVER_CHARACTERISTICS
  }

  /** A zeroed structure with its NDIS_OBJECT_HEADER, for the length of one call. */
  private withStruct(layout: Layout, type: number, fn: (va: number) => number): number {
    const c = this.c
    const va = c.allocate(layout.size)
    if (va === 0) throw new Error('no memory for a parameter structure')
    try {
      writeField(c.kernel.memory, va, layout, 'Header.Type', type)
      writeField(c.kernel.memory, va, layout, 'Header.Revision', 1)
      writeField(c.kernel.memory, va, layout, 'Header.Size', layout.size)
      return fn(va)
    } finally {
      c.free(va)
    }
  }

  /** NDIS_MINIPORT_INIT_PARAMETERS and its resource list in emulated memory; the caller frees it. */
  private initParameters(params: NDIS_MINIPORT_INIT_PARAMETERS): number {
    const c = this.c
    const m = c.kernel.memory
    const list = params.AllocatedResources
    const count = list.PartialDescriptors.length
    const listBytes = RESOURCE_LIST.offset.PartialDescriptors! + count * CM_PARTIAL_RESOURCE_DESCRIPTOR.size
    const va = c.allocate(INIT_PARAMETERS.size + listBytes)
    if (va === 0) throw new Error('no memory for NDIS_MINIPORT_INIT_PARAMETERS')
    const listVa = va + INIT_PARAMETERS.size
    const set = (field: string, value: number): void => writeField(m, va, INIT_PARAMETERS, field, value)
    set('Header.Type', params.Header.Type)
    set('Header.Revision', params.Header.Revision)
    set('Header.Size', INIT_PARAMETERS.size)
    set('Flags', params.Flags)
    set('AllocatedResources', listVa)
    set('IfIndex', params.IfIndex)
    set('NetLuid', params.NetLuid)
    writeResourceList(c, listVa, list)
    return va
  }

  /** An OID request handed to the driver as NDIS_OID_REQUEST; results read back when it returns or completes. */
  private oid(call: (...args: number[]) => number, context: number, request: NDIS_OID_REQUEST): number {
    const c = this.c
    const m = c.kernel.memory
    const va = c.allocate(OID_REQUEST.size)
    if (va === 0) throw new Error('no memory for NDIS_OID_REQUEST')
    const set = (field: string, value: number): void => writeField(m, va, OID_REQUEST, field, value)
    const data = request.RequestType === SET_REQUEST ? 'DATA.SET_INFORMATION' : 'DATA.QUERY_INFORMATION'
    set('Header.Type', request.Header.Type)
    set('Header.Revision', request.Header.Revision)
    set('Header.Size', OID_REQUEST.size)
    set('RequestType', request.RequestType)
    set('PortNumber', request.PortNumber)
    set('Timeout', request.Timeout)
    set(`${data}.Oid`, request.DATA.Oid)
    set(`${data}.InformationBuffer`, request.DATA.InformationBuffer)
    set(`${data}.InformationBufferLength`, request.DATA.InformationBufferLength)
    let pended = false
    try {
      const status = call(context, va) >>> 0
      if (status === 0x103) {
        pended = true
        this.pendingOids.set(va, request)
      } else {
        this.readBack(va, request)
      }
      return status
    } finally {
      if (!pended) c.free(va)
    }
  }

  private readBack(va: number, request: NDIS_OID_REQUEST): void {
    const m = this.c.kernel.memory
    const data = request.RequestType === SET_REQUEST ? 'DATA.SET_INFORMATION' : 'DATA.QUERY_INFORMATION'
    if (request.RequestType === SET_REQUEST) request.DATA.BytesRead = readField(m, va, OID_REQUEST, `${data}.BytesRead`)
    else request.DATA.BytesWritten = readField(m, va, OID_REQUEST, `${data}.BytesWritten`)
    request.DATA.BytesNeeded = readField(m, va, OID_REQUEST, `${data}.BytesNeeded`)
  }

  /** NdisMOidRequestComplete from C: the pended request's results go back to NDIS's object. */
  completedOid(va: number): NDIS_OID_REQUEST | number {
    const request = this.pendingOids.get(va >>> 0)
    if (request === undefined) return va >>> 0
    this.pendingOids.delete(va >>> 0)
    this.readBack(va >>> 0, request)
    this.c.free(va >>> 0)
    return request
  }
}

/** CM_PARTIAL_RESOURCE_LIST at `va` (packed at 4, as wdm.h declares it). */
export function writeResourceList(c: CDriverInstance, va: number, list: CM_PARTIAL_RESOURCE_LIST): void {
  const m = c.kernel.memory
  writeField(m, va, RESOURCE_LIST, 'Version', list.Version)
  writeField(m, va, RESOURCE_LIST, 'Revision', list.Revision)
  writeField(m, va, RESOURCE_LIST, 'Count', list.PartialDescriptors.length)
  list.PartialDescriptors.forEach((d, i) => {
    const at = va + RESOURCE_LIST.offset.PartialDescriptors! + i * CM_PARTIAL_RESOURCE_DESCRIPTOR.size
    const set = (field: string, value: number): void => writeField(m, at, CM_PARTIAL_RESOURCE_DESCRIPTOR, field, value)
    set('Type', d.Type)
    set('ShareDisposition', d.ShareDisposition)
    set('Flags', d.Flags)
    const range = d.u.Memory ?? d.u.Port
    if (range !== undefined) {
      set('u.Memory.Start', range.Start)
      set('u.Memory.Length', range.Length)
    }
    if (d.u.Interrupt !== undefined) {
      set('u.Interrupt.Level', d.u.Interrupt.Level)
      set('u.Interrupt.Vector', d.u.Interrupt.Vector)
      set('u.Interrupt.Affinity', d.u.Interrupt.Affinity)
    }
  })
}
