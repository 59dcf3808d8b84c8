// A driver cannot take dmalab down: each attack of test/robustness/drivers/hostile.ts (the
// bundled e1000 with one bug or trick added) runs as `dmalab run` runs a miniport, through the
// API, and must end in a report that names it: never a crash, a hang, or a clean verdict.
// (The same attacks from the command line, and those that need a process of its own or a
// wall-clock watchdog: cli-attacks.test.ts.)
import { afterEach, describe, expect, it } from 'vitest'
import { runScenario, type LoadableMiniport } from '../../src/scenario.js'
import type { Report } from '../../src/report.js'
import { DMALAB_P1, type Finding } from '../../src/kernel/kinds.js'
import hostile, { type Attack } from './drivers/hostile.js'

const miniport: LoadableMiniport = { module: { default: hostile as never }, name: 'hostile', file: 'test/robustness/drivers/hostile.ts' }
const SCENARIO = { packets: 40, size: 200, rx: 0 }

/**
 * Runs the hostile driver with one attack. `limitNs` shortens the handler watchdog (20 s of
 * virtual time is 2e7 register reads of spinning): one test keeps Windows' own allotment.
 */
function attack(name: Attack, config: Parameters<typeof runScenario>[1] = {}, limitNs?: number): Report {
  process.env.DMALAB_ATTACK = name
  const started = Date.now()
  const { report } = runScenario(miniport, config, SCENARIO, { onMachine: (m) => { if (limitNs !== undefined) m.kernel.cpuTime.limitNs = limitNs } })
  // Every attack ends within a bound (the watchdogs are virtual time). The spin-dpc attack keeps
  // Windows' 20 s allotment, 2e7 register reads: 25 s when seven agents share a 2-core machine;
  // the bound is generous so that only a run that does not end fails.
  expect(Date.now() - started).toBeLessThan(90_000)
  expect(report.outcome).not.toBe('clean')
  return report
}

function finding(r: Report, kind: string): Finding {
  const f = r.findings.find((x) => x.kind === kind)
  expect(f, `${kind} among ${JSON.stringify(r.findings.map((x) => x.kind))}`).toBeDefined()
  return f!
}

afterEach(() => {
  delete process.env.DMALAB_ATTACK
})

describe('a handler that never returns gets the verdict Windows gives it, in virtual time', () => {
  // Bug check 0x133 DPC_WATCHDOG_VIOLATION, parameter 1 = 0: "a single DPC or ISR exceeded its
  // time allotment"; p2 the ticks it ran, p3 the allotment (0x500 ticks of 15.625 ms).
  it('a DPC polling a bit the device never sets: DPC_WATCHDOG_VIOLATION, naming the DPC, its line and the register', () => {
    const r = attack('spin-dpc')
    expect(r.outcome).toBe('bugcheck')
    expect(r.bugcheck).toMatchObject({ code: 0x133, name: 'DPC_WATCHDOG_VIOLATION' })
    expect(r.bugcheck!.params[0]).toBe(0)
    expect(r.bugcheck!.params[2]).toBe(0x500)
    const f = finding(r, 'hang')
    expect(f.code).toBe(0x133)
    expect(f.message).toMatch(/^MiniportInterruptDPC ran for over 20 s at DISPATCH_LEVEL without returning/)
    expect(f.message).toMatch(/it last read register 0x0*8 of 00:03\.0/)
    expect(f.site).toMatch(/^test\/robustness\/drivers\/hostile\.ts:\d+$/)
  }, 120_000)

  it('an ISR spinning at DIRQL: the same watchdog (here with a 1 s allotment, 64 ticks)', () => {
    const r = attack('spin-isr', {}, 1e9)
    const f = finding(r, 'hang')
    expect(f.code).toBe(0x133)
    expect(f.params?.[2]).toBe(64)
    expect(f.message).toMatch(/^MiniportInterrupt ran for over 1 s at DIRQL/)
  })

  it('a DPC stalling forever (NdisStallExecution in a loop): the stalls are time, and the watchdog ends it', () => {
    const f = finding(attack('stall-forever-dpc'), 'hang')
    expect(f.code).toBe(0x133)
  })

  it('MiniportInitializeEx sleeping on a bit that never comes, at PASSIVE_LEVEL: a hang in dmalab\'s own range (Windows stops nothing there)', () => {
    const r = attack('spin-init')
    const f = finding(r, 'hang')
    expect(f.code).toBe(0xc4)
    expect(f.params?.[0]).toBe(DMALAB_P1.hang)
    expect(f.message).toMatch(/^MiniportInitializeEx ran for over 20 s at PASSIVE_LEVEL without returning .*it last read register 0x0*8 of 00:03\.0/)
  })
})

