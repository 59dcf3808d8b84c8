// Line charts over virtual time for the HTML report: pool bytes outstanding per tag, and frames
// sent, received and dropped (by reason) with interrupts. Series come bucketed from the
// recorder (report/timeline.ts); findings are marked on the time axis where they happened.
import { formatBytes } from '../../hw/address.js'
import type { Finding } from '../../kernel/kinds.js'
import type { Timeline } from '../recording.js'
import { count, esc, px, tip } from './page.js'

const X0 = 70
const W = 900
const H = 180
const Y0 = 12
const COLORS = ['#1565c0', '#2e7d32', '#c62828', '#6a1b9a', '#ef6c00', '#00838f', '#ad1457', '#4e342e', '#558b2f', '#283593', '#f9a825', '#37474f', '#00695c', '#8e24aa', '#d84315', '#5d4037', '#1b5e20']

export interface ChartSeries {
  readonly name: string
  readonly label: string
  readonly values: readonly number[]
}

/** `1.2 ms`, `340 µs`, `12 ns`: virtual time for an axis. */
export function timeText(ns: number): string {
  if (ns >= 1e9) return `${+(ns / 1e9).toFixed(2)} s`
  if (ns >= 1e6) return `${+(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${+(ns / 1e3).toFixed(2)} µs`
  return `${ns} ns`
}

/** A chart of `series` against `timesNs`; `unit` formats the y axis. */
export function lineChart(id: string, timesNs: readonly number[], series: readonly ChartSeries[], unit: (v: number) => string, findings: readonly Finding[] = [], p = ''): string {
  if (series.length === 0 || timesNs.length === 0) return '<p class="muted">(nothing recorded)</p>'
  const end = Math.max(1, timesNs.at(-1)!)
  const max = Math.max(1, ...series.flatMap((s) => s.values))
  const x = (t: number): number => X0 + (t / end) * W
  const y = (v: number): number => Y0 + H - (v / max) * H
  const out: string[] = []
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4
    out.push(`<line class="gridline" x1="${X0}" y1="${px(y(v))}" x2="${X0 + W}" y2="${px(y(v))}"/><text x="${X0 - 6}" y="${px(y(v) + 4)}" text-anchor="end">${esc(unit(v))}</text>`)
  }
  for (let i = 0; i <= 5; i++) out.push(`<text x="${px(X0 + (W * i) / 5)}" y="${Y0 + H + 16}" text-anchor="middle">${esc(timeText(Math.round((end * i) / 5)))}</text>`)
  series.forEach((s, i) => {
    // A step line: each value holds from the previous sample to its own.
    let d = `M${px(x(0))} ${px(y(0))}`
    s.values.forEach((v, k) => {
      d += ` H${px(x(timesNs[k]!))} V${px(y(v))}`
    })
    const last = s.values.at(-1) ?? 0
    out.push(`<path class="series" data-series="${esc(s.name)}" stroke="${COLORS[i % COLORS.length]}" d="${d}"${tip([`${s.label}: ${unit(last)} at the end`, `peak ${unit(Math.max(...s.values))}`])}/>`)
  })
  for (const [i, f] of findings.entries()) {
    if (f.timeNs > end) continue
    out.push(`<line class="marker" data-ref="${p}finding-${i}" x1="${px(x(f.timeNs))}" y1="${Y0}" x2="${px(x(f.timeNs))}" y2="${Y0 + H}"${tip([`${f.kind} at ${timeText(f.timeNs)}`, f.message.slice(0, 160)])}/>`)
  }
  const legend = series.map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.label)}</span>`).join('')
  return `<svg id="${esc(id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 ${Y0 + H + 26}" width="1000" height="${Y0 + H + 26}" role="img" aria-label="${esc(id)}"><g class="axis">${out.join('\n')}</g></svg><div class="legend">${legend}</div>`
}

/** Pool bytes outstanding per tag over virtual time. */
export function poolChart(t: Timeline, p = ''): string {
  const series = Object.entries(t.values)
    .filter(([name]) => name.startsWith('pool.'))
    .map(([name, values]) => ({ name, label: name === 'pool.other' ? `other tags (${t.omittedTags})` : `'${name.slice(5)}'`, values }))
  return lineChart(`${p}pool-chart`, t.timesNs, series, (v) => formatBytes(Math.round(v)), [], p)
}

const TRAFFIC_LABELS: Record<string, string> = {
  'traffic.sent': 'frames sent',
  'traffic.received': 'frames received intact',
  interrupts: 'interrupts (INTx assertions)',
}

/** Frames sent, received, dropped by reason (only reasons that happened), and interrupts; cumulative. */
export function trafficChart(t: Timeline, findings: readonly Finding[], p = ''): string {
  const series = Object.entries(t.values)
    .filter(([name, values]) => name in TRAFFIC_LABELS || (name.startsWith('traffic.dropped.') && values.some((v) => v > 0)))
    .map(([name, values]) => ({ name, label: TRAFFIC_LABELS[name] ?? `dropped: ${name.slice('traffic.dropped.'.length)}`, values }))
    .sort((a, b) => order(a.name) - order(b.name))
  return lineChart(`${p}traffic-chart`, t.timesNs, series, (v) => count(Math.round(v)), findings, p)
}

function order(name: string): number {
  return name === 'traffic.sent' ? 0 : name === 'traffic.received' ? 1 : name === 'interrupts' ? 3 : 2
}
