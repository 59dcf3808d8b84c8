// `dmalab merge PART.json...`: the shards of a sweep run on several machines (a CI job matrix,
// docs/ci-sweep.md), put back together into the report the whole sweep gives. A shard that is
// missing, given twice or from another configuration is a usage error (exit 2) naming it.
import { readFileSync } from 'node:fs'
import { MergeError, mergeShards, type ShardPart, type SweepJson } from '../report/sweep-json.js'
import { UsageError, type CliOptions } from './args.js'
import { formatSweep } from './format.js'

function readPart(file: string): ShardPart {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(`cannot read ${file}${code === 'ENOENT' ? ': no such file' : code === undefined ? '' : ` (${code})`}`)
  }
  try {
    return { file, json: JSON.parse(text) as unknown }
  } catch {
    throw new UsageError(`${file} is not JSON (expected the --json output of dmalab sweep --shard I/N)`)
  }
}

/** The merged sweep, or a UsageError naming what is wrong with the parts. */
export function mergeFiles(files: readonly string[]): SweepJson {
  const parts = files.map(readPart)
  try {
    return mergeShards(parts)
  } catch (error) {
    if (error instanceof MergeError) throw new UsageError(error.message)
    throw error
  }
}

export function merge(o: CliOptions, writeHtml: (merged: SweepJson) => void): number {
  const merged = mergeFiles(o.files)
  writeHtml(merged)
  process.stdout.write(o.json ? `${JSON.stringify(merged, null, 2)}\n` : `${formatSweep(merged)}\n`)
  return merged.summary.handled === merged.runs.length ? 0 : 1
}
