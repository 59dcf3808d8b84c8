// Finding and importing a miniport: a bundled name (`e1000`, `buggy/leak-on-halt`) or a path to
// a module whose default export is DriverEntry, in any of the forms a driver developer writes
// or compiles to:
//   .ts .mts .cts  TypeScript, through tsx when dmalab itself runs as compiled JavaScript
//   .js .mjs       ES modules (or CommonJS, by the nearest package.json, as Node decides)
//   .cjs           CommonJS: `module.exports = DriverEntry` or `exports.default = DriverEntry`
//                  (what `tsc --module commonjs` emits for `export default`)
//   .c, a folder of .c files, .wasm
//                  a C driver (c/load.ts), compiled to WebAssembly by `dmalab build`
// A module that cannot be imported (a syntax error, a missing import, a throw at top level) is
// a MiniportLoadError naming file:line:column and the message (load-error.ts).
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { MiniportModule } from '../ndis/miniport.js'
import { locateLoadError, type LoadErrorLocation } from './load-error.js'
import { CLoadFailure, buildSourceList, importCDriver, isCDriverPath } from './c/load.js'

const here = path.dirname(fileURLToPath(import.meta.url))
/**
 * True when this code itself runs as TypeScript (a checkout under tsx or vitest): a loader that
 * compiles TypeScript is active, so plain `import()` takes any driver. Compiled, dmalab imports
 * TypeScript drivers through tsx's scoped import, which leaves Node's own loader untouched.
 */
const RUNNING_TYPESCRIPT = import.meta.url.endsWith('.ts')
/** examples/ beside src/ (checkout) or dist/examples beside dist/src (compiled). */
export const EXAMPLES_DIR = path.resolve(here, '../../examples')
/**
 * The C examples are sources either way: examples/c beside src/ in a checkout, and in the
 * package's own examples/ when compiled (the compiler leaves .c files out of dist/).
 */
const C_EXAMPLES_DIR = path.resolve(here, RUNNING_TYPESCRIPT ? '../../examples/c' : '../../../examples/c')

/** The name or path given is neither a module file nor a bundled example. */
export class MiniportNotFound extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MiniportNotFound'
  }
}

/** The module exists but could not be imported, or has no DriverEntry. */
export class MiniportLoadError extends Error {
  readonly file: string
  /** Where the problem is, when the error says (syntax errors, missing imports, top-level throws). */
  readonly location: LoadErrorLocation | undefined
  constructor(file: string, message: string, location?: LoadErrorLocation) {
    super(message)
    this.name = 'MiniportLoadError'
    this.file = file
    this.location = location
  }
}

/** Extensions a miniport module may have, in the order a bare path tries them. */
export const MODULE_EXTENSIONS = ['.ts', '.js', '.mts', '.mjs', '.cts', '.cjs'] as const
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts'])
const EXTENSION = /\.(?:[cm]?ts|[cm]?js)$/
/** A C driver's source or build (c/load.ts). */
const C_EXTENSION = /\.(?:c|wasm)$/

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((c) => existsSync(c) && statSync(c).isFile())
}

function moduleFile(base: string): string | undefined {
  const module = firstExisting([base, ...MODULE_EXTENSIONS.map((e) => base + e), ...MODULE_EXTENSIONS.map((e) => path.join(base, `index${e}`))])
  if (module !== undefined) return module
  return isCDriverPath(base) ? base : undefined
}

/**
 * The file a miniport argument names, or a MiniportNotFound naming what was tried. A path is
 * resolved against `cwd` (the caller's working directory); a name that is not a path is looked
 * up among the bundled examples.
 */
export function resolveMiniport(name: string, cwd = process.cwd()): { file: string; name: string } {
  const asPath = moduleFile(path.resolve(cwd, name))
  // A C driver (a .c file, a folder of them, a .wasm) is named as the user wrote it: its file's or
  // folder's base name alone would call `examples/c/e1000` "e1000", the TypeScript example's
  // name. A module keeps its base name (`index` its folder's).
  const found = (file: string): { file: string; name: string } => ({
    file,
    name: isCDriverPath(file) ? name.replace(/(?<=.)[\\/]+$/, '') : path.basename(name).replace(EXTENSION, '').replace(C_EXTENSION, '').replace(/^index$/, path.basename(path.dirname(file))),
  })
  if (looksLikePath(name)) {
    if (asPath !== undefined) return found(asPath)
    throw new MiniportNotFound(`no miniport "${name}": no such module file`)
  }
  // A bare name (`e1000`, `buggy/leak-on-halt`) is a bundled example, and only ever one inside
  // examples/ (`buggy/../../src/index` names nothing). A file or folder of the same name in the
  // working directory does not shadow it silently: both exist, so the name is ambiguous.
  const bundled = bundledFile(name)
  if (bundled !== undefined && asPath !== undefined && path.resolve(asPath) !== path.resolve(bundled)) {
    throw new MiniportNotFound(`"${name}" is ambiguous: a bundled example and ${path.resolve(cwd, name)} both have that name; write ./${name} for the file`)
  }
  if (bundled !== undefined) return { file: bundled, name }
  if (asPath !== undefined && !name.split(/[\\/]/).includes('..')) return found(asPath)
  throw new MiniportNotFound(`no miniport "${name}": not a file, and not a bundled example (see \`dmalab examples\`)`)
}

