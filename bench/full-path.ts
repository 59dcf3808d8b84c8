// Frames per second through the e1000 example miniport end to end: protocol send → NDIS →
// MiniportSendNetBufferLists → NdisMAllocateNetBufferSGList (IOMMU mapping) → TX descriptor →
// TX DMA → wire (loopback) → RX DMA → interrupt → ISR → DPC → indicate → protocol verifies the
// bytes → MiniportReturnNetBufferLists. IOMMU on, high-first memory: the configuration where a
// 32-bit device most needs the DMA path to be right. The C e1000 (examples/c/e1000, same design)
// runs the same path on the 32-bit machine with every load and store of its own a host call
// through the page tables: `full-path-c-1500` beside `full-path-1500` is what that costs.
import { createMachine } from '../src/index.js'
import type { LoadableMiniport } from '../src/scenario.js'

export interface FullPathResult {
  framesPerSecond: number
  frames: number
}

export function fullPath(miniport: LoadableMiniport, size: number, seconds: number, arch: 'x64' | 'x86' = 'x64'): FullPathResult {
  const m = createMachine({ wire: 'loopback', iommu: true, memory: { policy: 'high-first' }, arch })
  m.load(miniport.module, miniport.name)
  m.traffic.send({ count: 2000, size }) // warm up the code paths
  let frames = 0
  const batch = 20_000
  const start = performance.now()
  const end = start + seconds * 1000
  const before = m.report().traffic.rxFrames
  while (performance.now() < end) {
    m.traffic.send({ count: batch, size })
    frames += batch
  }
  const elapsed = (performance.now() - start) / 1000
  const r = m.report()
  if (r.findings.length > 0 || r.traffic.rxFrames - before !== frames) {
    throw new Error(`full-path bench was not clean: ${r.findings[0]?.kind ?? ''} ${r.findings[0]?.message ?? ''} (${r.traffic.rxFrames - before} of ${frames} frames received)`)
  }
  return { framesPerSecond: frames / elapsed, frames }
}

/** What a frame of `size` bytes (no FCS) costs on a real link: FCS, preamble and gap added. */
export function gbitPerSecond(framesPerSecond: number, size: number): number {
  return (framesPerSecond * (size + 4 + 20) * 8) / 1e9
}
