// VT-d translation structures in memory (legacy mode, second-level translation only) and the
// fault reason codes. Shared by the hardware walker (hw/iommu) and the OS's table builder
// (dma/iommu-domains): the hardware vendor publishes the formats, both sides read them.
//
// Facts: Intel VT-d specification 9.1 (root entry), 9.3 (context entry), 9.8 (second-level
// paging entries), 7.1.3 / Appendix A (non-recoverable fault reasons). Every entry is read as
// 32-bit halves so a high half is seen exactly (DESIGN "Addresses").
import { u32 } from 'buffer-layout'
import { declareLayout } from '../layout.js'

/** Root entry (16 bytes): P bit 0, context-table pointer bits 63:12; the upper qword is reserved. */
export const ROOT_ENTRY = declareLayout('VT-d root entry', {
  low: u32,
  high: u32,
  reservedLow: u32,
  reservedHigh: u32,
})

/**
 * Context entry (16 bytes): P bit 0, FPD bit 1, TT bits 3:2, second-level page-table pointer
 * bits 63:12; then AW bits 66:64, DID bits 87:72.
 */
export const CONTEXT_ENTRY = declareLayout('VT-d context entry', {
  low: u32,
  high: u32,
  widthAndDomain: u32,
  reserved: u32,
})

/** Second-level paging entry (8 bytes): R bit 0, W bit 1, PS bit 7, address bits 51:12. */
export const SL_ENTRY = declareLayout('VT-d second-level paging entry', {
  low: u32,
  high: u32,
})

export const ROOT_PRESENT = 0x1
/** Root entry bits 11:1 are reserved. */
export const ROOT_RESERVED_LOW = 0xffe

export const CONTEXT_PRESENT = 0x1
export const CONTEXT_FPD = 0x2
export const CONTEXT_TT_SHIFT = 2
export const CONTEXT_TT_MASK = 0xc
/** Context bits 11:4 are reserved. */
export const CONTEXT_RESERVED_LOW = 0xff0
/** Translation types: untranslated requests through the second-level tables, the same with a
 * device TLB allowed, and pass-through (address = physical address). 3 is reserved. */
export const TT_TRANSLATE = 0
export const TT_DEVICE_TLB = 1
export const TT_PASS_THROUGH = 2
/** AW field: 2 = 48-bit address width, 4-level tables (the only width this IOMMU supports). */
export const AW_48_BIT_4_LEVEL = 2
export const CONTEXT_AW_MASK = 0x7
export const CONTEXT_DID_SHIFT = 8
export const CONTEXT_DID_MASK = 0xffff
/** Context word 2 bit 7 and bits 31:24 are reserved. */
export const CONTEXT_RESERVED_WIDTH_WORD = 0xff00_0080

export const SL_READ = 0x1
export const SL_WRITE = 0x2
/** PS: a large page. This IOMMU reports no large-page support (CAP.SLLPS = 0), so PS is reserved. */
export const SL_PAGE_SIZE = 0x80

/** 4-level tables cover 48 bits of input address. */
export const ADDRESS_WIDTH_BITS = 48
export const LEVELS = 4
export const ENTRIES_PER_TABLE = 512

const LEVEL_SPAN = [0, 1, 2 ** 9, 2 ** 18, 2 ** 27] as const

/** Index into the table at `level` (4 = top, 1 = leaf) for a page number (`&` keeps the low 32 bits, enough for 9). */
export function levelIndex(page: number, level: number): number {
  return Math.floor(page / LEVEL_SPAN[level]!) & (ENTRIES_PER_TABLE - 1)
}

/** VT-d Appendix A fault reasons used by this model. */
export const FAULT_REASON = {
  rootNotPresent: 0x1,
  contextNotPresent: 0x2,
  contextInvalid: 0x3,
  beyondAddressWidth: 0x4,
  writeNotPermitted: 0x5,
  readNotPermitted: 0x6,
  pagingEntryAccess: 0x7,
  rootTableAccess: 0x8,
  contextTableAccess: 0x9,
  rootReserved: 0xa,
  contextReserved: 0xb,
  pagingEntryReserved: 0xc,
  translationTypeBlocked: 0xd,
} as const

export type FaultReason = (typeof FAULT_REASON)[keyof typeof FAULT_REASON]

const REASON_TEXT: Record<number, string> = {
  0x1: 'root entry not present',
  0x2: 'context entry not present',
  0x3: 'invalid context entry',
  0x4: 'address beyond the address width',
  0x5: 'write not permitted',
  0x6: 'read not permitted',
  0x7: 'error accessing a second-level paging entry',
  0x8: 'error accessing the root table',
  0x9: 'error accessing a context table',
  0xa: 'reserved bits set in a root entry',
  0xb: 'reserved bits set in a context entry',
  0xc: 'reserved bits set in a second-level paging entry',
  0xd: 'request blocked by the context entry translation type',
}

export function faultReasonText(reason: number): string {
  return REASON_TEXT[reason] ?? `fault reason ${reason}`
}
