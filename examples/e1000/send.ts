// Transmit: MiniportSendNetBufferLists queues the NBLs; each NET_BUFFER is mapped (for the
// e1000, NdisMAllocateNetBufferSGList; see memory.ts), and ProcessSGList writes one descriptor
// per S/G element — legacy descriptors for a plain send, a TCP/IP context descriptor and data
// descriptors for one that asks for checksum or large send offload (offload.ts). The device is
// told once per batch (one TDT write). Completions are reaped in the DPC.
import type { NET_BUFFER, NET_BUFFER_LIST, SCATTER_GATHER_LIST } from '../../src/ndis/types.js'
import { NBL_NBS_LEFT, NBL_NEXT_NB, TX_TABLE_ENTRY, bumpStat, STAT, writeReg, type Adapter, type TxPacket } from './adapter.js'
import {
  DESC_ADDR_HI, DESC_ADDR_LO, DESC_LENGTH, DESC_SIZE, REG, TXD_CMD, TXD_CMD_DEXT, TXD_CMD_EOP, TXD_CMD_IFCS, TXD_CMD_RS, TXD_CMD_TSE, TXD_DTYP_DATA, TXD_STA, TXD_STA_DD,
} from './hw.js'
import { NO_TASK, completeLargeSend, sendTask, writeContext, type SendTask } from './offload.js'

/** What ProcessSGList needs to know about the packet being mapped. */
export interface SendContext {
  adapter: Adapter
  nbl: NET_BUFFER_LIST
  nb: NET_BUFFER
  /** Descriptors set aside for this packet before mapping it (the most it can need). */
  reserved: number
  /** True while the mapping call is still on the stack (the caller rings the doorbell). */
  inline: boolean
  /**
   * Bytes at the start of the list before the packet's data. NdisMAllocateNetBufferSGList builds
   * the list "from the network data starting at the beginning of the MDL that is specified at the
   * CurrentMdl member", the data starting CurrentMdlOffset bytes into it: the miniport skips them.
   * A list from GetScatterGatherList at CurrentMdl + CurrentMdlOffset starts at the data (0).
   */
  skip: number
  /** The offload the send asks for (offload.ts). */
  task: SendTask
}

export function sendNetBufferLists(a: Adapter, nbls: NET_BUFFER_LIST, _port: number, sendFlags: number): void {
  const ndis = a.ndis
  const atDispatch = (sendFlags & ndis.NDIS_SEND_FLAGS_DISPATCH_LEVEL) !== 0
  if (atDispatch) ndis.NdisDprAcquireSpinLock(a.lock!)
  else ndis.NdisAcquireSpinLock(a.lock!)
  let failed: NET_BUFFER_LIST | null = null
  for (let nbl: NET_BUFFER_LIST | null = nbls, next: NET_BUFFER_LIST | null; nbl !== null; nbl = next) {
    next = nbl.Next
    nbl.Next = null
    if (a.paused || a.pausing || a.halting || !a.linkUp) {
      nbl.Status = a.linkUp ? ndis.NDIS_STATUS_PAUSED : ndis.NDIS_STATUS_MEDIA_DISCONNECT
      nbl.Next = failed
      failed = nbl
      continue
    }
    let count = 0
    for (let nb = nbl.FirstNetBuffer; nb !== null; nb = nb.Next) count++
    nbl.MiniportReserved[NBL_NBS_LEFT] = count
    nbl.MiniportReserved[NBL_NEXT_NB] = nbl.FirstNetBuffer
    nbl.Status = ndis.NDIS_STATUS_SUCCESS
    a.txQueue.push(nbl)
  }
  const completions = drainQueue(a)
  if (atDispatch) ndis.NdisDprReleaseSpinLock(a.lock!)
  else ndis.NdisReleaseSpinLock(a.lock!)
  completeChain(a, failed, atDispatch)
  completeChain(a, completions, atDispatch)
}

/**
 * Maps queued NBs onto the ring while descriptors last; tells the device once. Returns NBLs
 * that finished here (every NB failed to map). Called with the lock held.
 *
 * The ProcessSGList callback may run before or after the mapping call returns, so
 * descriptors are reserved for the worst case first (one per page the packet touches) and the
 * callback gives back what it did not use.
 */
