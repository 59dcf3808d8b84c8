// The driver's doorbells: which of its lines last told the NIC about new descriptors (a tail
// register write), so a finding about frames the device never saw (frames-lost) carries the
// call stack that should have handed them over. A capture is a short stack walk; doorbells are
// per batch of frames, so the watch samples them: the first two writes of each queue and then
// every power of two (a driver's doorbell is one or two lines, so a sample names the same line
// as the write it stands for), and likewise the writes that put the tail on the head, which a
// correct driver does not make when it has handed descriptors over. Sixteen first samples, as
// the allocation hook takes (kernel/calls.ts), were a tenth of a 100-frame sweep run's time.
import type { Nic } from '../hw/nic.js'
import type { StackFrame } from '../hw/finding.js'
import { captureSite, framesOf, type SiteToken } from '../kernel/sites.js'

const SAMPLE_FIRST = 2
/** Deep enough to reach the call NDIS made into the driver from a register write in a DPC. */
const DEPTH = 48

interface QueueWatch {
  writes: number
  last: SiteToken | undefined
  /** The last write that put the tail on the head (transmit: the ring looks empty to the device). */
  onHead: SiteToken | undefined
  onHeadWrites: number
}

export class DoorbellWatch {
  private readonly queues = {
    transmit: { writes: 0, last: undefined, onHead: undefined, onHeadWrites: 0 } as QueueWatch,
    receive: { writes: 0, last: undefined, onHead: undefined, onHeadWrites: 0 } as QueueWatch,
  }

  constructor(nic: Nic) {
    nic.onDoorbell = (queue, tail, head) => this.record(queue, tail, head)
  }

  private record(queue: 'transmit' | 'receive', tail: number, head: number): void {
    const q = this.queues[queue]
    const n = ++q.writes
    if (n <= SAMPLE_FIRST || (n & (n - 1)) === 0) q.last = captureSite(DEPTH)
    if (tail === head) {
      const k = ++q.onHeadWrites
      if (k <= SAMPLE_FIRST || (k & (k - 1)) === 0) q.onHead = captureSite(DEPTH)
    }
  }

  /** The driver's stack at the queue's last sampled doorbell (transmit: preferring one onto the head). */
  stack(queue: 'transmit' | 'receive', onHead = false): StackFrame[] {
    const q = this.queues[queue]
    const token = onHead ? (q.onHead ?? q.last) : q.last
    return token === undefined ? [] : framesOf(token)
  }
}
