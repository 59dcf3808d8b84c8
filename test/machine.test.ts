import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { BugCheck, ConfigError, createMachine } from '../src/index.js'

const probe = fileURLToPath(new URL('../bench/probes/memory-probe.ts', import.meta.url))

describe('createMachine', () => {
  it('a 1 TiB machine with 10,000 scattered pages written and read back grows host RSS by under 64 MiB', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', probe], { encoding: 'utf8' })
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { rssMiB: number; readBack: number; materialized: number; createUs: number }
    expect(r.readBack).toBe(10_000)
    expect(r.materialized).toBe(10_000)
    expect(r.rssMiB).toBeLessThan(64)
  })

  it('creating an 8 GiB machine does no per-frame work: no frame owned, no bitmap, no materialized page', () => {
    const m = createMachine()
    // Every frame but the first megabyte's, which the firmware keeps (kernel.ts, osUsableRanges).
    expect(m.kernel.frames.totalFrames).toBe((8 * 1024 ** 3 - 1024 ** 2) / 4096)
    expect(m.ram.materializedFrames).toBe(0)
    expect(m.kernel.frames.freeFrames).toBe(m.kernel.frames.totalFrames)
    expect(m.kernel.space.directory.length).toBe(0)
  })

  it('rejects bad configuration naming the field and the value', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ memory: { size: '8 gigs' } }, /memory\.size: "8 gigs" is not a size/],
      [{ memory: { size: 4095 } }, /memory\.size/],
      [{ memory: { size: '8TiB' } }, /memory\.size: "8TiB" is outside/],
      [{ memory: { policy: 'highest' } }, /memory\.policy: "highest" is not one of high-first, low-first, random/],
      [{ memory: { fragmentation: 2 } }, /memory\.fragmentation: 2 is not a number in 0\.\.1/],
      [{ nic: { dmaAddressBits: 65 } }, /nic\.dmaAddressBits: 65/],
      [{ nic: { mac: 'zz' } }, /nic\.mac: "zz"/],
      [{ nic: { mac: '01:00:5e:00:00:01' } }, /multicast/],
      [{ verifier: { mode: 'panic' } }, /verifier\.mode: "panic"/],
      [{ wire: 'ether' }, /wire: "ether"/],
      [{ seed: -1 }, /seed: -1/],
      [{ iommu: 'yes' }, /iommu/],
      [{ colour: 'blue' }, /colour: unknown option/],
      [{ memory: { sise: 1 } }, /memory\.sise: unknown option/],
    ]
    for (const [config, message] of cases) {
      expect(() => createMachine(config as never)).toThrow(ConfigError)
      expect(() => createMachine(config as never)).toThrow(message)
    }
  })

  it('accepts sizes as strings or bytes and resolves every default', () => {
    const m = createMachine({ memory: { size: '512MiB' }, iommu: true })
    expect(m.config.memory).toEqual({ size: 512 * 1024 * 1024, policy: 'high-first', fragmentation: 0 })
    expect(m.config.iommu.enabled).toBe(true)
    expect(m.config.nic.dmaAddressBits).toBe(32)
    expect(m.config.verifier.mode).toBe('log')
    expect(m.config.wire).toBe('capture')
    expect(createMachine({ memory: { size: 1 << 30 } }).ram.size).toBe(1 << 30)
  })

  it('a runaway event source is a hang finding, not a hang of the host', () => {
    const m = createMachine({ maxEvents: 5000 })
    const t = m.clock.timer('runaway', () => m.clock.armAfter(t, 10))
    m.clock.arm(t, 0)
    const r = m.runUntilIdle()
    expect(r.boundHit).toBe(true)
    expect(m.findings.map((f) => f.kind)).toEqual(['hang'])
  })

  it('in crash mode a device-side violation stops the run and the host caller gets the BugCheck', () => {
    const m = createMachine({ verifier: { mode: 'crash' } })
    let later = false
    m.clock.schedule(10, 'device', () => m.kernel.log.report({ kind: 'device-error', message: 'bad ring' }))
    m.clock.schedule(20, 'later', () => (later = true))
    expect(() => m.runUntilIdle()).toThrow(BugCheck)
    expect(later).toBe(false)
    expect(m.kernel.log.bugcheck?.name).toBe('DRIVER_VERIFIER_DMA_VIOLATION')
  })

  it('in log mode the same violation is recorded and the run goes on', () => {
    const m = createMachine()
    let later = false
    m.clock.schedule(10, 'device', () => m.kernel.log.report({ kind: 'device-error', message: 'bad ring' }))
    m.clock.schedule(20, 'later', () => (later = true))
    m.runUntilIdle()
    expect(later).toBe(true)
    expect(m.findings).toHaveLength(1)
    expect(m.findings[0]).toMatchObject({ kind: 'device-error', severity: 'violation', timeNs: 10 })
  })

  it('m.cpu reaches RAM and the bus', () => {
    const m = createMachine()
    m.cpu.write64(5 * 1024 ** 3, 2 ** 52 + 3)
    expect(m.cpu.read64(5 * 1024 ** 3)).toBe(2 ** 52 + 3)
    m.cpu.writeBytes(0x1000, Uint8Array.of(1, 2, 3))
    expect([...m.cpu.readBytes(0x1000, 4)]).toEqual([1, 2, 3, 0])
    expect(m.cpu.read32(0xd000_0000)).toBe(0xffff_ffff)
  })
})
