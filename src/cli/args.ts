// Command-line parsing (DESIGN "Command line"). Every problem is a one-line message naming the
// bad command, option, value, spec term or miniport, and exit code 2.
import { parseArgs } from 'node:util'
import { formatBytes, parseSize } from '../hw/address.js'
import { MAX_MEMORY, MIN_MEMORY, type MachineConfig } from '../config.js'
import { FaultSpecError, parseFaultSpec } from '../faults/spec.js'
import { parseShard, MAX_SHARDS, type Shard } from '../faults/shard.js'
import type { OidRequestOptions } from '../ndis/binding.js'
import type { TrafficMix } from '../ndis/protocol.js'
import { parseOidOption } from './oid-arg.js'

export const COMMANDS = ['run', 'check', 'sweep', 'merge', 'bench', 'examples'] as const
export type Command = (typeof COMMANDS)[number]

export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export interface CliOptions {
  command: Command
  miniport: string | undefined
  machine: MachineConfig
  packets: number
  /** --size: every frame this size; undefined (mixed traffic) lets the mix choose sizes. */
  size: number | undefined
  rx: number
  /** --traffic: `mixed` (the default) or `uniform`. */
  traffic: TrafficMix
  /** --oid NAME[=VALUE], in order. */
  oids: OidRequestOptions[]
  json: boolean
  pcap: string | undefined
  jobs: number | undefined
  /** --driver-timeout SECONDS: how long a run may make no progress before its driver code is stopped. */
  driverTimeoutMs: number | undefined
  mode: 'call' | 'stack'
  /** True when --packets was given (sweep and check default to fewer frames). */
  packetsGiven: boolean
  /** sweep --shard I/N: run only that slice of the planned runs. */
  shard: Shard | undefined
  /** --html FILE: also write the self-contained HTML report there. */
  html: string | undefined
  /** merge: the shard reports to merge; run, check, sweep: the .c files of a C miniport given as several. */
  files: string[]
}

const OPTIONS = {
  arch: { type: 'string' },
  memory: { type: 'string' },
  'memory-policy': { type: 'string' },
  fragmentation: { type: 'string' },
  iommu: { type: 'string' },
  'dma-bits': { type: 'string' },
  packets: { type: 'string' },
  size: { type: 'string' },
  rx: { type: 'string' },
  traffic: { type: 'string' },
  oid: { type: 'string', multiple: true },
  fail: { type: 'string', multiple: true },
  seed: { type: 'string' },
  verifier: { type: 'string' },
  'special-pool': { type: 'boolean' },
  'dma-guard': { type: 'boolean' },
  pcap: { type: 'string' },
  json: { type: 'boolean' },
  jobs: { type: 'string' },
  'driver-timeout': { type: 'string' },
  mode: { type: 'string' },
  shard: { type: 'string' },
  html: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Frame sizes the example drivers handle: a minimum Ethernet frame to a full one, no FCS. */
export const MIN_FRAME = 60
export const MAX_FRAME = 1514

function integer(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} takes a whole number, not "${value}"`)
  const n = Number(value)
  if (n < min || n > max) throw new UsageError(`--${flag} ${value} is outside ${min}..${max}`)
  return n
}

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} takes ${allowed.join(' or ')}, not "${value}"`)
  return value as T
}

