// MiniportQueryInformation and MiniportSetInformation (DISPATCH_LEVEL): the OIDs every NDIS 5
// Ethernet miniport answers (the NDIS 5.1 reference lists them as mandatory for 802.3), from
// the context area's state and statistics.
import { CTX, MAP_REGISTERS, STAGING_SLOT_BYTES, adapterOf, get, readReg, set, writeReg, type Adapter, type Driver } from './adapter.js'
import { MAX_FRAME_SIZE, RCTL_EN, RCTL_BAM, RCTL_BSIZE_2048, RCTL_SECRC, REG, RX_BUFFER_SIZE } from '../e1000/hw.js'

/** RCTL.MPE: accept every multicast frame (8254x manual 13.4.22), used while the list is non-empty. */
const RCTL_MPE = 0x10
/** The multicast addresses this driver keeps (OID_802_3_MAXIMUM_LIST_SIZE). */
const MULTICAST_LIST_SIZE = 32
const LOOKAHEAD = MAX_FRAME_SIZE - 14
const DRIVER_VERSION = 0x0501 // NDIS 5.1
const VENDOR_DRIVER_VERSION = 0x0001_0000
const DESCRIPTION = 'dmalab 82540EM NDIS 5.1 miniport\0'

type Answer = { status: number; bytesWritten: number; bytesNeeded: number }

export function queryInformation(driver: Driver, context: unknown, oid: number, buffer: number, length: number): Answer {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  const m = ndis.memory
  const u32 = (v: number): Answer => fits(a, length, 4, () => m.write32(buffer, v >>> 0))
  const u64 = (v: number): Answer => (length >= 8 ? fits(a, length, 8, () => m.write64(buffer, v)) : u32(v))
  switch (oid) {
    case ndis.OID_GEN_SUPPORTED_LIST:
      return fits(a, length, SUPPORTED(a).length * 4, () => SUPPORTED(a).forEach((o, i) => m.write32(buffer + i * 4, o)))
    case ndis.OID_GEN_HARDWARE_STATUS:
      return u32(ndis.NdisHardwareStatusReady)
    case ndis.OID_GEN_MEDIA_SUPPORTED:
    case ndis.OID_GEN_MEDIA_IN_USE:
      return u32(ndis.NdisMedium802_3)
    case ndis.OID_GEN_MAXIMUM_LOOKAHEAD:
    case ndis.OID_GEN_CURRENT_LOOKAHEAD:
      return u32(oid === ndis.OID_GEN_CURRENT_LOOKAHEAD && get(a, CTX.lookahead) !== 0 ? get(a, CTX.lookahead) : LOOKAHEAD)
    case ndis.OID_GEN_MAXIMUM_FRAME_SIZE:
      return u32(MAX_FRAME_SIZE - 14)
    case ndis.OID_GEN_MAXIMUM_TOTAL_SIZE:
      return u32(MAX_FRAME_SIZE)
    case ndis.OID_GEN_LINK_SPEED:
      return u32(get(a, CTX.linkUp) !== 0 ? 10_000_000 : 0) // 100 bit/s units: 1 Gbit/s
    case ndis.OID_GEN_TRANSMIT_BUFFER_SPACE:
      return u32(a.txPackets.length * STAGING_SLOT_BYTES)
    case ndis.OID_GEN_RECEIVE_BUFFER_SPACE:
      return u32(a.rxPackets.length * RX_BUFFER_SIZE)
    case ndis.OID_GEN_TRANSMIT_BLOCK_SIZE:
    case ndis.OID_GEN_RECEIVE_BLOCK_SIZE:
      return u32(RX_BUFFER_SIZE)
    case ndis.OID_GEN_VENDOR_ID:
      return u32(((a.mac[0]! << 16) | (a.mac[1]! << 8) | a.mac[2]!) >>> 0)
    case ndis.OID_GEN_VENDOR_DESCRIPTION:
      return fits(a, length, DESCRIPTION.length, () => m.writeBytes(buffer, Uint8Array.from(DESCRIPTION, (c) => c.charCodeAt(0))))
    case ndis.OID_GEN_CURRENT_PACKET_FILTER:
      return u32(get(a, CTX.packetFilter))
    case ndis.OID_GEN_DRIVER_VERSION:
      return fits(a, length, 2, () => m.write16(buffer, DRIVER_VERSION))
    case ndis.OID_GEN_VENDOR_DRIVER_VERSION:
      return u32(VENDOR_DRIVER_VERSION)
    case ndis.OID_GEN_MAC_OPTIONS:
      return u32(ndis.NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | ndis.NDIS_MAC_OPTION_TRANSFERS_NOT_PEND | ndis.NDIS_MAC_OPTION_NO_LOOPBACK | ndis.NDIS_MAC_OPTION_FULL_DUPLEX)
    case ndis.OID_GEN_MEDIA_CONNECT_STATUS:
      return u32(get(a, CTX.linkUp) !== 0 ? ndis.NdisMediaStateConnected : ndis.NdisMediaStateDisconnected)
    case ndis.OID_GEN_MAXIMUM_SEND_PACKETS:
      return u32(MAP_REGISTERS / 2)
    case ndis.OID_GEN_XMIT_OK:
      return u64(m.read64(a.ctx + CTX.txOk))
    case ndis.OID_GEN_RCV_OK:
      return u64(m.read64(a.ctx + CTX.rxOk))
    case ndis.OID_GEN_XMIT_ERROR:
      return u64(m.read64(a.ctx + CTX.txErrors) + m.read64(a.ctx + CTX.txDropped))
    case ndis.OID_GEN_RCV_ERROR:
      return u64(m.read64(a.ctx + CTX.rxErrors))
    case ndis.OID_GEN_RCV_NO_BUFFER:
      return u64(m.read64(a.ctx + CTX.rxNoBuffer))
    case ndis.OID_802_3_PERMANENT_ADDRESS:
    case ndis.OID_802_3_CURRENT_ADDRESS:
      return fits(a, length, 6, () => m.writeBytes(buffer, a.mac))
    case ndis.OID_802_3_MULTICAST_LIST:
      return fits(a, length, a.multicast.length, () => m.writeBytes(buffer, a.multicast))
    case ndis.OID_802_3_MAXIMUM_LIST_SIZE:
      return u32(MULTICAST_LIST_SIZE)
    case ndis.OID_802_3_RCV_ERROR_ALIGNMENT:
    case ndis.OID_802_3_XMIT_ONE_COLLISION:
    case ndis.OID_802_3_XMIT_MORE_COLLISIONS:
      return u32(0) // full duplex: no collisions, and the MAC reports no alignment errors
    default:
      return { status: ndis.NDIS_STATUS_NOT_SUPPORTED, bytesWritten: 0, bytesNeeded: 0 }
  }
}

