// Running a bundled example the way a user does, through the public API: create a machine
// with the NIC looped back, `await m.load(name)`, send (and optionally receive) frames, halt,
// and read the report.
import { createMachine, type Machine, type MachineConfig } from '../../src/index.js'
import type { LoadedMiniport } from '../../src/machine.js'
import type { Report } from '../../src/report.js'

export interface Scenario {
  readonly config?: MachineConfig
  /** Frames the protocol sends (default 40, 1500 bytes each). */
  readonly send?: number
  /** Frames injected from the wire besides the loopback (default 0, 200 bytes each). */
  readonly receive?: number
  /** Virtual time the machine runs idle between initialization and the first frame. */
  readonly idleNs?: number
  /** `mixed`: a LAN's mix of frames and NBL shapes, sizes chosen by the mix (default uniform 1500-byte frames). */
  readonly traffic?: 'uniform' | 'mixed'
}

export interface ScenarioResult {
  readonly m: Machine
  readonly loaded: LoadedMiniport
  readonly report: Report
  readonly kinds: ReadonlySet<string>
}

export async function runExample(name: string, s: Scenario = {}): Promise<ScenarioResult> {
  const m = createMachine({ wire: 'loopback', ...s.config })
  const loaded = await m.load(name)
  if (loaded.state === 'running') {
    if (s.idleNs !== undefined) m.run({ ns: s.idleNs })
    m.traffic.send(s.traffic === 'mixed' ? { count: s.send ?? 40, traffic: 'mixed' } : { count: s.send ?? 40, size: 1500 })
    if (s.receive !== undefined) m.traffic.receive({ count: s.receive, size: 200 })
  }
  m.halt()
  const report = m.report()
  return { m, loaded, report, kinds: new Set(report.findings.map((f) => f.kind)) }
}

export type Policy = 'high-first' | 'low-first'

/** DESIGN's `dmalab check` matrix: {IOMMU off, on} x {high-first, low-first}. */
export const MATRIX: ReadonlyArray<{ readonly iommu: boolean; readonly policy: Policy; readonly label: string }> = [
  { iommu: false, policy: 'high-first', label: 'IOMMU off, high-first' },
  { iommu: false, policy: 'low-first', label: 'IOMMU off, low-first' },
  { iommu: true, policy: 'high-first', label: 'IOMMU on, high-first' },
  { iommu: true, policy: 'low-first', label: 'IOMMU on, low-first' },
]

export function matrixConfig(c: { iommu: boolean; policy: Policy }, extra: MachineConfig = {}): MachineConfig {
  return { ...extra, iommu: c.iommu, memory: { ...extra.memory, policy: c.policy } }
}

/** Bytes still allocated, summed over every pool tag. */
export function poolOutstanding(report: Report): number {
  return Object.values(report.pool.byTag).reduce((n, t) => n + t.bytesOutstanding, 0)
}
