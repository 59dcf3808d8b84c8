// The HTML report's page: one self-contained file (inline CSS, JS and SVG; nothing from the
// network, so it opens from disk or a CI artifact in any browser), deterministic byte for
// byte: no dates, no random ids, numbers formatted the same on every host.
import { hex } from '../../hw/address.js'
import { PAGE_SCRIPT } from './script.js'
import { PAGE_STYLE } from './style.js'

/** Escapes text for element content and double-quoted attributes. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'))
}

/** Thousands separated by commas, whatever the host's locale. */
export function count(n: number): string {
  const s = String(Math.trunc(n))
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** An address as the text report writes it (`0x2_3fff_b000`). */
export const addr = (n: number): string => hex(n)

/** SVG coordinates: two decimals at most, so the file does not depend on float noise. */
export const px = (n: number): string => String(Math.round(n * 100) / 100)

export interface Section {
  readonly id: string
  readonly title: string
  readonly html: string
}

/** The whole page: a header, a table of contents, the sections, the tooltip and the script. */
export function page(title: string, header: string, sections: readonly Section[]): string {
  const nav = sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join('')
  const body = sections.map((s) => `<section id="${esc(s.id)}"><h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dmalab">
<title>${esc(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>${header}</header>
<nav>${nav}</nav>
<main>
${body}
</main>
<div id="tip" role="tooltip" hidden></div>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`
}

/** A table: `cells` are already HTML; `attrs` per row (e.g. data attributes). */
export function table(head: readonly string[], rows: ReadonlyArray<{ cells: readonly string[]; attrs?: string }>, className = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('')
  const tr = rows.map((r) => `<tr${r.attrs ?? ''}>${r.cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')
  return `<table${className === '' ? '' : ` class="${className}"`}><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`
}

/** A `data-tip` attribute: what the tooltip shows on hover (lines separated by newlines). */
export function tip(lines: ReadonlyArray<string | undefined | null | false>): string {
  return ` data-tip="${esc(lines.filter((l): l is string => typeof l === 'string' && l !== '').join('\n'))}"`
}
