// The command line with C miniports: `dmalab build` compiles without running (-I, -D, -O passed
// to clang), `dmalab run` takes a .c file, several, a folder of them or a built .wasm; a compile
// error names file:line:column; a C driver's run is watched as every run is.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

function dmalab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('dmalab build and run with C miniports', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-c-cli-'))

  // The report names the C driver as the user wrote it: a folder's or file's base name would call
  // examples/c/e1000 "e1000", the TypeScript example's name.
  it('the report names a C driver as written: bundled c/e1000, a folder path, a .c file; in the header, --json and the sweep', () => {
    const header = (text: string): string => text.split('\n')[0]!.replace(/ — .*$/, '')
    expect(header(dmalab('run', 'examples/c/e1000', '--packets', '5').stdout)).toBe('dmalab run examples/c/e1000')
    expect(JSON.parse(dmalab('run', 'c/e1000', '--packets', '5', '--json').stdout)).toMatchObject({ miniport: 'c/e1000', outcome: 'clean' })
    // A trailing separator names the same folder, and the same driver.
    expect(JSON.parse(dmalab('run', 'examples/c/minimal/', '--packets', '0', '--json').stdout)).toMatchObject({ miniport: 'examples/c/minimal', outcome: 'clean' })
    const sweep = dmalab('sweep', 'examples/c/minimal/minimal.c', '--packets', '0')
    expect(sweep.code).toBe(0)
    expect(header(sweep.stdout)).toBe('dmalab sweep examples/c/minimal/minimal.c')
  })

  it('build writes the module run then loads, on the 32-bit machine, clean', () => {
    const out = path.join(dir, 'minimal.wasm')
    const built = dmalab('build', 'examples/c/minimal', '-o', out, '--json')
    expect(built.code).toBe(0)
    expect(JSON.parse(built.stdout)).toMatchObject({ built: true, output: out, sources: [path.join(root, 'examples/c/minimal/minimal.c')] })
    expect(existsSync(out)).toBe(true)
    // The minimal driver moves no frames (examples/c/e1000 does): it runs without traffic.
    const run = dmalab('run', out, '--packets', '0', '--json')
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ miniport: out, outcome: 'clean', config: { arch: 'x86' }, init: { status: 'NDIS_STATUS_SUCCESS' } })
  })

  it('a compile error fails build (exit 1) and run (exit 2) with file:line:column and clang\'s message', () => {
    const bad = path.join(dir, 'bad.c')
    writeFileSync(bad, '#include <ndis.h>\nNTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r)\n{\n    return NotDeclared;\n}\n')
    const built = dmalab('build', bad)
    expect(built.code).toBe(1)
    expect(built.stderr).toContain(`${bad}:4:12: error: use of undeclared identifier 'NotDeclared'`)
    const run = dmalab('run', bad)
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/cannot load miniport .*bad\.c:4:12: use of undeclared identifier 'NotDeclared'/)
  })

  it('a routine dmalab does not implement for C drivers is named at build time', () => {
    const uses = path.join(dir, 'uses.c')
    writeFileSync(uses, '#include <ndis.h>\nULONG DbgPrint(PCSTR Format, ...);\nNTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r)\n{\n    DbgPrint("hello");\n    return 0;\n}\n')
    const built = dmalab('build', uses)
    expect(built.code).toBe(1)
    expect(built.stderr).toMatch(/uses calls a routine dmalab does not implement for C drivers: DbgPrint/)
  })

  it('a C handler that never returns is stopped by the watchdog: a hang at its C line, then the report (exit 1)', () => {
    // The driver calls no routine at all, so it also proves such a module builds (its only
    // imports are the memory hooks).
    const loop = path.join(dir, 'loop.c')
    writeFileSync(loop, '#include <ndis.h>\nNTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)\n{\n    volatile ULONG spins = 0;\n    UNREFERENCED_PARAMETER(DriverObject);\n    UNREFERENCED_PARAMETER(RegistryPath);\n    for (;;) spins++;\n}\n')
    const r = dmalab('run', loop, '--driver-timeout', '1', '--json')
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as { outcome: string; findings: Array<{ kind: string; site?: string; message: string }> }
    expect(report.outcome).toBe('bugcheck')
    // The C stack where the watchdog paused it (DriverEntry alone: no caller of its own).
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'hang', site: `${loop}:7`, stack: [{ file: loop, line: 7, function: 'DriverEntry' }], message: expect.stringMatching(/^DriverEntry did not return within 1 s/) })])
  })

  it('build passes -I, -D and -O through to clang, for several .c files; run takes the .wasm, or the .c files themselves', () => {
    const inc = path.join(dir, 'inc')
    mkdirSync(inc, { recursive: true })
    writeFileSync(path.join(inc, 'cfg.h'), '#define CFG_FROM_INCLUDE_DIR 1\n')
    // Compiles only with cfg.h from -I, GREETING=7 from -D, and -O0 (clang defines __OPTIMIZE__ from -O1 up).
    const minimal = readFileSync(path.join(root, 'examples/c/minimal/minimal.c'), 'utf8')
    const a = path.join(dir, 'a.c')
    writeFileSync(a, `#include "cfg.h"\n#if !CFG_FROM_INCLUDE_DIR || GREETING != 7 || defined(__OPTIMIZE__)\n#error "flags not passed"\n#endif\n${minimal}`)
    const b = path.join(dir, 'b.c')
    writeFileSync(b, '#include <ndis.h>\nULONG Helper(void) { return 7; }\n')
    const out = path.join(dir, 'ab.wasm')
    const built = dmalab('build', a, b, '-I', inc, '-DGREETING=7', '-O0', '-o', out, '--json')
    expect(built.stderr).toBe('')
    expect(JSON.parse(built.stdout)).toMatchObject({ built: true, sources: [a, b] })
    expect(JSON.parse(dmalab('run', out, '--packets', '0', '--json').stdout)).toMatchObject({ miniport: out, outcome: 'clean' })
    // The same files given to run: built together; without -I, clang's first error is the load error.
    const run = dmalab('run', a, b, '--packets', '0')
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^dmalab: cannot load miniport ".*a\.c .*b\.c": .*a\.c:1:10: 'cfg\.h' file not found\n$/)
  })

  it('usage errors are one line and exit 2', () => {
    expect(dmalab('build').stderr).toMatch(/^dmalab: build needs C source files/)
    expect(dmalab('build', 'x.c', '-O9').stderr).toMatch(/^dmalab: -O9: the optimization level is one of 0, 1, 2, 3, s, z/)
    const r = dmalab('run', 'c/minimal', '--arch', 'x64')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^dmalab: C drivers run on the 32-bit machine/)
  })
})
