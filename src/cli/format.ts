// The report for a terminal: a one-line verdict first, then what a driver developer looks for —
// findings with their bug check and driver line, traffic, pool usage by tag, where each DMA
// buffer landed relative to 4 GiB and the device's limit, and injected faults with the spec
// that replays each one.
import { formatBytes, hex } from '../hw/address.js'
import type { StackFrame } from '../hw/finding.js'
import { isDmalabP1, type Finding } from '../kernel/kinds.js'
import { bugCheckName } from '../kernel/bugcheck.js'
import type { DroppedFrames, Report } from '../report.js'
import type { SweepJson } from '../report/sweep-json.js'

const useColor = (): boolean => process.stdout.isTTY === true && process.env.NO_COLOR === undefined

function paint(code: number, text: string): string {
  return useColor() ? `\x1b[${code}m${text}\x1b[0m` : text
}
export const red = (t: string): string => paint(31, t)
export const green = (t: string): string => paint(32, t)
export const yellow = (t: string): string => paint(33, t)
export const bold = (t: string): string => paint(1, t)
export const dim = (t: string): string => paint(2, t)

const n = (x: number): string => x.toLocaleString('en-US')

export function describeConfig(r: Report): string {
  const c = r.config
  const bits = c.nic.dmaAddressBits
  // The 32-bit machine says so; x64, the default, goes without saying (as before).
  return `${c.arch === 'x86' ? 'x86 (32-bit, PAE), ' : ''}${formatBytes(c.memory.size)} RAM (${c.memory.policy}${c.memory.fragmentation > 0 ? `, fragmentation ${c.memory.fragmentation}` : ''}), IOMMU ${c.iommu.enabled ? 'on' : 'off'}, ${bits}-bit DMA device, seed ${c.seed}, verifier ${c.verifier.mode}${c.verifier.specialPool ? ' + special pool' : ''}${c.verifier.dmaGuard ? ' + DMA guard' : ''}`
}

export function verdict(r: Report): string {
  const fatal = r.findings.find((f) => f.severity === 'fatal')
  switch (r.outcome) {
    case 'clean':
      return green(`clean: no findings`) + ` (${n(r.traffic.txFrames)} frames sent, ${n(r.traffic.rxFrames)} received intact)` + ((r.notes ?? []).length > 0 ? `; ${r.notes.length} note${r.notes.length === 1 ? '' : 's'}` : '')
    case 'bugcheck': {
      const b = r.bugcheck!
      const by = fatal ?? r.findings.at(-1)
      return red(`BUG CHECK ${hex(b.code)} ${b.name}`) + (by ? ` — ${by.kind}${by.site ? ` at ${by.site}` : ''}` : '')
    }
    case 'init-failed':
      return (r.findings.length === 0 ? yellow('initialization failed cleanly') : red('initialization failed')) + `: MiniportInitializeEx returned ${r.init.status}${r.findings.length > 0 ? `, ${countKinds(r.findings)}` : ', nothing leaked'}`
    case 'findings':
      return red(`${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}`) + `: ${countKinds(r.findings)}`
  }
}

function countKinds(findings: readonly Finding[]): string {
  const counts = new Map<string, number>()
  for (const f of findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1)
  return [...counts].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(', ')
}

function bugcheckText(f: Finding): string {
  if (f.code === undefined) return ''
  const p = f.params === undefined ? '' : ` (${f.params.map((x) => hex(x)).join(', ')})`
  // Parameter 1 in dmalab's own range: Windows has no bug check for this; say so (README "Findings").
  const own = f.params !== undefined && isDmalabP1(f.params[0]) ? ' — dmalab\'s own code, no Windows equivalent' : ''
  return `${hex(f.code)} ${bugCheckName(f.code)}${p}${own}`
}

export function formatFinding(f: Finding, index: number, repeats = 1): string[] {
  const times = repeats > 1 ? bold(` ×${repeats}`) : ''
  const head = `${String(index + 1).padStart(3)}. ${f.severity === 'fatal' ? red(f.kind) : yellow(f.kind)}${times}${f.code === undefined ? '' : dim(`  ${bugcheckText(f)}`)}`
  const lines = [head, `     ${f.message}`]
  if (repeats > 1) lines.push(dim(`     (the first of ${repeats} of this kind from this line; --json lists each)`))
  if (f.site !== undefined) lines.push(`     at ${bold(f.site)}`)
  const stack = shortStack(f)
  if (stack !== '') lines.push(dim(`     stack: ${stack}`))
  return lines
}

/**
 * The driver's call stack, innermost first, at most four entries: `fn (file:line) ← caller
 * (file:line)`. A frame repeated in a row (recursion, the usual cause of a kernel stack
 * overflow) is one entry with its count: `Recurse (faults.c:33) ×54`.
 */
