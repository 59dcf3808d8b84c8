// The HTML report of `dmalab check`: the configuration matrix ({IOMMU off, on} x {high-first,
// low-first}), each configuration's full run report (memory map, findings, traffic, pool), and
// the sweep.
import type { PicturedReport } from '../recording.js'
import type { SweepJson } from '../sweep-json.js'
import { SourceCache } from './findings.js'
import { esc, page, type Section } from './page.js'
import { outcomeText, runSections } from './run.js'
import { sweepSections } from './sweep.js'

export interface CheckConfiguration {
  readonly iommu: boolean
  readonly policy: string
  readonly report: PicturedReport
}

const key = (c: { iommu: boolean; policy: string }): string => `iommu-${c.iommu ? 'on' : 'off'}-${c.policy}`

function matrixHtml(configs: readonly CheckConfiguration[]): string {
  const policies = [...new Set(configs.map((c) => c.policy))]
  const cell = (iommu: boolean, policy: string): string => {
    const c = configs.find((x) => x.iommu === iommu && x.policy === policy)
    if (c === undefined) return '<td></td>'
    const o = outcomeText(c.report)
    return `<td data-config="${key(c)}" data-outcome="${c.report.outcome}"><a href="#${key(c)}-memory-map" class="${o.clean ? 'ok' : 'bad'}">${esc(o.text)}</a></td>`
  }
  const rows = [false, true].map((iommu) => `<tr><th>IOMMU ${iommu ? 'on' : 'off'}</th>${policies.map((p) => cell(iommu, p)).join('')}</tr>`).join('\n')
  return `<table class="matrix"><thead><tr><th></th>${policies.map((p) => `<th>${esc(p)}</th>`).join('')}</tr></thead><tbody>\n${rows}\n</tbody></table>`
}

export function checkHtml(miniport: string, configs: readonly CheckConfiguration[], sweep: SweepJson, clean: boolean): string {
  const sources = new SourceCache()
  const sections: Section[] = [{ id: 'matrix', title: 'Configurations', html: matrixHtml(configs) }]
  for (const c of configs) {
    const inner = runSections(c.report, sources, `${key(c)}-`)
      .map((s) => `<h3 id="${esc(s.id)}">${esc(s.title)}</h3>\n${s.html}`)
      .join('\n')
    sections.push({ id: key(c), title: `IOMMU ${c.iommu ? 'on' : 'off'}, ${c.policy}`, html: `<p class="${outcomeText(c.report).clean ? 'ok' : 'bad'}">${esc(outcomeText(c.report).text)}</p>\n${inner}` })
  }
  sections.push(...sweepSections(sweep))
  const header = `<h1>dmalab check ${esc(miniport)}</h1><p class="verdict ${clean ? 'clean' : 'bad'}">${clean ? 'clean in every configuration, every allocation failure handled' : 'not clean'}</p>`
  return page(`dmalab check ${miniport}`, header, sections)
}
