// Finding and importing a miniport: a bundled name (`e1000`, `buggy/leak-on-halt`) or a path
// to a .ts/.js module whose default export is DriverEntry. TypeScript miniports load through
// tsx when the host itself is not already running under a TypeScript loader.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { MiniportModule } from './miniport.js'

const here = path.dirname(fileURLToPath(import.meta.url))
/** examples/ beside src/ (checkout) or dist/examples beside dist/src (compiled). */
export const EXAMPLES_DIR = path.resolve(here, '../../examples')

export class MiniportNotFound extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MiniportNotFound'
  }
}

const EXTENSIONS = ['.ts', '.js', '.mts', '.mjs']

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((c) => existsSync(c) && statSync(c).isFile())
}

function moduleFile(base: string): string | undefined {
  return firstExisting([base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => path.join(base, `index${e}`))])
}

/** The file a miniport argument names, or a MiniportNotFound naming what was tried. */
export function resolveMiniport(name: string, cwd = process.cwd()): { file: string; name: string } {
  const asPath = moduleFile(path.resolve(cwd, name))
  if (asPath !== undefined) return { file: asPath, name: path.basename(name).replace(/\.(ts|js|mts|mjs)$/, '').replace(/^index$/, path.basename(path.dirname(asPath))) }
  if (!name.startsWith('.') && !path.isAbsolute(name)) {
    const bundled = moduleFile(path.join(EXAMPLES_DIR, name))
    if (bundled !== undefined) return { file: bundled, name }
  }
  throw new MiniportNotFound(`no miniport "${name}": not a file, and not a bundled example (see \`dmalab examples\`)`)
}

let tsxRegistered = false

/** Imports a miniport module and checks that it has a DriverEntry. */
export async function importMiniport(file: string): Promise<MiniportModule> {
  let mod: unknown
  try {
    mod = await import(pathToFileURL(file).href)
  } catch (error) {
    if (!tsxRegistered && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      const { register } = await import('tsx/esm/api')
      register()
      tsxRegistered = true
      mod = await import(pathToFileURL(file).href)
    } else {
      throw error
    }
  }
  if (typeof (mod as { default?: unknown }).default !== 'function') {
    throw new MiniportNotFound(`${file} has no default export DriverEntry(ndis, registryPath)`)
  }
  return mod as MiniportModule
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
        if (index !== undefined) out.push({ name: `${prefix}${entry}`, file: index })
        else walk(full, `${prefix}${entry}/`)
      } else if (prefix !== '' && /\.(ts|js)$/.test(entry) && !entry.endsWith('.d.ts') && !entry.endsWith('.map')) {
        out.push({ name: `${prefix}${entry.replace(/\.(ts|js)$/, '')}`, file: full })
      }
    }
  }
  walk(EXAMPLES_DIR, '')
  return out
}
