// Records what the HTML report pictures while a machine runs, only when asked (`--html`):
// every DMA buffer as it is made (the DMA layer's observer), and the traffic, interrupt and
// pool counters at the end of each time bucket (the clock's sample hook). Without a recorder
// attached, a machine pays a null check per S/G list and a comparison per event.
import { FOUR_GIB, PAGE_SIZE } from '../hw/address.js'
import { MMIO_HOLE_BASE, MMIO_HOLE_END } from '../hw/memory.js'
import type { Finding } from '../kernel/kinds.js'
import type { Machine } from '../machine.js'
import type { Report } from '../report.js'
import type { AdapterState, DmaBufferRecord } from '../dma/adapter.js'
import type { DeviceRange, ObservedMapping } from '../dma/observer.js'
import type { DmaMapObserver } from '../dma/observer.js'
import { siteText, type CallSite } from '../kernel/calls.js'
import { Sampler } from './timeline.js'
import { MAX_MAP_FAULTS, MAX_SG_PLACEMENTS, MAX_TAG_SERIES, type BufferKind, type MapBuffer, type MapFault, type MemoryMap, type PicturedReport, type Timeline } from './recording.js'

/** A buffer while the run goes on: its state is decided at the end, its site resolved then. */
interface Placement {
  readonly kind: BufferKind
  readonly routine: string
  readonly site: string | CallSite | undefined
  readonly length: number
  readonly logicalAddress: number
  readonly translatedByIommu: boolean
  readonly frames: Array<readonly [number, number]>
  readonly standsInFor?: number
  readonly timeNs: number
  /** Common buffers: the DMA layer's record, whose `freed` flag it keeps up to date. */
  readonly record?: DmaBufferRecord
  /** S/G placements: lists holding it now, and how many ever did. */
  live: number
  mapped: number
}

export class Recorder implements DmaMapObserver {
  private readonly m: Machine
  private readonly placements: Placement[] = []
  private readonly byKey = new Map<string, Placement>()
  private readonly held = new WeakMap<ObservedMapping, Placement[]>()
  private readonly omitted: Record<string, number> = {}
  private readonly sampler: Sampler
  private readonly tags = new Set<string>()
  private omittedTags = 0

  constructor(m: Machine) {
    this.m = m
    this.sampler = new Sampler(() => this.counters())
    m.hal.platform.observer = this
    m.clock.onSample = (at) => {
      this.sampler.advance(at)
      m.clock.sampleAt = this.sampler.nextAt
    }
    m.clock.sampleAt = this.sampler.nextAt
  }

  commonBuffer(_adapter: AdapterState, record: DmaBufferRecord, pfns: readonly number[]): void {
    const frames: Array<[number, number]> = []
    let left = record.length
    for (const pfn of pfns) {
      const len = Math.min(PAGE_SIZE, left)
      left -= len
      const last = frames.at(-1)
      if (last !== undefined && last[0] + last[1] === pfn * PAGE_SIZE) last[1] += len
      else frames.push([pfn * PAGE_SIZE, len])
    }
    this.placements.push({
      kind: record.routine === 'NdisMAllocateSharedMemory' ? 'shared-memory' : 'common-buffer',
      routine: record.routine,
      site: record.site ?? undefined,
      length: record.length,
      logicalAddress: record.logicalAddress,
      translatedByIommu: record.translatedByIommu,
      frames,
      timeNs: this.m.clock.now,
      record,
      live: 0,
      mapped: 1,
    })
  }

  /**
   * Each physical piece of the list once per distinct placement: the driver's bytes (an
   * `sg-element`, with the address the device got for them) and, when bounced, the map register
   * page that stood in for them (a `bounce-buffer`).
   */
  mapped(adapter: AdapterState, record: ObservedMapping, elements: readonly DeviceRange[]): void {
    const bounceOf = new Map<number, number>()
    for (const [bounce, original] of record.bounced) bounceOf.set(bounce, original)
    const held: Placement[] = []
    let e = 0
    let within = 0
    for (const [pa, len] of record.mapping.ranges) {
      // Pieces fill the elements in order (an element is adjacent pieces merged).
      const element = elements[e]
      const logical = element === undefined ? pa : element.Address + within
      within += len
      if (element !== undefined && within >= element.Length) {
        e++
        within = 0
      }
      const original = bounceOf.get(pa)
      const iommu = adapter.iommuOn
      const add = (kind: BufferKind, frame: number, standsInFor?: number): void => {
        const p = this.place(kind, record, logical, frame, len, iommu, standsInFor)
        if (p !== null) held.push(p)
      }
      if (original === undefined) add('sg-element', pa)
      else {
        add('sg-element', original)
        add('bounce-buffer', pa, original)
      }
    }
    if (held.length > 0) this.held.set(record, held)
  }

  unmapped(record: ObservedMapping): void {
    for (const p of this.held.get(record) ?? []) p.live--
    this.held.delete(record)
  }

  private place(kind: BufferKind, record: ObservedMapping, logical: number, pa: number, length: number, iommu: boolean, standsInFor: number | undefined): Placement | null {
    // One placement per physical piece: the same send buffer mapped for packet after packet is
    // drawn once, with the address the device got for it the first time and a count.
    const key = `${kind}|${record.routine}|${pa}|${length}`
    let p = this.byKey.get(key)
    if (p === undefined) {
      if (this.byKey.size >= MAX_SG_PLACEMENTS) {
        this.omitted[kind] = (this.omitted[kind] ?? 0) + 1
        return null
      }
      p = { kind, routine: record.routine, site: record.site, length, logicalAddress: logical, translatedByIommu: iommu, frames: [[pa, length]], ...(standsInFor === undefined ? {} : { standsInFor }), timeNs: this.m.clock.now, live: 0, mapped: 0 }
      this.byKey.set(key, p)
      this.placements.push(p)
    }
    p.live++
    p.mapped++
    return p
  }

