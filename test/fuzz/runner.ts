// The fuzz targets and how a batch of them runs: fast-check properties, seeded, each failure
// shrunk to a counterexample that names the seed and the replay path that reproduce it
// (`fc.assert(property, { seed, path, endOnFailure: true })`, or `replay(target, seed, path)`).
import fc from 'fast-check'
import { deviceProgram, type DeviceProgram } from './device-ops.js'
import { runDeviceProgram } from './device-run.js'
import { shimProgram, type ShimProgram } from './shim-ops.js'
import { runShimProgram } from './shim-run.js'

export interface Counterexample {
  readonly target: string
  readonly seed: number
  readonly path: string
  readonly message: string
  /** The shrunk input, as JSON. */
  readonly input: string
}

export interface BatchResult {
  readonly runs: number
  /** Operations (device) or driver calls (shim) executed. */
  readonly ops: number
  readonly counterexample: Counterexample | null
}

export interface FuzzTarget<T> {
  readonly name: 'device' | 'shim'
  readonly arbitrary: fc.Arbitrary<T>
  /** Runs one input; returns the operations it executed; throws on a broken invariant. */
  readonly run: (input: T) => number
}

export const DEVICE_MAX_OPS = 60
export const SHIM_MAX_CALLS = 60

export const deviceTarget: FuzzTarget<DeviceProgram> = { name: 'device', arbitrary: deviceProgram(DEVICE_MAX_OPS), run: runDeviceProgram }
export const shimTarget: FuzzTarget<ShimProgram> = { name: 'shim', arbitrary: shimProgram(SHIM_MAX_CALLS), run: runShimProgram }

export const TARGETS = { device: deviceTarget, shim: shimTarget } as const
export type TargetName = keyof typeof TARGETS
export const TARGET_NAMES: readonly TargetName[] = ['device', 'shim']

/** `runBatch` for a target named on the command line. */
export function runNamed(name: TargetName, seed: number, numRuns: number, onRun?: OnRun): BatchResult {
  return name === 'device' ? runBatch(deviceTarget, seed, numRuns, onRun) : runBatch(shimTarget, seed, numRuns, onRun)
}

/** The input a seed and replay path name, as JSON (for a run that never returned to be shrunk). */
export function inputAt(name: TargetName, seed: number, path: string): string {
  const arbitrary: fc.Arbitrary<unknown> = TARGETS[name].arbitrary
  return JSON.stringify(fc.sample(arbitrary, { seed, path, numRuns: 1 })[0] ?? null)
}

/** `replay` for a target named on the command line. */
export function replayNamed(name: TargetName, seed: number, path: string): void {
  if (name === 'device') replay(deviceTarget, seed, path)
  else replay(shimTarget, seed, path)
}

/** Called before each run: the index of the input generated (its replay path before shrinking), and whether it is a shrink. */
export type OnRun = (generated: number, shrinking: boolean) => void

/** Runs `numRuns` inputs of `target` from `seed`; shrinks the first failure. */
export function runBatch<T>(target: FuzzTarget<T>, seed: number, numRuns: number, onRun?: OnRun): BatchResult {
  let ops = 0
  let runs = 0
  let shrinking = false
  const property = fc.property(target.arbitrary, (input) => {
    if (!shrinking) runs++
    onRun?.(runs - 1, shrinking)
    try {
      const done = target.run(input)
      if (!shrinking) ops += done
    } catch (error) {
      shrinking = true
      throw error
    }
  })
  const details = fc.check(property, { seed, numRuns })
  if (!details.failed) return { runs, ops, counterexample: null }
  const error = details.errorInstance
  return {
    runs,
    ops,
    counterexample: {
      target: target.name,
      seed,
      path: details.counterexamplePath ?? '',
      message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      input: JSON.stringify(details.counterexample?.[0] ?? null),
    },
  }
}

/** Re-runs one counterexample (the seed and path a failure printed); throws what it threw. */
export function replay<T>(target: FuzzTarget<T>, seed: number, path: string): void {
  fc.assert(fc.property(target.arbitrary, (input) => void target.run(input)), { seed, path, endOnFailure: true })
}
