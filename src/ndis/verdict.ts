// The run's verdict on its frames, taken after the traffic and before the pause: a run is clean
// only if every frame the protocol sent came back intact and every frame the LAN offered was
// indicated or dropped for a reason a correct driver has (its packet filter). Anything else is a
// `frames-lost` finding whose details carry the counts, with where the NIC says the frames went,
// the device's own hint in its register terms when its state shows a ring mistake (TDT on TDH,
// a receive ring never refilled), and the driver's call stack at the doorbell that should have
// handed the frames over.
import type { DeviceMemoryReader, Nic } from '../hw/nic.js'
import type { NdisContext } from './context.js'
import type { DoorbellWatch } from './doorbells.js'
import type { Protocol } from './protocol.js'

export function reportVerdict(ctx: NdisContext, protocol: Protocol, nic: Nic, doorbells: DoorbellWatch, read: DeviceMemoryReader): void {
  const k = ctx.kernel
  if (k.log.stopped) return
  const c = protocol.counters
  const l = protocol.ledger.counts
  const owed = protocol.ledger.outstanding()
  const inFlight = protocol.framesInFlight()
  const sentLost = owed.sent
  const lanLost = owed.lan
  if (sentLost === 0 && lanLost === 0 && inFlight.owed === 0) return
  const rx = nic.counters.rx
  const parts: string[] = []
  if (sentLost > 0 || inFlight.frames > 0) {
    // Frames that came back too damaged to read their stamp are not told apart from lost ones.
    const unreadable = Math.min(c.rxForeign, Math.max(0, sentLost - owed.sentCorrupt - inFlight.owed))
    const never = Math.max(0, sentLost - owed.sentCorrupt - inFlight.owed - unreadable)
    const why = [
      inFlight.owed > 0 ? `${inFlight.owed} in sends never completed` : '',
      owed.sentCorrupt > 0 ? `${owed.sentCorrupt} came back damaged` : '',
      unreadable > 0 ? `${unreadable} came back too damaged to tell which frames they were` : '',
      never > 0 ? `${never} completed as sent but never came back` : '',
    ].filter((s) => s !== '')
    parts.push(`${sentLost} of the ${c.txRequested} frames the protocol sent did not come back intact (${why.join(', ')})`)
  }
  if (lanLost > 0) {
    // The NIC's counters cover every frame of the run (also the ones the filter excluded).
    const nic = [
      rx.noBuffers > 0 ? `${rx.noBuffers} missed for want of receive buffers (the ring starved, the FIFO overflowed)` : '',
      rx.waiting > 0 ? `${rx.waiting} still waiting in its FIFO for a free receive descriptor` : '',
      rx.filtered > 0 ? `${rx.filtered} dropped by its address filter` : '',
      rx.oversize > 0 ? `${rx.oversize} too long for its receive setting` : '',
      rx.ignored > 0 ? `${rx.ignored} arriving with the receiver off` : '',
    ].filter((s) => s !== '')
    parts.push(`${lanLost} of the ${l.lanExpected} frames the LAN offered that the packet filter selects were not indicated${owed.lanCorrupt > 0 ? ` (${owed.lanCorrupt} were indicated damaged)` : ''}${nic.length > 0 ? `; the NIC counted ${nic.join(', ')}` : ''}`)
  }
  const hints = nic.stallHints?.(read) ?? []
  const txHint = hints.find((h) => h.queue === 'transmit')
  const rxHint = hints.find((h) => h.queue === 'receive')
  // The stack of the doorbell behind the loss: the transmit ring's when sent frames are missing
  // (the write that put TDT on TDH, when there was one), else the receive ring's.
  const sendSide = sentLost > 0
  const stack = sendSide && !(rxHint !== undefined && txHint === undefined) ? doorbells.stack('transmit', txHint !== undefined) : doorbells.stack('receive')
  k.log.report({
    kind: 'frames-lost',
    message: `${parts.join('; ')}${hints.length > 0 ? `. The NIC says: ${hints.map((h) => h.message).join('; ')}` : ''}. A correct miniport completes every send, transmits every frame it completes with success, and indicates every frame its packet filter selects`,
    stack,
    details: {
      ...(txHint === undefined ? {} : { transmitHint: txHint.message, descriptorsFilled: txHint.count }),
      ...(rxHint === undefined ? {} : { receiveHint: rxHint.message, framesSinceRefill: rxHint.count }),
      sent: c.txRequested,
      sentExpected: l.sentExpected,
      sentBack: l.sentBack,
      sentLost,
      sentCorrupt: owed.sentCorrupt,
      sendsNotCompleted: inFlight.nbls,
      framesNotCompleted: inFlight.frames,
      lanOffered: c.rxInjected,
      lanExpected: l.lanExpected,
      lanIndicated: l.lanIndicated,
      lanLost,
      lanCorrupt: owed.lanCorrupt,
      nicMissed: rx.noBuffers,
      nicWaiting: rx.waiting,
      nicFiltered: rx.filtered,
      nicReceiverOff: rx.ignored,
      nicRefused: rx.refused,
    },
  })
}
