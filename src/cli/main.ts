#!/usr/bin/env node
// dmalab's command line (DESIGN "Command line"). Usage problems are one line naming the
// problem, exit code 2; the commands never throw for what a driver does: they report it.
import { UsageError, parseCommandLine } from './args.js'
import { WorkerLost } from '../run-pool.js'
import { bench, check, examples, run, sweepCommand } from './commands.js'
import { merge } from './merge.js'
import { writeHtml } from './html.js'
import { sweepHtml } from '../report/html/sweep.js'
import { BUILD_USAGE, build } from './build.js'

const USAGE = `usage: dmalab <command> [miniport] [options]

commands:
  run <miniport>      load, initialize, run traffic, halt; print the report
  check <miniport>    run over {IOMMU off, on} x {high-first, low-first}, then a sweep
  sweep <miniport>    systematic fault injection over every allocation call
  merge <part.json>...  one sweep's report from its shards (sweep --shard I/N --json)
  build FILE.c...     compile a C miniport to WebAssembly without running it
                      [-o OUT.wasm] [-I DIR] [-D NAME[=VALUE]] [-O LEVEL]
  bench               performance figures, each with its limit from the same run
  examples            list the bundled miniports

<miniport> is a bundled name (e1000, buggy/leak-on-halt) or a path to a driver module
(.ts .mts .js .mjs .cjs; ES module default export or CommonJS module.exports = DriverEntry),
or a C miniport: a .c file, a folder of .c files, or a .wasm from dmalab build (it runs on
the 32-bit machine, with #include <ndis.h> from the headers dmalab ships); write it as a
path (./mydriver, /abs/dir, driver.ts, my.c) when a bundled name could be meant.

options:
  --arch x64|x86 (x86: 32-bit Windows with PAE, kernel addresses from 0x80000000)
  --memory 8GiB  --memory-policy high-first|low-first|random  --fragmentation 0..1
  --iommu on|off  --dma-bits N  --packets N  --size BYTES  --rx N
  --fail SPEC (repeatable)  --seed N  --verifier log|crash  --special-pool  --dma-guard
  --pcap FILE (run)  --jobs N, --mode call|stack (sweep, check)  --shard I/N (sweep)
  --driver-timeout SECONDS (default 10: a run that makes no progress that long is stopped)
  --json  --html FILE (run, check, sweep, merge: a self-contained HTML report)`

/**
 * A reader that stops reading (`dmalab sweep ... --json | head`) closes the pipe: what is left
 * of the output is dropped, the command ends as it would have, and no stack trace follows.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
}

async function main(argv: string[]): Promise<number> {
  // Driver call sites and stack traces name the .ts lines even when running compiled code.
  process.setSourceMapsEnabled(true)
  if (argv[0] === 'build') {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(`${BUILD_USAGE}\n`)
      return 0
    }
    try {
      return await build(argv.slice(1))
    } catch (error) {
      if (error instanceof UsageError) {
        process.stderr.write(`dmalab: ${error.message}\n`)
        return 2
      }
      throw error
    }
  }
  let options
  try {
    options = parseCommandLine(argv)
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`dmalab: ${error.message}\n`)
      return 2
    }
    throw error
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  try {
    switch (options.command) {
      case 'run':
        return await run(options)
      case 'check':
        return await check(options)
      case 'sweep':
        return await sweepCommand(options)
      case 'merge':
        return merge(options, (merged) => writeHtml(options.html, () => sweepHtml(merged)))
      case 'examples':
        return examples(options)
      case 'bench':
        return await bench(options)
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`dmalab: ${error.message}\n`)
      return 2
    }
    // The driver ended the worker its run executed in: no report, the driver's doing (exit 1).
    if (error instanceof WorkerLost) {
      process.stderr.write(`dmalab: ${error.message}\n`)
      return 1
    }
    throw error
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // An exception here is dmalab's own bug, never the driver's: say so plainly.
    process.stderr.write(`dmalab: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 3
  },
)