describe('what a handler returns is checked, and garbage is no success', () => {
  it('an ISR returning undefined is bad-return-value, and the run still reports', () => {
    const f = finding(attack('isr-undefined'), 'bad-return-value')
    expect(f.message).toMatch(/^MiniportInterrupt returned undefined, which is not TRUE\/FALSE/)
  })

  it('MiniportRestart returning a BigInt or a Symbol: bad-return-value, the adapter never runs', () => {
    for (const name of ['restart-bigint', 'restart-symbol'] as const) {
      const r = attack(name)
      expect(finding(r, 'bad-return-value').message).toMatch(/^MiniportRestart returned (the BigInt 0n|Symbol\(ok\)), which is not an NTSTATUS/)
      expect(r.traffic.txFrames).toBe(0)
    }
  })

  it('DriverEntry returning NaN or 1e308 is not STATUS_SUCCESS: bad-return-value and a failed init', () => {
    for (const name of ['entry-nan', 'entry-huge'] as const) {
      const r = attack(name)
      expect(r.outcome).toBe('init-failed')
      expect(finding(r, 'bad-return-value').message).toMatch(/^DriverEntry returned (NaN|1e\+308), which is not an NTSTATUS/)
    }
  })

  it('MiniportInitializeEx returning NaN is not NDIS_STATUS_SUCCESS', () => {
    const r = attack('init-nan')
    // A failed MiniportInitializeEx: the interrupt it registered before returning NaN is still
    // registered, which NDIS treats as fatal since the interrupt rules landed.
    expect(['init-failed', 'bugcheck']).toContain(r.outcome)
    expect(finding(r, 'bad-return-value').message).toMatch(/^MiniportInitializeEx returned NaN/)
  })

  it('an async send handler is async-driver-code (its work runs after the handler returned)', () => {
    expect(finding(attack('async-send'), 'async-driver-code').message).toMatch(/^MiniportSendNetBufferLists returned a Promise/)
  })
})

describe('whatever a driver throws is reported without running its code', () => {
  const cases: Array<[Attack, RegExp]> = [
    ['throw-null-proto', /^MiniportRestart threw a value that is not an Error: an object with no prototype$/],
    ['throw-proxy', /^MiniportRestart threw a value that is not an Error: a Proxy$/],
    ['throw-getters', /^MiniportRestart threw Error: $/],
    ['throw-symbol', /^MiniportRestart threw a value that is not an Error: Symbol\(thrown\)$/],
    ['throw-bigint', /^MiniportRestart threw a value that is not an Error: the BigInt 1000000000000000000000000000000n$/],
  ]
  for (const [name, message] of cases) {
    it(`${name}: driver-exception (0x7E), the report intact`, () => {
      const r = attack(name)
      expect(r.outcome).toBe('bugcheck')
      expect(r.bugcheck?.code).toBe(0x7e)
      expect(finding(r, 'driver-exception').message).toMatch(message)
    })
  }
})

describe("Windows' rules for forged and leftover objects", () => {
  // Bug check 0x1A MEMORY_MANAGEMENT, parameter 1 = 0x1236: "the caller specified an MDL that
  // contains an unlocked (or invalid) physical page" (p2 the MDL, p3 the PFN's place, p4 the PFN).
  it('mapping an MDL whose PFN the driver wrote itself is MEMORY_MANAGEMENT 0x1A/0x1236, and the mapping is refused', () => {
    const r = attack('forge-pfn')
    const f = finding(r, 'mdl-misuse')
    expect(f.code).toBe(0x1a)
    expect(f.params?.[0]).toBe(0x1236)
    expect(f.params?.[3]).toBe(0x200)
    expect(f.message).toMatch(/^MmMapLockedPagesSpecifyCache of an MDL whose PFN 0 \(0x200\) is not a page Mm locked or allocated for it/)
    // Refused (NULL), so the driver wrote nothing there, and the run goes on in log mode.
    expect(r.outcome).toBe('findings')
    expect(r.traffic.txFrames).toBe(SCENARIO.packets)
  })

  it('in crash mode the forged mapping is the bug check itself', () => {
    const r = attack('forge-pfn', { verifier: { mode: 'crash' } })
    expect(r.bugcheck).toMatchObject({ code: 0x1a, name: 'MEMORY_MANAGEMENT' })
    expect(r.bugcheck!.params[0]).toBe(0x1236)
  })

  it('an interrupt still registered when the driver unloads is a finding', () => {
    expect(finding(attack('interrupt-left'), 'interrupt-not-deregistered').message).toMatch(/NdisMDeregisterInterruptEx/)
  })

  it('registering the miniport driver twice is a finding, and the first registration stays in force', () => {
    const r = attack('register-twice')
    expect(finding(r, 'ndis-call-order').message).toMatch(/^NdisMRegisterMiniportDriver called again/)
    // The second registration's send handler (which throws) never ran: traffic flowed.
    expect(r.findings.some((f) => f.kind === 'driver-exception')).toBe(false)
    expect(r.traffic.txFrames).toBe(SCENARIO.packets)
  })
})
