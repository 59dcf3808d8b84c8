// Each attack of test/robustness/drivers/hostile.ts (the bundled e1000 with one bug or trick
// added) run as a user runs a driver file, `dmalab run FILE --json`, in a process of its own: it
// exits 1, its JSON report names the attack's finding, it ends within a time bound, and the report
// is the whole of stdout (exactly one JSON document, as the CLI serializes it: a line printed
// after it, or a second report, breaks that) with nothing on stderr. driver-attacks.test.ts checks
// the same attacks through the API; the process-level ones (process.exit, timers, patched
// globals, a handler that never calls back) exist only here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report } from '../../src/report.js'
import type { FindingKind } from '../../src/kernel/kinds.js'
import { formatReport } from '../../src/cli/format.js'
import { dmalab, type CliRun } from '../support/cli.js'
import type { Attack } from './drivers/hostile.js'

const HOSTILE = 'test/robustness/drivers/hostile.ts'
/**
 * A few frames are enough for every attack to strike; a run takes about 2 s of wall time alone.
 * The bound is for a 2-core machine three agents share: only a run that does not end exceeds it.
 */
const PACKETS = '8'
const BOUND_MS = 30_000

interface Case {
  readonly attack: Attack
  readonly kind: FindingKind
  /** What it is, for the test's name. */
  readonly what: string
  readonly args?: readonly string[]
  /** More that the report must say. */
  readonly check?: (r: Report) => void
}

const kindOf = (r: Report, kind: FindingKind): Report['findings'][number] => r.findings.find((f) => f.kind === kind)!

