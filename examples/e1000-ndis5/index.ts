// An NDIS 5.1 miniport for the Intel 82540EM, the reference for a correct NDIS 5 driver.
//
// Written the way seed document 000 describes an NDIS 5 NIC driver: its context area comes
// from NdisAllocateMemory and is handed to NdisMSetAttributesEx; contiguous noncached memory
// (the transmit staging area) is allocated only inside MiniportInitialize, below the NIC's
// 4 GiB reach, with a smaller-blocks fallback; every send is mapped through map registers,
// which bounce data above 4 GiB. Deserialized, bus master, receive by packet indication. Clean
// in every configuration of `dmalab check`, and `handled` for every call of its sweep.
import type { NdisApi } from '../../src/ndis/api.js'
import type { NDIS_MINIPORT_CHARACTERISTICS, NDIS_PACKET } from '../../src/ndis/v5/types.js'
import type { Driver, Hooks } from './adapter.js'
import { halt, pnpEventNotify, shutdown } from './halt.js'
import { miniportInitialize } from './init.js'
import { checkForHang, disableInterrupt, enableInterrupt, handleInterrupt, isr, reset } from './interrupt.js'
import { defaultHooks } from './memory.js'
import { queryInformation, setInformation } from './oid.js'
import { returnPacket } from './receive.js'
import { cancelSendPackets, send, sendPackets } from './send.js'

/** sizeof(NDIS51_MINIPORT_CHARACTERISTICS) on x64 (ndis.h). */
const NDIS51_CHARACTERISTICS_BYTES = 0xf0

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return driverEntry(ndis, registryPath, defaultHooks)
}

/** DriverEntry with this driver's hooks replaced where a buggy variant differs (adapter.ts Hooks). */
export function driverEntry(ndis: NdisApi, registryPath: string | undefined, hooks: Hooks): number {
  const { ndisWrapperHandle } = ndis.NdisMInitializeWrapper(ndis.DriverObject, registryPath ?? '', null)
  if (ndisWrapperHandle === null) return ndis.NDIS_STATUS_FAILURE
  const driver: Driver = { ndis, hooks, adapters: new Map(), wrapper: ndisWrapperHandle }
  const status = ndis.NdisMRegisterMiniport(ndisWrapperHandle, characteristics(driver), NDIS51_CHARACTERISTICS_BYTES)
  // NdisTerminateWrapper: a DriverEntry that fails after NdisMInitializeWrapper releases the wrapper.
  if (status !== ndis.NDIS_STATUS_SUCCESS) ndis.NdisTerminateWrapper(ndisWrapperHandle, null)
  return status
}

function characteristics(driver: Driver): NDIS_MINIPORT_CHARACTERISTICS {
  return {
    MajorNdisVersion: 5,
    MinorNdisVersion: 1,
    InitializeHandler: (media, _count, handle, configurationContext) => miniportInitialize(driver, media, handle, configurationContext),
    HaltHandler: (context) => halt(driver, context),
    QueryInformationHandler: (context, oid, buffer, length) => queryInformation(driver, context, oid, buffer, length),
    SetInformationHandler: (context, oid, buffer, length) => setInformation(driver, context, oid, buffer, length),
    ResetHandler: (context) => reset(driver, context),
    CheckForHangHandler: (context) => checkForHang(driver, context),
    ISRHandler: (context) => isr(driver, context),
    HandleInterruptHandler: (context) => handleInterrupt(driver, context),
    EnableInterruptHandler: (context) => enableInterrupt(driver, context),
    DisableInterruptHandler: (context) => disableInterrupt(driver, context),
    ...(driver.hooks.sendEntry === 'MiniportSend'
      ? { SendHandler: (context: unknown, packet: NDIS_PACKET) => send(driver, context, packet) }
      : { SendPacketsHandler: (context: unknown, packets: NDIS_PACKET[], count: number) => sendPackets(driver, context, packets, count) }),
    ReturnPacketHandler: (context, packet) => returnPacket(driver, context, packet),
    AdapterShutdownHandler: (context) => shutdown(driver, context),
    CancelSendPacketsHandler: (context, cancelId) => cancelSendPackets(driver, context, cancelId),
    PnPEventNotifyHandler: (context, event) => pnpEventNotify(driver, context, event),
  }
}
