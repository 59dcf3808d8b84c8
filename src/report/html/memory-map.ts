// The physical memory map, drawn to scale: the address space from 0 to the top of RAM with its
// RAM ranges, the PCI MMIO hole and the 4 GiB line; every common buffer, shared-memory block,
// S/G piece and bounce page where its frames lie, coloured by what the device could do with
// it; with the IOMMU on, the device's (IOVA) address space above it and a line from each IOVA
// to the frames it maps. Buffers of a few KiB vanish on a line of 8 GiB, so the clusters they
// form get strips of their own below, each to its own scale.
import { FOUR_GIB, GiB, formatBytes } from '../../hw/address.js'
import type { MapBuffer, MapFault, MemoryMap } from '../recording.js'
import { addr, count, esc, px, table, tip } from './page.js'

const X0 = 10
const WIDTH = 980
/** Narrowest drawn width: a 4 KiB page on an 8 GiB line would be 1/2000 of a pixel. */
const MIN_W = 1.4
const MAX_STRIPS = 4
/** The IOVA lane (IOMMU on): top and height. */
const IOVA_Y = 24
const IOVA_H = 26

const KIND_TEXT: Record<MapBuffer['kind'], string> = {
  'common-buffer': 'common buffer',
  'shared-memory': 'shared memory',
  'sg-element': 'scatter/gather piece',
  'bounce-buffer': 'bounce page (map register)',
}
/** Sub-lane of each kind inside a lane: [top offset, height] as fractions of the lane. */
const SUBLANE: Record<MapBuffer['kind'], readonly [number, number]> = {
  'common-buffer': [0.06, 0.28],
  'shared-memory': [0.06, 0.28],
  'sg-element': [0.38, 0.26],
  'bounce-buffer': [0.68, 0.26],
}

interface Scale {
  readonly base: number
  readonly end: number
  readonly x: (a: number) => number
}

function scale(base: number, end: number): Scale {
  const span = Math.max(1, end - base)
  return { base, end, x: (a) => X0 + ((a - base) / span) * WIDTH }
}

function stateText(b: MapBuffer, map: MemoryMap): string {
  const bits = Math.log2(map.deviceLimit)
  if (b.state === 'truncated') return `NOT reachable: beyond the ${bits}-bit device's address lines (truncated on the bus)`
  if (b.state === 'faulted') return 'a device access to it went wrong (see the findings)'
  return `reachable by the ${bits}-bit device`
}

export function bufferTip(b: MapBuffer, map: MemoryMap): string {
  const first = b.frames[0]?.[0] ?? 0
  return tip([
    `${b.routine} ${formatBytes(b.length)} — ${KIND_TEXT[b.kind]}`,
    b.site === null ? 'allocating call: (no driver line)' : `allocated at ${b.site}`,
    `physical ${addr(first)}${b.frames.length > 1 ? ` (+${b.frames.length - 1} more runs)` : ''}, ${first >= FOUR_GIB ? 'above' : 'below'} 4 GiB`,
    `device address ${addr(b.logicalAddress)}${b.translatedByIommu ? ' (IOVA, translated by the IOMMU)' : ''}`,
    b.standsInFor === undefined ? null : `stands in for ${addr(b.standsInFor)} (above the device's reach)`,
    stateText(b, map),
    b.freed ? (b.kind === 'sg-element' || b.kind === 'bounce-buffer' ? 'put back by the end of the run' : 'freed by the end of the run') : 'still allocated at the end of the run',
    b.mapped > 1 ? `mapped ${count(b.mapped)} times` : null,
  ])
}

function rect(x1: number, x2: number, y: number, h: number, cls: string, attrs: string): string {
  const w = Math.max(MIN_W, x2 - x1)
  return `<rect class="${cls}" x="${px(x1)}" y="${px(y)}" width="${px(w)}" height="${px(h)}"${attrs}/>`
}

