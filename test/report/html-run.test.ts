// The HTML report of a run, parsed with a DOM library and checked against the JSON report it
// pictures: every buffer on the map and in the table, every finding with its bug check and
// source lines, the 4 GiB line and the MMIO hole where they belong, IOVAs beside their frames;
// self-contained (nothing from the network) and byte-for-byte deterministic.
import { readFileSync } from 'node:fs'
import { parseHTML } from 'linkedom'
import { describe, expect, it } from 'vitest'
import { FOUR_GIB, hex } from '../../src/hw/address.js'
import { MMIO_HOLE_BASE } from '../../src/hw/memory.js'
import { bugCheckName } from '../../src/kernel/bugcheck.js'
import { siteFile } from '../../src/kernel/sites.js'
import { loadMiniport, runScenario } from '../../src/scenario.js'
import { attachRecorder, type Recorder } from '../../src/report/recorder.js'
import type { PicturedReport } from '../../src/report/recording.js'
import { runHtml } from '../../src/report/html/run.js'
import type { MachineConfig } from '../../src/config.js'

async function pictured(name: string, config: MachineConfig, packets = 30): Promise<PicturedReport> {
  const mp = await loadMiniport(name)
  let recorder: Recorder | undefined
  const { report } = runScenario(mp, config, { packets, size: 600, rx: 1 }, { onMachine: (m) => (recorder = attachRecorder(m)) })
  return JSON.parse(JSON.stringify(recorder!.finish(report))) as PicturedReport
}

type Doc = ReturnType<typeof parseHTML>['document']
type El = NonNullable<ReturnType<Doc['querySelector']>>

function dom(html: string): Doc {
  return parseHTML(html).document
}

/** x of an address on the map's physical scale, as the renderer computes it. */
function xOf(svg: El, address: number): number {
  const x0 = Number(svg.getAttribute('data-x0'))
  const width = Number(svg.getAttribute('data-width'))
  return x0 + (address / Number(svg.getAttribute('data-scale-top'))) * width
}

describe('HTML run report: e1000, IOMMU off, high-first memory', async () => {
  const report = await pictured('e1000', {})
  const html = runHtml(report)
  const doc = dom(html)
  const svg = doc.querySelector('svg#map')!

  it('is one self-contained page: inline style and script, nothing fetched from anywhere', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(doc.querySelectorAll('style').length).toBe(1)
    expect(doc.querySelectorAll('script').length).toBe(1)
    expect(doc.querySelectorAll('[src], link')).toHaveLength(0)
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
    expect(html).not.toMatch(/url\(|@import/)
  })

  it('draws the 4 GiB line at 4 GiB on the physical scale, and the MMIO hole from 3 GiB up to it', () => {
    const line = svg.querySelector('line.line4g')!
    expect(Number(line.getAttribute('data-address'))).toBe(FOUR_GIB)
    expect(Number(line.getAttribute('x1'))).toBeCloseTo(xOf(svg, FOUR_GIB), 1)
    const hole = svg.querySelector('rect[data-region="mmio-hole"]')!
    expect(Number(hole.getAttribute('x'))).toBeCloseTo(xOf(svg, MMIO_HOLE_BASE), 1)
    expect(Number(hole.getAttribute('x')) + Number(hole.getAttribute('width'))).toBeCloseTo(xOf(svg, FOUR_GIB), 1)
    expect(Number(svg.getAttribute('data-scale-top'))).toBe(report.memoryMap.regions.at(-1)!.end)
  })

  it('places every buffer of the JSON report on the map, on the right side of 4 GiB, and lists it with its allocating call', () => {
    const buffers = report.memoryMap.buffers
    expect(buffers.filter((b) => b.kind === 'shared-memory')).toHaveLength(report.dma.commonBuffers.length)
    expect(buffers.some((b) => b.kind === 'bounce-buffer')).toBe(true) // send buffers above 4 GiB, bounced for the 32-bit NIC
    const line = Number(svg.querySelector('line.line4g')!.getAttribute('x1'))
    for (const b of buffers) {
      const rects = [...svg.querySelectorAll(`rect[data-ref="buf-${b.id}"]`)]
      expect(rects.length, `buffer ${b.id}`).toBeGreaterThan(0)
      // The overview rectangle of the first frame: left of the 4 GiB line exactly when below it.
      const overview = rects.find((r) => Number(r.getAttribute('data-pa')) === b.frames[0]![0])!
      expect(Number(overview.getAttribute('x')) < line).toBe(b.frames[0]![0] < FOUR_GIB)
      expect(overview.getAttribute('class')).toContain(b.state)
      expect(overview.getAttribute('data-tip')).toContain(b.routine)
      expect(overview.getAttribute('data-tip')).toContain(`allocated at ${b.site}`)
      const row = doc.getElementById(`buf-${b.id}`)!
      expect(row.textContent).toContain(b.routine)
      expect(row.textContent).toContain(hex(b.logicalAddress))
    }
    for (const cb of report.dma.commonBuffers) {
      expect(buffers.some((b) => b.logicalAddress === cb.logicalAddress && b.frames[0]![0] === cb.physicalAddress && b.site === cb.site)).toBe(true)
    }
  })

  it('joins each bounce page to the page it stood in for', () => {
    for (const b of report.memoryMap.buffers.filter((x) => x.kind === 'bounce-buffer')) {
      expect(b.frames[0]![0]).toBeLessThan(FOUR_GIB)
      expect(b.standsInFor!).toBeGreaterThanOrEqual(FOUR_GIB)
      expect(svg.querySelector(`path.bounce-link[data-ref="buf-${b.id}"]`)).not.toBeNull()
    }
  })

  it('charts traffic and pool over virtual time, and tabulates pool usage by tag', () => {
    const sent = doc.querySelector('#traffic-chart path[data-series="traffic.sent"]')!
    expect(sent.getAttribute('data-tip')).toContain(`frames sent: ${report.traffic.txFrames} at the end`)
    for (const tag of Object.keys(report.pool.byTag)) {
      expect(doc.querySelector(`tr[data-tag="${tag}"]`)).not.toBeNull()
      expect(doc.querySelector(`#pool-chart path[data-series="pool.${tag}"]`)).not.toBeNull()
    }
    expect(report.timeline.timesNs.length).toBeGreaterThan(2)
  })

  it('is the same byte for byte from the same run', async () => {
    expect(runHtml(await pictured('e1000', {}))).toBe(html)
  })
})

