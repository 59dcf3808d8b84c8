// `dmalab build` and the first step of running a C driver: from .c files (or a folder of them,
// or a prebuilt .wasm) to an instrumented module ready to load, through the cache.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DRIVER_IMAGE_BASE, DRIVER_IMAGE_END } from '../../kernel/arch.js'
import { BuildCache, cacheDirectory, cacheKey } from './cache.js'
import { INSTRUMENT_VERSION, instrument } from './instrument.js'
import { CompileError, DEFAULT_OPTIMIZE, OPTIMIZE_LEVELS, TOOLCHAIN_ID, compileDriver, compileFlags, type SourceFile } from './toolchain.js'
import { isWasm } from './wasm-binary.js'

export interface BuildOptions {
  /** -I directories (relative to `cwd`). */
  readonly includeDirs?: readonly string[]
  /** -D values: NAME or NAME=VALUE. */
  readonly defines?: readonly string[]
  /** -O level: 0, 1, 2, 3, s or z (default 1: a finding's line is the line that did it). */
  readonly optimize?: string
  /** The disk cache directory; null turns it off; default: cacheDirectory(cwd). */
  readonly cacheDir?: string | null
  readonly cwd?: string
}

export interface BuiltDriver {
  /** The instrumented module. */
  readonly wasm: Uint8Array
  /** The driver's name: its single source's base name, or its folder's name. */
  readonly name: string
  readonly sources: readonly string[]
  /** True when no compile was needed. */
  readonly cached: boolean
  readonly diagnostics: string
}

/** A bad build request (no such file, not a C file): the command line reports it as usage. */
export class BuildInputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BuildInputError'
  }
}

export { CompileError }

const here = path.dirname(fileURLToPath(import.meta.url))

/** dmalab's include/ directory (beside src/ in a checkout and in the installed package). */
export function includeDirectory(): string {
  for (let dir = here, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'include')
    if (existsSync(path.join(candidate, 'ndis.h'))) return candidate
  }
  throw new Error(`dmalab's C headers (include/ndis.h) were not found above ${here}`)
}

const HEADER = /\.(h|hh|hpp|inc)$/i
/** Bounds on the headers read from a source's folder and the -I folders. */
const MAX_HEADER_FILES = 2000
const MAX_HEADER_BYTES = 32 * 1024 * 1024
const MAX_DEPTH = 4

function posix(p: string): string {
  return p.split(path.sep).join('/')
}

function listFiles(dir: string, match: RegExp, depth: number, out: string[]): void {
  let entries: string[]
  try {
    entries = readdirSync(dir).sort()
  } catch {
    return
  }
  for (const e of entries) {
    if (e === 'node_modules' || e.startsWith('.')) continue
    const full = path.join(dir, e)
    let st
    try {
      st = statSync(full)
    } catch {
      continue
    }
    if (st.isDirectory()) {
      if (depth > 0) listFiles(full, match, depth - 1, out)
    } else if (match.test(e)) {
      out.push(full)
    }
    if (out.length > MAX_HEADER_FILES) throw new BuildInputError(`more than ${MAX_HEADER_FILES} header files under ${dir}: pass the include folders you need with -I`)
  }
}

/** The .c files an argument list names: files, and the top-level .c files of folders. */
export function resolveSources(inputs: readonly string[], cwd: string): string[] {
  const out: string[] = []
  for (const input of inputs) {
    const full = path.resolve(cwd, input)
    if (!existsSync(full)) throw new BuildInputError(`no such file or folder: ${input}`)
    if (statSync(full).isDirectory()) {
      const found = readdirSync(full).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(full, f))
      if (found.length === 0) throw new BuildInputError(`${input} holds no .c files`)
      out.push(...found)
    } else if (full.endsWith('.c')) {
      out.push(full)
    } else {
      throw new BuildInputError(`${input} is not a C source file (.c) or a folder of them`)
    }
  }
  return [...new Set(out)]
}

