// The receive filters: what the NIC takes off the wire follows the packet filter and the
// multicast list NDIS set (OID_GEN_CURRENT_PACKET_FILTER, OID_802_3_MULTICAST_LIST). The 8254x
// filters in hardware (manual 13.4.22 RCTL, 13.4.62 MTA, 13.4.63 RAL/RAH): broadcasts with BAM,
// the station address in RAL0/RAH0, joined groups through the 4096-bit multicast hash table, all
// groups with MPE, everything with UPE. The receiver stays on from start to halt; while the
// filter is zero (from initialization until a protocol sets it, and again after it unbinds)
// the NIC still takes frames to its station address, and the DPC indicates none of them
// (receive.ts). Called with the lock held.
import { readReg, writeReg, type Adapter } from './adapter.js'
import { RAH_AV, RCTL_BAM, RCTL_BSIZE_2048, RCTL_EN, RCTL_MPE, RCTL_SECRC, RCTL_UPE, REG } from './hw.js'
import type { NdisApi } from '../../src/ndis/api.js'

/** Multicast addresses the driver keeps (OID_802_3_MAXIMUM_LIST_SIZE). */
export const MAX_MULTICAST = 32

/** The packet filter types this driver can apply. */
export function supportedFilters(ndis: NdisApi): number {
  return ndis.NDIS_PACKET_TYPE_DIRECTED | ndis.NDIS_PACKET_TYPE_MULTICAST | ndis.NDIS_PACKET_TYPE_ALL_MULTICAST | ndis.NDIS_PACKET_TYPE_BROADCAST | ndis.NDIS_PACKET_TYPE_PROMISCUOUS
}

export function applyReceiveFilter(a: Adapter): void {
  const ndis = a.ndis
  const f = a.packetFilter
  const m = a.mac
  writeReg(a, REG.RAL0, (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0)
  const station = f === 0 || (f & ndis.NDIS_PACKET_TYPE_DIRECTED) !== 0
  writeReg(a, REG.RAH0, (m[4]! | (m[5]! << 8) | (station ? RAH_AV : 0)) >>> 0)
  const table = new Uint32Array(128)
  if ((f & ndis.NDIS_PACKET_TYPE_MULTICAST) !== 0) {
    for (let i = 0; i + 6 <= a.multicast.length; i += 6) {
      // RCTL.MO = 00: the hash is destination bits 47:36 (manual 13.4.62).
      const hash = ((a.multicast[i + 4]! >>> 4) | (a.multicast[i + 5]! << 4)) & 0xfff
      table[hash >>> 5]! |= 1 << (hash & 31)
    }
  }
  for (let i = 0; i < 128; i++) writeReg(a, REG.MTA + i * 4, table[i]!)
  let rctl = RCTL_EN | RCTL_BSIZE_2048 | RCTL_SECRC
  if ((f & ndis.NDIS_PACKET_TYPE_BROADCAST) !== 0) rctl |= RCTL_BAM
  if ((f & (ndis.NDIS_PACKET_TYPE_ALL_MULTICAST | ndis.NDIS_PACKET_TYPE_PROMISCUOUS)) !== 0) rctl |= RCTL_MPE
  if ((f & ndis.NDIS_PACKET_TYPE_PROMISCUOUS) !== 0) rctl |= RCTL_UPE
  if (readReg(a, REG.RCTL) !== rctl) writeReg(a, REG.RCTL, rctl)
}

/**
 * Whether the packet filter excludes a frame the NIC took, judged by its destination at `va`:
 * RCTL.MPE passes every group address, and the broadcast address is one (its group bit is set),
 * so with NDIS_PACKET_TYPE_ALL_MULTICAST but not _BROADCAST broadcasts reach the ring and are
 * dropped here. Everything else the hardware filters decide (a group sharing a listed one's hash
 * may pass; NDIS allows that of a hash filter). DPC.
 */
export function filterExcludes(a: Adapter, va: number, length: number): boolean {
  const ndis = a.ndis
  if (length < 6 || (a.packetFilter & (ndis.NDIS_PACKET_TYPE_BROADCAST | ndis.NDIS_PACKET_TYPE_PROMISCUOUS)) !== 0) return false
  const m = ndis.memory
  return m.read32(va) === 0xffff_ffff && m.read16(va + 4) === 0xffff
}
