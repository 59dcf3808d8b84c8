// An NDIS 6 miniport for the Intel 82540EM, the reference for a correct driver.
//
// Structured as a real one: DriverEntry registers the handlers; init, send, receive,
// interrupt, halt and OIDs each have their own file, and where the adapter's memory comes from
// is one table (memory.ts). Clean in every configuration of `dmalab check` and `handled` for
// every call of its sweep.
import type { NdisApi } from '../../src/ndis/api.js'
import type { NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NET_BUFFER_LIST } from '../../src/ndis/types.js'
import type { Adapter } from './adapter.js'
import { initializeEx } from './init.js'
import { haltEx } from './halt.js'
import { sendNetBufferLists, completeChain, flushQueue } from './send.js'
import { returnNetBufferLists } from './receive.js'
import { oidRequest } from './oid.js'
import { ndisAdapterMemory, type AdapterMemory } from './memory.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, miniportCharacteristics(ndis, () => ndisAdapterMemory))
}

export function registerMiniport(ndis: NdisApi, registryPath: string | undefined, characteristics: NDIS_MINIPORT_DRIVER_CHARACTERISTICS): number {
  const { status } = ndis.NdisMRegisterMiniportDriver(ndis.DriverObject, registryPath ?? '', null, characteristics)
  return status
}

/**
 * The driver's NDIS_MINIPORT_DRIVER_CHARACTERISTICS. `adapterMemory` gives each adapter its
 * memory table when MiniportInitializeEx runs (a driver built on this one passes its own).
 */
export function miniportCharacteristics(ndis: NdisApi, adapterMemory: () => AdapterMemory): NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
  const driverObject = ndis.DriverObject
  return {
    MajorNdisVersion: 6,
    MinorNdisVersion: 20,
    MajorDriverVersion: 1,
    MinorDriverVersion: 0,
    InitializeHandlerEx: (handle, context, params) => initializeEx(ndis, handle, context, params, adapterMemory()),
    HaltHandlerEx: (context, action) => haltEx(context as Adapter, action),
    UnloadHandler: () => ndis.NdisMDeregisterMiniportDriver(driverObject),
    PauseHandler: (context) => pause(context as Adapter),
    RestartHandler: (context) => restart(context as Adapter),
    OidRequestHandler: (context, request) => oidRequest(context as Adapter, request),
    SendNetBufferListsHandler: (context, nbls, port, flags) => sendNetBufferLists(context as Adapter, nbls, port, flags),
    ReturnNetBufferListsHandler: (context, nbls, flags) => returnNetBufferLists(context as Adapter, nbls, flags),
  }
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