const CASES: readonly Case[] = [
  {
    attack: 'loop-forever',
    what: 'a handler that loops without ever calling back (only the wall-clock watchdog can stop it)',
    kind: 'hang',
    args: ['--driver-timeout', '1'],
    check: (r) => {
      expect(kindOf(r, 'hang').message).toMatch(/^MiniportRestart did not return within 1 s of host time at PASSIVE_LEVEL/)
      expect(kindOf(r, 'hang').site).toMatch(/^test\/robustness\/drivers\/hostile\.ts:\d+$/)
    },
  },
  {
    attack: 'stall-forever-dpc',
    what: 'a DPC stalling forever (the virtual-time DPC watchdog)',
    kind: 'hang',
    // Bug check 0x133 DPC_WATCHDOG_VIOLATION: "a single DPC or ISR exceeded its time allotment".
    check: (r) => expect(r.bugcheck).toMatchObject({ code: 0x133 }),
  },
  {
    attack: 'exit-in-send',
    what: 'process.exit(0) in the send handler',
    kind: 'driver-exception',
    check: (r) => {
      expect(r.bugcheck?.code).toBe(0x7e)
      expect(kindOf(r, 'driver-exception').message).toMatch(/process\.exit\(0\) called by driver code: a driver cannot end the system it runs in/)
    },
  },
  {
    attack: 'throw-proxy',
    what: 'a thrown Proxy whose every trap throws',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toBe('MiniportRestart threw a value that is not an Error: a Proxy'),
  },
  {
    attack: 'throw-null-proto',
    what: 'a thrown Object.create(null)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toBe('MiniportRestart threw a value that is not an Error: an object with no prototype'),
  },
  {
    attack: 'isr-undefined',
    what: 'an ISR returning undefined',
    kind: 'bad-return-value',
    check: (r) => expect(kindOf(r, 'bad-return-value').message).toMatch(/^MiniportInterrupt returned undefined, which is not TRUE\/FALSE/),
  },
  {
    attack: 'restart-bigint',
    what: 'MiniportRestart returning a BigInt',
    kind: 'bad-return-value',
    check: (r) => expect(r.traffic.txFrames).toBe(0),
  },
  {
    attack: 'forge-pfn',
    what: 'an MDL whose PFN the driver wrote itself, mapped',
    kind: 'mdl-misuse',
    // Bug check 0x1A MEMORY_MANAGEMENT, parameter 1 = 0x1236: an MDL with an unlocked or invalid page.
    check: (r) => expect(kindOf(r, 'mdl-misuse').params?.[0]).toBe(0x1236),
  },
  { attack: 'interrupt-left', what: 'an interrupt left registered at halt', kind: 'interrupt-not-deregistered' },
  {
    attack: 'async-send',
    what: 'an async send handler',
    kind: 'async-driver-code',
    check: (r) => expect(kindOf(r, 'async-driver-code').message).toMatch(/^MiniportSendNetBufferLists returned a Promise/),
  },
  {
    attack: 'timer-left',
    what: 'a timer left running (it must never fire after the report)',
    kind: 'async-driver-code',
    check: (r) => expect(r.findings.map((f) => f.kind)).toEqual(['async-driver-code']),
  },
  {
    attack: 'reject-left',
    what: 'a promise rejection left without a handler',
    kind: 'async-driver-code',
    check: (r) => expect(kindOf(r, 'async-driver-code').message).toMatch(/^driver code left a Promise rejected with no handler/),
  },
  {
    attack: 'register-twice',
    what: 'NdisMRegisterMiniportDriver called twice',
    kind: 'ndis-call-order',
    // The first registration stays in force: traffic flowed through it.
    check: (r) => expect(r.traffic.txFrames).toBe(Number(PACKETS)),
  },
  {
    attack: 'patch-tojson',
    what: 'Object.prototype.toJSON assigned to forge a clean report',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'toJSON'/),
  },
  {
    attack: 'define-tojson',
    what: 'Uint8Array.prototype.toJSON defined to forge the report',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot redefine property: toJSON/),
  },
  {
    attack: 'patch-json',
    what: 'JSON.stringify and Object.prototype.toJSON patched to forge a clean report',
    kind: 'driver-exception',
    check: (r) => {
      expect(r.outcome).toBe('bugcheck')
      expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'stringify'/)
    },
  },
  {
    attack: 'add-names',
    what: 'a new name and an element on Object.prototype (it stays extensible)',
    kind: 'host-tampering',
    check: (r) => {
      // Bug check 0x109 CRITICAL_STRUCTURE_CORRUPTION, parameter 4 = 0x0: a generic data region.
      expect(r.bugcheck).toMatchObject({ code: 0x109, params: [0, 0, 0, 0] })
      expect(kindOf(r, 'host-tampering').message).toMatch(/^driver code added 2 names to JavaScript built-ins dmalab itself runs on \(Object\.prototype\[0\], Object\.prototype\.verdict\)/)
      expect(kindOf(r, 'host-tampering').details).toEqual({ added: 'Object.prototype[0] Object.prototype.verdict' })
      // The run itself went on as without the names: every frame came back.
      expect(r.traffic.txFrames).toBe(Number(PACKETS))
    },
  },
  {
    attack: 'array-element',
    what: 'an element put on Array.prototype (an empty list\'s first entry)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'length' of object '\[object Array\]'/),
  },
  {
    attack: 'really-exit',
    what: 'process.reallyExit, what process.exit calls underneath',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw Error: process\.reallyExit\(\) called by driver code: a driver cannot end the system it runs in/),
  },
  {
    attack: 'patch-post',
    what: 'MessagePort.prototype.postMessage replaced to rewrite the result the worker sends',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'postMessage'/),
  },
  {
    attack: 'patch-path',
    what: 'path.relative replaced (finding sites are made with it)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'relative'/),
  },
  {
    attack: 'patch-buffer',
    what: 'Buffer.prototype.compare replaced (the protocol compares received bytes with it)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'compare'/),
  },
  {
    attack: 'patch-dmalab',
    what: 'a method of dmalab\'s own findings log replaced (the driver imports dmalab\'s module)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'violation'/),
  },
  {
    attack: 'edit-kinds',
    what: 'dmalab\'s table of finding kinds edited (a leak made a note)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'severity'/),
  },
  {
    attack: 'typed-species',
    what: 'Symbol.species of the typed arrays redefined (subarray would make the driver\'s objects)',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot redefine property: Symbol\(Symbol\.species\)/),
  },
  {
    attack: 'replace-global',
    what: 'the global Uint8Array replaced',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'Uint8Array'/),
  },
  {
    attack: 'prepare-stack',
    what: 'Error.prepareStackTrace set to forge finding sites',
    kind: 'driver-exception',
    check: (r) => {
      expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'prepareStackTrace'/)
      expect(kindOf(r, 'driver-exception').site).toMatch(/^test\/robustness\/drivers\/hostile\.ts:\d+$/)
    },
  },
  {
    attack: 'iterator-next',
    what: 'the array iterator\'s next replaced',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'next'/),
  },
  {
    attack: 'to-primitive',
    what: 'Object.prototype[Symbol.toPrimitive] assigned',
    kind: 'driver-exception',
    check: (r) => expect(kindOf(r, 'driver-exception').message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'Symbol\(Symbol\.toPrimitive\)'/),
  },
]

/** The JSON report a run printed, after checking it is the whole of stdout. */
function wholeReport(r: CliRun): Report {
  const report = JSON.parse(r.stdout) as Report
  expect(r.stdout).toBe(`${JSON.stringify(report, null, 2)}\n`)
  return report
}

