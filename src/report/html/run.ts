// The HTML report of one run (`dmalab run --html`, and each configuration of `check`): the
// physical memory map, the findings, traffic and pool over virtual time, the DMA summary and
// the injected faults with the spec that replays each one.
import { formatBytes, hex } from '../../hw/address.js'
import type { PicturedReport } from '../recording.js'
import { poolChart, timeText, trafficChart } from './charts.js'
import { SourceCache, findingsHtml } from './findings.js'
import { bufferTable, legend, memoryMapSvg } from './memory-map.js'
import { count, esc, page, table, type Section } from './page.js'

export function describeMachine(r: PicturedReport): string {
  const c = r.config
  return `${formatBytes(c.memory.size)} RAM (${c.memory.policy}${c.memory.fragmentation > 0 ? `, fragmentation ${c.memory.fragmentation}` : ''}), IOMMU ${c.iommu.enabled ? 'on' : 'off'}, ${c.nic.dmaAddressBits}-bit DMA device, seed ${c.seed}, verifier ${c.verifier.mode}${c.verifier.specialPool ? ' + special pool' : ''}${c.verifier.dmaGuard ? ' + DMA guard' : ''}${c.faults.length > 0 ? `, --fail ${c.faults.join(' --fail ')}` : ''}`
}

/** One line: the outcome and what decided it. */
export function outcomeText(r: PicturedReport): { text: string; clean: boolean } {
  const kinds = new Map<string, number>()
  for (const f of r.findings) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1)
  const list = [...kinds].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ')
  switch (r.outcome) {
    case 'clean':
      return { text: `clean: no findings (${count(r.traffic.txFrames)} frames sent, ${count(r.traffic.rxFrames)} received intact)`, clean: true }
    case 'bugcheck':
      return { text: `BUG CHECK ${hex(r.bugcheck!.code)} ${r.bugcheck!.name}${list === '' ? '' : ` — ${list}`}`, clean: false }
    case 'init-failed':
      return { text: `initialization failed: MiniportInitializeEx returned ${r.init.status}${list === '' ? ', nothing leaked' : ` — ${list}`}`, clean: r.findings.length === 0 }
    case 'findings':
      return { text: `${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}: ${list}`, clean: false }
  }
}

function trafficHtml(r: PicturedReport, p: string): string {
  const t = r.traffic
  const rows = [
    ['frames the protocol asked to send', t.txRequested],
    ['sent', t.txFrames],
    ['received intact', t.rxFrames],
    ...Object.entries(t.dropped).map(([k, v]): [string, number] => [`dropped: ${k}`, v]),
    ['LAN frames after the halt', t.afterHalt.frames],
  ] as Array<[string, number]>
  return `${table(['', 'frames'], rows.map(([k, v]) => ({ cells: [esc(k), `<span class="${k.startsWith('dropped') && v > 0 ? 'warn' : ''}">${count(v)}</span>`] })))}
<h3>over virtual time (cumulative; red lines: findings)</h3>
${trafficChart(r.timeline, r.findings, p)}`
}

function poolHtml(r: PicturedReport, p: string): string {
  const tags = Object.entries(r.pool.byTag)
  const rows = tags.map(([tag, u]) => ({ attrs: ` data-tag="${esc(tag)}"`, cells: [`<code>'${esc(tag)}'</code>`, count(u.allocs), count(u.frees), `<span class="${u.bytesOutstanding > 0 ? 'warn' : ''}">${esc(formatBytes(u.bytesOutstanding))}</span>`] }))
  return `${tags.length === 0 ? '<p class="muted">(no pool allocations)</p>' : table(['tag', 'allocs', 'frees', 'outstanding'], rows)}
<h3>bytes outstanding per tag over virtual time (sampled at the end of each time bucket)</h3>
${poolChart(r.timeline, p)}`
}

function dmaHtml(r: PicturedReport): string {
  const d = r.dma
  const faults = d.iommuFaults.length === 0 ? '' : table(['requester', 'access', 'device address', 'reason'], d.iommuFaults.map((f) => ({ cells: [esc(f.requester), esc(f.access), `<span class="mono">${esc(hex(f.address))}</span>`, `${esc(f.reasonText)} (${f.reason})`] })))
  return `<p>${count(d.scatterGatherLists)} scatter/gather lists${d.bounceBytes > 0 ? `; ${count(d.bouncedLists)} bounced through map registers (${esc(formatBytes(d.bounceBytes))} copied)` : ''}; ${count(d.commonBuffers.length)} common buffers; ${count(d.iommuFaults.length)} IOMMU faults.</p>${faults}`
}

export function replayButton(spec: string): string {
  return `<code>--fail ${esc(spec)}</code><button class="copy" type="button" data-copy="--fail ${esc(spec)}">copy</button>`
}

function injectedHtml(r: PicturedReport): string {
  const rows = r.faults.injected.map((f) => ({ cells: [String(f.call), esc(f.routine), f.tag === null ? '' : `'${esc(f.tag)}'`, esc(formatBytes(f.size)), esc(f.phase), f.site === null ? '' : `<code>${esc(f.site)}</code>`, esc(timeText(f.timeNs)), replayButton(f.replay)] }))
  return table(['call', 'routine', 'tag', 'size', 'phase', 'site', 'time', 'replay'], rows)
}

/** The sections of one run's report; `p` prefixes ids when several share a page. */
export function runSections(r: PicturedReport, sources: SourceCache, p = ''): Section[] {
  const sections: Section[] = [
    { id: `${p}memory-map`, title: 'Physical memory map', html: `${legend(r.memoryMap)}\n${memoryMapSvg(r.memoryMap, p)}\n<p class="muted">Hover over a buffer for the call that allocated it and its source line; click to find it in the table.</p>\n${bufferTable(r.memoryMap, p)}` },
    { id: `${p}findings`, title: `Findings (${r.findings.length})`, html: findingsHtml(r.findings, r.findingsSuppressed, sources, p) },
    { id: `${p}traffic`, title: 'Traffic', html: trafficHtml(r, p) },
    { id: `${p}pool`, title: 'Pool by tag', html: poolHtml(r, p) },
    { id: `${p}dma`, title: 'DMA', html: dmaHtml(r) },
  ]
  if (r.faults.injected.length > 0) sections.push({ id: `${p}injected`, title: `Injected faults (${r.faults.injected.length})`, html: injectedHtml(r) })
  return sections
}

export function runHeader(r: PicturedReport, command: string): string {
  const o = outcomeText(r)
  return `<h1>dmalab ${esc(command)} ${esc(r.miniport)}</h1><p class="verdict ${o.clean ? 'clean' : 'bad'}" data-outcome="${r.outcome}">${esc(o.text)}</p><p class="muted">machine: ${esc(describeMachine(r))}; initialization: ${esc(r.init.status)}</p>`
}

/** `dmalab run --html`: the whole page. */
export function runHtml(r: PicturedReport): string {
  return page(`dmalab run ${r.miniport} — ${r.outcome}`, runHeader(r, 'run'), runSections(r, new SourceCache()))
}
