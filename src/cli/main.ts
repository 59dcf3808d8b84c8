#!/usr/bin/env node
// dmalab's command line. The full command set (run, check, sweep, bench, examples) is in
// DESIGN "Command line"; usage errors are one line naming the problem, exit code 2.
const USAGE = 'usage: dmalab <run|check|sweep|bench|examples> [options]'

function main(argv: string[]): number {
  const [command] = argv
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(USAGE)
    return command === undefined ? 2 : 0
  }
  console.error(`dmalab: unknown command "${command}" (${USAGE.slice(7)})`)
  return 2
}

process.exitCode = main(process.argv.slice(2))
