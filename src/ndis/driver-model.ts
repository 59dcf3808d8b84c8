// What the machine drives, whichever NDIS version a driver registered with: the miniport's life
// (NDIS 6: miniport.ts; NDIS 5.1: v5/lifecycle.ts) and the protocol above it (protocol.ts,
// v5/protocol.ts).
import type { MiniportState } from './miniport.js'
import type { TrafficCounters, TrafficMix } from './protocol.js'

export interface DriverModel {
  /** `running` after a clean start; `init-failed` or `crashed` otherwise. */
  readonly state: MiniportState
  /** The status DriverEntry or the initialize handler returned. */
  readonly initStatus: number
  /** The handler that was running when the machine stopped, if it stopped inside one. */
  readonly crashedIn: string | null
  /** Stops the adapter (NDIS 6: MiniportPause) and halts it. False when the machine stopped on the way. */
  pauseAndHalt(): boolean
  /** The driver's unload and the leak checks. */
  unload(): void
}

export interface UpperEdge {
  readonly counters: TrafficCounters
  /** Frames the protocol handed down that have not come back. */
  readonly inFlight: number
  /** `size` undefined: the mix chooses (NDIS 5's protocol sends uniform 1500-byte frames whatever the mix). */
  queueSend(count: number, size: number | undefined, mix: TrafficMix): void
  injectFromWire(count: number, size: number | undefined, mix: TrafficMix, inject: (frame: Uint8Array, length: number) => void): void
  stop(): void
}