/** `./x`, `../x`, `/x`, `C:\\x`, `x.ts`, `x.c`: written as a path. Anything else is a bundled name first. */
export function looksLikePath(name: string): boolean {
  return name === '.' || name === '..' || /^\.{1,2}[\\/]/.test(name) || path.isAbsolute(name) || /^[A-Za-z]:[\\/]/.test(name) || EXTENSION.test(name) || C_EXTENSION.test(name)
}

/** The bundled example a bare name names: a module under examples/, never outside it. */
function bundledFile(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/.test(name) || name.split('/').some((part) => part === '..' || part === '.')) return undefined
  // The C examples are sources even in the compiled package (C_EXAMPLES_DIR).
  const root = name.startsWith('c/') ? C_EXAMPLES_DIR : EXAMPLES_DIR
  const base = path.resolve(root, name.startsWith('c/') ? name.slice(2) : name)
  if (!base.startsWith(root + path.sep)) return undefined
  const file = moduleFile(base)
  return file !== undefined && path.resolve(file).startsWith(root + path.sep) ? file : undefined
}

/**
 * Several .c files named as one C miniport (`dmalab run a.c b.c`): built into one module whose
 * path then loads as any built driver does. A build error is a MiniportLoadError naming clang's
 * file:line:column.
 */
export async function buildMiniportSources(files: readonly string[], cwd = process.cwd()): Promise<string> {
  try {
    return await buildSourceList(files, cwd)
  } catch (error) {
    if (!(error instanceof CLoadFailure)) throw error
    const p = error.place
    throw new MiniportLoadError(files.join(' '), error.message, p === undefined ? undefined : { file: p.file, display: displayFile(p.file), line: p.line, column: p.column, message: p.message })
  }
}

const imported = new Map<string, Promise<MiniportModule>>()

/**
 * Imports a miniport module (once per file and process) and finds its DriverEntry. Rejects with
 * a MiniportLoadError when the module cannot be imported or has none.
 */
export function importMiniport(file: string, name = path.basename(file).replace(C_EXTENSION, '')): Promise<MiniportModule> {
  if (isCDriverPath(file)) {
    return importCDriver(file, name).catch((error: unknown) => {
      if (!(error instanceof CLoadFailure)) throw error
      const p = error.place
      throw new MiniportLoadError(file, error.message, p === undefined ? undefined : { file: p.file, display: displayFile(p.file), line: p.line, column: p.column, message: p.message })
    })
  }
  const key = path.resolve(file)
  let p = imported.get(key)
  if (p === undefined) {
    p = importOnce(key)
    imported.set(key, p)
  }
  return p
}

async function importOnce(file: string): Promise<MiniportModule> {
  let mod: unknown
  try {
    if (!RUNNING_TYPESCRIPT && TYPESCRIPT.has(path.extname(file))) {
      const { tsImport } = await import('tsx/esm/api')
      mod = await tsImport(pathToFileURL(file).href, import.meta.url)
    } else {
      mod = await import(pathToFileURL(file).href)
    }
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error))
    const location = locateLoadError(e, file)
    throw new MiniportLoadError(file, location === undefined ? firstLine(e.message) : `${location.display}:${location.line}:${location.column}: ${location.message}`, location)
  }
  const entry = driverEntryOf(mod)
  if (entry === undefined) {
    throw new MiniportLoadError(file, `${displayFile(file)} has no DriverEntry: export it as the default export (ES module \`export default function DriverEntry(ndis, registryPath)\`, CommonJS \`module.exports = DriverEntry\` or \`exports.default = DriverEntry\`)`)
  }
  return { default: entry }
}

/**
 * DriverEntry in what `import()` gives back: an ES module's default export; for CommonJS the
 * default is `module.exports`, itself DriverEntry or an object whose `default` is (compiled
 * `export default`, whether or not it is marked `__esModule`).
 */
function driverEntryOf(mod: unknown): MiniportModule['default'] | undefined {
  const d = (mod as { default?: unknown } | null)?.default
  if (typeof d === 'function') return d as MiniportModule['default']
  const inner = (d as { default?: unknown } | null | undefined)?.default
  if (typeof inner === 'function') return inner as MiniportModule['default']
  return undefined
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message
}

/** A path as a user reads it: relative to the working directory when it is inside it. */
export function displayFile(file: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, file)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file
}

/** The bundled miniports: every example folder with an index, and every buggy variant. */
export function bundledMiniports(): Array<{ name: string; file: string }> {
  const out: Array<{ name: string; file: string }> = []
  const walk = (dir: string, prefix: string): void => {
    if (!existsSync(dir)) return
    for (const entry of readdirSync(dir).sort()) {
      const full = path.join(dir, entry)
      if (statSync(full).isDirectory()) {
        // examples/bare-metal drives the NIC with no driver loaded: a demo, not a miniport.
        if (prefix === '' && entry === 'bare-metal') continue
        const index = moduleFile(full)
        // A folder of .c files is a C miniport (examples/c/minimal).
        if (index !== undefined) out.push({ name: `${prefix}${entry}`, file: index })
        else walk(full, `${prefix}${entry}/`)
      } else if (prefix !== '' && /\.(ts|js)$/.test(entry) && !entry.endsWith('.d.ts') && !entry.endsWith('.map')) {
        out.push({ name: `${prefix}${entry.replace(/\.(ts|js)$/, '')}`, file: full })
      }
    }
  }
  walk(EXAMPLES_DIR, '')
  if (!RUNNING_TYPESCRIPT) {
    walk(C_EXAMPLES_DIR, 'c/')
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }
  return out
}
