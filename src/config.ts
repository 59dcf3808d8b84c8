// Machine configuration (DESIGN "Public API"): validated up front, with errors that name the
// bad field and value, and resolved to a complete, defaulted form every layer can rely on.
import { GiB, formatBytes, parseSize } from './hw/address.js'
import { DEFAULT_MEMORY_SIZE } from './hw/memory.js'
import { ARCHES, type Arch } from './kernel/arch.js'
import type { FramePolicy } from './kernel/frames.js'
import type { VerifierMode } from './kernel/findings.js'

export interface MachineConfig {
  /** x64 (default) or x86: 32-bit Windows with PAE, kernel VAs from 0x8000_0000 (C drivers need it). */
  arch?: Arch
  memory?: { size?: number | string; policy?: FramePolicy; fragmentation?: number }
  iommu?: boolean | { enabled: boolean; iotlbEntries?: number }
  nic?: { dmaAddressBits?: number; mac?: string; linkMbps?: number }
  verifier?: { mode?: VerifierMode; specialPool?: boolean; dmaGuard?: boolean }
  wire?: 'capture' | 'loopback'
  faults?: string | string[]
  seed?: number
  /** Bound on events per run call; hitting it is a `hang` finding, not a hang of the host. */
  maxEvents?: number
}

export interface ResolvedConfig {
  arch: Arch
  memory: { size: number; policy: FramePolicy; fragmentation: number }
  iommu: { enabled: boolean; iotlbEntries: number }
  nic: { dmaAddressBits: number; mac: string; linkMbps: number }
  verifier: { mode: VerifierMode; specialPool: boolean; dmaGuard: boolean }
  wire: 'capture' | 'loopback'
  faults: string[]
  seed: number
  maxEvents: number
}

/** Host API misuse: a configuration that cannot describe a machine. */
export class ConfigError extends Error {
  readonly field: string
  constructor(field: string, message: string) {
    super(`config ${field}: ${message}`)
    this.name = 'ConfigError'
    this.field = field
  }
}

export const MIN_MEMORY = 16 * 1024 * 1024
/** Frame numbers stay below 2^30 so the PFN database's 32-bit arithmetic is exact. */
export const MAX_MEMORY = 4 * 1024 * GiB
export const DEFAULT_MAC = '52:54:00:12:34:56'
export const DEFAULT_SEED = 1

const POLICIES: readonly FramePolicy[] = ['high-first', 'low-first', 'random']

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

function checkKeys(field: string, value: object, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new ConfigError(`${field}${field ? '.' : ''}${key}`, `unknown option (expected one of ${allowed.join(', ')})`)
  }
}

type Bag = Record<string, unknown>

function isObject(v: unknown): v is Bag {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function section(field: string, value: unknown, allowed: readonly string[]): Bag {
  if (value === undefined) return {}
  if (!isObject(value)) throw new ConfigError(field, `expected an object, got ${show(value)}`)
  checkKeys(field, value, allowed)
  return value
}

function integer(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `${show(value)} is not a whole number in ${min}..${max}`)
  }
  return value
}

function bool(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new ConfigError(field, `${show(value)} is not true or false`)
  return value
}

function oneOf<T extends string>(field: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, `${show(value)} is not one of ${allowed.join(', ')}`)
  }
  return value as T
}

