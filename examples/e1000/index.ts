// An NDIS 6 miniport for the Intel 82540EM, structured as a real one: DriverEntry registers
// the handlers; init, send, receive, interrupt, halt and OIDs each have their own file.
// It is the reference for "correct": clean in every configuration of `dmalab check` and
// `handled` for every call of its sweep.
import type { NdisApi } from '../../src/ndis/api.js'
import type { DRIVER_OBJECT, NET_BUFFER_LIST } from '../../src/ndis/types.js'
import type { Adapter } from './adapter.js'
import { initializeEx } from './init.js'
import { haltEx } from './halt.js'
import { sendNetBufferLists, completeChain, flushQueue } from './send.js'
import { returnNetBufferLists } from './receive.js'
import { oidRequest } from './oid.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  const driverObject: DRIVER_OBJECT = ndis.DriverObject
  const { status } = ndis.NdisMRegisterMiniportDriver(driverObject, registryPath ?? '', null, {
    MajorNdisVersion: 6,
    MinorNdisVersion: 20,
    MajorDriverVersion: 1,
    MinorDriverVersion: 0,
    InitializeHandlerEx: (handle, context, params) => initializeEx(ndis, handle, context, params),
    HaltHandlerEx: (context, action) => haltEx(context as Adapter, action),
    UnloadHandler: () => ndis.NdisMDeregisterMiniportDriver(driverObject),
    PauseHandler: (context) => pause(context as Adapter),
    RestartHandler: (context) => restart(context as Adapter),
    OidRequestHandler: (context, request) => oidRequest(context as Adapter, request),
    SendNetBufferListsHandler: (context, nbls, port, flags) => sendNetBufferLists(context as Adapter, nbls, port, flags),
    ReturnNetBufferListsHandler: (context, nbls, flags) => returnNetBufferLists(context as Adapter, nbls, flags),
  })
  return status
}

/** MiniportPause: stop taking sends; done once every send and indication is back. */
function pause(a: Adapter): number {
  const ndis = a.ndis
  ndis.NdisAcquireSpinLock(a.lock!)
  const aborted: NET_BUFFER_LIST | null = flushQueue(a, ndis.NDIS_STATUS_PAUSED)
  const idle = a.rxIndicated === 0 && a.txFree === a.txCount
  if (idle) a.paused = true
  else a.pausing = true
  ndis.NdisReleaseSpinLock(a.lock!)
  completeChain(a, aborted, false)
  return idle ? ndis.NDIS_STATUS_SUCCESS : ndis.NDIS_STATUS_PENDING
}

function restart(a: Adapter): number {
  a.paused = false
  a.pausing = false
  return a.ndis.NDIS_STATUS_SUCCESS
}
