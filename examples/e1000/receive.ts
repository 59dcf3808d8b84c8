// Receive: the DPC walks descriptors the device has written back (DD set), points each one's
// pre-built NBL at the frame, and indicates them in one chain. The protocol returns the NBLs
// through MiniportReturnNetBufferLists, and the buffers go back to the device (one RDT write
// per batch).
import type { NET_BUFFER_LIST } from '../../src/ndis/types.js'
import { bumpStat, RX_TABLE_ENTRY, STAT, writeReg, type Adapter } from './adapter.js'
import { DESC_LENGTH, DESC_SIZE, REG, RXD_ERRORS, RXD_ERR_RXE, RXD_STATUS, RXD_STA_DD, RXD_STA_EOP } from './hw.js'
import { receiveChecksumInfo } from './offload.js'
import { filterExcludes } from './filter.js'

/** Indicates up to `budget` received frames; returns how many were indicated. DPC, lock not held. */
export function receiveFrames(a: Adapter, budget: number): number {
  const ndis = a.ndis
  const m = ndis.memory
  let head: NET_BUFFER_LIST | null = null
  let tail: NET_BUFFER_LIST | null = null
  let count = 0
  let recycled = false
  while (count < budget) {
    const i = a.rxNext
    const d = a.rxRing + i * DESC_SIZE
    const status = m.read8(d + RXD_STATUS)
    if ((status & RXD_STA_DD) === 0) break
    const length = m.read16(d + DESC_LENGTH)
    const errors = m.read8(d + RXD_ERRORS)
    a.rxNext = (i + 1) % a.rxCount
    const nbl = a.rxNbls[i]
    // Frames that span descriptors cannot happen with 2 KiB buffers and a 1514-byte MTU;
    // drop them (and frames with a receive error, any frame while the packet filter is zero:
    // no indications then, and frames the NIC's filters take that the packet filter excludes,
    // filter.ts) and give the buffer straight back. A checksum the NIC found wrong is the
    // transport's to judge: indicated, and said so.
    const va = m.read64(a.rxTable + i * RX_TABLE_ENTRY)
    const drop = nbl === null || nbl === undefined || (errors & RXD_ERR_RXE) !== 0 || (status & RXD_STA_EOP) === 0 || a.halting || a.paused || a.packetFilter === 0
    if (drop || filterExcludes(a, va, length)) {
      // A frame the packet filter excludes is no receive error (OID_GEN_RCV_ERROR).
      if (drop) bumpStat(a, STAT.rxErrors)
      m.write8(d + RXD_STATUS, 0)
      a.rxTail = i
      recycled = true
      continue
    }
    const nb = nbl.FirstNetBuffer!
    nb.DataLength = length
    nb.DataOffset = 0
    nb.CurrentMdlOffset = 0
    nbl.Status = ndis.NDIS_STATUS_SUCCESS
    nbl.NetBufferListInfo[ndis.TcpIpChecksumNetBufferListInfo] = receiveChecksumInfo(a, status, errors, va, length)
    nbl.Next = null
    if (tail === null) head = nbl
    else tail.Next = nbl
    tail = nbl
    count++
  }
  if (recycled) writeReg(a, REG.RDT, a.rxTail)
  if (head !== null) {
    a.rxIndicated += count
    bumpStat(a, STAT.rxOk, count)
    ndis.NdisMIndicateReceiveNetBufferLists(a.handle, head, ndis.NDIS_DEFAULT_PORT_NUMBER, count, ndis.NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL)
  }
  return count
}

/** MiniportReturnNetBufferLists: the protocol is done with these buffers; post them again. */
export function returnNetBufferLists(a: Adapter, nbls: NET_BUFFER_LIST, returnFlags: number): void {
  const ndis = a.ndis
  const m = ndis.memory
  const atDispatch = (returnFlags & ndis.NDIS_RETURN_FLAGS_DISPATCH_LEVEL) !== 0
  if (atDispatch) ndis.NdisDprAcquireSpinLock(a.lock!)
  else ndis.NdisAcquireSpinLock(a.lock!)
  for (let nbl: NET_BUFFER_LIST | null = nbls; nbl !== null; ) {
    const next: NET_BUFFER_LIST | null = nbl.Next
    nbl.Next = null
    const i = nbl.MiniportReserved[0] as number
    m.write8(a.rxRing + i * DESC_SIZE + RXD_STATUS, 0)
    a.rxIndicated--
    a.rxTail = i
    nbl = next
  }
  // The descriptor just returned is the newest free one: everything before it is the device's.
  if (!a.halting) writeReg(a, REG.RDT, a.rxTail)
  const pauseDone = a.pausing && a.rxIndicated === 0 && a.txFree === a.txCount
  if (atDispatch) ndis.NdisDprReleaseSpinLock(a.lock!)
  else ndis.NdisReleaseSpinLock(a.lock!)
  if (pauseDone) completePause(a)
}

/** The last outstanding packet came back while pausing: finish the pause. */
export function completePause(a: Adapter): void {
  if (!a.pausing) return
  a.pausing = false
  a.paused = true
  a.ndis.NdisMPauseComplete(a.handle)
}

/** SharedMemAllocateCompleteHandler: this driver allocates all shared memory at init, so an
 * asynchronous completion means memory nobody asked for; give it back. */
export function onSharedMemoryAllocated(context: unknown, va: number, logical: number, length: number): void {
  const a = context as Adapter
  if (va !== 0) a.ndis.NdisMFreeSharedMemory(a.handle, length, true, va, logical)
}