export function setInformation(driver: Driver, context: unknown, oid: number, buffer: number, length: number): { status: number; bytesRead: number; bytesNeeded: number } {
  const a = adapterOf(driver, context)
  const ndis = a.ndis
  const m = ndis.memory
  const need = (n: number): { status: number; bytesRead: number; bytesNeeded: number } => ({ status: ndis.NDIS_STATUS_INVALID_LENGTH, bytesRead: 0, bytesNeeded: n })
  switch (oid) {
    case ndis.OID_GEN_CURRENT_PACKET_FILTER: {
      if (length < 4) return need(4)
      const filter = m.read32(buffer)
      const supported = ndis.NDIS_PACKET_TYPE_DIRECTED | ndis.NDIS_PACKET_TYPE_MULTICAST | ndis.NDIS_PACKET_TYPE_ALL_MULTICAST | ndis.NDIS_PACKET_TYPE_BROADCAST | ndis.NDIS_PACKET_TYPE_PROMISCUOUS
      if ((filter & ~supported) !== 0) return { status: ndis.NDIS_STATUS_NOT_SUPPORTED, bytesRead: 4, bytesNeeded: 0 }
      set(a, CTX.packetFilter, filter)
      programFilter(a)
      return { status: ndis.NDIS_STATUS_SUCCESS, bytesRead: 4, bytesNeeded: 0 }
    }
    case ndis.OID_GEN_CURRENT_LOOKAHEAD: {
      if (length < 4) return need(4)
      const lookahead = m.read32(buffer)
      if (lookahead > LOOKAHEAD) return { status: ndis.NDIS_STATUS_INVALID_DATA, bytesRead: 4, bytesNeeded: 0 }
      set(a, CTX.lookahead, lookahead)
      return { status: ndis.NDIS_STATUS_SUCCESS, bytesRead: 4, bytesNeeded: 0 }
    }
    case ndis.OID_802_3_MULTICAST_LIST: {
      if (length % 6 !== 0) return need(Math.ceil(length / 6) * 6)
      if (length / 6 > MULTICAST_LIST_SIZE) return { status: ndis.NDIS_STATUS_MULTICAST_FULL, bytesRead: 0, bytesNeeded: 0 }
      const list = m.readBytes(buffer, length)
      for (let i = 0; i < length; i += 6) if ((list[i]! & 1) === 0) return { status: ndis.NDIS_STATUS_INVALID_DATA, bytesRead: 0, bytesNeeded: 0 }
      a.multicast = list
      set(a, CTX.multicastCount, length / 6)
      programFilter(a)
      return { status: ndis.NDIS_STATUS_SUCCESS, bytesRead: length, bytesNeeded: 0 }
    }
    default:
      return { status: ndis.NDIS_STATUS_NOT_SUPPORTED, bytesRead: 0, bytesNeeded: 0 }
  }
}

