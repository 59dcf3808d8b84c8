// Loading a C driver as a miniport: a .c file, a folder of .c files, or a .wasm built by
// `dmalab build`, built (or found in the cache) and compiled once per process.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { BuildInputError, CompileError, buildDriver } from './build.js'
import { InstrumentError } from './instrument.js'
import { CDriverLoadError, CompiledDriver, type CMiniportModule } from './module.js'

/** True for what names a C driver: a .c or .wasm file, or a folder holding .c files. */
export function isCDriverPath(file: string): boolean {
  if (/\.(c|wasm)$/.test(file)) return existsSync(file) && statSync(file).isFile()
  try {
    return statSync(file).isDirectory() && readdirSync(file).some((f) => f.endsWith('.c'))
  } catch {
    return false
  }
}

/** Where clang says the first error is, for a load error that names file:line:column. */
export interface CompileErrorPlace {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly message: string
}

/** The first `file:line:column: error: message` in clang's output. */
export function firstCompileError(diagnostics: string): CompileErrorPlace | undefined {
  const m = /^(.+?):(\d+):(\d+): (?:fatal )?error: (.*)$/m.exec(diagnostics)
  return m === null ? undefined : { file: m[1]!, line: Number(m[2]), column: Number(m[3]), message: m[4]! }
}

/** A C driver's load failure: why, and where in its source when the compiler said. */
export class CLoadFailure extends Error {
  readonly place: CompileErrorPlace | undefined
  constructor(message: string, place?: CompileErrorPlace) {
    super(message)
    this.name = 'CLoadFailure'
    this.place = place
  }
}

const compiled = new Map<string, Promise<CMiniportModule>>()

/** Builds (cache first) and compiles a C driver once per process; rejects with CLoadFailure. */
export function importCDriver(file: string, name: string): Promise<CMiniportModule> {
  const key = path.resolve(file)
  let p = compiled.get(key)
  if (p === undefined) {
    p = load(key, name)
    compiled.set(key, p)
  }
  return p
}

/**
 * A C driver from a build made elsewhere (the command line builds it; its run workers compile
 * that module instead of building again), once per process; rejects with CLoadFailure.
 */
export function importBuiltCDriver(file: string, wasm: Uint8Array, name: string): Promise<CMiniportModule> {
  const key = path.resolve(file)
  let p = compiled.get(key)
  if (p === undefined) {
    p = new Promise<CMiniportModule>((resolve) => resolve(new CompiledDriver(wasm, name).miniport())).catch((error: unknown) => {
      throw error instanceof CDriverLoadError ? new CLoadFailure(error.message) : error
    })
    compiled.set(key, p)
  }
  return p
}

async function load(file: string, name: string): Promise<CMiniportModule> {
  try {
    const built = await buildDriver([file])
    return new CompiledDriver(built.wasm, name).miniport()
  } catch (error) {
    throw loadFailure(error)
  }
}

/** A build or load error as a CLoadFailure (clang's first error place, when it gave one); anything else as it is. */
function loadFailure(error: unknown): unknown {
  if (error instanceof CompileError) {
    const place = firstCompileError(error.diagnostics)
    return new CLoadFailure(place === undefined ? error.message.split('\n')[0]! : `${place.file}:${place.line}:${place.column}: ${place.message}`, place)
  }
  if (error instanceof BuildInputError || error instanceof InstrumentError || error instanceof CDriverLoadError) return new CLoadFailure(error.message)
  return error
}

/**
 * A C miniport given as several .c files: built together (through the cache) into one module,
 * written to a fresh temporary folder as `<name>.wasm`, the path a run, a sweep and its workers
 * load like any built driver. The folder goes when the process exits.
 */
export async function buildSourceList(files: readonly string[], cwd = process.cwd()): Promise<string> {
  let built
  try {
    built = await buildDriver(files, { cwd })
  } catch (error) {
    throw loadFailure(error)
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-c-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const out = path.join(dir, `${built.name}.wasm`)
  writeFileSync(out, built.wasm)
  return out
}
