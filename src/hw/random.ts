// Seeded random streams. Every source of randomness in dmalab is one of these, created from
// the machine seed and a purpose label, so two runs with the same seed make the same choices
// and adding a new stream never perturbs the others.
import { xoroshiro128plus, unsafeUniformIntDistribution, type RandomGenerator } from 'pure-rand'

/** FNV-1a over the label, mixed with the seed: an independent, stable stream seed per purpose. */
export function streamSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= Math.floor(seed / 4294967296)
  return h | 0
}

export class Random {
  private readonly rng: RandomGenerator

  constructor(seed: number, label = '') {
    this.rng = xoroshiro128plus(streamSeed(seed, label))
  }

  /** Uniform integer in [from, to], both inclusive. Works for spans beyond 2^32. */
  int(from: number, to: number): number {
    return unsafeUniformIntDistribution(from, to, this.rng)
  }

  /** True with probability `chances / total`. */
  chance(chances: number, total: number): boolean {
    return this.int(0, total - 1) < chances
  }
}