/** The buffers (and fault markers) inside [s.base, s.end) on a lane at y of height h. */
function drawBuffers(map: MemoryMap, s: Scale, y: number, h: number, space: 'physical' | 'iova', p: string): string {
  const out: string[] = []
  for (const b of map.buffers) {
    const cls = `buf ${b.state}${b.freed ? ' freed' : ''} ${b.kind}`
    const [top, height] = SUBLANE[b.kind]
    const attrs = ` data-ref="${p}buf-${b.id}" data-kind="${b.kind}"${bufferTip(b, map)}`
    if (space === 'iova') {
      if (!b.translatedByIommu || b.logicalAddress >= s.end || b.logicalAddress + b.length <= s.base) continue
      out.push(rect(s.x(b.logicalAddress), s.x(b.logicalAddress + b.length), y + h * 0.2, h * 0.6, cls, ` data-iova="${b.logicalAddress}"${attrs}`))
      continue
    }
    for (const [pa, len] of b.frames) {
      if (pa >= s.end || pa + len <= s.base) continue
      out.push(rect(s.x(Math.max(pa, s.base)), s.x(Math.min(pa + len, s.end)), y + h * top, h * height, cls, ` data-pa="${pa}"${attrs}`))
    }
  }
  // Faults at the same spot are drawn once (the first; the findings list has them all).
  const drawn = new Set<string>()
  for (const [i, f] of map.faults.entries()) {
    // Without an IOMMU the device address is a physical one too: mark where the device was sent
    // and, when the bus truncated it, where it really went.
    const marks = space === 'iova' ? (map.iommu ? [f.deviceAddress] : []) : map.iommu ? (f.physicalAddress === null ? [] : [f.physicalAddress]) : [...new Set([f.deviceAddress, f.physicalAddress ?? f.deviceAddress])]
    for (const at of marks) {
      if (at < s.base || at >= s.end || drawn.has(px(s.x(at)))) continue
      drawn.add(px(s.x(at)))
      out.push(`<path class="fault" d="M${px(s.x(at))} ${px(y + h + 1)} l-4 7 h8 z" data-ref="${f.finding >= 0 ? `${p}finding-${f.finding}` : `${p}fault-${i}`}" data-address="${at}"${faultTip(f)}/>`)
    }
  }
  return out.join('\n')
}

function faultTip(f: MapFault): string {
  return tip([`${f.kind}: device ${f.access || 'access'} at ${addr(f.deviceAddress)}`, f.physicalAddress === null ? null : `physical ${addr(f.physicalAddress)}`, `at ${count(f.timeNs)} ns of virtual time`])
}

/** Ticks every power-of-two GiB step that gives at most 9 labels. */
function ticks(s: Scale, y: number): string {
  let step = GiB
  while ((s.end - s.base) / step > 8) step *= 2
  const out: string[] = []
  for (let a = Math.ceil(s.base / step) * step; a <= s.end; a += step) {
    out.push(`<line class="gridline" x1="${px(s.x(a))}" y1="${px(y)}" x2="${px(s.x(a))}" y2="${px(y + 5)}"/><text x="${px(s.x(a))}" y="${px(y + 16)}" text-anchor="middle">${esc(a >= GiB ? `${a / GiB} GiB` : addr(a))}</text>`)
  }
  return `<g class="axis">${out.join('')}</g>`
}

/** Groups of nearby extents (a gap of more than 1% of the space starts a new group). */
function clusters(extents: Array<readonly [number, number]>, span: number): Array<{ base: number; end: number; items: number }> {
  const sorted = [...extents].sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const out: Array<{ base: number; end: number; items: number }> = []
  for (const [a, len] of sorted) {
    const last = out.at(-1)
    if (last !== undefined && a - last.end <= span / 100) {
      last.end = Math.max(last.end, a + len)
      last.items++
    } else out.push({ base: a, end: a + len, items: 1 })
  }
  // The busiest clusters, shown in address order, each padded to at least 64 KiB.
  return out
    .sort((a, b) => b.items - a.items || a.base - b.base)
    .slice(0, MAX_STRIPS)
    .sort((a, b) => a.base - b.base)
    .map((c) => {
      const pad = Math.max((c.end - c.base) * 0.04, 0x8000)
      return { base: Math.max(0, Math.floor((c.base - pad) / 4096) * 4096), end: Math.ceil((c.end + pad) / 4096) * 4096, items: c.items }
    })
}

