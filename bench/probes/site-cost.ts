// What capturing the driver's call site costs (kernel/calls.ts, kernel/sites.ts), measured as
// the difference between a driver-facing allocation and the same work through the internal
// allocator, which captures nothing. Prints one JSON line of nanoseconds per operation:
//
//   captureNs          Error.captureStackTrace into a token, called from a shallow stack
//   resolveNs          turning a captured token into `file:line` (paid only when a report needs it)
//   apiAllocFreeNs     ExAllocatePoolWithTag + ExFreePool, the site captured at the allocation
//   apiNoCaptureNs     the same two calls with the hook answering without capturing a site
//   siteShareNs        apiAllocFreeNs - apiNoCaptureNs: what the capture costs a driver call
//   poolAllocFreeNs    kernel.pool.allocate + free: the allocator alone (no hook, no IRQL rules)
//   lookasideNs        ExAllocateFromNPagedLookasideList + ExFreeTo: a per-packet routine, sampled
//
// Run: npx tsx bench/probes/site-cost.ts
import { createMachine } from '../../src/index.js'
import { createKernelApi } from '../../src/kernel/api.js'
import { captureSite, resolveSite } from '../../src/kernel/sites.js'

const N = 200_000

function nsPerOp(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn() // warm up: compiled code, materialized pages
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn()
  return Number(process.hrtime.bigint() - t0) / n
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

function measure(): Record<string, number> {
  const m = createMachine()
  const k = createKernelApi(m.kernel)
  const pool = m.kernel.pool
  // A block that keeps the page in use, so a free never unmaps it (that has costs of its own).
  k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 64, 'peeK')
  const tag = 0x74736554

  const captureNs = nsPerOp(N, () => void captureSite())
  const resolveNs = nsPerOp(N / 20, () => void resolveSite(captureSite())) - captureNs
  const apiAllocFreeNs = nsPerOp(N, () => k.ExFreePool(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 256, 'tseT')))
  const calls = m.kernel.calls
  const hook = calls.allocation
  calls.allocation = () => ({ fail: false, partial: false, site: undefined })
  const apiNoCaptureNs = nsPerOp(N, () => k.ExFreePool(k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 256, 'tseT')))
  calls.allocation = hook
  const poolAllocFreeNs = nsPerOp(N, () => pool.free(pool.allocate(k.NonPagedPoolNx, 256, tag)))

  const head = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 128, 'daeH')
  k.ExInitializeNPagedLookasideList(head, null, null, 0, 256, 'tsiL', 0)
  const lookasideNs = nsPerOp(N, () => k.ExFreeToNPagedLookasideList(head, k.ExAllocateFromNPagedLookasideList(head)))
  return { captureNs, resolveNs, apiAllocFreeNs, apiNoCaptureNs, siteShareNs: apiAllocFreeNs - apiNoCaptureNs, poolAllocFreeNs, lookasideNs }
}

const runs = Array.from({ length: 5 }, measure)
const result: Record<string, number> = {}
for (const key of Object.keys(runs[0]!)) result[key] = Math.round(median(runs.map((r) => r[key]!)))
console.log(JSON.stringify({ ...result, runs: runs.length, opsPerRun: N, node: process.version }))
