// The HTML report of a sweep (`dmalab sweep --html`, `dmalab merge --html`): every run as a
// cell placed by call number in the row of its outcome, the same cells as a strip in call
// order, and a table of every run with what it failed, what came of it and the spec that
// replays it (copy button). Built from the sweep's JSON, so a merge of shards gives the same
// page as the unsharded sweep.
import type { SweepJson } from '../sweep-json.js'
import type { SweepClass } from '../../faults/sweep.js'
import { count, esc, page, px, table, tip, type Section } from './page.js'
import { replayButton } from './run.js'

const OUTCOMES: readonly SweepClass[] = ['handled', 'leak', 'finding', 'bugcheck', 'hang']
const ROW_H = 22
const X0 = 80
const W = 900

function runTip(r: SweepJson['runs'][number]): string {
  const f = r.findings[0]
  return tip([`call ${r.call}: ${r.routine} (${r.phase}) → ${r.outcome}`, r.site === null ? null : `at ${r.site}`, f === undefined ? null : `${f.kind}: ${f.message.slice(0, 200)}`, `replay: --fail ${r.replay}`])
}

/** Call number × outcome: one row per outcome, each run a cell at its call number. */
function gridSvg(s: SweepJson, p: string): string {
  const maxCall = Math.max(1, ...s.runs.map((r) => r.call))
  const x = (call: number): number => X0 + ((call - 1) / Math.max(1, maxCall - 1)) * W
  const w = Math.max(2, Math.min(12, W / Math.max(1, s.runs.length)))
  const out: string[] = []
  OUTCOMES.forEach((o, i) => out.push(`<text x="${X0 - 8}" y="${px(i * ROW_H + 15)}" text-anchor="end">${o} (${count(s.summary[o])})</text><line class="gridline" x1="${X0}" y1="${px(i * ROW_H + ROW_H)}" x2="${X0 + W}" y2="${px(i * ROW_H + ROW_H)}"/>`))
  s.runs.forEach((r, i) => {
    const row = OUTCOMES.indexOf(r.outcome)
    out.push(`<rect class="cell ${r.outcome}" x="${px(x(r.call) - w / 2)}" y="${px(row * ROW_H + 4)}" width="${px(w)}" height="${ROW_H - 8}" data-ref="${p}run-${i}" data-call="${r.call}" data-outcome="${r.outcome}"${runTip(r)}/>`)
  })
  const h = OUTCOMES.length * ROW_H + 22
  out.push(`<text x="${X0}" y="${h - 4}">call 1</text><text x="${X0 + W}" y="${h - 4}" text-anchor="end">call ${count(maxCall)}</text>`)
  return `<svg id="${p}sweep-grid" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 ${h}" width="1000" height="${h}" role="img" aria-label="sweep runs by call number and outcome"><g class="axis">${out.join('\n')}</g></svg>`
}

export function sweepSections(s: SweepJson, p = ''): Section[] {
  const strip = s.runs.map((r, i) => `<button type="button" class="cell ${r.outcome}" data-ref="${p}run-${i}" data-call="${r.call}"${runTip(r)} aria-label="call ${r.call}: ${r.outcome}"></button>`).join('')
  const rows = s.runs.map((r, i) => ({
    attrs: ` id="${p}run-${i}" data-ref="${p}run-${i}" data-call="${r.call}" data-outcome="${r.outcome}" data-replay="${esc(r.replay)}" data-summary="${esc(`call ${r.call}: ${r.routine} at ${r.site ?? '?'} (${r.phase}) → ${r.outcome}${r.findings[0] === undefined ? '' : ` — ${r.findings[0].kind}: ${r.findings[0].message}`} — replay: --fail ${r.replay}`)}"`,
    cells: [
      String(r.call),
      esc(r.routine),
      r.site === null ? '' : `<code>${esc(r.site)}</code>`,
      esc(r.phase),
      `<span class="${r.outcome === 'handled' ? 'ok' : 'bad'}">${r.outcome}</span>`,
      r.findings.map((f) => `${esc(f.kind)}: ${esc(f.message)}${f.site === undefined ? '' : ` <code>${esc(f.site)}</code>`}`).join('<br>'),
      replayButton(r.replay),
    ],
  }))
  const s2 = s.summary
  return [
    {
      id: `${p}sweep`,
      title: `Sweep: ${count(s.runs.length)} runs`,
      html: `<p>handled ${count(s2.handled)}, leak ${count(s2.leak)}, finding ${count(s2.finding)}, bugcheck ${count(s2.bugcheck)}, hang ${count(s2.hang)} — ${count(s.calls)} allocation calls in the clean run (${esc(s.baseline)}); ${s.mode === 'stack' ? 'one run per unique driver call stack' : 'one run per call, that call failed'}.</p>
<h3>call number × outcome</h3>
${gridSvg(s, p)}
<h3>every run in call order (click one for its details)</h3>
<div class="cells">${strip}</div>
<div id="${p}detail" class="detail">Click a cell.</div>
<h3>runs</h3>
${table(['call', 'routine', 'site', 'phase', 'outcome', 'findings', 'replay'], rows, 'runs')}`,
    },
  ]
}

export function sweepHeader(s: SweepJson): string {
  const ok = s.summary.handled === s.runs.length
  return `<h1>dmalab sweep ${esc(s.miniport)}</h1><p class="verdict ${ok ? 'clean' : 'bad'}">${ok ? `all ${count(s.runs.length)} runs handled` : `${count(s.runs.length - s.summary.handled)} of ${count(s.runs.length)} runs not handled`}</p><p class="muted">${count(s.scenario.packets)} ${s.scenario.traffic === 'mixed' ? 'frames of a LAN\'s mix' : 'frames'}${s.scenario.size === undefined ? '' : ` of ${count(s.scenario.size)} bytes`} per run${s.scenario.rx > 0 ? `, ${count(s.scenario.rx)} from the wire` : ''}; IOMMU ${s.config.iommu.enabled ? 'on' : 'off'}, ${esc(s.config.memory.policy)}, ${s.config.nic.dmaAddressBits}-bit DMA device, seed ${s.config.seed}</p>`
}

/** `dmalab sweep --html` and `dmalab merge --html`: the whole page. */
export function sweepHtml(s: SweepJson): string {
  return page(`dmalab sweep ${s.miniport}`, sweepHeader(s), sweepSections(s))
}