function stripLabel(kind: 'physical' | 'IOVA', c: { base: number; end: number }): string {
  return `${kind} ${addr(c.base)} – ${addr(c.end)} (${formatBytes(c.end - c.base)})`
}

/** `p` prefixes every id and reference, so several maps can share a page (`check`). */
export function memoryMapSvg(map: MemoryMap, p = ''): string {
  const ramTop = Math.max(...map.regions.map((r) => r.end))
  const top = Math.max(ramTop, map.fourGiB)
  const phys = scale(0, top)
  const out: string[] = []
  let y = 8
  let iovaScale: Scale | undefined
  const iovaBuffers = map.buffers.filter((b) => b.translatedByIommu)
  if (map.iommu) {
    const highest = Math.max(0, ...iovaBuffers.map((b) => b.logicalAddress + b.length))
    let iovaTop = Math.min(map.deviceLimit, 2 ** 52)
    while (iovaTop / 2 >= Math.max(highest, FOUR_GIB)) iovaTop /= 2
    iovaScale = scale(0, iovaTop)
    out.push(`<text x="${X0}" y="${y + 10}">device (IOVA) address space: 0 – ${esc(formatBytes(iovaTop))}, to scale; what the device is given, translated by the IOMMU</text>`)
    out.push(`<rect class="iova-space" x="${X0}" y="${IOVA_Y}" width="${WIDTH}" height="${IOVA_H}"/>`)
    out.push(drawBuffers(map, iovaScale, IOVA_Y, IOVA_H, 'iova', p))
    y += 56
  }
  const laneY = y + 80
  const laneH = 44
  out.push(`<text x="${X0}" y="${laneY - 44}">physical address space: 0 – ${esc(formatBytes(top))}, to scale (lanes: common buffers and shared memory; scatter/gather pieces; bounce pages)</text>`)
  for (const r of map.regions) {
    out.push(`<rect class="${r.kind === 'ram' ? 'ram' : 'hole'}" x="${px(phys.x(r.base))}" y="${laneY}" width="${px(phys.x(r.end) - phys.x(r.base))}" height="${laneH}" data-region="${r.kind}"${tip([r.kind === 'ram' ? `RAM ${addr(r.base)} – ${addr(r.end)} (${formatBytes(r.end - r.base)})` : `PCI MMIO hole ${addr(r.base)} – ${addr(r.end)}: device registers, no RAM`])}/>`)
  }
  for (const d of map.devices) out.push(rect(phys.x(d.base), phys.x(d.base + d.length), laneY + laneH - 8, 8, 'bar', tip([`${d.name}`, `${addr(d.base)} – ${addr(d.base + d.length)}`])))
  if (iovaScale !== undefined) {
    // One line from each IOVA range to each run of frames it maps (the translation).
    for (const b of iovaBuffers) {
      let at = b.logicalAddress
      for (const [pa, len] of b.frames) {
        const x1 = iovaScale.x(at + len / 2)
        const x2 = phys.x(pa + len / 2)
        out.push(`<path class="link" data-ref="${p}buf-${b.id}" d="M${px(x1)} ${IOVA_Y + IOVA_H} C${px(x1)} ${px(laneY - 30)} ${px(x2)} ${px(laneY - 40)} ${px(x2)} ${px(laneY)}"/>`)
        at += len
      }
    }
  }
  out.push(drawBuffers(map, phys, laneY, laneH, 'physical', p))
  for (const b of map.buffers) {
    if (b.standsInFor === undefined) continue
    const x1 = phys.x(b.frames[0]![0])
    const x2 = phys.x(b.standsInFor)
    out.push(`<path class="bounce-link" data-ref="${p}buf-${b.id}" d="M${px(x1)} ${px(laneY + laneH)} Q${px((x1 + x2) / 2)} ${px(laneY + laneH + 34)} ${px(x2)} ${px(laneY + laneH)}"/>`)
  }
  if (!map.iommu) {
    // A truncated device address: an arc from where the driver meant (its buffer) to where the
    // bus, short of address lines, sent the access.
    for (const f of map.faults) {
      if (f.physicalAddress === null || f.physicalAddress === f.deviceAddress) continue
      const x1 = phys.x(f.deviceAddress)
      const x2 = phys.x(f.physicalAddress)
      out.push(`<path class="trunc-link" data-ref="${f.finding >= 0 ? `${p}finding-${f.finding}` : ''}" d="M${px(x1)} ${px(laneY)} Q${px((x1 + x2) / 2)} ${px(laneY - 30)} ${px(x2)} ${px(laneY)}"/>`)
    }
  }
  out.push(ticks(phys, laneY + laneH + 2))
  const x4 = phys.x(map.fourGiB)
  out.push(`<line class="line4g" data-address="${map.fourGiB}" x1="${px(x4)}" y1="${px(laneY - 20)}" x2="${px(x4)}" y2="${px(laneY + laneH + 8)}"/><text x="${px(x4 + 4)}" y="${px(laneY - 22)}" class="bad">4 GiB</text>`)
  if (map.deviceLimit !== map.fourGiB && map.deviceLimit < top) {
    const xl = phys.x(map.deviceLimit)
    out.push(`<line class="limit" data-address="${map.deviceLimit}" x1="${px(xl)}" y1="${px(laneY - 10)}" x2="${px(xl)}" y2="${px(laneY + laneH + 6)}"/><text x="${px(xl + 4)}" y="${px(laneY - 12)}">device limit</text>`)
  }
  y = laneY + laneH + 48

  // Zoomed strips: each cluster of buffers (and faults) at its own scale; with the IOMMU on,
  // the IOVA clusters come first and a line joins each IOVA to its frames in the strips below.
  const extents: Array<readonly [number, number]> = map.buffers.flatMap((b) => b.frames)
  for (const f of map.faults) {
    if (f.physicalAddress !== null) extents.push([f.physicalAddress, 1])
    if (!map.iommu) extents.push([f.deviceAddress, 1])
  }
  type Strip = { kind: 'physical' | 'IOVA'; c: { base: number; end: number }; s: Scale; from: Scale; y: number }
  const strips: Strip[] = []
  if (iovaScale !== undefined) {
    const iovaExtents = iovaBuffers.map((b): readonly [number, number] => [b.logicalAddress, b.length])
    for (const c of clusters(iovaExtents, iovaScale.end).slice(0, 2)) strips.push({ kind: 'IOVA', c, s: scale(c.base, c.end), from: iovaScale, y: 0 })
  }
  for (const c of clusters(extents, top)) strips.push({ kind: 'physical', c, s: scale(c.base, c.end), from: phys, y: 0 })
  const h = 30
  for (const st of strips) {
    st.y = y + 14
    y += h + (st.kind === 'IOVA' ? 70 : 34)
  }
  const iovaStrips = strips.filter((st) => st.kind === 'IOVA')
  const physStrips = strips.filter((st) => st.kind === 'physical')
  const within = (st: Strip, a: number): boolean => a >= st.c.base && a < st.c.end
  for (const b of iovaBuffers) {
    let at = b.logicalAddress
    for (const [pa, len] of b.frames) {
      const from = iovaStrips.find((st) => within(st, at))
      const to = physStrips.find((st) => within(st, pa))
      if (from !== undefined && to !== undefined) {
        const x1 = from.s.x(at + len / 2)
        const x2 = to.s.x(pa + len / 2)
        out.push(`<path class="link" data-ref="${p}buf-${b.id}" d="M${px(x1)} ${px(from.y + h)} C${px(x1)} ${px(to.y - 20)} ${px(x2)} ${px(from.y + h + 20)} ${px(x2)} ${px(to.y)}"/>`)
      }
      at += len
    }
  }
  for (const st of strips) {
    const srcY = st.kind === 'IOVA' ? IOVA_Y + IOVA_H : laneY + laneH
    out.push(`<path class="zoom" d="M${px(st.from.x(st.c.base))} ${px(srcY)} L${X0} ${px(st.y)} M${px(st.from.x(st.c.end))} ${px(srcY)} L${X0 + WIDTH} ${px(st.y)}"/>`)
    out.push(`<text x="${X0}" y="${px(st.y - 4)}">${esc(stripLabel(st.kind, st.c))}</text>`)
    out.push(`<rect class="${st.kind === 'IOVA' ? 'iova-space' : 'ram'}" x="${X0}" y="${px(st.y)}" width="${WIDTH}" height="${h}" data-strip="${st.kind}" data-base="${st.c.base}" data-end="${st.c.end}"/>`)
    out.push(drawBuffers(map, st.s, st.y, h, st.kind === 'IOVA' ? 'iova' : 'physical', p))
  }
  const height = y + 4
  return `<svg id="${p}map" class="memory-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 ${px(height)}" width="1000" height="${px(height)}" data-scale-top="${top}" data-x0="${X0}" data-width="${WIDTH}" role="img" aria-label="physical memory map">\n${out.join('\n')}\n</svg>`
}

