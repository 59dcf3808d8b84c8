// The protocol's ledger of frames: for every frame it sent or the LAN offered, whether the packet
// filter says a correct miniport indicates it, and whether it came back intact. The verdict of a
// run is read from it: frames that should have come back and did not are lost.
//
// The ledger is a window over sequence numbers (typed arrays, no allocation per frame). It starts
// small and doubles when a new frame would land on one still owed (many frames in flight: a
// long burst from the LAN), up to MAX_WINDOW; only beyond that is an owed frame counted lost
// when the window wraps onto it.
import type { FilterVerdict } from './packet-filter.js'

const FIRST_WINDOW = 1 << 10
const MAX_WINDOW = 1 << 20

const EXPECT_MASK = 0x03
const EXPECT: Record<FilterVerdict, number> = { indicate: 1, exclude: 2, either: 3 }
const RECEIVED = 0x04
const LAN = 0x08
/** The send completed with an error: the frame never reached the wire, nothing is owed. */
const WITHDRAWN = 0x10
const CORRUPT = 0x20
const LIVE = 0x40

export interface LedgerCounts {
  /** Frames the protocol sent that the filter lets back, and how many of them came back intact. */
  sentExpected: number
  sentBack: number
  /** Frames the LAN offered that the filter lets through, and how many were indicated intact. */
  lanExpected: number
  lanIndicated: number
  /** Frames indicated although the filter excluded them. */
  excludedIndicated: number
  /** Frames indicated a second time. */
  duplicates: number
  /** Outstanding frames the window wrapped onto (counted lost then). */
  evictedSent: number
  evictedLan: number
}

export type ReceiveOutcome = 'first' | 'duplicate' | 'excluded' | 'unknown'

export class FrameLedger {
  private state = new Uint8Array(FIRST_WINDOW)
  private seqs = new Uint32Array(FIRST_WINDOW)
  private mask = FIRST_WINDOW - 1
  readonly counts: LedgerCounts = { sentExpected: 0, sentBack: 0, lanExpected: 0, lanIndicated: 0, excludedIndicated: 0, duplicates: 0, evictedSent: 0, evictedLan: 0 }

  /** A frame goes out (the protocol's) or arrives from the LAN, with what the filter says of it. */
  record(seq: number, verdict: FilterVerdict, lan: boolean): void {
    let i = seq & this.mask
    if ((this.state[i]! & LIVE) !== 0 && owed(this.state[i]!) && this.state.length < MAX_WINDOW) {
      this.grow()
      i = seq & this.mask
    }
    const old = this.state[i]!
    if ((old & LIVE) !== 0 && owed(old)) {
      if ((old & LAN) !== 0) this.counts.evictedLan++
      else this.counts.evictedSent++
    }
    this.seqs[i] = seq >>> 0
    this.state[i] = LIVE | EXPECT[verdict] | (lan ? LAN : 0)
    if (verdict === 'indicate') {
      if (lan) this.counts.lanExpected++
      else this.counts.sentExpected++
    }
  }

  /** Doubles the window, each entry moving to its sequence number's new place. */
  private grow(): void {
    const size = this.state.length * 2
    const state = new Uint8Array(size)
    const seqs = new Uint32Array(size)
    for (let i = 0; i < this.state.length; i++) {
      if ((this.state[i]! & LIVE) === 0) continue
      const j = this.seqs[i]! & (size - 1)
      state[j] = this.state[i]!
      seqs[j] = this.seqs[i]!
    }
    this.state = state
    this.seqs = seqs
    this.mask = size - 1
  }

  /** The miniport completed the send with an error: the frame is not owed. */
  withdraw(seq: number): void {
    const i = seq & this.mask
    const s = this.state[i]!
    if ((s & LIVE) === 0 || this.seqs[i] !== seq >>> 0 || (s & (WITHDRAWN | RECEIVED)) !== 0) return
    this.state[i] = s | WITHDRAWN
    if ((s & EXPECT_MASK) === EXPECT.indicate) this.counts.sentExpected--
  }

  /** An intact frame with this stamp was indicated. */
  received(seq: number): ReceiveOutcome {
    const i = seq & this.mask
    const s = this.state[i]!
    if ((s & LIVE) === 0 || this.seqs[i] !== seq >>> 0) return 'unknown'
    if ((s & RECEIVED) !== 0) {
      this.counts.duplicates++
      return 'duplicate'
    }
    this.state[i] = s | RECEIVED
    const expect = s & EXPECT_MASK
    if (expect === EXPECT.exclude) {
      this.counts.excludedIndicated++
      return 'excluded'
    }
    if (expect === EXPECT.indicate && (s & WITHDRAWN) === 0) {
      if ((s & LAN) !== 0) this.counts.lanIndicated++
      else this.counts.sentBack++
    }
    return 'first'
  }

  /** A frame with this stamp arrived damaged (its stamp still readable). */
  corrupted(seq: number): void {
    const i = seq & this.mask
    if ((this.state[i]! & LIVE) !== 0 && this.seqs[i] === seq >>> 0) this.state[i]! |= CORRUPT
  }

  /** True while the frame with this sequence is owed and not back. */
  owes(seq: number): boolean {
    const i = seq & this.mask
    return (this.state[i]! & LIVE) !== 0 && this.seqs[i] === seq >>> 0 && owed(this.state[i]!)
  }

  /** Frames owed and not back: split into the protocol's and the LAN's, and how many arrived damaged. */
  outstanding(): { sent: number; lan: number; sentCorrupt: number; lanCorrupt: number } {
    let sent = this.counts.evictedSent
    let lan = this.counts.evictedLan
    let sentCorrupt = 0
    let lanCorrupt = 0
    for (let i = 0; i < this.state.length; i++) {
      const s = this.state[i]!
      if ((s & LIVE) === 0 || !owed(s)) continue
      const corrupt = (s & CORRUPT) !== 0
      if ((s & LAN) !== 0) {
        lan++
        if (corrupt) lanCorrupt++
      } else {
        sent++
        if (corrupt) sentCorrupt++
      }
    }
    return { sent, lan, sentCorrupt, lanCorrupt }
  }
}

function owed(s: number): boolean {
  return (s & EXPECT_MASK) === EXPECT.indicate && (s & (RECEIVED | WITHDRAWN)) === 0
}