describe('HTML run report: a buggy driver', async () => {
  // Pool memory handed to a 32-bit device by its physical address, above 4 GiB.
  const report = await pictured('buggy/pool-dma-above-4g', {}, 10)
  const doc = dom(runHtml(report))

  it('shows every finding with its kind, bug check, message and the source lines around its site', () => {
    expect(report.findings.length).toBeGreaterThan(0)
    report.findings.forEach((f, i) => {
      const el = doc.getElementById(`finding-${i}`)!
      expect(el.getAttribute('data-kind')).toBe(f.kind)
      expect(el.textContent).toContain(f.message)
      if (f.code !== undefined) expect(el.textContent).toContain(bugCheckName(f.code))
      if (f.code !== undefined && f.params !== undefined) for (const p of f.params) expect(el.textContent).toContain(hex(p))
      if (f.site !== undefined && i < 200) {
        const [file, line] = [f.site.slice(0, f.site.lastIndexOf(':')), Number(f.site.slice(f.site.lastIndexOf(':') + 1))]
        const source = readFileSync(siteFile(file), 'utf8').split('\n')[line - 1]!
        expect(el.querySelector('pre.source span.here')!.textContent).toContain(source.trim())
      }
    })
  })

  it('marks where the device was sent (above 4 GiB) and where the truncated address really went', () => {
    const truncated = report.findings.findIndex((f) => f.kind === 'dma-address-truncated')
    const svg = doc.querySelector('svg#map')!
    const marks = [...svg.querySelectorAll(`path.fault[data-ref="finding-${truncated}"]`)].map((m) => Number(m.getAttribute('data-address')))
    const f = report.findings[truncated]!
    expect(marks).toContain(f.details!['intended'])
    expect(marks).toContain(f.details!['actual'])
    expect(svg.querySelector(`path.trunc-link[data-ref="finding-${truncated}"]`)).not.toBeNull()
  })

  it('renders a driver call stack when a finding carries one', () => {
    const withStack = { ...report, findings: [{ ...report.findings[0]!, stack: [{ file: 'examples/buggy/pool-dma-above-4g.ts', line: 42, function: 'send' }, { file: 'examples/e1000/send.ts', line: 10, function: 'MiniportSend' }] }] }
    const items = [...dom(runHtml(withStack)).querySelectorAll('#finding-0 ol.stack li')].map((li) => li.textContent)
    expect(items).toEqual(['send examples/buggy/pool-dma-above-4g.ts:42', 'MiniportSend examples/e1000/send.ts:10'])
  })
})

describe('HTML run report: IOMMU on', async () => {
  const report = await pictured('e1000', { iommu: true })
  const svg = dom(runHtml(report)).querySelector('svg#map')!

  it('draws each IOVA in the device address space and a line from it to every run of frames it maps', () => {
    const translated = report.memoryMap.buffers.filter((b) => b.translatedByIommu)
    expect(translated.length).toBe(report.memoryMap.buffers.length)
    for (const b of translated) {
      expect(svg.querySelector(`rect[data-ref="buf-${b.id}"][data-iova="${b.logicalAddress}"]`), `buffer ${b.id}`).not.toBeNull()
      expect(b.logicalAddress + b.length).toBeLessThanOrEqual(FOUR_GIB)
      // The overview has one line per run of frames; zoomed strips may add more.
      expect(svg.querySelectorAll(`path.link[data-ref="buf-${b.id}"]`).length).toBeGreaterThanOrEqual(b.frames.length)
    }
    // high-first: the frames are above 4 GiB while the device is given IOVAs below it.
    expect(translated.every((b) => b.frames.every(([pa]) => pa >= FOUR_GIB))).toBe(true)
  })
})
