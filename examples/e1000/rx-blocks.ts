// Receive buffers in shared memory, as both e1000 drivers keep them: one block for all of them
// when the system has it, else a page (two 2 KiB buffers) at a time — the smaller-blocks
// fallback of seed S07. The blocks are pushed onto the adapter's list as they are allocated, so
// a failure part-way leaves the list holding exactly what must be freed.
import { RX_BUFFER_SIZE } from './hw.js'

/** A block of shared memory holding receive buffers. */
export interface RxBlock {
  va: number
  logical: number
  length: number
}

/** What NdisMAllocateSharedMemory gives back (0: nothing). */
interface SharedMemory {
  virtualAddress: number
  logicalAddress: number
}

/** Allocates room for `count` buffers into `blocks`; false when even a page is not to be had. */
export function allocateRxBlocks(blocks: RxBlock[], count: number, pageSize: number, allocate: (length: number) => SharedMemory): boolean {
  const total = count * RX_BUFFER_SIZE
  const whole = allocate(total)
  if (whole.virtualAddress !== 0) {
    blocks.push({ va: whole.virtualAddress, logical: whole.logicalAddress, length: total })
    return true
  }
  for (let done = 0; done < total; done += pageSize) {
    const block = allocate(pageSize)
    if (block.virtualAddress === 0) return false
    blocks.push({ va: block.virtualAddress, logical: block.logicalAddress, length: pageSize })
  }
  return true
}

/** Where receive buffer `i` lives: in its block, by VA and logical address. */
export function rxBuffer(blocks: readonly RxBlock[], i: number): { va: number; logical: number } {
  let offset = i * RX_BUFFER_SIZE
  for (const b of blocks) {
    if (offset < b.length) return { va: b.va + offset, logical: b.logical + offset }
    offset -= b.length
  }
  throw new RangeError(`receive buffer ${i} is beyond the allocated blocks`)
}