export function parseCommandLine(argv: readonly string[]): CliOptions | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true; args: string[] }>>
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(parseArgsMessage(e))
  }
  const { values, positionals } = parsed
  if (values.help === true) return 'help'
  const [commandName, ...rest] = positionals
  if (commandName === undefined) throw new UsageError(`missing command (one of ${[...COMMANDS, 'build'].join(', ')})`)
  if (!(COMMANDS as readonly string[]).includes(commandName)) {
    throw new UsageError(`unknown command "${commandName}" (one of ${[...COMMANDS, 'build'].join(', ')})`)
  }
  const command = commandName as Command
  if (command === 'merge') return parseMerge(values, rest)
  const [miniport, ...extra] = rest
  const needsMiniport = command === 'run' || command === 'check' || command === 'sweep'
  if (needsMiniport && miniport === undefined) throw new UsageError(`${command} needs a miniport (a bundled name such as e1000, or a path to a .ts, .js, .mjs or .cjs module)`)
  if (!needsMiniport && miniport !== undefined) throw new UsageError(`${command} takes no miniport, but was given "${miniport}"`)
  // A C miniport may be several .c files (`dmalab run a.c b.c`): built together, as one driver.
  const cSources = needsMiniport && extra.length > 0 && [miniport!, ...extra].every((f) => f.endsWith('.c')) ? [miniport!, ...extra] : []
  if (extra.length > 0 && cSources.length === 0) throw new UsageError(`unexpected argument "${extra[0]}"`)

  const machine: MachineConfig = {}
  const arch = choice('arch', values.arch, ['x64', 'x86'] as const)
  if (arch !== undefined) machine.arch = arch
  const memory: NonNullable<MachineConfig['memory']> = {}
  if (values.memory !== undefined) {
    const size = parseSize(values.memory)
    if (Number.isNaN(size) || size % 4096 !== 0) throw new UsageError(`--memory "${values.memory}" is not a size in whole pages (try 8GiB or 512MiB)`)
    if (size < MIN_MEMORY || size > MAX_MEMORY) throw new UsageError(`--memory ${values.memory} is outside ${formatBytes(MIN_MEMORY)}..${formatBytes(MAX_MEMORY)}`)
    memory.size = size
  }
  const policy = choice('memory-policy', values['memory-policy'], ['high-first', 'low-first', 'random'] as const)
  if (policy !== undefined) memory.policy = policy
  if (values.fragmentation !== undefined) {
    const f = Number(values.fragmentation)
    if (values.fragmentation.trim() === '' || !(f >= 0 && f <= 1)) throw new UsageError(`--fragmentation takes a number in 0..1, not "${values.fragmentation}"`)
    memory.fragmentation = f
  }
  if (Object.keys(memory).length > 0) machine.memory = memory
  const iommu = choice('iommu', values.iommu, ['on', 'off'] as const)
  if (iommu !== undefined) machine.iommu = iommu === 'on'
  if (values['dma-bits'] !== undefined) machine.nic = { dmaAddressBits: integer('dma-bits', values['dma-bits'], 32, 24, 64) }
  if (values.seed !== undefined) machine.seed = integer('seed', values.seed, 1, 0, Number.MAX_SAFE_INTEGER)
  const mode = choice('verifier', values.verifier, ['log', 'crash'] as const)
  const verifier: NonNullable<MachineConfig['verifier']> = {}
  if (mode !== undefined) verifier.mode = mode
  if (values['special-pool'] === true) verifier.specialPool = true
  if (values['dma-guard'] === true) verifier.dmaGuard = true
  if (Object.keys(verifier).length > 0) machine.verifier = verifier
  const fail = values.fail ?? []
  for (const spec of fail) {
    try {
      parseFaultSpec(spec)
    } catch (e) {
      if (e instanceof FaultSpecError) throw new UsageError(e.message)
      throw e
    }
  }
  if (fail.length > 0) machine.faults = [...fail]

  const sweepOnly = (flag: string, value: unknown): void => {
    if (value !== undefined && command !== 'sweep' && command !== 'check') throw new UsageError(`--${flag} applies to sweep and check only`)
  }
  sweepOnly('jobs', values.jobs)
  sweepOnly('mode', values.mode)
  if (values.pcap !== undefined && command !== 'run') throw new UsageError('--pcap applies to run only')
  if (values.shard !== undefined && command !== 'sweep') throw new UsageError('--shard applies to sweep only')
  if (values.html !== undefined && !needsMiniport) throw new UsageError('--html applies to run, check, sweep and merge only')
  const traffic = choice('traffic', values.traffic, ['mixed', 'uniform'] as const) ?? 'mixed'
  if ((values.traffic !== undefined || values.oid !== undefined) && !needsMiniport) throw new UsageError(`--${values.traffic !== undefined ? 'traffic' : 'oid'} applies to run, check and sweep only`)

  return {
    command,
    miniport,
    machine,
    packets: integer('packets', values.packets, 1000, 0, 100_000_000),
    packetsGiven: values.packets !== undefined,
    size: values.size === undefined ? (traffic === 'uniform' ? 1500 : undefined) : integer('size', values.size, 1500, MIN_FRAME, MAX_FRAME),
    rx: integer('rx', values.rx, 0, 0, 100_000_000),
    traffic,
    oids: (values.oid ?? []).map(parseOidOption),
    json: values.json === true,
    pcap: values.pcap,
    jobs: values.jobs === undefined ? undefined : integer('jobs', values.jobs, 1, 1, 256),
    driverTimeoutMs: driverTimeout(values['driver-timeout'], needsMiniport),
    mode: choice('mode', values.mode, ['call', 'stack'] as const) ?? 'call',
    shard: values.shard === undefined ? undefined : shardOption(values.shard),
    html: htmlOption(values.html),
    files: cSources,
  }
}

