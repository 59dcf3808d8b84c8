// Loading a user's miniport in every module form a driver developer writes or compiles to, from
// any folder, and saying where a module that cannot load went wrong (file:line:column, message).
// The same paths through the installed package are proved in test/package/installed.test.ts.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { MiniportLoadError, MiniportNotFound, importMiniport, resolveMiniport } from '../../src/driver/loader.js'
import { locateLoadError } from '../../src/driver/load-error.js'

const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-loader-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A miniport body in plain JavaScript: registers, initializes, completes sends at once. */
const BODY = `function DriverEntry(ndis) {
  const init = (handle) => {
    ndis.NdisMSetMiniportAttributes(handle, { Header: { Type: ndis.NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, Revision: 1, Size: 0 }, MiniportAdapterContext: { handle }, AttributeFlags: 0, CheckForHangTimeInSeconds: 0, InterfaceType: 5 })
    return ndis.NDIS_STATUS_SUCCESS
  }
  return ndis.NdisMRegisterMiniportDriver(ndis.DriverObject, '', null, {
    MajorNdisVersion: 6, MinorNdisVersion: 20,
    InitializeHandlerEx: init, HaltHandlerEx: () => {}, PauseHandler: () => ndis.NDIS_STATUS_SUCCESS,
    RestartHandler: () => ndis.NDIS_STATUS_SUCCESS, OidRequestHandler: () => ndis.NDIS_STATUS_NOT_SUPPORTED,
    SendNetBufferListsHandler: (c, nbls) => ndis.NdisMSendNetBufferListsComplete(c.handle, nbls, 0),
    ReturnNetBufferListsHandler: () => {},
  }).status
}
`

function write(rel: string, text: string): string {
  const file = path.join(dir, rel)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, text)
  return file
}

describe('a miniport loads in every module form, from any folder', () => {
  const forms: Array<[string, string]> = [
    ['ES module (.mjs)', write('esm.mjs', `export default ${BODY}`)],
    ['CommonJS module.exports = DriverEntry (.cjs)', write('plain.cjs', `${BODY}\nmodule.exports = DriverEntry\n`)],
    ['CommonJS exports.default, as tsc emits it (.cjs)', write('compiled.cjs', `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.default = DriverEntry;\n${BODY}`)],
    ['CommonJS .js in a package without "type"', write('cjs-pkg/index.js', `${BODY}\nexports.default = DriverEntry\n`)],
    ['ES module .js in a "type": "module" package', write('esm-pkg/driver.js', `export default ${BODY}`)],
    ['TypeScript (.mts)', write('typed.mts', `export default ${BODY.replace('function DriverEntry(ndis)', 'function DriverEntry(ndis: any): number')}`)],
  ]
  writeFileSync(path.join(dir, 'esm-pkg/package.json'), '{ "type": "module" }')
  for (const [what, file] of forms) {
    it(what, async () => {
      const m = createMachine({ memory: { size: '256MiB' } })
      const loaded = await m.load(file)
      expect(loaded.state).toBe('running')
      m.halt()
    })
  }

  it('m.load resolves a relative path against the working directory, and a folder to its index', () => {
    expect(resolveMiniport('cjs-pkg', dir).file).toBe(path.join(dir, 'cjs-pkg', 'index.js'))
    expect(resolveMiniport('./esm', dir).file).toBe(path.join(dir, 'esm.mjs'))
    expect(resolveMiniport(path.relative(process.cwd(), path.join(dir, 'plain.cjs'))).file).toBe(path.join(dir, 'plain.cjs'))
    // Bundled names as before; a path that is not there is not looked up among them.
    expect(resolveMiniport('e1000', dir).name).toBe('e1000')
    expect(() => resolveMiniport('./e1000', dir)).toThrow(MiniportNotFound)
  })

  it('a C driver is named as written (its base name would call examples/c/e1000 "e1000", the TypeScript example); a module by its base name', () => {
    expect(resolveMiniport('c/e1000').name).toBe('c/e1000')
    expect(resolveMiniport('examples/c/e1000').name).toBe('examples/c/e1000')
    expect(resolveMiniport('./examples/c/e1000-ndis5/').name).toBe('./examples/c/e1000-ndis5')
    expect(resolveMiniport('examples/c/minimal/minimal.c').name).toBe('examples/c/minimal/minimal.c')
    expect(resolveMiniport('examples/e1000').name).toBe('e1000')
    expect(resolveMiniport('./esm', dir).name).toBe('esm')
  })
})