export function shortStack(f: { readonly stack?: readonly StackFrame[] }, frames = 4): string {
  const stack = f.stack ?? []
  const shown: string[] = []
  let i = 0
  while (i < stack.length && shown.length < frames) {
    const s = stack[i]!
    let n = 1
    while (i + n < stack.length && sameFrame(stack[i + n]!, s)) n++
    shown.push(`${s.function} (${s.file}:${s.line})${n > 1 ? ` ×${n}` : ''}`)
    i += n
  }
  if (i < stack.length) shown.push(`… ${stack.length - i} more`)
  return shown.join(' ← ')
}

function sameFrame(a: StackFrame, b: StackFrame): boolean {
  return a.line === b.line && a.file === b.file && a.function === b.function
}

/** Findings of the same kind, bug check and driver line, in order of first appearance. */
export function groupFindings(findings: readonly Finding[]): Array<{ first: Finding; count: number }> {
  const groups = new Map<string, { first: Finding; count: number }>()
  for (const f of findings) {
    const key = `${f.kind}|${f.site ?? ''}|${f.code ?? ''}|${f.params?.[0] ?? ''}|${f.severity}`
    const g = groups.get(key)
    if (g === undefined) groups.set(key, { first: f, count: 1 })
    else g.count++
  }
  return [...groups.values()]
}

/** What each count of frames not delivered means, said as the text report says it. */
const DROPPED_LABEL: Record<keyof DroppedFrames, string> = {
  txFailed: 'sends completed with a failure status',
  rxCorrupt: 'indicated with the wrong bytes',
  rxForeign: 'indicated that the LAN never sent',
  rxFiltered: 'indicated although the packet filter excluded them',
  nicNoBuffer: 'dropped by the NIC with no receive buffer',
  nicWaiting: 'still waiting in the NIC\'s receive FIFO',
  nicFiltered: 'not for this NIC (its address filters passed them by)',
  nicUndersize: 'runts discarded by the NIC',
  nicOversize: 'too long for the NIC\'s receive setting',
  nicRefused: 'refused by a stopped or misprogrammed receive ring',
  nicReceiverOff: 'arrived with the receiver off',
  nicDmaErrors: 'lost to a failed DMA',
  nicTxDropped: 'consumed from the transmit ring without being sent',
}

