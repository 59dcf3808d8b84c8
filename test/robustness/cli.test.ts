// The command line cannot be taken down by where --pcap points, by a reader that closes the pipe
// early, or by a miniport name that reaches outside examples/. (A hostile driver run from the command line: cli-attacks.test.ts.)
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { dmalab, root } from '../support/cli.js'

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

describe('a reader that stops reading', () => {
  it('dmalab sweep --json | head -c 100: the reader gets its bytes, dmalab ends with its own exit code and no stack trace', () => {
    // The shell's pipe, as a user writes it; head exits after 100 bytes and closes the pipe.
    const tsx = path.join(root, 'node_modules/tsx/dist/esm/index.mjs')
    const command = `"${process.execPath}" --import "${tsx}" "${path.join(root, 'src/cli/main.ts')}" sweep e1000 --packets 4 --json | head -c 100; echo " exit \${PIPESTATUS[0]}"`
    const r = spawnSync('bash', ['-c', command], { cwd: root, encoding: 'utf8', timeout: 120_000 })
    expect(r.stdout).toMatch(/^\{\n {2}"miniport": "e1000",[\s\S]* exit 0\n$/)
    expect(r.stderr).toBe('')
  }, 130_000)
})
