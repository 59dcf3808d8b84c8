// The transmit ring is filled to the last descriptor, so TDT comes back round to TDH and the NIC
// sees an empty ring (frames-lost, and the pause never completes).
//
// What is wrong: the send path reserves descriptors while any are free, down to the last one
// (a.txSpare = 0). The 8254x owns the descriptors from TDH up to (not including) TDT (manual
// 3.4): when the driver fills every descriptor, the tail it writes lands on the head, and the
// NIC reads head == tail as "nothing to send". Nothing goes out, nothing completes, the
// descriptors are never reaped, and the sends queued behind them wait forever. A driver keeps
// one descriptor unused so that a full ring never has TDT == TDH. (This driver also reaps
// finished sends in MiniportSendNetBufferLists before placing new ones, as many do: that is
// when the ring is empty and a long queue fills it all the way round.)
// What dmalab reports with mixed traffic (the command line's default), in every configuration:
// `frames-lost` (sends never completed) whose message carries the NIC's hint "TDT written equal
// to TDH with N descriptors filled (the ring looks empty to the NIC)", with the send path's
// call stack; then, at the pause, `send-not-completed` and a `hang` (MiniportPause pends and
// NdisMPauseComplete never comes). Everything else is the e1000's.
import type { NdisApi } from '../../src/ndis/api.js'
import type { Adapter } from '../e1000/adapter.js'
import { miniportCharacteristics, registerMiniport } from '../e1000/index.js'
import { ndisAdapterMemory, type AdapterMemory } from '../e1000/memory.js'
import { completeChain, reapTransmits, sendNetBufferLists } from '../e1000/send.js'

export default function DriverEntry(ndis: NdisApi, registryPath?: string): number {
  return registerMiniport(ndis, registryPath, {
    ...miniportCharacteristics(ndis, () => ndisAdapterMemoryWithFullRing),
    SendNetBufferListsHandler: (context, nbls, port, flags) => {
      const a = context as Adapter
      const atDispatch = (flags & ndis.NDIS_SEND_FLAGS_DISPATCH_LEVEL) !== 0
      // Finished sends first, so their descriptors are free for these.
      if (atDispatch) ndis.NdisDprAcquireSpinLock(a.lock!)
      else ndis.NdisAcquireSpinLock(a.lock!)
      const done = reapTransmits(a)
      if (atDispatch) ndis.NdisDprReleaseSpinLock(a.lock!)
      else ndis.NdisReleaseSpinLock(a.lock!)
      completeChain(a, done, atDispatch)
      sendNetBufferLists(a, nbls, port, flags)
    },
  })
}

/** The e1000's memory table, with one change when DMA is set up: the ring's spare descriptor. */
const ndisAdapterMemoryWithFullRing: AdapterMemory = {
  ...ndisAdapterMemory,
  enableDma(a: Adapter): number {
    // BUG: no descriptor kept unused; the ring fills until TDT == TDH.
    a.txSpare = 0
    return ndisAdapterMemory.enableDma(a)
  },
}