export function formatReport(r: Report, command = 'run'): string {
  const out: string[] = []
  out.push(`${bold(`dmalab ${command} ${r.miniport}`)} — ${verdict(r)}`)
  out.push(dim(`machine: ${describeConfig(r)}`))
  out.push('')

  const t = r.traffic
  // The LAN's frames after the halt that found the receiver off are as they should be, not drops.
  const afterHaltOff = t.afterHalt?.receiverOff ?? 0
  const dropped = Object.entries(t.dropped)
    .map(([k, v]): [string, number] => [k, k === 'nicReceiverOff' ? v - afterHaltOff : v])
    .filter(([, v]) => v > 0)
  out.push(bold('traffic'))
  out.push(`  sent ${n(t.txFrames)} of ${n(t.txRequested)} frames, received ${n(t.rxFrames)} intact${dropped.length > 0 ? `; ${dropped.map(([k, v]) => `${n(v)} ${DROPPED_LABEL[k as keyof DroppedFrames] ?? k}`).join(', ')}` : '; nothing dropped'}`)
  if ((t.afterHalt?.frames ?? 0) > 0) {
    out.push(dim(`  after the halt the LAN sent ${t.afterHalt.frames} broadcast frames: ${afterHaltOff === t.afterHalt.frames ? 'the NIC ignored them, its receiver off' : `${n(t.afterHalt.frames - afterHaltOff)} still reached a receiver left running`}`))
  }
  out.push(`  initialization: ${r.init.status}`)
  out.push('')

  out.push(bold(`findings (${r.findings.length}${suppressedText(r)})`))
  if (r.findings.length === 0) out.push(`  ${green('none')}`)
  groupFindings(r.findings).forEach((g, i) => out.push(...formatFinding(g.first, i, g.count)))
  out.push('')
  // Notes (severity info) never make a run unclean: shown apart, after the findings.
  const notes = r.notes ?? []
  if (notes.length > 0) {
    out.push(bold(`notes (${notes.length})`))
    groupFindings(notes).forEach((g, i) => out.push(...formatFinding(g.first, i, g.count)))
    out.push('')
  }

  const tags = Object.entries(r.pool.byTag)
  out.push(bold('pool usage by tag'))
  if (tags.length === 0) out.push('  (no pool allocations)')
  else {
    out.push(dim(`  ${'Tag'.padEnd(6)}${'Allocs'.padStart(9)}${'Frees'.padStart(9)}${'Outstanding'.padStart(14)}`))
    for (const [tag, u] of tags) {
      const left = u.bytesOutstanding > 0 ? yellow(formatBytes(u.bytesOutstanding).padStart(14)) : formatBytes(0).padStart(14)
      out.push(`  ${JSON.stringify(tag).padEnd(6)}${n(u.allocs).padStart(9)}${n(u.frees).padStart(9)}${left}`)
    }
  }
  out.push('')

  const d = r.dma
  out.push(bold('DMA buffers: where they landed'))
  if (d.commonBuffers.length === 0) out.push('  (no common buffers)')
  for (const b of d.commonBuffers.slice(0, 12)) {
    const where = b.aboveFourGiB ? yellow('above 4 GiB') : 'below 4 GiB'
    const reach = b.reachable ? green('reachable') : red(`NOT reachable by a ${Math.log2(b.deviceLimit)}-bit device`)
    const via = b.translatedByIommu ? `IOVA ${hex(b.logicalAddress)} → ${hex(b.physicalAddress)}` : `${hex(b.physicalAddress)}`
    out.push(`  ${b.routine} ${formatBytes(b.length)}: ${via}, ${where}, ${reach}${b.freed ? dim(' (freed)') : ''}${b.site ? dim(`  ${b.site}`) : ''}`)
  }
  if (d.commonBuffers.length > 12) out.push(dim(`  … and ${d.commonBuffers.length - 12} more`))
  const viaMapRegisters = d.mapRegisterTransfers > 0 ? ` (${n(d.mapRegisterTransfers)} of them NDIS 5 map-register transfers)` : ''
  out.push(`  scatter/gather lists: ${n(d.scatterGatherLists)}${viaMapRegisters}${d.bounceBytes > 0 ? `; ${n(d.bouncedLists)} bounced through map registers (${formatBytes(d.bounceBytes)} copied: buffers beyond the device's reach, no IOMMU)` : ''}`)
  if (d.iommuFaults.length > 0) {
    out.push(red(`  IOMMU faults: ${d.iommuFaults.length}`))
    for (const f of d.iommuFaults.slice(0, 5)) out.push(`    ${f.requester} ${f.access} ${hex(f.address)}: ${f.reasonText} (reason ${f.reason})`)
  }
  out.push('')

  if (r.faults.injected.length > 0) {
    out.push(bold(`injected faults (${r.faults.injected.length})`))
    for (const f of r.faults.injected.slice(0, 20)) {
      out.push(`  ${f.routine}${f.tag ? ` '${f.tag}'` : ''} ${formatBytes(f.size)} in ${f.phase}${f.site ? ` at ${f.site}` : ''} — replay: --fail ${f.replay}`)
    }
    if (r.faults.injected.length > 20) out.push(dim(`  … and ${r.faults.injected.length - 20} more`))
    out.push('')
  }
  return out.join('\n')
}

function suppressedText(r: Report): string {
  const total = Object.values(r.findingsSuppressed).reduce((a, b) => a + b, 0)
  return total === 0 ? '' : `, ${n(total)} more of the same kinds not listed`
}

/** What the text of a sweep needs: a sweep's result or its JSON (merged or one shard's). */
export type SweepView = Pick<SweepJson, 'miniport' | 'mode' | 'calls' | 'runs' | 'summary' | 'baseline'> & { readonly shard?: { readonly index: number; readonly count: number; readonly planned: number } }

export function formatSweep(r: SweepView): string {
  const s = r.summary
  const ok = s.handled === r.runs.length
  const out: string[] = []
  const shard = r.shard === undefined ? '' : ` (shard ${r.shard.index}/${r.shard.count})`
  out.push(`${bold(`dmalab sweep ${r.miniport}${shard}`)} — ${ok ? green(`all ${n(r.runs.length)} runs handled`) : red(`${n(r.runs.length - s.handled)} of ${n(r.runs.length)} runs not handled`)}`)
  out.push(dim(`${n(r.calls)} allocation calls in the clean run (${r.baseline}); ${r.mode === 'stack' ? 'one run per unique driver call stack' : 'one run per call, that call failed'}${r.shard === undefined ? '' : `; this shard ran ${n(r.runs.length)} of the ${n(r.shard.planned)} planned runs`}`))
  out.push(`  handled ${n(s.handled)}, leak ${n(s.leak)}, finding ${n(s.finding)}, bugcheck ${n(s.bugcheck)}, hang ${n(s.hang)}`)
  const bad = r.runs.filter((x) => x.outcome !== 'handled')
  if (bad.length > 0) out.push('')
  for (const run of bad.slice(0, 30)) {
    const first = run.findings[0]
    out.push(`  ${red(run.outcome.padEnd(8))} call ${run.call}: ${run.routine} at ${run.site ?? '?'} (${run.phase}) — --fail ${run.replay}`)
    if (first !== undefined) out.push(`           ${first.kind}: ${first.message}${first.site ? ` (at ${first.site})` : ''}`)
    const stack = first === undefined ? '' : shortStack(first)
    if (stack !== '') out.push(dim(`           stack: ${stack}`))
  }
  if (bad.length > 30) out.push(dim(`  … and ${bad.length - 30} more (--json for all)`))
  return out.join('\n')
}

