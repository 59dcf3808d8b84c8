// Legacy descriptor formats of the 8254x (manual 3.2.3 receive, 3.3.3 transmit), declared once.
// The buffer address is read as two 32-bit halves (bufferAddressLow/High) so a non-zero high
// half is seen exactly; buffer-layout's decode of the same bytes is what tests compare with.
import { u8, u16, u32 } from 'buffer-layout'
import { declareLayout } from '../layout.js'

export const RX_DESCRIPTOR = declareLayout('8254x legacy receive descriptor', {
  bufferAddressLow: u32,
  bufferAddressHigh: u32,
  length: u16,
  checksum: u16,
  status: u8,
  errors: u8,
  special: u16,
})

export const TX_DESCRIPTOR = declareLayout('8254x legacy transmit descriptor', {
  bufferAddressLow: u32,
  bufferAddressHigh: u32,
  length: u16,
  cso: u8,
  cmd: u8,
  status: u8,
  css: u8,
  special: u16,
})

/**
 * TCP/IP context descriptor (3.3.6, DEXT = 1, DTYP = 0000b): no data, just the checksum and
 * segmentation parameters for the data descriptors that follow. PAYLEN is 20 bits: 15:0 in
 * `payloadLengthLow`, 19:16 in the low nibble of `payloadLengthHighType`, whose high nibble is DTYP.
 */
export const CONTEXT_DESCRIPTOR = declareLayout('8254x TCP/IP context transmit descriptor', {
  ipcss: u8,
  ipcso: u8,
  ipcse: u16,
  tucss: u8,
  tucso: u8,
  tucse: u16,
  payloadLengthLow: u16,
  payloadLengthHighType: u8,
  tucmd: u8,
  status: u8,
  hdrlen: u8,
  mss: u16,
})

/** TCP/IP data descriptor (3.3.7, DEXT = 1, DTYP = 0001b); DTALEN is 20 bits, split as PAYLEN is. */
export const DATA_DESCRIPTOR = declareLayout('8254x TCP/IP data transmit descriptor', {
  bufferAddressLow: u32,
  bufferAddressHigh: u32,
  dataLengthLow: u16,
  dataLengthHighType: u8,
  dcmd: u8,
  status: u8,
  popts: u8,
  special: u16,
})

export const DESCRIPTOR_SIZE = 16

/** RX status (3.2.3.1): VP = the frame matched VET and its tag was stripped; IPCS/TCPCS = checksums checked. */
export const RXD_STATUS = { DD: 0x01, EOP: 0x02, IXSM: 0x04, VP: 0x08, TCPCS: 0x20, IPCS: 0x40 } as const
/** RX errors (3.2.3.2): TCPE/IPE = checksum wrong; RXE = receive data error (a PHY error, never seen on this wire). */
export const RXD_ERRORS = { TCPE: 0x20, IPE: 0x40, RXE: 0x80 } as const
/** TX command (3.3.3.1); in a data descriptor (3.3.7.1) bit 2 is TSE instead of IC. */
export const TXD_CMD = { EOP: 0x01, IFCS: 0x02, IC: 0x04, TSE: 0x04, RS: 0x08, DEXT: 0x20, VLE: 0x40, IDE: 0x80 } as const
/** Context descriptor TUCMD (3.3.6.1): TCP (else UDP), IP (IPv4, else IPv6), TSE. */
export const TUCMD = { TCP: 0x01, IP: 0x02, TSE: 0x04 } as const
/** Data descriptor POPTS (3.3.7.3): insert the IP checksum, insert the TCP/UDP checksum. */
export const POPTS = { IXSM: 0x01, TXSM: 0x02 } as const
/** DTYP (bits 23:20 of the length dword, high nibble of byte 10): 0000b context, 0001b data. */
export const DTYP = { CONTEXT: 0x0, DATA: 0x1 } as const
/** TX status (3.3.3.2). */
export const TXD_STATUS = { DD: 0x01 } as const
/** 3.3.3: the largest length a legacy transmit descriptor (and a frame) may carry. */
export const MAX_TX_LENGTH = 16288

for (const layout of [RX_DESCRIPTOR, TX_DESCRIPTOR, CONTEXT_DESCRIPTOR, DATA_DESCRIPTOR]) {
  if (layout.span !== DESCRIPTOR_SIZE) throw new Error(`${layout.name} is not 16 bytes`)
}