/**
 * Imports each file with dmalab's loader in a plain Node process (under tsx, as from a checkout;
 * vitest's own module loader would report the errors in its words, not Node's) and returns the
 * message each load failed with.
 */
function loadErrors(files: string[]): string[] {
  const loader = fileURLToPath(new URL('../../src/driver/loader.ts', import.meta.url))
  const script = `const { importMiniport } = await import(${JSON.stringify(loader)})
const out = []
for (const f of ${JSON.stringify(files)}) out.push(await importMiniport(f).then(() => 'loaded', (e) => e.name + ' ' + e.message))
process.stdout.write(JSON.stringify(out))`
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  const r = spawnSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' })
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as string[]
}

describe('a module that cannot load names file:line:column and the message', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['a syntax error in an ES module', 'bad.mjs', 'export default function DriverEntry() {\n  const x = ;\n}\n', /^errors\/bad\.mjs:2:13: Unexpected token ';'$/],
    ['a syntax error in CommonJS', 'bad.cjs', 'module.exports = function () {\n  return (;\n}\n', /bad\.cjs:2:11: Unexpected token ';'$/],
    ['a missing relative import (ES module)', 'missing.mjs', "import { a } from './nowhere.mjs'\nexport default () => a\n", /missing\.mjs:1:19: Cannot find module '\.\/nowhere\.mjs'$/],
    ['a missing require (CommonJS)', 'missing.cjs', "const x = 1\nconst y = require('./nowhere')\nmodule.exports = () => y\n", /missing\.cjs:2:19: Cannot find module '\.\/nowhere'$/],
    ['a missing package', 'pkg.mjs', "import x from 'no-such-package-dmalab'\nexport default () => x\n", /pkg\.mjs:1:15: Cannot find package 'no-such-package-dmalab'$/],
    ['a throw while the module runs', 'throws.mjs', 'const table = null\nexport const n = table.length\nexport default () => 0\n', /throws\.mjs:2:\d+: TypeError: Cannot read properties of null/],
  ]
  cases.push(['a syntax error in TypeScript (through tsx)', 'bad.ts', 'export default function DriverEntry(): number {\n  return (1 +;\n}\n', /^errors\/bad\.ts:2:14: Unexpected ";"$/])
  it(cases.map((c) => c[0]).join('; '), () => {
    const messages = loadErrors(cases.map(([, name, text]) => write(`errors/${name}`, text)))
    cases.forEach(([what, , , expected], i) => {
      const [name, ...rest] = messages[i]!.split(' ')
      expect(name, what).toBe('MiniportLoadError')
      expect(rest.join(' '), what).toMatch(expected)
      expect(messages[i]!.split('\n'), what).toHaveLength(1)
    })
  })

  it('a module without a DriverEntry says how to export one', async () => {
    const file = write('errors/named.mjs', 'export function DriverEntry() { return 0 }\n')
    await expect(importMiniport(file)).rejects.toThrow(MiniportLoadError)
    await expect(importMiniport(file)).rejects.toThrow(/has no DriverEntry: export it as the default export .*module\.exports = DriverEntry/)
  })

  it('TypeScript syntax errors from tsx (esbuild) keep their place', () => {
    const e = new Error('Transform failed with 1 error:\n/work/drv/send.ts:41:7: ERROR: Expected ";" but found "x"')
    expect(locateLoadError(e, '/work/drv/index.ts', '/work')).toMatchObject({ display: 'drv/send.ts', line: 41, column: 8, message: 'Expected ";" but found "x"' })
  })
})