export function drainQueue(a: Adapter): NET_BUFFER_LIST | null {
  const ndis = a.ndis
  const startTail = a.txNext
  let done: NET_BUFFER_LIST | null = null
  while (a.txQueue.length > 0) {
    const nbl = a.txQueue[0]!
    let nb = (nbl.MiniportReserved[NBL_NEXT_NB] ?? null) as NET_BUFFER | null
    while (nb !== null) {
      const task = nb === nbl.FirstNetBuffer ? sendTask(a, nbl, nb) : NO_TASK
      // A context descriptor and, for a large send, the header in a descriptor of its own.
      const reserve = Math.ceil(nb.DataLength / 4096) + 1 + (task.kind === 'none' ? 0 : 2)
      // Keep one descriptor unused: head == tail means an empty ring, never a full one.
      if (a.txFree - reserve < 1) break
      a.txFree -= reserve
      const ctx: SendContext = { adapter: a, nbl, nb, reserved: reserve, inline: true, skip: 0, task }
      const status = a.memory.mapTransmit(a, nb, ctx)
      ctx.inline = false
      if (status !== ndis.NDIS_STATUS_SUCCESS) {
        // No map registers or memory for this packet: it fails, the others go on (S11).
        a.txFree += reserve
        nbl.Status = status
        bumpStat(a, STAT.txDropped)
        if (finishNb(a, nbl)) {
          nbl.Next = done
          done = nbl
        }
      }
      nb = nb.Next
      nbl.MiniportReserved[NBL_NEXT_NB] = nb
    }
    if (nb !== null) break // ring full: the rest waits for completions
    a.txQueue.shift()
    nbl.MiniportReserved[NBL_NEXT_NB] = null
  }
  if (a.txNext !== startTail) writeReg(a, REG.TDT, a.txNext)
  return done
}

/**
 * ProcessSGList (DISPATCH_LEVEL): one descriptor per element of the packet's data (the list's
 * first `skip` bytes are not the packet's), EOP and RS on the last. A send with an offload task
 * starts with its context descriptor and uses data descriptors; a large send's headers get a
 * descriptor of their own, as the manual recommends (3.5.6).
 */
export function processSGList(_deviceObject: unknown, _reserved: null, sgl: SCATTER_GATHER_LIST, context: unknown): void {
  const ctx = context as SendContext
  const a = ctx.adapter
  const m = a.ndis.memory
  // The first element holding packet data, and how far into it the data starts.
  let first = 0
  let offset = ctx.skip
  while (first < sgl.NumberOfElements && offset >= sgl.Elements[first]!.Length) offset -= sgl.Elements[first++]!.Length
  const task = ctx.task
  const split = task.kind === 'lso' && sgl.NumberOfElements > first && sgl.Elements[first]!.Length - offset > task.hdrlen
  const n = sgl.NumberOfElements - first + (split ? 1 : 0)
  const extra = task.kind === 'none' ? 0 : 1
  a.txFree += ctx.reserved
  if (sgl.NumberOfElements - first <= 0 || n + extra + 1 > a.txFree) {
    // Cannot happen with the reservation above; if it does, drop the packet rather than overrun.
    a.memory.unmapTransmit(a, sgl, ctx.nb)
    ctx.nbl.Status = a.ndis.NDIS_STATUS_RESOURCES
    bumpStat(a, STAT.txDropped)
    if (finishNb(a, ctx.nbl)) completeChain(a, ctx.nbl, true)
    return
  }
  let index = a.txNext
  let popts = 0
  if (task.kind !== 'none') {
    popts = writeContext(a, index, task)
    m.write32(a.txTable + index * TX_TABLE_ENTRY + 4, 0)
    index = (index + 1) % a.txCount
  }
  const dcmd = task.kind === 'none' ? TXD_CMD_IFCS : TXD_CMD_DEXT | TXD_CMD_IFCS | (task.kind === 'lso' ? TXD_CMD_TSE : 0)
  let element = first
  let within = offset
  for (let i = 0; i < n; i++) {
    const e = sgl.Elements[element]!
    const address = e.Address + within
    const length = split && i === 0 ? (task as { hdrlen: number }).hdrlen : e.Length - within
    if (split && i === 0) within += length
    else {
      element++
      within = 0
    }
    const d = a.txRing + index * DESC_SIZE
    const last = i === n - 1
    const cmd = dcmd | (last ? TXD_CMD_EOP | TXD_CMD_RS : 0)
    m.write32(d + DESC_ADDR_LO, address >>> 0)
    m.write32(d + DESC_ADDR_HI, Math.floor(address / 4294967296))
    if (task.kind === 'none') {
      m.write32(d + DESC_LENGTH, length & 0xffff) // length u16, CSO 0, CMD set below
      m.write8(d + TXD_CMD, cmd)
      m.write32(d + TXD_STA, 0)
    } else {
      // Data descriptor (3.3.7): DTALEN 19:0, DTYP 0001b, DCMD; POPTS in the first one only.
      m.write32(d + DESC_LENGTH, ((length & 0xf_ffff) | TXD_DTYP_DATA | (cmd << 24)) >>> 0)
      m.write32(d + TXD_STA, i === 0 ? popts << 8 : 0)
    }
    m.write32(a.txTable + index * TX_TABLE_ENTRY + 4, last ? 1 : 0)
    if (last) {
      const packet: TxPacket = { nbl: ctx.nbl, nb: ctx.nb, sgl, lastDescriptor: index, lsoPayload: task.kind === 'lso' ? task.payload : 0 }
      a.txPackets[index] = packet
      m.write32(a.txTable + index * TX_TABLE_ENTRY, index + 1)
      m.write32(a.txTable + index * TX_TABLE_ENTRY + 8, ctx.nb.DataLength)
    }
    index = (index + 1) % a.txCount
  }
  a.txFree -= n + extra
  a.txNext = index
  // Mapped after the mapping call returned: nobody else will ring the doorbell.
  if (!ctx.inline) writeReg(a, REG.TDT, a.txNext)
}

