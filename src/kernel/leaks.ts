// The unload check (S23; Driver Verifier's pool tracking): pool stays allocated until freed,
// and a driver that unloads with allocations outstanding gets bug check 0xC4 with parameter
// 1 = 0x62 and parameter 4 = the number of allocations not freed. dmalab reports one
// `pool-leak` finding per leaked block (tag, size, allocating line), each carrying that bug
// check, so crash mode stops with 0xC4/0x62 and still lists every leak. Memory that is not
// pool (contiguous, noncached, pages for an MDL, reserved mapping addresses) is reported the
// same way as `memory-leak`, which Windows has no bug check for.
import { formatBytes, hex } from '../hw/address.js'
import { BUGCHECK } from './bugcheck.js'
import { siteText, type CallSite } from './calls.js'
import type { Kernel } from './kernel.js'
import { describeBlock } from './pool.js'
import { tagName } from './tags.js'
import type { LookasideKind } from './lookaside.js'

const LOOKASIDE_FAMILY: Record<LookasideKind, string> = { npaged: 'nonpaged', paged: 'paged', ex: 'LOOKASIDE_LIST_EX' }
const LOOKASIDE_DELETE: Record<LookasideKind, string> = { npaged: 'ExDeleteNPagedLookasideList, NdisDeleteNPagedLookasideList', paged: 'ExDeletePagedLookasideList', ex: 'ExDeleteLookasideListEx' }

/** Verifier's 0xC4 parameter 1: the driver is unloading without freeing its pool allocations. */
export const UNLOAD_WITH_POOL_ALLOCATIONS = 0x62

export interface LeakSummary {
  readonly poolBlocks: number
  readonly poolBytes: number
  readonly otherAllocations: number
  readonly otherBytes: number
  /** One line per leak, the summary first: for reports and the command line. */
  readonly lines: readonly string[]
}

interface Leak {
  readonly what: string
  readonly bytes: number
  readonly site: CallSite | undefined
  readonly details: Record<string, string | number | boolean>
}

/**
 * Reports everything the driver still holds. Call it when the driver unloads (after
 * MiniportHaltEx and the driver's unload routine). In crash mode it throws the 0xC4/0x62
 * BugCheck after recording every leak.
 */
export function checkLeaks(kernel: Kernel, driverName: string): LeakSummary {
  // After a bug check there is no unload to check; list what is held, report nothing.
  const report = !kernel.log.stopped
  const pool: Leak[] = []
  for (const b of [...kernel.pool.liveBlocks].filter((b) => b.driver).sort((x, y) => x.serial - y.serial)) {
    pool.push({
      what: `${describeBlock(b)} at ${hex(b.va)}`,
      bytes: b.bytes,
      site: b.site,
      details: { address: b.va, tag: tagName(b.tag), bytes: b.bytes, paged: b.paged },
    })
  }
  const other: Leak[] = []
  for (const a of [...kernel.contiguous.allocations].filter((a) => a.driver).sort((x, y) => x.serial - y.serial)) {
    other.push({ what: `${a.kind} memory at ${hex(a.va)} (${a.bytes} bytes)`, bytes: a.bytes, site: a.site, details: { address: a.va, bytes: a.bytes, memory: a.kind } })
  }
  for (const p of kernel.mdlPages.allocations) {
    if (!p.driver) continue
    const bytes = p.pfns.length * 4096
    other.push({ what: `${p.pfns.length} pages from MmAllocatePagesForMdl (${formatBytes(bytes)}), never given back with MmFreePagesFromMdl`, bytes, site: p.site, details: { bytes, memory: 'mdl-pages' } })
  }
  for (const m of kernel.ioSpace.mappings) {
    if (!m.driver) continue
    other.push({ what: `${m.routine} mapping of ${hex(m.pa)} at ${hex(m.va)} (${m.bytes} bytes), never unmapped with MmUnmapIoSpace`, bytes: m.bytes, site: m.site, details: { address: m.va, bytes: m.bytes, memory: 'io-space' } })
  }
  for (const r of kernel.mappingAddresses.reservations) {
    if (!r.driver) continue
    other.push({ what: `mapping address ${hex(r.va)} reserved with tag '${tagName(r.tag)}' (${r.bytes} bytes)`, bytes: r.bytes, site: r.site, details: { address: r.va, bytes: r.bytes, tag: tagName(r.tag), memory: 'mapping-address' } })
  }

  const log = kernel.log
  // A lookaside list still initialized: the system's periodic scan of lookaside lists walks a
  // head in the unloaded driver's memory (bug check 0xCE, DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS).
  const lists = [...kernel.lookaside.active]
  if (report) log.batch(() => lists.forEach((list) => log.report({
    kind: 'lookaside-leak',
    code: BUGCHECK.DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS,
    params: [list.head, 0, 0, 0],
    message: `${driverName} unloaded with the ${LOOKASIDE_FAMILY[list.kind]} lookaside list at ${hex(list.head)} ('${tagName(list.tag)}', ${list.size}-byte entries) never deleted (${LOOKASIDE_DELETE[list.kind]}): the system goes on scanning it (0xCE)`,
    details: { driver: driverName, list: list.head, tag: tagName(list.tag), entries: list.entries.length },
  })))
  const poolBytes = pool.reduce((sum, l) => sum + l.bytes, 0)
  const otherBytes = other.reduce((sum, l) => sum + l.bytes, 0)
  const lines: string[] = []
  if (pool.length > 0) {
    lines.push(`${driverName} unloaded with ${pool.length} pool allocation${pool.length === 1 ? '' : 's'} (${poolBytes} bytes) not freed (0xC4/0x62)`)
  }
  log.batch(() => pool.forEach((leak, i) => {
    const site = siteText(leak.site)
    const line = `pool leak ${i + 1} of ${pool.length}: ${leak.what}${site === undefined ? '' : `, allocated at ${site}`}`
    lines.push(line)
    if (report) log.report({
      kind: 'pool-leak',
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [UNLOAD_WITH_POOL_ALLOCATIONS, 0, 0, pool.length],
      message: `${driverName} unloaded without freeing it: ${line}`,
      ...(site === undefined ? {} : { site }),
      details: { driver: driverName, ...leak.details },
    })
  }))
  other.forEach((leak, i) => {
    const site = siteText(leak.site)
    const line = `memory leak ${i + 1} of ${other.length}: ${leak.what}${site === undefined ? '' : `, allocated at ${site}`}`
    lines.push(line)
    if (report) log.report({
      kind: 'memory-leak',
      message: `${driverName} unloaded without freeing it: ${line}`,
      ...(site === undefined ? {} : { site }),
      details: { driver: driverName, ...leak.details },
    })
  })
  if (report) log.throwIfStopped()
  return { poolBlocks: pool.length, poolBytes, otherAllocations: other.length, otherBytes, lines }
}
