// Findings in the HTML report: kind, the Windows bug check with its name and parameters, the
// message, the driver's call stack when a finding carries one (`stack: [{ file, line,
// function }]`, innermost first) and the source lines around the site.
import { readFileSync } from 'node:fs'
import { hex } from '../../hw/address.js'
import type { Finding } from '../../kernel/kinds.js'
import { bugCheckName } from '../../kernel/bugcheck.js'
import { siteFile } from '../../kernel/sites.js'
import { timeText } from './charts.js'
import { count, esc } from './page.js'

/** Lines shown before and after the site. */
const CONTEXT = 3
/** Findings shown in full, with source; the rest are rows of a compact table. */
export const MAX_FINDINGS_SHOWN = 200

interface StackFrame {
  readonly file: string
  readonly line: number
  readonly function?: string
}

/** Reads source files once per page; a file that cannot be read shows no excerpt. */
export class SourceCache {
  private readonly files = new Map<string, string[] | null>()

  lines(file: string): string[] | null {
    let lines = this.files.get(file)
    if (lines === undefined) {
      try {
        lines = readFileSync(siteFile(file), 'utf8').split('\n')
      } catch {
        lines = null
      }
      this.files.set(file, lines)
    }
    return lines
  }

  /** The lines around `file:line`, the line itself marked. */
  excerpt(site: string): string {
    const m = /^(.*):(\d+)(?: \(sampled\))?$/.exec(site)
    if (m === null) return ''
    const lines = this.lines(m[1]!)
    const at = Number(m[2])
    if (lines === null || at < 1 || at > lines.length) return ''
    const from = Math.max(1, at - CONTEXT)
    const to = Math.min(lines.length, at + CONTEXT)
    const width = String(to).length
    const out: string[] = []
    for (let n = from; n <= to; n++) out.push(`<span${n === at ? ' class="here"' : ''}>${String(n).padStart(width)}  ${esc(lines[n - 1]!)}</span>`)
    return `<pre class="source" data-site="${esc(site)}">${out.join('')}</pre>`
  }
}

function stackOf(f: Finding): StackFrame[] {
  const s = (f as Finding & { stack?: unknown }).stack
  if (!Array.isArray(s)) return []
  return s.filter((x): x is StackFrame => typeof x === 'object' && x !== null && typeof (x as StackFrame).file === 'string' && typeof (x as StackFrame).line === 'number')
}

export function bugCheckText(f: Finding): string {
  if (f.code === undefined) return ''
  return `${hex(f.code)} ${bugCheckName(f.code)}${f.params === undefined ? '' : ` (${f.params.map((p) => hex(p)).join(', ')})`}`
}

export function findingHtml(f: Finding, index: number, sources: SourceCache, p = ''): string {
  const stack = stackOf(f)
  const frames = stack.length === 0 ? '' : `<div>driver call stack (innermost first):<ol class="stack">${stack.map((s) => `<li><code>${esc(s.function ?? '(anonymous)')}</code> <span class="mono">${esc(`${s.file}:${s.line}`)}</span></li>`).join('')}</ol></div>`
  const details = f.details === undefined ? '' : `<details><summary>details</summary><table>${Object.entries(f.details).map(([k, v]) => `<tr><th>${esc(k)}</th><td class="mono">${esc(typeof v === 'number' && Number.isInteger(v) && Math.abs(v) >= 4096 ? `${hex(v)} (${v})` : String(v))}</td></tr>`).join('')}</table></details>`
  return `<article class="finding${f.severity === 'fatal' ? ' fatal' : ''}" id="${p}finding-${index}" data-ref="${p}finding-${index}" data-kind="${esc(f.kind)}">
<h3>${index + 1}. ${esc(f.kind)} <span class="code">${esc(bugCheckText(f))}</span></h3>
<p>${esc(f.message)}</p>
<p class="muted">${f.severity} · at ${esc(timeText(f.timeNs))} of virtual time${f.site === undefined ? '' : ` · at <code>${esc(f.site)}</code>`}</p>
${f.site === undefined ? '' : sources.excerpt(f.site)}${frames}${details}
</article>`
}

export function findingsHtml(findings: readonly Finding[], suppressed: Record<string, number>, sources: SourceCache, p = ''): string {
  if (findings.length === 0) return '<p class="ok">No findings.</p>'
  const shown = findings.slice(0, MAX_FINDINGS_SHOWN).map((f, i) => findingHtml(f, i, sources, p))
  const rest = findings.slice(MAX_FINDINGS_SHOWN).map((f, k) => {
    const i = k + MAX_FINDINGS_SHOWN
    return `<tr id="${p}finding-${i}" data-ref="${p}finding-${i}" data-kind="${esc(f.kind)}"><td>${i + 1}</td><td>${esc(f.kind)}</td><td>${esc(bugCheckText(f))}</td><td>${esc(f.message)}</td><td>${f.site === undefined ? '' : `<code>${esc(f.site)}</code>`}</td></tr>`
  })
  const more = Object.entries(suppressed).filter(([, n]) => n > 0)
  return [
    ...shown,
    rest.length > 0 ? `<h3>${count(rest.length)} more findings</h3><table><thead><tr><th>#</th><th>kind</th><th>bug check</th><th>message</th><th>site</th></tr></thead><tbody>${rest.join('\n')}</tbody></table>` : '',
    more.length > 0 ? `<p class="muted">Not kept (beyond the log's limit per kind): ${more.map(([k, n]) => `${count(n)} ${esc(k)}`).join(', ')}.</p>` : '',
  ].join('\n')
}
