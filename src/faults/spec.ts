// The fault spec grammar (DESIGN "Fault injection"): comma-separated `key=value` terms.
//
//   routine=GLOB  tag=GLOB  site=GLOB  phase=init|runtime|halt     which calls match
//   after=N       skip the first N matching calls
//   nth=N | every=N | p=N                                          which matches fail
//   times=N       stop after N failures
//   seed=N        the random stream for p= (default: the machine seed)
//   partial       MmAllocatePagesForMdl[Ex] returns a short MDL instead of NULL
//
// With none of nth/every/p, every matching call (after `after`, up to `times`) fails.
// A malformed spec is rejected before anything runs, naming the term and what it expected.
import { ALLOCATION_ROUTINES } from './routines.js'
import { globToRegExp, hasWildcard } from './glob.js'

export type FaultPhase = 'init' | 'runtime' | 'halt'

export interface FaultSpec {
  /** The spec as written, for messages and records. */
  readonly text: string
  readonly routine?: string
  readonly tag?: string
  readonly site?: string
  readonly phase?: FaultPhase
  readonly after: number
  readonly nth?: number
  readonly every?: number
  /** Chances in 10,000, as Driver Verifier's low-resources simulation counts them. */
  readonly p?: number
  readonly times?: number
  readonly seed?: number
  readonly partial: boolean
}

export class FaultSpecError extends Error {
  readonly spec: string
  readonly term: string
  constructor(spec: string, term: string, message: string) {
    super(`fault spec "${spec}": ${message}`)
    this.name = 'FaultSpecError'
    this.spec = spec
    this.term = term
  }
}

const PHASES: readonly FaultPhase[] = ['init', 'runtime', 'halt']
const KEYS = ['routine', 'tag', 'site', 'phase', 'nth', 'every', 'after', 'times', 'p', 'seed', 'partial'] as const
type Key = (typeof KEYS)[number]

function wholeNumber(spec: string, term: string, key: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value)) throw new FaultSpecError(spec, term, `${key} takes a whole number`)
  const n = Number(value)
  if (n < min || n > max) {
    throw new FaultSpecError(spec, term, `${key} takes a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}`)
  }
  return n
}

export function parseFaultSpec(text: string): FaultSpec {
  const spec = text.trim()
  if (spec === '') throw new FaultSpecError(text, '', 'is empty (try routine=ExAllocatePoolWithTag,nth=1)')
  const seen = new Set<Key>()
  const out: {
    routine?: string; tag?: string; site?: string; phase?: FaultPhase
    after: number; nth?: number; every?: number; p?: number; times?: number; seed?: number; partial: boolean
  } = { after: 0, partial: false }

  for (const rawTerm of spec.split(',')) {
    const term = rawTerm.trim()
    if (term === '') throw new FaultSpecError(spec, term, 'has an empty term (two commas in a row?)')
    const eq = term.indexOf('=')
    const key = (eq < 0 ? term : term.slice(0, eq)).trim()
    const value = eq < 0 ? undefined : term.slice(eq + 1).trim()
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new FaultSpecError(spec, term, `unknown term "${key}" (expected one of ${KEYS.join(', ')})`)
    }
    const k = key as Key
    if (seen.has(k)) throw new FaultSpecError(spec, term, `${k} is given twice`)
    seen.add(k)
    if (k === 'partial') {
      if (value !== undefined) throw new FaultSpecError(spec, term, 'partial takes no value')
      out.partial = true
      continue
    }
    if (value === undefined || value === '') throw new FaultSpecError(spec, term, `${k} needs a value (${k}=...)`)
    switch (k) {
      case 'routine': {
        const re = globToRegExp(value)
        if (!ALLOCATION_ROUTINES.some((r) => re.test(r))) {
          throw new FaultSpecError(spec, term, `no allocation routine matches "${value}" (routines are WDK names, e.g. ExAllocatePoolWithTag, NdisMAllocateSharedMemory, AllocateCommonBuffer)`)
        }
        out.routine = value
        break
      }
      case 'tag':
        if (!hasWildcard(value) && value.length > 4) throw new FaultSpecError(spec, term, `a tag is at most four characters ("${value}")`)
        out.tag = value
        break
      case 'site':
        out.site = value
        break
      case 'phase':
        if (!(PHASES as readonly string[]).includes(value)) throw new FaultSpecError(spec, term, `phase takes one of ${PHASES.join(', ')}`)
        out.phase = value as FaultPhase
        break
      case 'nth':
        out.nth = wholeNumber(spec, term, k, value, 1)
        break
      case 'every':
        out.every = wholeNumber(spec, term, k, value, 1)
        break
      case 'after':
        out.after = wholeNumber(spec, term, k, value, 0)
        break
      case 'times':
        out.times = wholeNumber(spec, term, k, value, 1)
        break
      case 'p':
        out.p = wholeNumber(spec, term, k, value, 0, 10_000)
        break
      case 'seed':
        out.seed = wholeNumber(spec, term, k, value, 0)
        break
    }
  }
  const selectors = (['nth', 'every', 'p'] as const).filter((s) => seen.has(s))
  if (selectors.length > 1) {
    throw new FaultSpecError(spec, selectors.join(','), `${selectors.join(' and ')} each choose which calls fail; give one of them`)
  }
  if (out.seed !== undefined && out.p === undefined) throw new FaultSpecError(spec, 'seed', 'seed only matters with p=')
  return { text: spec, ...out }
}

/** Parses several specs (any one failing a call fails it); throws on the first malformed one. */
export function parseFaultSpecs(texts: readonly string[]): FaultSpec[] {
  return texts.map(parseFaultSpec)
}
