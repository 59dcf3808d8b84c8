// The physical limit on this machine: raw copies of the same bytes the emulated loopback moves
// per frame (guest TX buffer → wire buffer → guest RX buffer: two copies), over the same cold
// working set, with TypedArray.set — what the emulator's own copies use.
import { REGION, SLOT, SLOTS, STRIDE, slotAt } from './working-set.js'

export function copyLimit(size: number, seconds: number): number {
  const tx = new Uint8Array(REGION)
  const rx = new Uint8Array(REGION)
  for (let i = 0; i < REGION; i += 4096) tx[i] = i & 0xff // pre-fill: every page touched
  rx.fill(1)
  const wire = new Uint8Array(16384)
  let frames = 0
  let sink = 0
  // slotAt(frames) and slotAt(frames + SLOTS / 2), stepped by STRIDE as the device bench's
  // driver steps them: the same slots, with no index arithmetic in doubles in the timed loop.
  let from = slotAt(0)
  let to = slotAt(SLOTS / 2)
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    for (let k = 0; k < 4096; k++) {
      const s = from * SLOT
      const d = to * SLOT
      wire.set(tx.subarray(s, s + size))
      rx.set(wire.subarray(0, size), d)
      from = (from + STRIDE) % SLOTS
      to = (to + STRIDE) % SLOTS
      frames++
    }
    sink ^= rx[(frames * 7) % REGION]!
  }
  const elapsed = (performance.now() - start) / 1000
  if (sink === -1) console.log(sink)
  return frames / elapsed
}
