// The cold working set every throughput figure uses: frame slots spread over 64 MiB of
// transmit buffers and 64 MiB of receive buffers, visited in a scattered order (a large odd
// stride through the slots), so each frame touches memory the caches have not just seen.
export const SLOT = 2048
export const REGION = 64 * 1024 * 1024
export const SLOTS = REGION / SLOT
/** Odd, so it visits every slot before repeating; large, so consecutive frames are far apart. */
export const STRIDE = 9973

export function slotAt(i: number): number {
  return (i * STRIDE) % SLOTS
}