export function legend(map: MemoryMap): string {
  const item = (cls: string, text: string): string => `<span><i class="${cls}"></i>${esc(text)}</span>`
  return `<div class="legend">${[
    item('sw-reachable', 'reachable by the device'),
    item('sw-truncated', 'truncated: beyond its address lines'),
    item('sw-faulted', 'faulted: a device access went wrong'),
    item('sw-freed', 'freed / put back by the end (hollow)'),
    item('sw-ram', 'RAM'),
    item('sw-hole', 'PCI MMIO hole'),
    map.iommu ? item('sw-iova', 'IOVA space (lines: IOVA → frame)') : '',
  ].join('')}<span><b class="bad">- - -</b> 4 GiB</span><span><b class="bad">▲</b> fault</span></div>`
}

export function bufferTable(map: MemoryMap, p = ''): string {
  const rows = map.buffers.map((b) => ({
    attrs: ` id="${p}buf-${b.id}" data-ref="${p}buf-${b.id}"`,
    cells: [
      String(b.id),
      esc(KIND_TEXT[b.kind]),
      esc(b.routine),
      esc(formatBytes(b.length)),
      `<span class="mono">${esc(b.frames.slice(0, 3).map(([pa, len]) => `${addr(pa)}+${formatBytes(len)}`).join(', '))}</span>${b.frames.length > 3 ? ` <span class="muted">… ${b.frames.length} runs in all</span>` : ''}`,
      `<span class="mono">${esc(addr(b.logicalAddress))}</span>${b.translatedByIommu ? ' IOVA' : ''}${b.standsInFor === undefined ? '' : ` <span class="muted">(for ${esc(addr(b.standsInFor))})</span>`}`,
      `<span class="${b.state === 'reachable' ? 'ok' : 'bad'}">${b.state}</span>`,
      b.freed ? 'yes' : '<b>no</b>',
      count(b.mapped),
      b.site === null ? '' : `<code>${esc(b.site)}</code>`,
    ],
  }))
  const omitted = Object.entries(map.omitted).filter(([, n]) => n > 0)
  const note = omitted.length === 0 ? '' : `<p class="muted">Not drawn (the map keeps at most a few hundred placements): ${omitted.map(([k, n]) => `${count(n)} ${esc(k)}`).join(', ')}.</p>`
  return `<details class="buffers"><summary>every buffer on the map (${count(map.buffers.length)})</summary>${table(['#', 'kind', 'routine', 'size', 'physical (runs)', 'device address', 'state', 'freed', 'mapped', 'allocated at'], rows, 'buffers')}</details>${note}`
}
