// Where a miniport module failed to load, as a compiler would say it: file:line:column and the
// message. Node and tsx report the place in different shapes, none of them structured:
//  - TypeScript through tsx (esbuild): "Transform failed with 1 error:\n<file>:<line>:<col>: ERROR: <text>"
//  - a CommonJS syntax error, and ES module link errors: the stack opens with "<file>:<line>",
//    the source line and a caret under the column (Node's decorated stack)
//  - an ES module syntax error: no place at all; `node --check` prints it in the shape above
//  - a missing import: the specifier (CommonJS) or the resolved path (ES modules) and the
//    importing file, but no line; the line is found in the importer's source
//  - an exception thrown while the module runs: the innermost stack frame in the driver's files
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** dmalab's own code (`src/` from a checkout, `dist/src/` compiled): never the driver's frame. */
const OWN_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') + path.sep

export interface LoadErrorLocation {
  /** Absolute path of the file at fault (the driver itself or one of its imports). */
  readonly file: string
  /** The path as a user reads it (relative to the working directory when inside it). */
  readonly display: string
  readonly line: number
  readonly column: number
  /** The error's message without its location. */
  readonly message: string
}

/** The place and message of a load error, or undefined when nothing in it names a place. */
export function locateLoadError(error: Error, entry: string, cwd = process.cwd()): LoadErrorLocation | undefined {
  const at = (file: string, line: number, column: number, message: string): LoadErrorLocation => ({ file, display: display(file, cwd), line, column, message })
  const esbuild = /^Transform failed with \d+ errors?:\n(.+?):(\d+):(\d+): ERROR: (.*)$/m.exec(error.message)
  if (esbuild !== null) return at(toPath(esbuild[1]!), Number(esbuild[2]), Number(esbuild[3]) + 1, esbuild[4]!)
  const decorated = decoratedStack(error.stack ?? '', error.message)
  if (decorated !== undefined) return at(decorated.file, decorated.line, decorated.column, described(error))
  const missing = missingImport(error)
  if (missing !== undefined) {
    const place = findSpecifier(missing.importer, missing.specifier)
    return at(missing.importer, place?.line ?? 1, place?.column ?? 1, `Cannot find ${missing.what} '${place?.written ?? missing.specifier}'`)
  }
  if (error instanceof SyntaxError && /\.(?:[cm]?js)$/.test(entry)) {
    const checked = syntaxCheck(entry)
    if (checked !== undefined) return at(checked.file, checked.line, checked.column, described(error))
  }
  const frame = driverFrame(error.stack ?? '')
  if (frame !== undefined) return at(frame.file, frame.line, frame.column, described(error))
  return undefined
}

/** The message as a compiler says it: a syntax error by its text, anything else with its name. */
function described(error: Error): string {
  const message = firstLine(error.message)
  return error instanceof SyntaxError || error.name === 'SyntaxError' ? message : `${error.name}: ${message}`
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s
}

function display(file: string, cwd: string): string {
  const rel = path.relative(cwd, file)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file
}

/** A file:// URL or a path, without tsx's `?namespace=` query. */
function toPath(s: string): string {
  const bare = s.replace(/\?namespace=[^:]*$/, '').replace(/\?.*$/, '')
  if (bare.startsWith('file://')) {
    try {
      return fileURLToPath(bare)
    } catch {
      return bare
    }
  }
  return bare
}

/**
 * Node's decorated stack: "<file>:<line>\n<source line>\n<spaces>^^^\n\n<Name>: <message>". The
 * caret's offset in its line is the column (1-based here).
 */
function decoratedStack(stack: string, message: string): { file: string; line: number; column: number } | undefined {
  const lines = stack.split('\n')
  const head = /^(.+):(\d+)$/.exec(lines[0] ?? '')
  if (head === null || lines.length < 3 || !stack.includes(message.split('\n')[0] ?? '')) return undefined
  const caret = lines[2]!.indexOf('^')
  if (caret < 0) return undefined
  return { file: toPath(head[1]!), line: Number(head[2]), column: caret + 1 }
}

/** A missing module: what was asked for, by which file. */
function missingImport(error: Error): { specifier: string; importer: string; what: string } | undefined {
  const code = (error as { code?: unknown }).code
  if (code === 'MODULE_NOT_FOUND') {
    // CommonJS (and tsx's compiled TypeScript): the specifier as written, then the require stack.
    const m = /^Cannot find module '([^']+)'/.exec(error.message)
    const stack = (error as { requireStack?: unknown }).requireStack
    const importer = Array.isArray(stack) && typeof stack[0] === 'string' ? toPath(stack[0]) : undefined
    if (m !== null && importer !== undefined) return { specifier: m[1]!, importer, what: 'module' }
  }
  if (code === 'ERR_MODULE_NOT_FOUND') {
    // ES modules: the resolved path (or a package name) and the importer's path.
    const m = /^Cannot find (module|package) '([^']+)' imported from (.+)$/m.exec(error.message)
    if (m !== null) return { specifier: m[2]!, importer: toPath(m[3]!.trim()), what: m[1]! }
  }
  return undefined
}

/**
 * The line and column of the import of `specifier` in `importer`: a quoted string equal to it
 * or, for a resolved path, to a relative specifier that resolves there (with or without an
 * extension).
 */
function findSpecifier(importer: string, specifier: string): { line: number; column: number; written: string } | undefined {
  let source: string
  try {
    source = readFileSync(importer, 'utf8')
  } catch {
    return undefined
  }
  const dir = path.dirname(importer)
  const matches = (written: string): boolean => {
    if (written === specifier) return true
    if (!path.isAbsolute(specifier) || !written.startsWith('.')) return false
    const resolved = path.resolve(dir, written)
    return resolved === specifier || resolved.replace(/\.[cm]?[jt]s$/, '') === specifier.replace(/\.[cm]?[jt]s$/, '')
  }
  const lines = source.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const quoted = /(['"`])([^'"`]+)\1/g
    for (let m = quoted.exec(lines[i]!); m !== null; m = quoted.exec(lines[i]!)) {
      if (matches(m[2]!)) return { line: i + 1, column: m.index + 1, written: m[2]! }
    }
  }
  return undefined
}

/** `node --check` on a JavaScript file: Node's own parser names the place of a syntax error. */
function syntaxCheck(file: string): { file: string; line: number; column: number } | undefined {
  if (!existsSync(file)) return undefined
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 })
  if (r.status === 0 || typeof r.stderr !== 'string') return undefined
  return decoratedStack(r.stderr.trimStart(), 'SyntaxError')
}

/** The innermost stack frame outside Node and node_modules: the driver's own code. */
function driverFrame(stack: string): { file: string; line: number; column: number } | undefined {
  for (const line of stack.split('\n')) {
    const m = /\(?((?:file:\/\/|\/|[A-Za-z]:\\)[^()]*?):(\d+):(\d+)\)?$/.exec(line.trim())
    if (m === null) continue
    const file = toPath(m[1]!)
    if (file.includes(`${path.sep}node_modules${path.sep}`) || file.startsWith(OWN_SRC)) continue
    return { file, line: Number(m[2]), column: Number(m[3]) }
  }
  return undefined
}
