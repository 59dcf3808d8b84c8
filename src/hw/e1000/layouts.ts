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

export const DESCRIPTOR_SIZE = 16

/** RX status (3.2.3.1). */
export const RXD_STATUS = { DD: 0x01, EOP: 0x02, IXSM: 0x04 } as const
/** RX errors (3.2.3.2): RXE = receive data error. */
export const RXD_ERRORS = { RXE: 0x80 } as const
/** TX command (3.3.3.1). */
export const TXD_CMD = { EOP: 0x01, IFCS: 0x02, IC: 0x04, RS: 0x08, DEXT: 0x20, VLE: 0x40, IDE: 0x80 } as const
/** TX status (3.3.3.2). */
export const TXD_STATUS = { DD: 0x01 } as const
/** 3.3.3: the largest length a legacy transmit descriptor (and a frame) may carry. */
export const MAX_TX_LENGTH = 16288

if (RX_DESCRIPTOR.span !== DESCRIPTOR_SIZE || TX_DESCRIPTOR.span !== DESCRIPTOR_SIZE) {
  throw new Error('legacy descriptors are 16 bytes')
}
