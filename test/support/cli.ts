// The command line as a user runs it: `dmalab` in a child process of its own (node with tsx, the
// sources), its exit code, what it printed on each stream, and how long it took. A time bound
// kills a run that does not end (spawnSync's timeout), so a hang fails the test, not the suite.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../..', import.meta.url))
const tsx = path.join(root, 'node_modules/tsx/dist/esm/index.mjs')

export interface CliRun {
  /** null when the time bound killed it. */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Wall-clock milliseconds from spawn to exit. */
  readonly ms: number
}

/** Runs the command line from `cwd` (the checkout by default), within a time bound. */
export function dmalab(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): CliRun {
  const started = Date.now()
  const r = spawnSync(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: options.cwd ?? root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    timeout: options.timeoutMs ?? 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started }
}
