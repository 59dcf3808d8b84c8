// Why a queue stalled, said in the registers a driver writer programs: the two ring mistakes
// that lose frames silently. The device owns the descriptors from head up to (not including)
// tail (manual 3.2.6, 3.4), so:
//  - a transmit ring filled all the way round has TDT back on TDH, which the device reads as
//    empty: it sends nothing, and a driver waiting for completions waits forever. A driver
//    keeps one descriptor unused so that a full ring is never head == tail.
//  - a receive ring whose descriptors are never given back (RDT not moved as buffers are
//    returned) runs out: frames wait in the FIFO, then are missed (RNBC, MPC; 13.7.33, 13.7.5).
// Descriptors are read through the caller's reader, as the device would see them, without a DMA
// (no fault, no side effect): this is a diagnosis, not device behaviour.
import type { DeviceMemoryReader, NicHint } from '../nic.js'
import { DESCRIPTOR_SIZE, TX_DESCRIPTOR, TXD_STATUS } from './layouts.js'
import { TCTL } from './registers.js'
import type { RxEngine } from './rx.js'
import type { TxEngine } from './tx.js'

const LENGTH = TX_DESCRIPTOR.offset.length
const STATUS = TX_DESCRIPTOR.offset.status

export function stallHints(tx: TxEngine, rx: RxEngine, read: DeviceMemoryReader): NicHint[] {
  const hints: NicHint[] = []
  const t = tx.ring
  const count = t.count
  if ((tx.control & TCTL.EN) !== 0 && count > 0 && t.head === t.tail && t.head < count) {
    // Descriptors from the head on that carry data and were not written back: filled by
    // software after the device last walked past them.
    let filled = 0
    for (let i = 0; i < count; i++) {
      const d = read(t.descriptorAddress((t.head + i) % count), DESCRIPTOR_SIZE)
      if (d === null) break
      const length = d[LENGTH]! | (d[LENGTH + 1]! << 8)
      if (length === 0 || (d[STATUS]! & TXD_STATUS.DD) !== 0) break
      filled++
    }
    if (filled > 0) {
      hints.push({
        queue: 'transmit',
        count: filled,
        message: `TDT written equal to TDH (${t.tail}) with ${filled} descriptor${filled === 1 ? '' : 's'} filled (the ring looks empty to the NIC): keep one descriptor unused so a full ring never has TDT == TDH`,
      })
    }
  }
  const r = rx.ring
  if (rx.counters.noBuffers + rx.counters.waiting > 0 && rx.framesSinceRefill > 0 && r.head === r.tail) {
    hints.push({
      queue: 'receive',
      count: rx.framesSinceRefill,
      message: `receive ring never refilled: RDT not advanced after ${rx.framesSinceRefill} frames (RDH == RDT == ${r.tail}: the NIC has no free descriptor, so frames wait in its FIFO and are then missed): give each descriptor back by moving RDT once its buffer is free again`,
    })
  }
  return hints
}
