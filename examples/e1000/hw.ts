// The driver's view of the Intel 82540EM (8254x family manual, chapter 13 register
// descriptions, 3.2/3.3 descriptor formats): register offsets, bits, descriptor layout.
// A driver keeps its own copy of these facts, as e1000_hw.h does; it does not import the
// emulator's device model.

export const REG = {
  CTRL: 0x0000,
  STATUS: 0x0008,
  EERD: 0x0014,
  ICR: 0x00c0,
  ITR: 0x00c4,
  ICS: 0x00c8,
  IMS: 0x00d0,
  IMC: 0x00d8,
  RCTL: 0x0100,
  TCTL: 0x0400,
  TIPG: 0x0410,
  RDBAL: 0x2800,
  RDBAH: 0x2804,
  RDLEN: 0x2808,
  RDH: 0x2810,
  RDT: 0x2818,
  RDTR: 0x2820,
  TDBAL: 0x3800,
  TDBAH: 0x3804,
  TDLEN: 0x3808,
  TDH: 0x3810,
  TDT: 0x3818,
  TIDV: 0x3820,
  MPC: 0x4010,
  GPRC: 0x4074,
  GPTC: 0x4080,
  RNBC: 0x40a0,
  RXCSUM: 0x5000,
  MTA: 0x5200,
  RAL0: 0x5400,
  RAH0: 0x5404,
} as const

export const CTRL_SLU = 0x40
export const CTRL_RST = 1 << 26
export const STATUS_LU = 0x2
export const EERD_START = 0x1
export const EERD_DONE = 0x10

export const ICR_TXDW = 0x01
export const ICR_TXQE = 0x02
export const ICR_LSC = 0x04
export const ICR_RXDMT0 = 0x10
export const ICR_RXO = 0x40
export const ICR_RXT0 = 0x80
/** The causes this driver handles. */
export const IMS_ENABLE = ICR_TXDW | ICR_LSC | ICR_RXDMT0 | ICR_RXO | ICR_RXT0

export const RCTL_EN = 0x2
export const RCTL_BAM = 0x8000
export const RCTL_BSIZE_2048 = 0
export const RCTL_SECRC = 0x0400_0000

export const TCTL_EN = 0x2
export const TCTL_PSP = 0x8
/** Collision threshold 0x0F and distance 0x40 (full duplex), per the manual's init section. */
export const TCTL_CT_COLD = (0x0f << 4) | (0x40 << 12)

export const RAH_AV = 0x8000_0000

/** Legacy descriptors are 16 bytes (manual 3.2.3, 3.3.3). */
export const DESC_SIZE = 16
export const DESC_ADDR_LO = 0
export const DESC_ADDR_HI = 4
export const DESC_LENGTH = 8
/** TX: CMD byte at 11, STA byte at 12. RX: status byte at 12, errors at 13. */
export const TXD_CMD = 11
export const TXD_STA = 12
export const RXD_STATUS = 12
export const RXD_ERRORS = 13

export const TXD_CMD_EOP = 0x01
export const TXD_CMD_IFCS = 0x02
export const TXD_CMD_RS = 0x08
export const TXD_STA_DD = 0x01
export const RXD_STA_DD = 0x01
export const RXD_STA_EOP = 0x02
/** Receive status (3.2.3.1): ignore checksum indication, TCP/UDP and IP checksums checked. */
export const RXD_STA_IXSM = 0x04
export const RXD_STA_TCPCS = 0x20
export const RXD_STA_IPCS = 0x40
/** Receive errors (3.2.3.2): TCP/UDP checksum, IP checksum, receive data error. */
export const RXD_ERR_TCPE = 0x20
export const RXD_ERR_IPE = 0x40
export const RXD_ERR_RXE = 0x80

/** Extended descriptors (3.3.6, 3.3.7): DEXT and TSE in the command byte, DTYP 0001b for data. */
export const TXD_CMD_DEXT = 0x20
export const TXD_CMD_TSE = 0x04
export const TXD_DTYP_DATA = 0x1 << 20
/** Context descriptor TUCMD: TCP (else UDP), IPv4, segmentation. Data descriptor POPTS: IP, TCP/UDP checksums. */
export const TUCMD_TCP = 0x01
export const TUCMD_IP = 0x02
export const TUCMD_TSE = 0x04
export const POPTS_IXSM = 0x01
export const POPTS_TXSM = 0x02
/** RXCSUM (0x5000): IP and TCP/UDP receive checksum offload. */
export const RXCSUM_IPOFLD = 0x100
export const RXCSUM_TUOFLD = 0x200

/** Receive buffers are 2 KiB (RCTL.BSIZE = 00): one full frame each. */
export const RX_BUFFER_SIZE = 2048
export const MAX_FRAME_SIZE = 1514

/** ITR in 256 ns units: ~8,000 interrupts/s, so a busy link takes one interrupt per batch. */
export const ITR_COALESCE = 488
