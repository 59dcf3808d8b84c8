// A small driver-like scenario and the pool dump it leaves, as the README shows it: an adapter
// context, a lookaside list of receive buffers (seed 002's example), a paged table allocated and
// freed, one block never freed; then the unload check.
//
// Run: npx tsx bench/probes/pool-dump.ts
import { createMachine, createKernelApi } from '../../src/index.js'

const m = createMachine()
const k = createKernelApi(m.kernel)
const adapter = k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 1024, 'tseT') // reads "Test"
const head = adapter + 0x100 // the lookaside list head lives in the adapter context
k.ExInitializeNPagedLookasideList(head, null, null, 0, 1514, 'LciN', 0)
const rx = Array.from({ length: 8 }, () => k.ExAllocateFromNPagedLookasideList(head))
rx.slice(0, 6).forEach((b) => k.ExFreeToNPagedLookasideList(head, b)) // two buffers still out
const table = k.ExAllocatePoolWithTag(k.PagedPool, 16384, 'lbaT')
k.ExFreePoolWithTag(table, 'lbaT')
k.ExAllocatePoolWithTag(k.NonPagedPoolNx, 200, 'kaeL') // never freed
console.log(m.kernel.pool.tracker.dump())

// Unload: the list is deleted (its six entries go back to pool), the adapter context freed.
k.ExDeleteNPagedLookasideList(head)
k.ExFreePoolWithTag(adapter, 'tseT')
console.log()
console.log(m.kernel.checkLeaks('e1000.sys').lines.join('\n'))
