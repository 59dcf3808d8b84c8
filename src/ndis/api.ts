// The `ndis` object a miniport's DriverEntry receives: every routine and constant a driver may
// use, bound to one machine (no globals, so many machines can run in one process).
import * as C from './constants.js'
import { NDIS_OFFLOAD_CONSTANTS } from './offload.js'
import { DMA_FLAGS, IO_ALLOCATION_ACTION } from '../kernel/hal.js'
import type { NdisRoutines } from './api-types.js'
import type { KernelApi } from '../kernel/api.js'
import type { Ndis5Constants, Ndis5Routines } from './v5/api.js'
import type { IoPortRoutines } from './ports.js'

export const NDIS_CONSTANTS = {
  ...C.NDIS_STATUS,
  ...C.NDIS_MEMORY,
  ...C.NDIS_SG_DMA,
  ...C.NDIS_OBJECT_TYPE,
  ...C.NDIS_HALT_ACTION,
  ...C.NDIS_REQUEST_TYPE,
  ...C.OID,
  ...C.NDIS_PACKET_TYPE,
  ...C.NDIS_FLAGS,
  ...C.NDIS_MEDIUM,
  ...C.NDIS_NB_CONSTANTS,
  ...C.CM_RESOURCE_TYPE,
  ...C.DEVICE_DESCRIPTION_VERSION,
  ...NDIS_OFFLOAD_CONSTANTS,
  ...IO_ALLOCATION_ACTION,
  ...DMA_FLAGS,
} as const

/**
 * Constants as a driver holds them: a `number`, not the literal type of one value, so a status
 * variable can take another status (`let s = ndis.NDIS_STATUS_SUCCESS; s = ndis.NDIS_STATUS_FAILURE`),
 * as an NDIS_STATUS variable does in C. Routines keep their types.
 */
export type Widened<T> = { readonly [K in keyof T]: T[K] extends number ? number : T[K] }

export type NdisConstants = Widened<typeof NDIS_CONSTANTS>
/**
 * Everything a miniport may call: the kernel's Ex/Mm/Io routines, the HAL's and NDIS's, for
 * both driver models (NDIS 6 and NDIS 5.1; the registration routine a driver calls picks one).
 */
export type NdisApi = Widened<KernelApi> & NdisConstants & NdisRoutines & Widened<Ndis5Constants> & Ndis5Routines & IoPortRoutines
export type { NdisRoutines, DMA_ADAPTER, DMA_OPERATIONS } from './api-types.js'
export type { Ndis5Routines } from './v5/api.js'