  /** Every channel's value now. */
  private counters(): Map<string, number> {
    const out = new Map<string, number>()
    const protocol = this.m.ndis?.upper.counters
    out.set('traffic.sent', protocol?.txFrames ?? 0)
    out.set('traffic.received', protocol?.rxFrames ?? 0)
    for (const [reason, n] of Object.entries(this.m.droppedFrames())) out.set(`traffic.dropped.${reason}`, n)
    out.set('interrupts', this.m.nic.interrupt.assertions)
    let other = 0
    const byTag = Object.entries(this.m.kernel.pool.tracker.byTag())
    for (const [tag, usage] of byTag) {
      if (!this.tags.has(tag) && this.tags.size < MAX_TAG_SERIES) this.tags.add(tag)
      if (this.tags.has(tag)) out.set(`pool.${tag}`, usage.bytesOutstanding)
      else other += usage.bytesOutstanding
    }
    this.omittedTags = Math.max(this.omittedTags, byTag.length - this.tags.size)
    if (this.omittedTags > 0) out.set('pool.other', other)
    return out
  }

  /** The report with its picture: call once, after the run (the machine's report is taken here). */
  finish(report: Report = this.m.report()): PicturedReport {
    this.m.clock.onSample = null
    this.m.clock.sampleAt = Infinity
    const timeline: Timeline = { ...this.sampler.finish(this.m.clock.now), omittedTags: this.omittedTags }
    return { ...report, memoryMap: this.memoryMap(report.findings), timeline }
  }

  private memoryMap(findings: readonly Finding[]): MemoryMap {
    const m = this.m
    const limit = m.config.nic.dmaAddressBits >= 53 ? 2 ** 53 : 2 ** m.config.nic.dmaAddressBits
    const faults = mapFaults(findings, m.iommu.faults)
    const regions: Array<MemoryMap['regions'][number]> = []
    for (const r of m.ram.ranges) regions.push({ kind: 'ram', base: r.base, end: r.base + r.size })
    if (m.ram.top > MMIO_HOLE_BASE) regions.splice(1, 0, { kind: 'mmio-hole', base: MMIO_HOLE_BASE, end: MMIO_HOLE_END })
    const bar = m.nic.pci.bars.find((b) => b.index === 0)
    const buffers = this.placements.map((p, id): MapBuffer => {
      const truncated = p.logicalAddress + p.length > limit
      const hit = faults.some((f) => (f.deviceAddress >= p.logicalAddress && f.deviceAddress < p.logicalAddress + p.length) || (f.physicalAddress !== null && p.frames.some(([pa, len]) => f.physicalAddress! >= pa && f.physicalAddress! < pa + len)))
      const site = typeof p.site === 'string' ? p.site : siteText(p.site)
      return {
        id,
        kind: p.kind,
        routine: p.routine,
        site: site ?? null,
        length: p.length,
        logicalAddress: p.logicalAddress,
        translatedByIommu: p.translatedByIommu,
        frames: p.frames,
        ...(p.standsInFor === undefined ? {} : { standsInFor: p.standsInFor }),
        state: truncated ? 'truncated' : hit ? 'faulted' : 'reachable',
        freed: p.record !== undefined ? p.record.freed : p.live === 0,
        mapped: p.mapped,
        timeNs: p.timeNs,
      }
    })
    return {
      regions,
      devices: bar === undefined ? [] : [{ name: `${m.nic.description} registers (BAR0, ${m.nic.bdf})`, base: m.nic.bar0, length: bar.size }],
      deviceLimit: limit,
      fourGiB: FOUR_GIB,
      iommu: m.config.iommu.enabled,
      buffers,
      faults: faults.slice(0, MAX_MAP_FAULTS),
      omitted: { ...this.omitted, ...(faults.length > MAX_MAP_FAULTS ? { faults: faults.length - MAX_MAP_FAULTS } : {}) },
    }
  }
}

/** Attaches a recorder to a machine right after it is created (before the driver loads). */
export function attachRecorder(m: Machine): Recorder {
  return new Recorder(m)
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** Device accesses that went wrong: findings that carry a device address, then IOMMU records no finding covered. */
function mapFaults(findings: readonly Finding[], iommuFaults: ReadonlyArray<{ address: number; access: string }>): MapFault[] {
  const out: MapFault[] = []
  findings.forEach((f, i) => {
    const d = f.details
    if (d === undefined) return
    const device = num(d['deviceAddress']) ?? num(d['intended']) ?? num(d['address'])
    if (device === null) return
    out.push({ kind: f.kind, deviceAddress: device, physicalAddress: num(d['physicalAddress']) ?? num(d['actual']), access: typeof d['access'] === 'string' ? d['access'] : '', timeNs: f.timeNs, finding: i })
  })
  for (const r of iommuFaults) {
    if (!out.some((f) => f.kind === 'iommu-fault' && f.deviceAddress === r.address)) out.push({ kind: 'iommu-fault', deviceAddress: r.address, physicalAddress: null, access: r.access, timeNs: 0, finding: -1 })
  }
  return out
}