export function resolveConfig(input: MachineConfig = {}): ResolvedConfig {
  const config = section('', input, ['arch', 'memory', 'iommu', 'nic', 'verifier', 'wire', 'faults', 'seed', 'maxEvents'])
  const arch = oneOf<Arch>('arch', config.arch, 'x64', ARCHES)

  const mem = section('memory', config.memory, ['size', 'policy', 'fragmentation'])
  const rawSize = mem.size
  if (rawSize !== undefined && typeof rawSize !== 'number' && typeof rawSize !== 'string') {
    throw new ConfigError('memory.size', `${show(rawSize)} is not a size (try 8GiB, 512MiB or a byte count)`)
  }
  const size = rawSize === undefined ? DEFAULT_MEMORY_SIZE : parseSize(rawSize)
  if (Number.isNaN(size)) throw new ConfigError('memory.size', `${show(rawSize)} is not a size (try 8GiB, 512MiB or a byte count)`)
  if (size % 4096 !== 0) throw new ConfigError('memory.size', `${show(rawSize)} is not a whole number of 4 KiB pages`)
  if (size < MIN_MEMORY || size > MAX_MEMORY) {
    throw new ConfigError('memory.size', `${show(rawSize)} is outside ${formatBytes(MIN_MEMORY)}..${formatBytes(MAX_MEMORY)}`)
  }
  const policy = oneOf('memory.policy', mem.policy, 'high-first', POLICIES)
  const fragmentation = mem.fragmentation ?? 0
  if (typeof fragmentation !== 'number' || !(fragmentation >= 0 && fragmentation <= 1)) {
    throw new ConfigError('memory.fragmentation', `${show(fragmentation)} is not a number in 0..1`)
  }

  let iommu: ResolvedConfig['iommu']
  if (config.iommu === undefined || typeof config.iommu === 'boolean') {
    iommu = { enabled: config.iommu ?? false, iotlbEntries: 64 }
  } else {
    const io = section('iommu', config.iommu, ['enabled', 'iotlbEntries'])
    if (typeof io.enabled !== 'boolean') throw new ConfigError('iommu.enabled', `${show(io.enabled)} is not true or false`)
    iommu = { enabled: io.enabled, iotlbEntries: integer('iommu.iotlbEntries', io.iotlbEntries, 64, 1, 65536) }
  }

  const n = section('nic', config.nic, ['dmaAddressBits', 'mac', 'linkMbps'])
  const dmaAddressBits = integer('nic.dmaAddressBits', n.dmaAddressBits, 32, 24, 64)
  const mac = n.mac ?? DEFAULT_MAC
  if (typeof mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) {
    throw new ConfigError('nic.mac', `${show(mac)} is not a MAC address like ${DEFAULT_MAC}`)
  }
  if ((parseInt(mac.slice(0, 2), 16) & 1) !== 0) throw new ConfigError('nic.mac', `${show(mac)} is a multicast address`)
  const linkMbps = n.linkMbps ?? 1000
  if (typeof linkMbps !== 'number' || !(linkMbps >= 1 && linkMbps <= 400_000)) {
    throw new ConfigError('nic.linkMbps', `${show(linkMbps)} is not a link speed in 1..400000 Mbit/s`)
  }

  const v = section('verifier', config.verifier, ['mode', 'specialPool', 'dmaGuard'])
  const mode = oneOf<VerifierMode>('verifier.mode', v.mode, 'log', ['log', 'crash'])

  const wire = oneOf('wire', config.wire, 'capture', ['capture', 'loopback'] as const)

  const f = config.faults ?? []
  const faults = typeof f === 'string' ? [f] : f
  if (!Array.isArray(faults) || faults.some((s) => typeof s !== 'string')) {
    throw new ConfigError('faults', `${show(f)} is not a fault spec or a list of them`)
  }

  return {
    arch,
    memory: { size, policy, fragmentation },
    iommu,
    nic: { dmaAddressBits, mac: mac.toLowerCase(), linkMbps },
    verifier: { mode, specialPool: bool('verifier.specialPool', v.specialPool, false), dmaGuard: bool('verifier.dmaGuard', v.dmaGuard, false) },
    wire,
    faults: (faults as string[]).slice(),
    seed: integer('seed', config.seed, DEFAULT_SEED, 0, Number.MAX_SAFE_INTEGER),
    maxEvents: integer('maxEvents', config.maxEvents, 20_000_000, 1, Number.MAX_SAFE_INTEGER),
  }
}
