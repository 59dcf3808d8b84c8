// Bounded resources: what a run holds does not grow with what it is asked to do, an
// allocation the emulator cannot represent fails as Windows' would (NULL), and the frame
// allocator leaves the firmware's first megabyte alone, so no driver is ever handed page 0.
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { loadMiniport, runScenario } from '../../src/scenario.js'
import { KERNEL_VA_BASE, PTE, KernelAddressSpace } from '../../src/kernel/address-space.js'
import { bareMiniport, kinds } from '../support/driver-fixture.js'

describe('bounded resources', () => {
  it('frames the LAN sends go on the wire a batch at a time: 20,000 received frames never hold more than a batch', () => {
    const m = createMachine({ wire: 'loopback' })
    m.load(bareMiniport(() => undefined), 'bare')
    let most = 0
    const sample = m.clock.timer('sample', () => {
      most = Math.max(most, m.wire.inFlight)
      if (m.lanPending > 0 || m.wire.inFlight > 0) m.clock.armAfter(sample, 10_000)
    })
    m.clock.armAfter(sample, 0)
    m.traffic.receive({ count: 20_000, size: 1500 })
    expect(m.wire.counters.injected).toBe(20_000)
    // At most a batch and a half in flight, and the wire's buffer never grew past its first size.
    expect(most).toBeLessThanOrEqual(96)
    expect(m.wire.buffer.length).toBeLessThanOrEqual(256 * 1024)
  })

  it('an allocation larger than the emulator represents is NULL, not an exception blamed on the driver (256 GiB of pool on a 1 TiB machine)', () => {
    let va = -1
    const m = createMachine({ memory: { size: '1TiB' } })
    const loaded = m.load(bareMiniport((ndis) => {
      va = ndis.ExAllocatePoolWithTag(ndis.NonPagedPoolNx, 256 * 1024 ** 3, 'giB2')
      return undefined
    }), 'huge')
    expect(va).toBe(0)
    expect(loaded.state).toBe('running')
    expect(kinds(m)).toEqual([])
  })

  it('freed pages keep their call sites for the newest 4096 only: a long run that frees pages holds no stack per page', () => {
    const space = new KernelAddressSpace()
    const va = space.reserve(5000)
    let sites = 0
    for (let i = 0; i < 5000; i++) {
      space.map(va + i * 4096, 0x100_0000 + i * 4096, PTE.WRITE)
      space.unmap(va + i * 4096, 1, PTE.FREED, { what: `page ${i}`, get site() { sites++; return 'driver.ts:1' } })
    }
    expect(va).toBeGreaterThanOrEqual(KERNEL_VA_BASE)
    // The oldest freed pages still say what they were, without the site getter (and its stack).
    expect(space.noteAt(va)).toEqual({ what: 'page 0' })
    expect(Object.getOwnPropertyDescriptor(space.noteAt(va + 4999 * 4096), 'site')?.get).toBeTypeOf('function')
    expect(space.describeFault(va)).toContain('page 0')
    expect(sites).toBe(0)
  })
})

describe('the first megabyte is the firmware\'s', () => {
  it('no policy ever hands out a frame below 1 MiB, so no buffer is at physical address 0', () => {
    for (const policy of ['low-first', 'random'] as const) {
      const m = createMachine({ memory: { size: '64MiB', policy } })
      const frames: number[] = []
      for (let pfn; (pfn = m.kernel.frames.allocate(m.kernel.frames.newOwner('kernel', 'probe', false))) >= 0; ) frames.push(pfn)
      expect(Math.min(...frames)).toBe(256)
      // Every other frame of the 64 MiB was there to take (less the few the kernel holds itself).
      expect(frames.length).toBeLessThanOrEqual(64 * 256 - 256)
      expect(frames.length).toBeGreaterThan(64 * 256 - 256 - 64)
    }
  })

  it('the e1000 is clean with --memory-policy random on 50 seeds (it was not on seeds 5, 8 and 9: page 0 read as a null buffer)', async () => {
    const e1000 = await loadMiniport('e1000')
    const unclean: string[] = []
    for (let seed = 1; seed <= 50; seed++) {
      const { report } = runScenario(e1000, { seed, memory: { policy: 'random' } }, { packets: 24, size: 1500, rx: 0 })
      if (report.outcome !== 'clean') unclean.push(`seed ${seed}: ${report.findings.map((f) => f.message).join('; ')}`)
    }
    expect(unclean).toEqual([])
  })
})
