// The build cache: finished driver modules by content hash, so a sweep (hundreds of runs, in
// several worker processes) and a second `dmalab run` compile nothing.
//
// Where it lives, first that applies:
//   1. $DMALAB_CACHE_DIR (`off` turns the disk cache off);
//   2. node_modules/.cache/dmalab in the nearest node_modules above the working directory: the
//      place JavaScript tools cache per project (babel, eslint, webpack, ...), writable even
//      when dmalab itself is installed read-only or globally, removed with node_modules;
//   3. $XDG_CACHE_HOME/dmalab, else ~/.cache/dmalab (e.g. `npx dmalab` outside a project).
// Never dmalab's own install directory (it may be read-only, shared, or replaced on update).
// An entry is written to a temporary name and renamed, so concurrent workers never read half a
// file; a directory that cannot be written leaves the in-process cache alone to do the work.
// Entries are a driver's size (tens of KiB) and are not evicted.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import path from 'node:path'

export function cacheKey(parts: ReadonlyArray<string | Uint8Array>): string {
  const h = createHash('sha256')
  for (const p of parts) {
    // Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
    const bytes = typeof p === 'string' ? new TextEncoder().encode(p) : p
    h.update(`${bytes.length}:`)
    h.update(bytes)
  }
  return h.digest('hex')
}

/** The disk cache directory for a build run from `cwd`, or null when it is turned off. */
export function cacheDirectory(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | null {
  const configured = env.DMALAB_CACHE_DIR
  if (configured !== undefined && configured !== '') return configured === 'off' ? null : path.resolve(cwd, configured)
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const nm = path.join(dir, 'node_modules')
    if (existsSync(nm) && statSync(nm).isDirectory()) return path.join(nm, '.cache', 'dmalab')
    if (path.dirname(dir) === dir) break
  }
  const xdg = env.XDG_CACHE_HOME
  return path.join(xdg !== undefined && xdg !== '' ? xdg : path.join(homedir(), '.cache'), 'dmalab')
}

const memory = new Map<string, Uint8Array>()

export class BuildCache {
  readonly directory: string | null

  constructor(directory: string | null) {
    this.directory = directory
  }

  get(key: string): Uint8Array | undefined {
    const hit = memory.get(key)
    if (hit !== undefined) return hit
    if (this.directory === null) return undefined
    try {
      const bytes = new Uint8Array(readFileSync(this.file(key)))
      memory.set(key, bytes)
      return bytes
    } catch {
      return undefined
    }
  }

  set(key: string, bytes: Uint8Array): void {
    memory.set(key, bytes)
    if (this.directory === null) return
    try {
      mkdirSync(this.directory, { recursive: true })
      const tmp = `${this.file(key)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
      writeFileSync(tmp, bytes)
      renameSync(tmp, this.file(key))
    } catch {
      // A read-only or full disk: the in-process cache still serves this process.
    }
  }

  private file(key: string): string {
    return path.join(this.directory!, `${key}.wasm`)
  }
}