/**
 * The receive filters from the packet filter and the multicast list (manual 13.4.22 RCTL,
 * 13.4.62 MTA): broadcasts with RCTL.BAM; the joined groups through the multicast table, each
 * address's bit at its destination bits 47:36 (RCTL.MO = 00); every group with RCTL.MPE only for
 * ALL_MULTICAST or PROMISCUOUS, so a group nobody joined stays off the wire.
 */
function programFilter(a: Adapter): void {
  const ndis = a.ndis
  if (a.regs === 0 || get(a, CTX.halting) !== 0) return
  const filter = get(a, CTX.packetFilter)
  const table = new Uint32Array(128)
  if ((filter & ndis.NDIS_PACKET_TYPE_MULTICAST) !== 0) {
    for (let i = 0; i + 6 <= a.multicast.length; i += 6) {
      const hash = ((a.multicast[i + 4]! >>> 4) | (a.multicast[i + 5]! << 4)) & 0xfff
      table[hash >>> 5]! |= 1 << (hash & 31)
    }
  }
  for (let i = 0; i < 128; i++) writeReg(a, REG.MTA + i * 4, table[i]!)
  let rctl = readReg(a, REG.RCTL) & ~(RCTL_BAM | RCTL_MPE | 0x8)
  if ((filter & ndis.NDIS_PACKET_TYPE_BROADCAST) !== 0) rctl |= RCTL_BAM
  if ((filter & ndis.NDIS_PACKET_TYPE_ALL_MULTICAST) !== 0) rctl |= RCTL_MPE
  if ((filter & ndis.NDIS_PACKET_TYPE_PROMISCUOUS) !== 0) rctl |= 0x8 | RCTL_MPE // UPE
  writeReg(a, REG.RCTL, rctl | RCTL_EN | RCTL_BSIZE_2048 | RCTL_SECRC)
}

function fits(a: Adapter, length: number, bytes: number, write: () => void): Answer {
  if (length < bytes) return { status: a.ndis.NDIS_STATUS_INVALID_LENGTH, bytesWritten: 0, bytesNeeded: bytes }
  write()
  return { status: a.ndis.NDIS_STATUS_SUCCESS, bytesWritten: bytes, bytesNeeded: 0 }
}

/** OID_GEN_SUPPORTED_LIST. */
function SUPPORTED(a: Adapter): number[] {
  const n = a.ndis
  return [
    n.OID_GEN_SUPPORTED_LIST, n.OID_GEN_HARDWARE_STATUS, n.OID_GEN_MEDIA_SUPPORTED, n.OID_GEN_MEDIA_IN_USE, n.OID_GEN_MAXIMUM_LOOKAHEAD,
    n.OID_GEN_MAXIMUM_FRAME_SIZE, n.OID_GEN_LINK_SPEED, n.OID_GEN_TRANSMIT_BUFFER_SPACE, n.OID_GEN_RECEIVE_BUFFER_SPACE, n.OID_GEN_TRANSMIT_BLOCK_SIZE,
    n.OID_GEN_RECEIVE_BLOCK_SIZE, n.OID_GEN_VENDOR_ID, n.OID_GEN_VENDOR_DESCRIPTION, n.OID_GEN_CURRENT_PACKET_FILTER, n.OID_GEN_CURRENT_LOOKAHEAD,
    n.OID_GEN_DRIVER_VERSION, n.OID_GEN_MAXIMUM_TOTAL_SIZE, n.OID_GEN_MAC_OPTIONS, n.OID_GEN_MEDIA_CONNECT_STATUS, n.OID_GEN_MAXIMUM_SEND_PACKETS,
    n.OID_GEN_VENDOR_DRIVER_VERSION, n.OID_GEN_XMIT_OK, n.OID_GEN_RCV_OK, n.OID_GEN_XMIT_ERROR, n.OID_GEN_RCV_ERROR, n.OID_GEN_RCV_NO_BUFFER,
    n.OID_802_3_PERMANENT_ADDRESS, n.OID_802_3_CURRENT_ADDRESS, n.OID_802_3_MULTICAST_LIST, n.OID_802_3_MAXIMUM_LIST_SIZE,
    n.OID_802_3_RCV_ERROR_ALIGNMENT, n.OID_802_3_XMIT_ONE_COLLISION, n.OID_802_3_XMIT_MORE_COLLISIONS,
  ]
}
