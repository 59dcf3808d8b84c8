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
    const r = dmalab(['run', 'e1000', '--packets', '3000', '--pcap', file])
    expect(r.code).toBe(0)
    const bytes = readFileSync(file)
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4)
    // The 3000 frames as they left the NIC (the loopback returns the same frames) and the LAN's
    // two 60-byte broadcasts after the halt, each with its 16-byte record header.
    expect(bytes.length).toBe(24 + 3000 * (16 + 1500) + 2 * (16 + 60))
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
