// `dmalab build FILE.c... [-o OUT.wasm] [-I DIR] [-D NAME[=VALUE]] [-O LEVEL]`: compiles a C
// driver to the instrumented WebAssembly module `dmalab run` loads, without running it.
// Exit 0 built, 1 the compiler or the loader refused the driver (its messages on stderr),
// 2 a usage error.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { BuildInputError, CompileError, buildDriver } from '../driver/c/build.js'
import { InstrumentError } from '../driver/c/instrument.js'
import { CDriverLoadError, CompiledDriver } from '../driver/c/module.js'
import { OPTIMIZE_LEVELS } from '../driver/c/toolchain.js'
import { UsageError } from './args.js'

export const BUILD_USAGE = 'usage: dmalab build FILE.c... (or a folder of .c files) [-o OUT.wasm] [-I DIR] [-D NAME[=VALUE]] [-O LEVEL] [--json]'

export interface BuildCommand {
  readonly inputs: string[]
  readonly output: string | undefined
  readonly includeDirs: string[]
  readonly defines: string[]
  readonly optimize: string | undefined
  readonly json: boolean
}

/** Parses build's arguments: compiler-style -I/-D/-O (attached or separate values) and -o. */
export function parseBuildArgs(argv: readonly string[]): BuildCommand {
  const inputs: string[] = []
  const includeDirs: string[] = []
  const defines: string[] = []
  let output: string | undefined
  let optimize: string | undefined
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = (flag: string): string => {
      const attached = a.slice(flag.length)
      if (attached !== '') return attached
      const next = argv[++i]
      if (next === undefined) throw new UsageError(`option ${flag} needs a value`)
      return next
    }
    if (a === '--json') json = true
    else if (a === '-o') output = value('-o')
    else if (a.startsWith('-I')) includeDirs.push(value('-I'))
    else if (a.startsWith('-D')) defines.push(value('-D'))
    else if (a.startsWith('-O')) {
      optimize = value('-O')
      if (!(OPTIMIZE_LEVELS as readonly string[]).includes(optimize)) throw new UsageError(`-O${optimize}: the optimization level is one of ${OPTIMIZE_LEVELS.join(', ')}`)
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (build takes -o, -I, -D, -O and --json)`)
    else inputs.push(a)
  }
  if (inputs.length === 0) throw new UsageError('build needs C source files or a folder of them')
  return { inputs, output, includeDirs, defines, optimize, json }
}

export async function build(argv: readonly string[]): Promise<number> {
  const command = parseBuildArgs(argv)
  const started = performance.now()
  let built
  try {
    built = await buildDriver(command.inputs, {
      includeDirs: command.includeDirs,
      defines: command.defines,
      ...(command.optimize === undefined ? {} : { optimize: command.optimize }),
    })
    // What `run` would refuse at load (a routine dmalab does not implement) is refused now.
    void new CompiledDriver(built.wasm, built.name)
  } catch (error) {
    if (error instanceof BuildInputError) throw new UsageError(error.message)
    if (error instanceof CompileError || error instanceof CDriverLoadError || error instanceof InstrumentError) {
      const message = error instanceof CompileError ? error.diagnostics.trimEnd() : `dmalab: ${error.message}`
      if (command.json) process.stdout.write(`${JSON.stringify({ built: false, error: message }, null, 2)}\n`)
      else process.stderr.write(`${message}\n`)
      return 1
    }
    throw error
  }
  const output = path.resolve(command.output ?? `${built.name}.wasm`)
  writeFileSync(output, built.wasm)
  const ms = Math.round(performance.now() - started)
  if (built.diagnostics.trim() !== '') process.stderr.write(`${built.diagnostics.trimEnd()}\n`)
  if (command.json) {
    process.stdout.write(`${JSON.stringify({ built: true, output, bytes: built.wasm.length, sources: built.sources, cached: built.cached, ms }, null, 2)}\n`)
  } else {
    const rel = path.relative(process.cwd(), output)
    process.stdout.write(`built ${rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : output} (${built.wasm.length} bytes) from ${built.sources.length} file${built.sources.length === 1 ? '' : 's'}${built.cached ? ', from the cache' : ''} in ${ms} ms\n`)
  }
  return 0
}
