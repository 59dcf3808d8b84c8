// dmalab as a driver developer gets it: `npm pack`, the tarball installed into a fresh project,
// and the installed command line run on the developer's own drivers from that project's folder:
// a TypeScript driver (the e1000 example ported out of the repository, importing its types from
// 'dmalab'), the same driver compiled to CommonJS (`exports.default`, and a
// `module.exports = DriverEntry` entry), a sweep of the TypeScript one, a syntax error, and a C
// miniport (`npx dmalab run my.c`, one tarball for all). The
// shipped declarations are compiled with the developer's strict settings and skipLibCheck off.
//
// Offline-friendly: the tarball's dependencies come from npm's cache (--prefer-offline), the
// ones this checkout was installed with. The steps' host times are printed.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(path.join(tmpdir(), 'dmalab-installed-'))
const project = path.join(work, 'my-drivers')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const timings: Record<string, number> = {}

function timed<T>(label: string, fn: () => T): T {
  const start = performance.now()
  try {
    return fn()
  } finally {
    timings[label] = Math.round(performance.now() - start)
  }
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stderr}\n${r.stdout}`)
  return r
}

/** The installed command line, run from the project folder as `npx dmalab` would. */
function dmalab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const bin = path.join(project, 'node_modules', 'dmalab', 'dist', 'src', 'cli', 'main.js')
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** The e1000 example as a developer's own driver: its type imports come from the package. */
function writeTypeScriptDriver(dir: string): void {
  mkdirSync(dir, { recursive: true })
  const from = path.join(root, 'examples', 'e1000')
  for (const name of readdirSync(from).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(path.join(from, name), 'utf8').replace(/from '\.\.\/\.\.\/src\/[^']+'/g, "from 'dmalab'")
    expect(text, `${name} imports only dmalab's public API`).not.toMatch(/\.\.\/\.\.\/src\//)
    writeFileSync(path.join(dir, name), text)
  }
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
  // Constants are numbers a variable can hold, as NDIS_STATUS in C.
  writeFileSync(
    path.join(dir, 'constants-check.ts'),
    "import type { NdisApi } from 'dmalab'\nexport function statuses(ndis: NdisApi): number {\n  let s = ndis.NDIS_STATUS_SUCCESS\n  s = ndis.NDIS_STATUS_FAILURE\n  let pool = ndis.NonPagedPoolNx\n  pool = ndis.PagedPool\n  return s + pool\n}\n",
  )
}

/** The same driver as `tsc --module commonjs` emits it, plus an entry that sets module.exports. */
function writeCommonJsDriver(tsDir: string, dir: string): void {
  mkdirSync(dir, { recursive: true })
  for (const name of readdirSync(tsDir).filter((f) => f.endsWith('.ts'))) {
    const out = ts.transpileModule(readFileSync(path.join(tsDir, name), 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } })
    writeFileSync(path.join(dir, name.replace(/\.ts$/, '.js')), out.outputText)
  }
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "commonjs" }\n')
  writeFileSync(path.join(dir, 'entry.cjs'), "module.exports = require('./index.js').default\n")
}

