// test/support/c/faults.c, the C miniport whose MiniportInitializeEx does one thing wrong chosen
// by its name: one build serves every case. Its lines marked `FAULT: <what>` are where the tests
// expect findings (and `FAULT: calls <what>` the line in Initialize that calls the faulty code).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { importMiniport } from '../../src/driver/loader.js'
import type { CMiniportModule } from '../../src/driver/c/module.js'
import { createMachine, type Machine } from '../../src/index.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
export const FAULTS = path.join(root, 'test/support/c/faults.c')
/** The path findings name the file by (relative to dmalab's root). */
export const FAULTS_SITE = 'test/support/c/faults.c'

/** The line of faults.c marked `FAULT: <what>`; throws when there is none (a test must not pass on a missing mark). */
export function faultLine(what: string): number {
  const lines = readFileSync(FAULTS, 'utf8').split('\n')
  const i = lines.findIndex((l) => l.includes(`/* FAULT: ${what} */`))
  if (i < 0) throw new Error(`faults.c has no line marked FAULT: ${what}`)
  return i + 1
}

/** The stack frame at the line marked `FAULT: <what>`, in C function `fn`. */
export function faultFrame(fn: string, what: string): { file: string; line: number; function: string } {
  return { file: FAULTS_SITE, line: faultLine(what), function: fn }
}

/** The built module (compiled once; the disk cache keeps it across runs). */
export async function faultsModule(): Promise<CMiniportModule> {
  return (await importMiniport(FAULTS, 'faults')) as CMiniportModule
}

/** A 32-bit machine with faults.c loaded as `scenario` (its initialization does that one thing wrong). */
export function loadFaults(module: CMiniportModule, scenario: string, specialPool = false): Machine {
  const m = createMachine({ arch: 'x86', verifier: { specialPool } })
  m.load(module, scenario)
  return m
}
