// A machine with the test miniport loaded, for the DMA and NDIS layer tests, and small helpers
// to look at what a run reported.
import { expect } from 'vitest'
import { createMachine, type MachineConfig } from '../../src/index.js'
import type { Machine } from '../../src/machine.js'
import type { NdisApi } from '../../src/ndis/api.js'
import type { Finding } from '../../src/kernel/kinds.js'
import type { MiniportModule } from '../../src/ndis/miniport.js'
import type { NdisHandle } from '../../src/ndis/types.js'
import { testMiniport, type TestAdapter, type TestMiniport, type TestMiniportOptions } from './test-miniport.js'

export interface Loaded {
  readonly m: Machine
  readonly mp: TestMiniport
  readonly a: TestAdapter
  readonly ndis: NdisApi
}

/** Creates a machine (loopback wire unless told otherwise), loads the test miniport, checks it runs. */
export function loadTestMiniport(config: MachineConfig = {}, options: TestMiniportOptions = {}): Loaded {
  const m = createMachine({ wire: 'loopback', ...config })
  const mp = testMiniport(options)
  const loaded = m.load(mp, 'test-miniport')
  expect(loaded.state, JSON.stringify(m.findings)).toBe('running')
  expect(mp.adapter).not.toBeNull()
  return { m, mp, a: mp.adapter!, ndis: loaded.ndis }
}

export function kinds(m: Machine): string[] {
  return m.findings.map((f) => f.kind)
}

/** The one finding of `kind` (fails the test when there is none or more than one). */
export function theFinding(m: Machine, kind: string): Finding {
  const found = m.findings.filter((f) => f.kind === kind)
  expect(found, `findings of kind ${kind} among ${JSON.stringify(kinds(m))}`).toHaveLength(1)
  return found[0]!
}

/** The finding of `kind` (the first, when there are several). */
export function firstFinding(m: Machine, kind: string): Finding {
  const found = m.findings.find((f) => f.kind === kind)
  expect(found, `a finding of kind ${kind} among ${JSON.stringify(kinds(m))}`).toBeDefined()
  return found!
}

/** `test/…/file.test.ts:LINE` of the line that calls this (for asserting a finding's site). */
export function lineHere(offset = 0): string {
  const stack = new Error().stack ?? ''
  const frame = stack.split('\n')[2] ?? ''
  const m = /(test\/[^:()]+):(\d+):\d+/.exec(frame)
  if (m === null) throw new Error(`no test frame in ${frame}`)
  return `${m[1]}:${Number(m[2]) + offset}`
}

export const TWO_POW_32 = 4294967296

/**
 * The least miniport there is, for tests of single calls made during initialization: it
 * registers, sets its registration attributes, runs `initialize` inside MiniportInitializeEx
 * (a number it returns is the status) and `halt` inside MiniportHaltEx. It sends nothing.
 */
export function bareMiniport(initialize: (ndis: NdisApi, handle: NdisHandle) => number | void, halt?: (ndis: NdisApi) => void): MiniportModule {
  return {
    default: ((ndis: NdisApi) => {
      const { status } = ndis.NdisMRegisterMiniportDriver(ndis.DriverObject, '', null, {
        MajorNdisVersion: 6,
        MinorNdisVersion: 20,
        InitializeHandlerEx: (handle) => {
          ndis.NdisMSetMiniportAttributes(handle, {
            Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0 },
            MiniportAdapterContext: {},
            // A bus master: tests register scatter/gather DMA, which needs NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER.
            AttributeFlags: ndis.NDIS_MINIPORT_ATTRIBUTES_HARDWARE_DEVICE | ndis.NDIS_MINIPORT_ATTRIBUTES_BUS_MASTER,
            CheckForHangTimeInSeconds: 0,
            InterfaceType: ndis.NDIS_INTERFACE_TYPE_PCI,
          })
          return initialize(ndis, handle) ?? ndis.NDIS_STATUS_SUCCESS
        },
        HaltHandlerEx: () => halt?.(ndis),
        PauseHandler: () => ndis.NDIS_STATUS_SUCCESS,
        RestartHandler: () => ndis.NDIS_STATUS_SUCCESS,
        // Sets are accepted (TCP/IP's packet filter and multicast list); it indicates nothing anyway.
        OidRequestHandler: (_c, request) => (request.RequestType === ndis.NdisRequestSetInformation ? ndis.NDIS_STATUS_SUCCESS : ndis.NDIS_STATUS_NOT_SUPPORTED),
        SendNetBufferListsHandler: (_c, nbls) => {
          for (let nbl: typeof nbls | null = nbls; nbl !== null; nbl = nbl.Next) nbl.Status = ndis.NDIS_STATUS_FAILURE
          ndis.NdisMSendNetBufferListsComplete(ndis.DriverObject as never, nbls, 0)
        },
        ReturnNetBufferListsHandler: () => {},
      })
      return status
    }) as MiniportModule['default'],
  }
}