beforeAll(() => {
  mkdirSync(project, { recursive: true })
  // `npm pack` runs the package's prepare script: the build a published tarball is made from.
  timed('npm pack (with build)', () => ok(spawnSync(npm, ['pack', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8' }), 'npm pack'))
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!
  writeFileSync(path.join(project, 'package.json'), '{ "name": "my-drivers", "private": true }\n')
  timed('npm install (tarball, prefer-offline)', () =>
    ok(spawnSync(npm, ['install', path.join(work, tarball), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent'], { cwd: project, encoding: 'utf8' }), 'npm install'),
  )
  writeTypeScriptDriver(path.join(project, 'ts-driver'))
  writeCommonJsDriver(path.join(project, 'ts-driver'), path.join(project, 'cjs-driver'))
}, 240_000)

afterAll(() => {
  console.info(`installed-package steps (host ms): ${JSON.stringify(timings)}`)
  rmSync(work, { recursive: true, force: true })
})

describe('the installed package runs a developer\'s own drivers', () => {
  it('ships LICENSE, the compiled code, the examples and the declarations', () => {
    const pkg = path.join(project, 'node_modules', 'dmalab')
    for (const f of ['LICENSE', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/examples/e1000/index.js', 'types/buffer-layout.d.ts']) {
      expect(() => readFileSync(path.join(pkg, f)), f).not.toThrow()
    }
  })

  it('a TypeScript driver from the project folder: clean, exit 0', () => {
    const r = timed('run ts-driver', () => dmalab('run', './ts-driver/index.ts', '--packets', '60', '--json'))
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ miniport: 'ts-driver', outcome: 'clean', traffic: { txFrames: 60, rxFrames: 60 } })
  })

  it('the same driver compiled to CommonJS (exports.default and module.exports = DriverEntry): clean, exit 0', () => {
    for (const entry of ['./cjs-driver/index.js', './cjs-driver/entry.cjs', './cjs-driver']) {
      const r = timed(`run ${entry}`, () => dmalab('run', entry, '--packets', '60', '--json'))
      expect(r.stderr, entry).toBe('')
      expect(r.code, entry).toBe(0)
      expect(JSON.parse(r.stdout), entry).toMatchObject({ outcome: 'clean', traffic: { txFrames: 60, rxFrames: 60 } })
    }
  })

  it('a sweep of the TypeScript driver: its workers load it too, and every run is handled', () => {
    const r = timed('sweep ts-driver', () => dmalab('sweep', './ts-driver', '--packets', '4', '--mode', 'stack', '--jobs', '2', '--json'))
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as { runs: unknown[]; summary: Record<string, number> }
    expect(out.runs.length).toBeGreaterThan(10)
    expect(out.summary).toEqual({ handled: out.runs.length, leak: 0, finding: 0, bugcheck: 0, hang: 0 })
    expect(r.code).toBe(0)
  })

  it('a syntax error is exit 2 with file:line:column and the message, for run and sweep alike', () => {
    const bad = path.join(project, 'broken')
    cpSync(path.join(project, 'ts-driver'), bad, { recursive: true })
    const send = readFileSync(path.join(bad, 'send.ts'), 'utf8').split('\n')
    const line = send.findIndex((l) => l.startsWith('export function sendNetBufferLists'))
    send[line] = send[line]!.replace('(', '((')
    writeFileSync(path.join(bad, 'send.ts'), send.join('\n'))
    for (const command of ['run', 'sweep']) {
      const r = dmalab(command, './broken')
      expect(r.code, command).toBe(2)
      expect(r.stdout, command).toBe('')
      expect(r.stderr.trim(), command).toMatch(new RegExp(`^dmalab: cannot load miniport "\\./broken": broken/send\\.ts:${line + 1}:\\d+: \\S.*$`))
    }
  })

  it('a C miniport: my.c with #include <ndis.h>, `npx dmalab run my.c` builds it with the shipped clang and headers and runs it clean on the 32-bit machine', () => {
    // The minimal miniport as the developer's own file, outside the package.
    writeFileSync(path.join(project, 'my.c'), readFileSync(path.join(root, 'examples', 'c', 'minimal', 'minimal.c'), 'utf8'))
    const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'
    const r = timed('npx dmalab run my.c', () =>
      spawnSync(npx, ['--no-install', 'dmalab', 'run', 'my.c', '--packets', '0', '--json'], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', DMALAB_CACHE_DIR: '' } }),
    )
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ miniport: 'my.c', outcome: 'clean', config: { arch: 'x86' }, init: { status: 'NDIS_STATUS_SUCCESS' } })
    // The build is cached in the project's node_modules, where a sweep's workers find it.
    expect(readdirSync(path.join(project, 'node_modules', '.cache', 'dmalab')).length).toBeGreaterThan(0)
    // The bundled C examples ship as sources (the TypeScript compiler leaves .c out of dist/).
    expect(dmalab('examples').stdout).toMatch(/^\s+c\/e1000\s+\S/m)
  })

  it('the shipped declarations compile under the developer\'s strict settings with skipLibCheck off', () => {
    const typeRoots = path.join(path.dirname(createRequire(import.meta.url).resolve('@types/node/package.json')), '..')
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, typeRoots: [typeRoots], types: ['node'] }, include: ['ts-driver'] }),
    )
    const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
    const r = timed('tsc (skipLibCheck false)', () => spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' }))
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })
})