const QUOTED_INCLUDE = /^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"/gm

/** A file a quoted `#include` reached: its real path, and the path the compiler spells it by. */
interface Included {
  readonly real: string
  readonly spelled: string
}

/**
 * The files named by `#include "..."` in `files` (and in what those name, and so on), so that a
 * driver may share code with another folder (`#include "../common/hw.h"`, or another driver's .c
 * files in a unity build, as the examples under examples/c/buggy do). A quoted name is looked up
 * as the compiler does: beside the file that includes it, then in the -I folders (C17 6.10.2,
 * clang's quoted search). A name built by a macro is not seen here; the compiler then says which
 * file it could not find.
 *
 * The compiler's file system (@yowasp/clang's) takes `..` in a path as `.`, so the compiler
 * opens `a/b/../x.h` as `a/b/x.h`: each file reached through `..` is also placed where that
 * spelling lands (`aliases` in compileRequest), and a real file already there is refused rather
 * than silently read instead.
 */
function quotedIncludes(files: readonly string[], includeDirs: readonly string[]): Included[] {
  const out: Included[] = []
  const spellings = new Set(files)
  const queue: Included[] = files.map((f) => ({ real: f, spelled: f }))
  let bytes = 0
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    let text: string
    try {
      text = readFileSync(file.real, 'latin1')
    } catch {
      continue
    }
    for (const m of text.matchAll(QUOTED_INCLUDE)) {
      const name = m[1]!
      const dirs = [{ real: path.dirname(file.real), spelled: path.posix.dirname(file.spelled) }, ...includeDirs.map((d) => ({ real: d, spelled: posix(d) }))]
      for (const dir of dirs) {
        const real = path.resolve(dir.real, name)
        if (!existsSync(real) || !statSync(real).isFile()) continue
        const spelled = `${dir.spelled}/${name}`
        if (spellings.has(spelled)) break
        spellings.add(spelled)
        const found = { real, spelled }
        out.push(found)
        queue.push(found)
        bytes += statSync(real).size
        if (out.length > MAX_HEADER_FILES || bytes > MAX_HEADER_BYTES) throw new BuildInputError('too many or too large files included: pass the include folders you need with -I')
        break
      }
    }
  }
  return out
}

/** Where @yowasp/clang's file system opens a path: `..` and `.` segments are skipped. */
function whereOpened(spelled: string): string {
  return `/${spelled.split('/').filter((s) => s !== '' && s !== '.' && s !== '..').join('/')}`
}

function read(file: string): SourceFile {
  return { path: posix(file), bytes: new Uint8Array(readFileSync(file)) }
}