/** --driver-timeout SECONDS (run, check, sweep): a number of seconds in 0.1..3600. */
function driverTimeout(text: string | undefined, applies: boolean): number | undefined {
  if (text === undefined) return undefined
  if (!applies) throw new UsageError('--driver-timeout applies to run, check and sweep only')
  const seconds = Number(text)
  if (text.trim() === '' || !Number.isFinite(seconds)) throw new UsageError(`--driver-timeout takes a number of seconds, not "${text}"`)
  if (seconds < 0.1 || seconds > 3600) throw new UsageError(`--driver-timeout ${text} is outside 0.1..3600 seconds`)
  return Math.round(seconds * 1000)
}

function shardOption(text: string): Shard {
  const s = parseShard(text)
  if (!('reason' in s)) return s
  if (s.reason === 'not-i-of-n') throw new UsageError(`--shard takes I/N (this job's shard I of N, e.g. 2/4), not "${text}"`)
  throw new UsageError(`--shard ${text} is outside 1/1..N/N (N at most ${MAX_SHARDS})`)
}

function htmlOption(file: string | undefined): string | undefined {
  if (file !== undefined && file.trim() === '') throw new UsageError('--html needs a file name')
  return file
}

/** `dmalab merge PART.json... [--json] [--html FILE]`: nothing else applies to a merge. */
function parseMerge(values: Record<string, unknown>, files: string[]): CliOptions {
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && flag !== 'json' && flag !== 'html') throw new UsageError(`--${flag} does not apply to merge (merge takes shard reports, --json and --html FILE)`)
  }
  if (files.length === 0) throw new UsageError('merge needs the shard reports to merge: dmalab merge part-1.json ... part-N.json')
  return {
    command: 'merge',
    miniport: undefined,
    machine: {},
    packets: 0,
    packetsGiven: false,
    size: undefined,
    rx: 0,
    traffic: 'mixed',
    oids: [],
    json: values['json'] === true,
    pcap: undefined,
    jobs: undefined,
    driverTimeoutMs: undefined,
    mode: 'call',
    shard: undefined,
    html: htmlOption(values['html'] as string | undefined),
    files,
  }
}

/** Turns node:util parseArgs errors into one line naming the option. */
function parseArgsMessage(e: unknown): string {
  const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!
  const option = /'(-{1,2}[A-Za-z0-9-]+)/.exec(message)?.[1]
  if (option === undefined) return message
  if (/Unknown option/.test(message)) return `unknown option ${option}`
  if (/argument missing/.test(message)) return `option ${option} needs a value`
  if (/does not take an argument/.test(message)) return `option ${option} takes no value`
  return message
}
