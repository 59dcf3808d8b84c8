// The README's list of what dmalab's C headers cover, written from the routine table the loader
// checks imports against (C_ROUTINES), the layouts the layout test compiles against the headers
// (ALL_LAYOUTS), the DMA_OPERATIONS a driver reaches through function pointers, and the macros
// the headers define, so the list cannot drift from what a C driver can use
// (test/driver/c/headers-doc.test.ts compares it with the README). To refresh the README, print
// this and paste it between the README's c-headers markers:
//   npx tsx -e "import('./src/driver/c/headers-doc.ts').then((m) => console.log(m.cHeadersMarkdown()))"
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { includeDirectory } from './build.js'
import { C_ROUTINES } from './imports.js'
import { DMA_OPERATION_NAMES } from './dma-imports.js'
import { ALL_LAYOUTS } from './structs.js'
import { NDIS5_LAYOUTS } from './structs-ndis5.js'

const HEADERS = ['ndis.h', 'ndis51.h', 'wdm.h', 'ntddk.h'] as const

function headerText(header: string): string {
  return readFileSync(path.join(includeDirectory(), header), 'utf8')
}

/** Whether `header` declares routine `name` (a prototype: the name, then its parameter list). */
function declares(header: string, name: string): boolean {
  return new RegExp(`\\b${name}\\s*\\(`).test(headerText(header).replace(/^#define .*$/gm, ''))
}

/** Routine groups, by the WDK's name prefixes and the header that declares them, in README order. */
const GROUPS: ReadonlyArray<readonly [string, (name: string) => boolean]> = [
  ['NDIS 6 and common to both (ndis.h)', (n) => n.startsWith('Ndis') && !declares('ndis51.h', n)],
  ['NDIS 5.1 miniports (ndis51.h, included by ndis.h)', (n) => n.startsWith('Ndis') && declares('ndis51.h', n)],
  ['Executive pool (wdm.h)', (n) => n.startsWith('Ex')],
  ['Memory manager (wdm.h)', (n) => n.startsWith('Mm')],
  ['IRQL and stalls (wdm.h)', (n) => n.startsWith('Ke')],
  ['I/O manager (wdm.h)', (n) => n.startsWith('Io')],
  ['C library (what compilers call for copies and clears)', (n) => /^mem/.test(n)],
]

/** Function-like macros the headers define, without the annotation (SAL, __drv_) ones. */
function headerMacros(): string[] {
  const out: string[] = []
  for (const header of HEADERS) {
    for (const m of headerText(header).matchAll(/^#define ([A-Za-z][A-Za-z0-9_]*)\(/gm)) {
      const name = m[1]!
      if (!name.startsWith('_') && !name.startsWith('__drv') && !out.includes(name)) out.push(name)
    }
  }
  return out.sort()
}

const list = (names: readonly string[]): string => names.map((n) => `\`${n}\``).join(', ')

export function cHeadersMarkdown(): string {
  const routines = Object.keys(C_ROUTINES)
  const lines = ['Routines (imports a C driver may call; any other is refused at build time, by name):', '']
  const listed = new Set<string>()
  for (const [title, match] of GROUPS) {
    const names = routines.filter(match).sort()
    names.forEach((n) => listed.add(n))
    if (names.length > 0) lines.push(`- ${title}: ${list(names)}`)
  }
  const rest = routines.filter((n) => !listed.has(n)).sort()
  if (rest.length > 0) lines.push(`- Other: ${list(rest)}`)
  lines.push(`- Through \`DMA_ADAPTER->DmaOperations\` (IoGetDmaAdapter): ${list(DMA_OPERATION_NAMES)}; the other members are NULL`)
  lines.push('', `Structures with their 32-bit layouts (checked against the emulator's by compiling static assertions): ${list([...new Set([...ALL_LAYOUTS, ...NDIS5_LAYOUTS].map((l) => l.name))].sort())}.`)
  lines.push('', `Macros: ${list(headerMacros())}.`)
  return lines.join('\n')
}