/** Builds (or finds in the cache) the module for a C driver; a .wasm input is instrumented if it is not yet. */
export async function buildDriver(inputs: readonly string[], options: BuildOptions = {}): Promise<BuiltDriver> {
  const cwd = options.cwd ?? process.cwd()
  const optimize = options.optimize ?? DEFAULT_OPTIMIZE
  if (!(OPTIMIZE_LEVELS as readonly string[]).includes(optimize)) throw new BuildInputError(`-O${optimize}: the optimization level must be one of ${OPTIMIZE_LEVELS.join(', ')}`)
  const cache = new BuildCache(options.cacheDir === undefined ? cacheDirectory(cwd) : options.cacheDir)

  if (inputs.length === 1 && inputs[0]!.endsWith('.wasm')) return loadPrebuilt(inputs[0]!, cwd, cache)

  const sourcePaths = resolveSources(inputs, cwd)
  const includeDirs = (options.includeDirs ?? []).map((d) => path.resolve(cwd, d))
  for (const d of includeDirs) if (!existsSync(d) || !statSync(d).isDirectory()) throw new BuildInputError(`-I ${d}: no such folder`)
  const defines = [...(options.defines ?? [])]
  for (const d of defines) if (!/^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/.test(d)) throw new BuildInputError(`-D ${d}: not NAME or NAME=VALUE`)

  const sources = sourcePaths.map(read)
  const headerPaths: string[] = []
  for (const dir of [...new Set([...sourcePaths.map((s) => path.dirname(s)), ...includeDirs])]) listFiles(dir, HEADER, MAX_DEPTH, headerPaths)
  const included = quotedIncludes([...sourcePaths, ...headerPaths].map(posix), includeDirs)
  const headers = [...new Set([...headerPaths, ...included.map((f) => f.real)])].map(read)
  const realFiles = new Map([...sources, ...headers].map((f) => [f.path, f]))
  const aliases = new Map<string, SourceFile>()
  for (const f of included) {
    const at = whereOpened(f.spelled)
    const real = realFiles.get(posix(f.real))!
    if (at === real.path || aliases.has(at)) continue
    const there = realFiles.get(at)
    if (there !== undefined) throw new BuildInputError(`#include "${f.spelled}" would read ${at} instead of ${real.path}: the compiler dmalab runs takes ".." as "."; pass the folder with -I and include it by name`)
    aliases.set(at, { path: at, bytes: real.bytes })
  }
  headers.push(...aliases.values())
  if (headers.reduce((n, h) => n + h.bytes.length, 0) > MAX_HEADER_BYTES) throw new BuildInputError('more than 32 MiB of headers beside the sources: pass the include folders you need with -I')
  const includeDir = includeDirectory()
  const systemPaths: string[] = []
  listFiles(includeDir, HEADER, MAX_DEPTH, systemPaths)
  const systemHeaders = systemPaths.map((p) => ({ path: posix(path.relative(includeDir, p)), bytes: new Uint8Array(readFileSync(p)) }))

  const request = { sources, headers, systemHeaders, includeDirs: includeDirs.map(posix), defines, optimize, imageBase: DRIVER_IMAGE_BASE }
  const key = cacheKey([
    TOOLCHAIN_ID, `instrument-${INSTRUMENT_VERSION}`, ...compileFlags(request),
    ...sources.flatMap((s) => ['source', s.path, s.bytes]),
    ...headers.flatMap((h) => ['header', h.path, h.bytes]),
    ...systemHeaders.flatMap((h) => ['system', h.path, h.bytes]),
  ])
  const name = driverName(inputs, sourcePaths)
  const hit = cache.get(key)
  if (hit !== undefined) return { wasm: hit, name, sources: sourcePaths, cached: true, diagnostics: '' }
  const compiled = await compileDriver(request)
  const wasm = instrument(compiled.wasm, DRIVER_IMAGE_BASE, DRIVER_IMAGE_END)
  cache.set(key, wasm)
  return { wasm, name, sources: sourcePaths, cached: false, diagnostics: compiled.diagnostics }
}

async function loadPrebuilt(input: string, cwd: string, cache: BuildCache): Promise<BuiltDriver> {
  const file = path.resolve(cwd, input)
  if (!existsSync(file)) throw new BuildInputError(`no such file: ${input}`)
  const bytes = new Uint8Array(readFileSync(file))
  if (!isWasm(bytes)) throw new BuildInputError(`${input} is not a WebAssembly module`)
  const key = cacheKey([`instrument-${INSTRUMENT_VERSION}`, 'prebuilt', bytes])
  const name = path.basename(file).replace(/\.wasm$/, '')
  const hit = cache.get(key)
  if (hit !== undefined) return { wasm: hit, name, sources: [file], cached: true, diagnostics: '' }
  const wasm = instrument(bytes, DRIVER_IMAGE_BASE, DRIVER_IMAGE_END)
  cache.set(key, wasm)
  return { wasm, name, sources: [file], cached: false, diagnostics: '' }
}

function driverName(inputs: readonly string[], sources: readonly string[]): string {
  if (inputs.length === 1 && sources.length > 1) return path.basename(path.resolve(inputs[0]!))
  return path.basename(sources[0]!).replace(/\.c$/, '')
}
