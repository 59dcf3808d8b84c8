// Device fuzz counterexamples that were the invariants' mistakes, kept as programs (a replay path
// names another input once the generators change).
import { describe, expect, it } from 'vitest'
import { runDeviceProgram } from './device-run.js'
import type { DeviceProgram } from './device-ops.js'

describe('device fuzz counterexamples', () => {
  it('a TSO send whose payload a receive buffer overlaps, on a loopback wire: the later segments carry what the receive wrote, which the invariant no longer calls the device wrong', () => {
    // `npm run fuzz -- --seconds 600` (seed 224878067): receive descriptor 0 points into the
    // payload area, so the first looped-back segment lands in payload bytes a later segment reads.
    const program = {
      config: { iommu: true, memory: '64MiB', dmaAddressBits: 32, wire: 'loopback', ringSize: 8, iotlbEntries: 1 },
      ops: [
        { op: 'init' },
        { op: 'descriptor', queue: 'rx', index: 0, buffer: { at: 'iova', off: 57179 }, length: 0, cmd: 0, status: 0 },
        { op: 'offload-send', udp: false, payload: 65482, tso: true, mss: 1460, vlan: false, vme: false, pieces: 3 },
      ],
    } as unknown as DeviceProgram
    expect(() => runDeviceProgram(program)).not.toThrow()
  })
})
