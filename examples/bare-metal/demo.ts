// A bare-metal tour of the machine dmalab emulates, before any driver is loaded: the memory
// map, where the kernel hands out frames (and why a 32-bit device cares), contiguous memory
// as the system fragments, and what a driver touching freed memory looks like.
import { createMachine } from '../../src/index.js'
import { FOUR_GIB, formatBytes, hex } from '../../src/hw/address.js'
import { PTE } from '../../src/kernel/address-space.js'
import { FRAGMENTATION_STEPS, FRAGMENTATION_STEP_NS } from '../../src/kernel/fragmentation.js'

const m = createMachine({ memory: { size: '8GiB', policy: 'high-first', fragmentation: 0.5 }, seed: 1 })
const k = m.kernel
const out: string[] = []
const say = (line = ''): void => void out.push(line)

say('dmalab — bare-metal tour (no driver loaded)')
say()
say(`RAM ${formatBytes(m.ram.size)}:`)
for (const r of m.ram.ranges) say(`  ${hex(r.base)} – ${hex(r.base + r.size - 1)}  ${formatBytes(r.size)}`)
say(`  PCI MMIO hole 0xc000_0000 – 0xffff_ffff (devices' BARs live here)`)
say()

const owner = k.frames.newOwner('pool', 'demo', true)
const firsts = [k.frames.allocate(owner), k.frames.allocate(owner), k.frames.allocate(owner)].map((p) => p * 4096)
say(`Frame policy ${k.frames.policy} (like booting Windows with nolowmem): the first frames handed out are`)
say(`  ${firsts.map((pa) => hex(pa)).join(', ')}`)
say(`  all above 4 GiB: a device with 32 address lines given ${hex(firsts[0]!)} would put ${hex(firsts[0]! % FOUR_GIB)} on the bus.`)
say()

const before = k.frames.allocateRun(1024, owner, { highest: FOUR_GIB / 4096 - 1 })
say(`At boot, a 4 MiB physically contiguous run below 4 GiB: ${before >= 0 ? `found at ${hex(before * 4096)}` : 'none'}`)
if (before >= 0) k.frames.freeRun(before, 1024)
k.enterRuntime()
m.run({ ns: FRAGMENTATION_STEPS * FRAGMENTATION_STEP_NS })
const after = k.frames.allocateRun(1024, owner, { highest: FOUR_GIB / 4096 - 1 })
const small = Array.from({ length: 64 }, () => k.frames.allocateRun(16, owner, { highest: FOUR_GIB / 4096 - 1 }))
say(`After ${(FRAGMENTATION_STEPS * FRAGMENTATION_STEP_NS) / 1e6} ms of runtime at fragmentation 0.5, the longest free run is ${formatBytes(k.frames.largestFreeRun() * 4096)}:`)
say(`  the same 4 MiB request: ${after >= 0 ? 'found' : 'fails'}; sixty-four 64 KiB blocks instead: ${small.every((s) => s >= 0) ? 'all succeed' : 'some fail'}`)
say()

const va = k.space.reserve(1)
k.space.map(va, k.frames.allocate(owner) * 4096, PTE.WRITE)
k.memory.write32(va, 0x1234)
k.space.unmap(va, 1, PTE.FREED, { what: 'a demo page' })
try {
  k.memory.read32(va + 8)
} catch {
  const f = m.findings.at(-1)!
  say(`A driver reading ${hex(va + 8)} after freeing it:`)
  say(`  ${f.kind}: bug check ${hex(f.code ?? 0)} ${k.log.bugcheck?.name} (${(f.params ?? []).map((p: number) => hex(p)).join(', ')})`)
  say(`  ${f.message}`)
  if (f.site) say(`  at ${f.site}`)
}
console.log(out.join('\n'))
