// The command line cannot be taken down either: by a hostile driver (the report comes, then
// nothing), by where --pcap points, or by a miniport name that reaches outside examples/.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const HOSTILE = 'test/robustness/drivers/hostile.ts'
const tsx = path.join(root, 'node_modules/tsx/dist/esm/index.mjs')

/** Runs the command line from `cwd` (the checkout by default), within a time bound. */
export function dmalab(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): { code: number | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now()
  const r = spawnSync(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: options.cwd ?? root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    timeout: options.timeoutMs ?? 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started }
}

describe('dmalab run of a hostile driver: exit 1, the report, and nothing after it', () => {
  it('an ISR returning undefined: the JSON report is the whole of stdout, stderr is empty', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '20', '--json'], { env: { DMALAB_ATTACK: 'isr-undefined' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('')
    const report = JSON.parse(r.stdout) as { findings: Array<{ kind: string }> }
    expect(report.findings.map((f) => f.kind)).toContain('bad-return-value')
  })

  it('a thrown Proxy: the text report ends the output', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '20'], { env: { DMALAB_ATTACK: 'throw-proxy' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/MiniportRestart threw a value that is not an Error: a Proxy/)
  })
})

describe('--pcap is opened before the run', () => {
  it('a path that cannot be written is exit 2 naming it, before anything runs', () => {
    const file = path.join(tmpdir(), 'no-such-dir-dmalab', 'x.pcap')
    const r = dmalab(['run', 'e1000', '--pcap', file])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(`dmalab: --pcap ${file}: cannot write it (ENOENT)`)
    expect(r.stdout).toBe('')
  })

  it('a capture is streamed to the file: a valid libpcap file of every frame', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-pcap-'))
    const file = path.join(dir, 'run.pcap')
    const r = dmalab(['run', 'e1000', '--packets', '3000', '--traffic', 'uniform', '--pcap', file])
    expect(r.code).toBe(0)
    const bytes = readFileSync(file)
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4)
    // The 3000 uniform 1500-byte frames as they left the NIC (the loopback returns the same
    // frames), the LAN's two 60-byte ARP frames after TCP/IP unbound and its two 60-byte frames
    // after the halt, each with its 16-byte record header.
    expect(bytes.length).toBe(24 + 3000 * (16 + 1500) + 4 * (16 + 60))
  })
})

describe('bundled names stay inside examples/, and a file does not silently shadow one', () => {
  it('buggy/../../src/index names nothing: exit 2', () => {
    const r = dmalab(['run', 'buggy/../../src/index'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^dmalab: no miniport "buggy\/\.\.\/\.\.\/src\/index"/)
  })

  it('a folder named e1000 in the working directory makes "e1000" ambiguous (exit 2); ./e1000 is the folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-amb-'))
    mkdirSync(path.join(dir, 'e1000'))
    writeFileSync(path.join(dir, 'e1000', 'index.mjs'), 'export default function DriverEntry() { return 0xC0000001 }\n')
    const r = dmalab(['run', 'e1000'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(`dmalab: "e1000" is ambiguous: a bundled example and ${path.join(dir, 'e1000')} both have that name; write ./e1000 for the file`)
    const own = dmalab(['run', './e1000'], { cwd: dir })
    expect(own.code).toBe(1)
    expect(own.stdout).toMatch(/init-failed|failed/)
  })
})

/** The JSON report a run printed, and that nothing but it is on stdout. */
function reportOf(stdout: string): { outcome: string; bugcheck: { code: number } | null; findings: Array<{ kind: string; message: string; site?: string; code?: number }> } {
  return JSON.parse(stdout) as ReturnType<typeof reportOf>
}

describe('driver code that reaches for the process it runs in (it runs in a worker of its own)', () => {
  it('a handler that loops without calling back is stopped by the wall-clock watchdog: a hang at its line, then the report', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '10', '--json', '--driver-timeout', '1'], { env: { DMALAB_ATTACK: 'loop-forever' } })
    expect(r.code).toBe(1)
    expect(r.ms).toBeLessThan(40_000)
    const f = reportOf(r.stdout).findings.find((x) => x.kind === 'hang')
    expect(f?.message).toMatch(/^MiniportRestart did not return within 1 s of host time at PASSIVE_LEVEL/)
    expect(f?.site).toMatch(/^test\/robustness\/drivers\/hostile\.ts:\d+$/)
  })

  it('a sweep --jobs 1 of that driver ends too: its clean run is the hang', () => {
    const r = dmalab(['sweep', HOSTILE, '--packets', '4', '--jobs', '1', '--json', '--driver-timeout', '1'], { env: { DMALAB_ATTACK: 'loop-forever' } })
    expect(r.code).toBe(1)
    expect(r.ms).toBeLessThan(60_000)
    expect(JSON.parse(r.stdout)).toMatchObject({ baseline: 'bugcheck' })
  })

  it('process.exit(0) in the send handler is a finding (driver-exception), not exit 0 with nothing printed', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '10', '--json'], { env: { DMALAB_ATTACK: 'exit-in-send' } })
    expect(r.code).toBe(1)
    const report = reportOf(r.stdout)
    expect(report.bugcheck?.code).toBe(0x7e)
    expect(report.findings.find((f) => f.kind === 'driver-exception')?.message).toMatch(/process\.exit\(0\) called by driver code: a driver cannot end the system it runs in/)
  })

  it('a driver that patches JSON.stringify and Object.prototype.toJSON cannot forge the report', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '10', '--json'], { env: { DMALAB_ATTACK: 'patch-json' } })
    expect(r.code).toBe(1)
    const report = reportOf(r.stdout)
    expect(report.outcome).toBe('bugcheck')
    expect(report.findings.find((f) => f.kind === 'driver-exception')?.message).toMatch(/^DriverEntry threw TypeError: Cannot assign to read only property 'stringify'/)
  })

  it('a timer left running is async-driver-code; it never fires, and the process ends after the report', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '10', '--json'], { env: { DMALAB_ATTACK: 'timer-left' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('')
    const report = reportOf(r.stdout)
    expect(report.findings.map((f) => f.kind)).toEqual(['async-driver-code'])
    expect(report.findings[0]!.message).toMatch(/^driver code set a timer \(setInterval\) in MiniportInitializeEx/)
  })

  it('a promise rejection left behind is async-driver-code, never a crash after the report', () => {
    const r = dmalab(['run', HOSTILE, '--packets', '10', '--json'], { env: { DMALAB_ATTACK: 'reject-left' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('')
    expect(reportOf(r.stdout).findings.map((f) => f.message)).toEqual([expect.stringMatching(/^driver code left a Promise rejected with no handler/)])
  })
})
