// The README's table of finding kinds, written from the kinds table itself so the two cannot
// drift (test/kernel/kinds.test.ts compares them). To refresh the README after changing
// kinds.ts, print this and paste it between the README's finding-kinds markers:
//   npx tsx -e "import('./src/kernel/kinds-doc.ts').then((m) => console.log(m.kindsMarkdown()))"
import { bugCheckName } from './bugcheck.js'
import { DMALAB_P1_RANGE, FINDING_KINDS, isDmalabP1, type KindBugCheck, type KindInfo } from './kinds.js'

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`

function codeText(b: KindBugCheck): string {
  const p1 = b.p1 === null ? '' : ` / ${hex(b.p1)}${isDmalabP1(b.p1) ? ' (dmalab)' : ''}`
  return `${hex(b.code)} ${bugCheckName(b.code)}${p1}`
}

function paramsText(b: KindBugCheck): string {
  const from = b.p1 === null ? 0 : 1
  return b.params.slice(from).map((p, i) => `${i + from + 1}: ${p}`).join('; ')
}

function severityText(info: KindInfo): string {
  const s = info.fatalWhen === undefined ? info.severity : `${info.severity}; fatal when ${info.fatalWhen}`
  return info.leak ? `${s}; leak` : s
}

const cell = (text: string): string => text.replace(/\|/g, '\\|')

export function kindsMarkdown(): string {
  const lines = [
    '| kind | severity | what it is | bug check / parameter 1 | parameters | when |',
    '|---|---|---|---|---|---|',
  ]
  for (const [kind, info] of Object.entries(FINDING_KINDS) as Array<[string, KindInfo]>) {
    const head = `| \`${kind}\` | ${cell(severityText(info))} | ${cell(info.summary)} |`
    if (info.bugchecks.length === 0) {
      lines.push(`${head} none | | |`)
      continue
    }
    info.bugchecks.forEach((b, i) => {
      lines.push(`${i === 0 ? head : '| | | |'} ${cell(codeText(b))} | ${cell(paramsText(b))} | ${cell(b.when ?? '')} |`)
    })
  }
  lines.push('')
  lines.push(`dmalab's own parameter-1 range is ${hex(DMALAB_P1_RANGE[0])}–${hex(DMALAB_P1_RANGE[1])}, marked (dmalab) above: no Microsoft bug check reference page documents a parameter 1 there, so a value in it never means what a Windows bug check would.`)
  return lines.join('\n')
}