/**
 * Reaps finished packets (DD written back on their last descriptor), frees their S/G lists,
 * and returns the NBLs whose every NB is done. Called in the DPC with the lock held.
 */
export function reapTransmits(a: Adapter): NET_BUFFER_LIST | null {
  const ndis = a.ndis
  const m = ndis.memory
  let done: NET_BUFFER_LIST | null = null
  while (a.txFree < a.txCount) {
    // Find the end of the oldest packet: the next entry in the table flagged as last.
    let last = a.txClean
    let descriptors = 1
    while (m.read32(a.txTable + last * TX_TABLE_ENTRY + 4) === 0 && descriptors < a.txCount) {
      last = (last + 1) % a.txCount
      descriptors++
    }
    if ((m.read8(a.txRing + last * DESC_SIZE + TXD_STA) & TXD_STA_DD) === 0) break
    const packet = a.txPackets[last]
    a.txPackets[last] = null
    m.write32(a.txTable + last * TX_TABLE_ENTRY, 0)
    m.write32(a.txTable + last * TX_TABLE_ENTRY + 4, 0)
    a.txClean = (last + 1) % a.txCount
    a.txFree += descriptors
    if (packet === null || packet === undefined) continue
    if (packet.sgl !== null) a.memory.unmapTransmit(a, packet.sgl, packet.nb)
    if (packet.lsoPayload > 0) completeLargeSend(a, packet.nbl, packet.lsoPayload)
    bumpStat(a, STAT.txOk)
    if (finishNb(a, packet.nbl)) {
      packet.nbl.Next = done
      done = packet.nbl
    }
  }
  return done
}

/** One NB of `nbl` is finished; true when it was the last. */
function finishNb(a: Adapter, nbl: NET_BUFFER_LIST): boolean {
  const left = ((nbl.MiniportReserved[NBL_NBS_LEFT] as number | null) ?? 1) - 1
  if (left > 0) {
    nbl.MiniportReserved[NBL_NBS_LEFT] = left
    return false
  }
  nbl.MiniportReserved[NBL_NBS_LEFT] = null
  return true
}

export function completeChain(a: Adapter, chain: NET_BUFFER_LIST | null, atDispatch: boolean): void {
  if (chain === null) return
  a.ndis.NdisMSendNetBufferListsComplete(a.handle, chain, atDispatch ? a.ndis.NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL : 0)
}

/** Fails every queued send (pause, halt): the protocol gets its NBLs back. */
export function flushQueue(a: Adapter, status: number): NET_BUFFER_LIST | null {
  let done: NET_BUFFER_LIST | null = null
  for (const nbl of a.txQueue) {
    nbl.Status = status
    nbl.MiniportReserved[NBL_NBS_LEFT] = null
    nbl.MiniportReserved[NBL_NEXT_NB] = null
    nbl.Next = done
    done = nbl
  }
  a.txQueue.length = 0
  return done
}
