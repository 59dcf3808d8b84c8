// What the run pool (run-pool.ts) and its workers (run-worker.ts) say to each other.
import type { MachineConfig, ResolvedConfig } from './config.js'
import type { EnumeratedCall } from './faults/injector.js'
import type { ScenarioSummary } from './faults/sweep.js'
import type { Report } from './report.js'
import type { ScenarioOptions } from './scenario.js'

interface TaskBase {
  /** The miniport's module file (the worker imports it) and the name reports use. */
  readonly file: string
  readonly name: string
  /** A C driver's build (the CLI built it): the worker instantiates it instead of building `file`. */
  readonly wasm?: Uint8Array
  readonly config: MachineConfig
  readonly scenario: ScenarioOptions
}

/**
 * `report`: one run to its report (dmalab run, each configuration of check); `summary`: one
 * sweep run; `enumerate`: a sweep's clean run, counting every allocation call.
 */
export type RunTask =
  | (TaskBase & { readonly kind: 'report'; readonly pcapFd?: number; /** Record the picture --html draws (a PicturedReport). */ readonly picture?: boolean })
  | (TaskBase & { readonly kind: 'summary' })
  | (TaskBase & { readonly kind: 'enumerate'; readonly stacks: boolean })

export type RunResult =
  | { readonly kind: 'report'; readonly report: Report }
  | { readonly kind: 'summary'; readonly summary: ScenarioSummary }
  | { readonly kind: 'enumerate'; readonly outcome: Report['outcome']; readonly calls: EnumeratedCall[]; readonly config: ResolvedConfig }

/**
 * A worker's answer: the result, or why it could not import the miniport; `retire` when driver
 * code changed the worker's built-ins beyond repair (intrinsics.ts): the pool starts a fresh one.
 * `ready` once, when the worker takes tasks.
 */
export type RunReply =
  | { readonly id: number; readonly result: RunResult; readonly retire?: true }
  | { readonly id: number; readonly loadError: string; readonly retire?: true }
  | { readonly ready: true }

/** The pool stopped the task's driver code: the stack it was paused at, and the bound it broke. */
export interface HungMessage {
  readonly hung: true
  readonly id: number
  readonly stack: string
  readonly seconds: number
}

/** An exception from the emulator itself (not the driver): reported, never swallowed. */
export function emulatorError(error: unknown): ScenarioSummary {
  const e = error instanceof Error ? error : new Error(String(error))
  return { outcome: 'bugcheck', findings: [{ kind: 'emulator-error', message: `${e.name}: ${e.message}` }], bugcheck: null }
}