describe('dmalab run of a hostile driver file: exit 1, the finding in --json, within a bound, and nothing after the report', () => {
  for (const c of CASES) {
    it(`${c.attack}, ${c.what}: ${c.kind}`, () => {
      const r = dmalab(['run', HOSTILE, '--packets', PACKETS, '--json', ...(c.args ?? [])], { env: { DMALAB_ATTACK: c.attack }, timeoutMs: BOUND_MS + 10_000 })
      expect(r.code).toBe(1)
      expect(r.ms).toBeLessThan(BOUND_MS)
      expect(r.stderr).toBe('')
      const report = wholeReport(r)
      expect(report.outcome).not.toBe('clean')
      expect(report.findings.map((f) => f.kind)).toContain(c.kind)
      c.check?.(report)
    }, BOUND_MS + 15_000)
  }
})

describe('what a driver cannot reach in the worker: the run goes on, clean, and its own report is printed', () => {
  // The watchdog's progress counter and the pool's channel are not in workerData, and the
  // worker's parentPort carries nothing dmalab reads.
  for (const [attack, what] of [
    ['forge-heartbeat', 'writing the watchdog\'s progress counter while looping forever'],
    ['deaf-worker', 'the worker\'s parentPort silenced and closed'],
    ['forge-reply', 'forged results posted on the worker\'s parentPort'],
  ] as const) {
    it(`${attack}, ${what}`, () => {
      const r = dmalab(['check', HOSTILE, '--packets', '4', '--jobs', '1', '--json', '--driver-timeout', '2'], { env: { DMALAB_ATTACK: attack }, timeoutMs: BOUND_MS * 2 })
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const report = JSON.parse(r.stdout) as { miniport: string; clean: boolean; matrix: unknown[] }
      expect(report).toMatchObject({ miniport: 'hostile', clean: true })
      expect(report.matrix).toHaveLength(4)
    }, BOUND_MS * 2 + 10_000)
  }
})

describe('the text report too is the whole of stdout', () => {
  let color: string | undefined
  beforeAll(() => {
    color = process.env.NO_COLOR
    process.env.NO_COLOR = '1'
  })
  afterAll(() => {
    if (color === undefined) delete process.env.NO_COLOR
    else process.env.NO_COLOR = color
  })

  // The same run twice (a run is deterministic: same seed, same report): the text output is the
  // JSON report formatted, and not a byte more.
  it('a thrown Proxy: stdout is exactly the text report of that run', () => {
    const args = ['run', HOSTILE, '--packets', PACKETS]
    const env = { DMALAB_ATTACK: 'throw-proxy' }
    const text = dmalab(args, { env, timeoutMs: BOUND_MS })
    const json = dmalab([...args, '--json'], { env, timeoutMs: BOUND_MS })
    expect(text.code).toBe(1)
    expect(text.stderr).toBe('')
    expect(text.stdout).toBe(`${formatReport(wholeReport(json))}\n`)
    expect(text.stdout).toMatch(/MiniportRestart threw a value that is not an Error: a Proxy/)
  }, 2 * BOUND_MS)
})

describe('a driver that adds names to the built-ins when it is imported', () => {
  // The names are deleted once a run reports them, and the worker is not reused: a fresh one
  // imports the driver again, so every configuration meets them, whichever worker runs it.
  it('every configuration of a check reports host-tampering, with one worker or two', () => {
    const env = { DMALAB_ATTACK: 'add-names-at-import' }
    const one = dmalab(['check', HOSTILE, '--packets', '4', '--jobs', '1', '--json'], { env, timeoutMs: 120_000 })
    const two = dmalab(['check', HOSTILE, '--packets', '4', '--jobs', '2', '--json'], { env, timeoutMs: 120_000 })
    expect(one.code).toBe(1)
    expect(one.stderr).toBe('')
    expect(two.stdout).toBe(one.stdout)
    type Run = { findings: Array<{ kind: string; message: string }> }
    const report = JSON.parse(one.stdout) as { matrix: Run[]; sweep: { runs: Run[] } }
    const runs = [...report.matrix, ...report.sweep.runs]
    expect(report.sweep.runs.length).toBeGreaterThan(100)
    for (const run of runs) expect(run.findings.map((f) => f.kind)).toContain('host-tampering')
    expect(runs[0]!.findings.find((f) => f.kind === 'host-tampering')!.message).toMatch(/\(Object\.prototype\.verdict\)/)
  }, 150_000)
})

describe('dmalab sweep of a hostile driver ends too', () => {
  it('a sweep --jobs 1 of a driver whose handler never returns: its clean run is the hang, exit 1', () => {
    const r = dmalab(['sweep', HOSTILE, '--packets', '4', '--jobs', '1', '--json', '--driver-timeout', '1'], { env: { DMALAB_ATTACK: 'loop-forever' }, timeoutMs: 70_000 })
    expect(r.code).toBe(1)
    expect(r.ms).toBeLessThan(60_000)
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout)).toMatchObject({ baseline: 'bugcheck' })
  }, 80_000)
})
